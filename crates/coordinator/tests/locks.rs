//! Scripted and property tests of the global lock table: message sequences in,
//! effects and `holders_and_waiters` checked out.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use proptest::prelude::*;
use shoal_coordinator::locks::{
    AcquireStatus, LockEffect, LockError, LockInfo, LockMode, LockRequest, LockTable, Resource,
    RowMode, TableMode, TxnId, WaitPolicy,
};

const WAIT: WaitPolicy = WaitPolicy::Wait { timeout: None };

fn t(frontend: u64, txn: u64) -> TxnId {
    TxnId { frontend, txn }
}

fn row(key: u64, mode: RowMode) -> LockRequest {
    LockRequest::row(7, key, mode)
}

fn x(key: u64) -> LockRequest {
    row(key, RowMode::Exclusive)
}

fn s(key: u64) -> LockRequest {
    row(key, RowMode::Share)
}

fn table(mode: TableMode) -> LockRequest {
    LockRequest::table(7, mode)
}

/// A lock table and a clock, with helpers that return the effects of each
/// input.
#[derive(Default)]
struct Script {
    table: LockTable,
    now: u64,
}

impl Script {
    fn acquire(
        &mut self,
        txn: TxnId,
        request_id: u64,
        locks: &[LockRequest],
        policy: WaitPolicy,
    ) -> (AcquireStatus, Vec<LockEffect>) {
        let status = self
            .table
            .acquire(txn, request_id, locks.to_vec(), policy, self.now);
        (status, self.table.drain_effects().collect())
    }

    /// Acquires and expects an immediate grant.
    fn grant(&mut self, txn: TxnId, locks: &[LockRequest]) {
        let (status, effects) = self.acquire(txn, 0, locks, WAIT);
        assert_eq!(status, AcquireStatus::Answered);
        assert_eq!(effects, vec![granted(txn, 0, None)]);
    }

    /// Acquires and expects to wait, with no effect at all.
    fn wait(&mut self, txn: TxnId, request_id: u64, locks: &[LockRequest]) {
        let (status, effects) = self.acquire(txn, request_id, locks, WAIT);
        assert_eq!((status, effects), (AcquireStatus::Waiting, vec![]));
    }

    fn release(&mut self, txn: TxnId, commit_lsn: Option<u64>) -> Vec<LockEffect> {
        self.table.release_all(txn, commit_lsn, self.now);
        self.table.drain_effects().collect()
    }

    fn tick(&mut self, now: u64) -> Vec<LockEffect> {
        self.now = now;
        self.table.tick(now);
        self.table.drain_effects().collect()
    }

    /// What `txn` holds: (resource, mode), by resource.
    fn held(&self, txn: TxnId) -> Vec<(Resource, LockMode)> {
        self.table
            .holders_and_waiters()
            .into_iter()
            .filter(|info| info.txn == txn && info.granted)
            .map(|info| (info.resource, info.mode))
            .collect()
    }
}

fn granted(txn: TxnId, request_id: u64, released_at_lsn: Option<u64>) -> LockEffect {
    LockEffect::Granted {
        txn,
        request_id,
        released_at_lsn,
        skipped: vec![],
    }
}

fn failed(txn: TxnId, request_id: u64, error: LockError) -> LockEffect {
    LockEffect::Failed {
        txn,
        request_id,
        error,
    }
}

fn rowres(key: u64) -> Resource {
    Resource::Row {
        table_id: 7,
        key_hash: key,
    }
}

/// Every pair of modes of one family, held by one transaction and asked
/// for by another with NOWAIT: granted exactly when the matrix says so.
#[test]
fn compatibility_matrix_pairwise() {
    let table_ok = |a: TableMode, b: TableMode| {
        use TableMode::*;
        let ok = [
            (IntentShare, IntentShare),
            (IntentShare, IntentExclusive),
            (IntentShare, Share),
            (IntentShare, ShareIntentExclusive),
            (IntentExclusive, IntentExclusive),
            (Share, Share),
        ];
        ok.contains(&(a, b)) || ok.contains(&(b, a))
    };
    let mut pairs: Vec<(LockRequest, LockRequest, bool)> = Vec::new();
    for a in TableMode::ALL {
        for b in TableMode::ALL {
            pairs.push((table(a), table(b), table_ok(a, b)));
        }
    }
    let row_ok = |a: RowMode, b: RowMode| {
        use RowMode::*;
        let ok = [
            (KeyShare, KeyShare),
            (KeyShare, Share),
            (KeyShare, NoKeyExclusive),
            (Share, Share),
        ];
        ok.contains(&(a, b)) || ok.contains(&(b, a))
    };
    for a in RowMode::ALL {
        for b in RowMode::ALL {
            pairs.push((row(1, a), row(1, b), row_ok(a, b)));
        }
    }
    assert_eq!(pairs.len(), 25 + 16);
    for (first, second, compatible) in pairs {
        let mut script = Script::default();
        script.grant(t(1, 1), &[first]);
        let (_, effects) = script.acquire(t(2, 1), 9, &[second], WaitPolicy::NoWait);
        let expected = if compatible {
            granted(t(2, 1), 9, None)
        } else {
            failed(
                t(2, 1),
                9,
                LockError::NotAvailable {
                    resource: second.resource(),
                },
            )
        };
        assert_eq!(effects, vec![expected], "{first:?} then {second:?}");
    }
}

#[test]
fn fifo_queue_does_not_starve_a_writer() {
    let mut script = Script::default();
    let (reader, writer, late_reader) = (t(1, 1), t(2, 1), t(3, 1));
    script.grant(reader, &[s(1)]);
    script.wait(writer, 10, &[x(1)]);
    // Compatible with the holder, but not with the writer queued before it.
    script.wait(late_reader, 20, &[s(1)]);
    assert_eq!(
        script.release(reader, None),
        vec![granted(writer, 10, None)]
    );
    assert!(script.table.is_waiting(late_reader));
    assert_eq!(
        script.release(writer, Some(5)),
        vec![granted(late_reader, 20, Some(5))]
    );
}

#[test]
fn waiters_compatible_with_each_other_are_granted_together() {
    let mut script = Script::default();
    script.grant(t(1, 1), &[x(1)]);
    script.wait(t(2, 1), 2, &[s(1)]);
    script.wait(t(3, 1), 3, &[s(1)]);
    assert_eq!(
        script.release(t(1, 1), None),
        vec![granted(t(2, 1), 2, None), granted(t(3, 1), 3, None)]
    );
}

#[test]
fn reentrant_request_is_granted_past_waiters() {
    let mut script = Script::default();
    script.grant(t(1, 1), &[x(1)]);
    script.wait(t(2, 1), 2, &[x(1)]);
    script.grant(t(1, 1), &[s(1), x(1)]);
    assert_eq!(script.held(t(1, 1)), vec![(rowres(1), x(1).mode())]);
}

#[test]
fn upgrade_waits_for_other_reader_and_goes_before_plain_waiters() {
    let mut script = Script::default();
    let (a, b, c) = (t(1, 1), t(2, 1), t(3, 1));
    script.grant(a, &[s(1)]);
    script.grant(b, &[s(1)]);
    script.wait(c, 3, &[x(1)]);
    script.wait(a, 1, &[x(1)]);
    let queue: Vec<TxnId> = script
        .table
        .holders_and_waiters()
        .into_iter()
        .filter(|info| !info.granted)
        .map(|info| info.txn)
        .collect();
    assert_eq!(queue, vec![a, c], "the upgrader is at the front");
    assert_eq!(script.release(b, None), vec![granted(a, 1, None)]);
    assert_eq!(script.held(a), vec![(rowres(1), x(1).mode())]);
    assert_eq!(script.release(a, Some(3)), vec![granted(c, 3, Some(3))]);
}

#[test]
fn upgrade_compatible_with_other_holders_is_immediate() {
    let mut script = Script::default();
    script.grant(t(1, 1), &[table(TableMode::IntentExclusive)]);
    script.grant(t(2, 1), &[table(TableMode::IntentShare)]);
    // IX + S = SIX, compatible with the other's IS.
    script.grant(t(1, 1), &[table(TableMode::Share)]);
    assert_eq!(
        script.held(t(1, 1)),
        vec![(
            Resource::Table { table_id: 7 },
            LockMode::Table(TableMode::ShareIntentExclusive)
        )]
    );
}

#[test]
fn two_upgraders_deadlock_and_the_younger_is_the_victim() {
    let mut script = Script::default();
    let (old, young) = (t(1, 1), t(2, 1));
    script.grant(old, &[s(1)]);
    script.grant(young, &[s(1)]);
    script.wait(old, 1, &[x(1)]);
    let (status, effects) = script.acquire(young, 2, &[x(1)], WAIT);
    assert_eq!(status, AcquireStatus::Answered);
    let [LockEffect::Failed {
        txn,
        request_id: 2,
        error: LockError::Deadlock { cycle },
    }] = effects.as_slice()
    else {
        panic!("expected the young upgrader to fail: {effects:?}");
    };
    assert_eq!(*txn, young);
    assert_eq!(cycle.0.len(), 2);
    // The victim keeps its S lock until it aborts, as in PostgreSQL.
    assert!(script.table.is_waiting(old));
    assert_eq!(script.release(young, None), vec![granted(old, 1, None)]);
}

#[test]
fn victim_may_be_a_transaction_other_than_the_requester() {
    let mut script = Script::default();
    let (old, young) = (t(1, 1), t(2, 1));
    script.grant(old, &[x(1)]);
    script.grant(young, &[x(2)]);
    script.wait(young, 20, &[x(1)]);
    // `old` closes the cycle, but `young` arrived later, so it is the victim.
    let (status, effects) = script.acquire(old, 10, &[x(2)], WAIT);
    assert!(
        matches!(
            effects.as_slice(),
            [LockEffect::Failed { txn, request_id: 20, error: LockError::Deadlock { .. } }] if *txn == young
        ),
        "{effects:?}"
    );
    assert_eq!(status, AcquireStatus::Waiting);
    assert_eq!(script.release(young, None), vec![granted(old, 10, None)]);
}

#[test]
fn three_frontend_cycle_has_exactly_one_victim() {
    let mut script = Script::default();
    let (t1, t2, t3) = (t(1, 100), t(2, 5), t(3, 42));
    // Arrival order t3, t1, t2: t2 is the youngest.
    script.grant(t3, &[x(3)]);
    script.grant(t1, &[x(1)]);
    script.grant(t2, &[x(2)]);
    script.wait(t1, 1, &[x(2)]); // t1 -> t2
    script.wait(t2, 2, &[x(3)]); // t2 -> t3
    let (status, effects) = script.acquire(t3, 3, &[x(1)], WAIT); // t3 -> t1
    assert_eq!(status, AcquireStatus::Waiting);
    let [LockEffect::Failed {
        txn,
        request_id: 2,
        error: LockError::Deadlock { cycle },
    }] = effects.as_slice()
    else {
        panic!("expected exactly t2 to fail: {effects:?}");
    };
    assert_eq!(*txn, t2);
    let waiters: BTreeSet<TxnId> = cycle.0.iter().map(|edge| edge.waiter).collect();
    assert_eq!(waiters, BTreeSet::from([t1, t2, t3]));
    let message = LockError::Deadlock {
        cycle: cycle.clone(),
    }
    .to_string();
    assert!(
        message.contains("transaction 2/5 waits for FOR UPDATE"),
        "{message}"
    );
    assert!(script.table.is_waiting(t1) && script.table.is_waiting(t3));
    // The victim aborts; the others proceed in turn.
    assert_eq!(script.release(t2, None), vec![granted(t1, 1, None)]);
    assert_eq!(script.release(t1, Some(8)), vec![granted(t3, 3, Some(8))]);
}

#[test]
fn lock_timeout_expires_on_tick() {
    let mut script = Script::default();
    script.grant(t(1, 1), &[x(1)]);
    script.now = 1_000;
    let policy = WaitPolicy::Wait {
        timeout: Some(Duration::from_millis(100)),
    };
    let (status, _) = script.acquire(t(2, 1), 2, &[x(1)], policy);
    assert_eq!(status, AcquireStatus::Waiting);
    assert_eq!(script.table.next_deadline_ms(), Some(1_100));
    assert_eq!(script.tick(1_099), vec![]);
    assert_eq!(
        script.tick(1_100),
        vec![failed(
            t(2, 1),
            2,
            LockError::Timeout {
                resource: rowres(1)
            }
        )]
    );
    assert_eq!(script.table.next_deadline_ms(), None);
    assert_eq!(script.release(t(1, 1), None), vec![]);
    assert!(script.table.holders_and_waiters().is_empty());
}

#[test]
fn lock_timeout_applies_to_each_wait_of_a_batch() {
    let mut script = Script::default();
    script.grant(t(1, 1), &[x(1)]);
    script.grant(t(3, 1), &[x(2)]);
    let policy = WaitPolicy::Wait {
        timeout: Some(Duration::from_millis(100)),
    };
    script.acquire(t(2, 1), 2, &[x(1), x(2)], policy);
    script.now = 90;
    script.release(t(1, 1), None);
    // Now waiting for row 2 since 90, so the deadline is 190.
    assert_eq!(script.table.next_deadline_ms(), Some(190));
    assert_eq!(script.tick(150), vec![]);
    assert_eq!(
        script.tick(190),
        vec![failed(
            t(2, 1),
            2,
            LockError::Timeout {
                resource: rowres(2)
            }
        )]
    );
    // Row 1 stays held until the transaction ends.
    assert_eq!(script.held(t(2, 1)), vec![(rowres(1), x(1).mode())]);
}

#[test]
fn nowait_fails_at_once_and_keeps_nothing_from_the_batch() {
    let mut script = Script::default();
    let (holder, me) = (t(1, 1), t(2, 1));
    script.grant(holder, &[x(2)]);
    script.grant(me, &[s(1)]);
    let (status, effects) = script.acquire(me, 5, &[x(1), x(3), x(2), x(4)], WaitPolicy::NoWait);
    assert_eq!(status, AcquireStatus::Answered);
    assert_eq!(
        effects,
        vec![failed(
            me,
            5,
            LockError::NotAvailable {
                resource: rowres(2)
            }
        )]
    );
    // The upgrade of row 1 is undone and row 3 is released.
    assert_eq!(script.held(me), vec![(rowres(1), s(1).mode())]);
    script.grant(t(3, 1), &[x(3), x(4)]);
}

#[test]
fn skip_locked_grants_the_free_rows_and_reports_the_others() {
    let mut script = Script::default();
    script.grant(t(1, 1), &[x(2), x(4)]);
    let batch: Vec<LockRequest> = (1..=5).map(x).collect();
    let (status, effects) = script.acquire(t(2, 1), 6, &batch, WaitPolicy::SkipLocked);
    assert_eq!(status, AcquireStatus::Answered);
    assert_eq!(
        effects,
        vec![LockEffect::Granted {
            txn: t(2, 1),
            request_id: 6,
            released_at_lsn: None,
            skipped: vec![1, 3],
        }]
    );
    let held: Vec<Resource> = script.held(t(2, 1)).into_iter().map(|(r, _)| r).collect();
    assert_eq!(held, vec![rowres(1), rowres(3), rowres(5)]);
}

#[test]
fn released_at_lsn_is_the_highest_commit_of_previous_holders() {
    let mut script = Script::default();
    let (r1, r2, w) = (t(1, 1), t(2, 1), t(3, 1));
    script.grant(r1, &[s(1)]);
    script.grant(r2, &[s(1)]);
    script.wait(w, 3, &[x(1), x(2)]);
    assert_eq!(script.release(r2, Some(12)), vec![]);
    assert_eq!(script.release(r1, Some(10)), vec![granted(w, 3, Some(12))]);
    // After the last holder leaves, the entry is dropped, and a new one
    // starts from the highest LSN the table forgot: still a sound bound.
    assert_eq!(script.release(w, Some(20)), vec![]);
    assert!(script.table.holders_and_waiters().is_empty());
    let (_, effects) = script.acquire(t(4, 1), 4, &[x(1)], WAIT);
    assert_eq!(effects, vec![granted(t(4, 1), 4, Some(20))]);
}

#[test]
fn released_at_lsn_is_the_maximum_over_the_batch() {
    let mut script = Script::default();
    script.grant(t(1, 1), &[x(1)]);
    script.grant(t(2, 1), &[x(2)]);
    script.wait(t(3, 1), 3, &[x(1), x(2)]);
    // Row 2 has no waiter yet, so its entry is dropped here; the LSN
    // survives as the table's floor for new entries.
    assert_eq!(script.release(t(2, 1), Some(30)), vec![]);
    assert_eq!(
        script.release(t(1, 1), Some(25)),
        vec![granted(t(3, 1), 3, Some(30))]
    );
}

#[test]
fn released_floor_bounds_a_new_table() {
    let mut script = Script {
        table: LockTable::with_released_floor(77),
        now: 0,
    };
    let (_, effects) = script.acquire(t(1, 1), 1, &[x(1)], WAIT);
    assert_eq!(effects, vec![granted(t(1, 1), 1, Some(77))]);
}

#[test]
fn eviction_releases_locks_and_wakes_other_frontends() {
    let mut script = Script::default();
    let (dead_a, dead_b, live) = (t(1, 1), t(1, 2), t(2, 1));
    script.grant(dead_a, &[x(1)]);
    script.grant(live, &[x(2)]);
    script.wait(dead_b, 11, &[x(2)]);
    script.wait(live, 20, &[x(1)]);
    script.table.release_frontend(1, script.now);
    let effects: Vec<LockEffect> = script.table.drain_effects().collect();
    assert_eq!(
        effects,
        vec![
            failed(dead_b, 11, LockError::OwnerEvicted { frontend: 1 }),
            granted(live, 20, None),
        ]
    );
    assert!(script
        .table
        .holders_and_waiters()
        .iter()
        .all(|info| info.txn.frontend == 2 && info.granted));
}

#[test]
fn release_all_cancels_the_waiting_request() {
    let mut script = Script::default();
    script.grant(t(1, 1), &[x(1)]);
    script.wait(t(2, 1), 2, &[x(1)]);
    assert_eq!(
        script.release(t(2, 1), None),
        vec![failed(t(2, 1), 2, LockError::OwnerAborted)]
    );
    assert_eq!(script.release(t(1, 1), None), vec![]);
    assert!(script.table.holders_and_waiters().is_empty());
}

#[test]
fn second_request_while_waiting_is_refused() {
    let mut script = Script::default();
    script.grant(t(1, 1), &[x(1)]);
    script.wait(t(2, 1), 2, &[x(1)]);
    let (_, effects) = script.acquire(t(2, 1), 3, &[x(5)], WAIT);
    assert_eq!(
        effects,
        vec![failed(
            t(2, 1),
            3,
            LockError::RequestPending {
                pending_request_id: 2
            }
        )]
    );
    assert!(script.table.is_waiting(t(2, 1)));
}

#[test]
fn batch_resumes_after_each_wait() {
    let mut script = Script::default();
    script.grant(t(1, 1), &[x(1)]);
    script.grant(t(2, 1), &[x(3)]);
    script.wait(
        t(3, 1),
        3,
        &[table(TableMode::IntentExclusive), x(1), x(2), x(3)],
    );
    assert_eq!(script.release(t(1, 1), None), vec![]);
    assert_eq!(
        script.release(t(2, 1), Some(4)),
        vec![granted(t(3, 1), 3, Some(4))]
    );
    assert_eq!(script.held(t(3, 1)).len(), 4);
}

// ---- Property test: random inputs, invariants checked after every step ----

const TXNS: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    Acquire {
        slot: usize,
        locks: Vec<LockRequest>,
        policy: WaitPolicy,
    },
    Release {
        slot: usize,
        commit: bool,
    },
    Tick {
        advance_ms: u64,
    },
    Evict {
        frontend: u64,
    },
}

fn lock_strategy() -> impl Strategy<Value = LockRequest> {
    prop_oneof![
        (0..2u64, 0..5usize).prop_map(|(t, m)| LockRequest::table(t, TableMode::ALL[m])),
        (0..2u64, 0..3u64, 0..4usize).prop_map(|(t, k, m)| LockRequest::row(t, k, RowMode::ALL[m])),
    ]
}

fn policy_strategy() -> impl Strategy<Value = WaitPolicy> {
    prop_oneof![
        4 => Just(WAIT),
        2 => (0..50u64).prop_map(|ms| WaitPolicy::Wait { timeout: Some(Duration::from_millis(ms)) }),
        1 => Just(WaitPolicy::NoWait),
        1 => Just(WaitPolicy::SkipLocked),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..TXNS, prop::collection::vec(lock_strategy(), 0..4), policy_strategy())
            .prop_map(|(slot, locks, policy)| Op::Acquire { slot, locks, policy }),
        3 => (0..TXNS, any::<bool>()).prop_map(|(slot, commit)| Op::Release { slot, commit }),
        1 => (0..40u64).prop_map(|advance_ms| Op::Tick { advance_ms }),
        1 => (0..2u64).prop_map(|frontend| Op::Evict { frontend }),
    ]
}

/// The test's own view of the requests in flight.
#[derive(Default)]
struct Model {
    /// The transaction currently running in each slot; a slot gets a new
    /// transaction after each release.
    txn_of_slot: Vec<TxnId>,
    /// Unanswered requests: request id -> (txn, batch).
    outstanding: BTreeMap<u64, (TxnId, Vec<LockRequest>)>,
    next_request: u64,
    next_lsn: u64,
    /// The highest commit LSN that released each resource.
    released: BTreeMap<Resource, u64>,
    /// What each held lock's grant must report as `released_at_lsn` at
    /// least: `released` of its resource when it was granted (or upgraded).
    /// Commits of compatible holders after that do not concern it.
    required: BTreeMap<(TxnId, Resource), Option<u64>>,
}

impl Model {
    fn new() -> Self {
        Model {
            txn_of_slot: (0..TXNS as u64).map(|i| t(i % 2, i)).collect(),
            ..Default::default()
        }
    }

    fn renew(&mut self, slot: usize) {
        let old = self.txn_of_slot[slot];
        self.txn_of_slot[slot] = t(old.frontend, old.txn + TXNS as u64);
    }
}

/// Whether the waiter at `position` of a queue may be granted now: the
/// admission rules, restated independently of the lock table.
fn admissible(holders: &[&LockInfo], queue: &[&LockInfo], position: usize) -> bool {
    let me = queue[position];
    let upgrade = holders.iter().any(|h| h.txn == me.txn);
    let holders_ok = holders
        .iter()
        .all(|h| h.txn == me.txn || !h.mode.conflicts_with(me.mode));
    let queue_ok = upgrade
        || queue[..position]
            .iter()
            .all(|w| !w.mode.conflicts_with(me.mode));
    holders_ok && queue_ok
}

fn wait_for_edges(infos: &[LockInfo]) -> BTreeMap<TxnId, BTreeSet<TxnId>> {
    let mut edges: BTreeMap<TxnId, BTreeSet<TxnId>> = BTreeMap::new();
    let mut by_resource: BTreeMap<Resource, Vec<&LockInfo>> = BTreeMap::new();
    for info in infos {
        by_resource.entry(info.resource).or_default().push(info);
    }
    for rows in by_resource.values() {
        let holders: Vec<&LockInfo> = rows.iter().copied().filter(|i| i.granted).collect();
        let queue: Vec<&LockInfo> = rows.iter().copied().filter(|i| !i.granted).collect();
        for (position, me) in queue.iter().enumerate() {
            let upgrade = holders.iter().any(|h| h.txn == me.txn);
            let out = edges.entry(me.txn).or_default();
            for h in &holders {
                if h.txn != me.txn && h.mode.conflicts_with(me.mode) {
                    out.insert(h.txn);
                }
            }
            if !upgrade {
                for w in &queue[..position] {
                    if w.mode.conflicts_with(me.mode) {
                        out.insert(w.txn);
                    }
                }
            }
        }
    }
    edges
}

/// Kahn's algorithm: repeatedly drop transactions that wait for no one left.
fn has_cycle(mut edges: BTreeMap<TxnId, BTreeSet<TxnId>>) -> bool {
    loop {
        let free: Vec<TxnId> = edges
            .iter()
            .filter(|(_, out)| out.iter().all(|to| !edges.contains_key(to)))
            .map(|(txn, _)| *txn)
            .collect();
        if free.is_empty() {
            return !edges.is_empty();
        }
        for txn in free {
            edges.remove(&txn);
        }
    }
}

fn check_invariants(table: &LockTable, model: &Model) -> Result<(), TestCaseError> {
    let infos = table.holders_and_waiters();
    let mut by_resource: BTreeMap<Resource, Vec<&LockInfo>> = BTreeMap::new();
    for info in &infos {
        by_resource.entry(info.resource).or_default().push(info);
    }
    let mut waiting_txns = BTreeSet::new();
    for (resource, rows) in &by_resource {
        let holders: Vec<&LockInfo> = rows.iter().copied().filter(|i| i.granted).collect();
        let queue: Vec<&LockInfo> = rows.iter().copied().filter(|i| !i.granted).collect();
        // No two incompatible granted modes by different transactions.
        for a in &holders {
            for b in &holders {
                prop_assert!(
                    a.txn == b.txn || !a.mode.conflicts_with(b.mode),
                    "{resource}: {} holds {} and {} holds {}",
                    a.txn,
                    a.mode,
                    b.txn,
                    b.mode
                );
            }
        }
        let distinct: BTreeSet<TxnId> = holders.iter().map(|h| h.txn).collect();
        prop_assert_eq!(distinct.len(), holders.len(), "one holder entry per txn");
        // No lost wakeups: every waiter is blocked by someone.
        for position in 0..queue.len() {
            prop_assert!(
                !admissible(&holders, &queue, position),
                "{resource}: waiter {} could be granted",
                queue[position].txn
            );
        }
        // Upgraders are at the front.
        let upgrades: Vec<bool> = queue
            .iter()
            .map(|w| holders.iter().any(|h| h.txn == w.txn))
            .collect();
        prop_assert!(
            upgrades.windows(2).all(|w| w[0] || !w[1]),
            "upgraders first"
        );
        for w in &queue {
            prop_assert!(waiting_txns.insert(w.txn), "{} waits twice", w.txn);
        }
    }
    prop_assert!(!has_cycle(wait_for_edges(&infos)), "a deadlock survived");
    // Waiting in the table <=> an unanswered request in the model.
    let outstanding: BTreeSet<TxnId> = model.outstanding.values().map(|(txn, _)| *txn).collect();
    prop_assert_eq!(waiting_txns, outstanding);
    Ok(())
}

/// Applies the effects of one step to the model, checking that each answers
/// an outstanding request exactly once and that a grant is really held.
fn absorb(table: &mut LockTable, model: &mut Model) -> Result<(), TestCaseError> {
    let effects: Vec<LockEffect> = table.drain_effects().collect();
    let infos = table.holders_and_waiters();
    for effect in effects {
        let (txn, request_id, skipped) = match &effect {
            LockEffect::Granted {
                txn,
                request_id,
                skipped,
                released_at_lsn,
            } => (*txn, *request_id, Some((skipped, *released_at_lsn))),
            LockEffect::Failed {
                txn, request_id, ..
            } => (*txn, *request_id, None),
        };
        let Some((owner, batch)) = model.outstanding.remove(&request_id) else {
            return Err(TestCaseError::fail(format!(
                "answer to unknown or already answered request {request_id}: {effect:?}"
            )));
        };
        prop_assert_eq!(owner, txn);
        let Some((skipped, released_at_lsn)) = skipped else {
            continue;
        };
        for (i, lock) in batch.iter().enumerate() {
            if skipped.contains(&i) {
                continue;
            }
            let needed = model
                .required
                .get(&(txn, lock.resource()))
                .copied()
                .flatten();
            prop_assert!(
                released_at_lsn >= needed,
                "{} granted {:?} with released_at_lsn {:?} below {:?}",
                txn,
                lock,
                released_at_lsn,
                needed
            );
            let holds = infos.iter().any(|info| {
                info.granted
                    && info.txn == txn
                    && info.resource == lock.resource()
                    && info.mode.covers(lock.mode())
            });
            prop_assert!(holds, "{} granted {:?} but does not hold it", txn, lock);
        }
    }
    Ok(())
}

fn held_modes(table: &LockTable) -> BTreeMap<(TxnId, Resource), LockMode> {
    table
        .holders_and_waiters()
        .into_iter()
        .filter(|info| info.granted)
        .map(|info| ((info.txn, info.resource), info.mode))
        .collect()
}

fn run_ops(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut table = LockTable::new();
    let mut model = Model::new();
    let mut now = 0;
    for op in ops {
        let held_before = held_modes(&table);
        match op {
            Op::Acquire {
                slot,
                locks,
                policy,
            } => {
                let txn = model.txn_of_slot[slot];
                if table.is_waiting(txn) {
                    continue;
                }
                let request_id = model.next_request;
                model.next_request += 1;
                model.outstanding.insert(request_id, (txn, locks.clone()));
                let status = table.acquire(txn, request_id, locks, policy, now);
                prop_assert_eq!(status == AcquireStatus::Waiting, table.is_waiting(txn));
            }
            Op::Release { slot, commit } => {
                let txn = model.txn_of_slot[slot];
                model.next_lsn += 1;
                let lsn = commit.then_some(model.next_lsn);
                if commit {
                    for info in table.holders_and_waiters() {
                        if info.txn == txn && info.granted {
                            model.released.insert(info.resource, model.next_lsn);
                        }
                    }
                }
                table.release_all(txn, lsn, now);
                model.renew(slot);
            }
            Op::Tick { advance_ms } => {
                now += advance_ms;
                table.tick(now);
            }
            Op::Evict { frontend } => {
                table.release_frontend(frontend, now);
                for slot in 0..TXNS {
                    if model.txn_of_slot[slot].frontend == frontend {
                        model.renew(slot);
                    }
                }
            }
        }
        let held_after = held_modes(&table);
        model.required.retain(|key, _| held_after.contains_key(key));
        for (key, mode) in held_after {
            if held_before.get(&key) != Some(&mode) {
                let released = model.released.get(&key.1).copied();
                model.required.insert(key, released);
            }
        }
        absorb(&mut table, &mut model)?;
        check_invariants(&table, &model)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn invariants_hold_after_every_step(ops in prop::collection::vec(op_strategy(), 1..60)) {
        run_ops(ops)?;
    }
}
