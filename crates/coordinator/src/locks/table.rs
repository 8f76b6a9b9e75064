//! The lock table: holders and FIFO wait queues per resource, pending
//! requests per transaction, and the rules that move requests between them.
//!
//! Admission rules, shared by a new request and a queue being granted, so
//! that "could be granted" means one thing everywhere:
//!
//! * A holder asking for a mode its held mode covers is granted at once.
//! * A holder asking for more is an upgrade to the supremum of both modes,
//!   granted when it is compatible with every *other* holder; otherwise it
//!   waits at the front of the queue, behind earlier upgraders only. Making
//!   it queue behind plain waiters would deadlock needlessly: they wait for
//!   the lock it already holds.
//! * Anyone else is granted when compatible with every holder and with every
//!   waiter, so a stream of readers cannot starve a queued writer.
//!
//! Hence the wait-for edges: a waiter waits for the other holders whose
//! modes conflict with its own and, unless it is an upgrader, for the
//! waiters ahead of it whose modes conflict with its own.

use std::collections::{BTreeSet, VecDeque};
use std::mem;

use rustc_hash::FxHashMap;

use super::deadlock::{choose_victim, find_cycle};
use super::{
    AcquireStatus, DeadlockCycle, LockEffect, LockError, LockInfo, LockMode, LockRequest, Resource,
    TxnId, WaitEdge, WaitPolicy,
};

/// Every lock held or awaited in the cluster. See the module docs for the
/// rules and [`super`] for how the shell drives it.
#[derive(Debug, Default)]
pub struct LockTable {
    /// Per resource, while anyone holds or awaits it: memory follows the
    /// live locks, not the history of everything ever locked.
    resources: FxHashMap<Resource, ResourceLocks>,
    /// Per transaction that holds or awaits anything.
    txns: FxHashMap<TxnId, TxnLocks>,
    /// Waits that have a lock_timeout, by deadline, so `tick` touches only
    /// the expired ones.
    deadlines: BTreeSet<(u64, TxnId)>,
    /// Resources that lost a holder or waiter during the current input and
    /// whose queues must be looked at before the input returns. A work list
    /// rather than recursion: granting one request can make it wait
    /// elsewhere, which can fail a deadlock victim, which frees another queue.
    dirty: Vec<Resource>,
    /// Answers not yet drained by the shell.
    effects: Vec<LockEffect>,
    /// The arrival number handed to the next transaction; the highest in a
    /// deadlock cycle is the youngest, its victim.
    next_age: u64,
    /// The highest `released_at_lsn` of the resource entries dropped so far
    /// (or the floor the table started with): a new entry starts from it, so
    /// a grant's LSN bound stays sound after the table forgets a resource.
    forgotten_lsn: Option<u64>,
    /// Changes made by the `NoWait` request being run, to undo them if one
    /// of its locks is taken. Kept here to reuse the allocation.
    undo: Vec<Undo>,
}

/// The holders and the wait queue of one resource.
#[derive(Debug)]
struct ResourceLocks {
    /// At most one entry per transaction, with the supremum of what it asked for.
    holders: Vec<Holder>,
    /// Upgraders first (in arrival order), then plain waiters in arrival order.
    waiters: VecDeque<Waiter>,
    /// At least the commit LSN of every committed transaction that released
    /// this resource: exact while the entry lives, and the table's
    /// `forgotten_lsn` when it was created. The next grantee reads at least it.
    released_at_lsn: Option<u64>,
}

impl ResourceLocks {
    fn new(released_at_lsn: Option<u64>) -> Self {
        ResourceLocks {
            holders: Vec::new(),
            waiters: VecDeque::new(),
            released_at_lsn,
        }
    }

    fn is_idle(&self) -> bool {
        self.holders.is_empty() && self.waiters.is_empty()
    }

    /// The modes held by transactions other than `txn`, as a set.
    fn modes_held_by_others(&self, txn: TxnId) -> u16 {
        self.holders
            .iter()
            .filter(|h| h.txn != txn)
            .fold(0, |modes, h| modes | h.mode.bit())
    }
}

#[derive(Debug, Clone, Copy)]
struct Holder {
    txn: TxnId,
    mode: LockMode,
    since_ms: u64,
}

#[derive(Debug, Clone, Copy)]
struct Waiter {
    txn: TxnId,
    /// The mode it will hold: for an upgrader, the supremum with what it holds.
    mode: LockMode,
    /// Whether `txn` is also a holder of this resource.
    upgrade: bool,
    since_ms: u64,
}

/// What the table knows of one transaction.
#[derive(Debug)]
struct TxnLocks {
    /// Arrival number, for choosing deadlock victims.
    age: u64,
    /// Every resource it holds, once each, to release them without a scan.
    held: Vec<Resource>,
    /// Its one unanswered request, if any.
    pending: Option<PendingRequest>,
}

/// A request being run: the batch and how far it got.
#[derive(Debug)]
struct PendingRequest {
    request_id: u64,
    locks: Vec<LockRequest>,
    /// The index of the lock being taken or waited for.
    next: usize,
    policy: WaitPolicy,
    /// Maximum of the `released_at_lsn` of the locks granted so far.
    released_at_lsn: Option<u64>,
    skipped: Vec<usize>,
    /// The resource whose queue holds this request; `None` while it runs,
    /// including between being granted a lock and resuming.
    waiting_on: Option<Resource>,
    /// When the current wait times out, if it has a timeout.
    deadline_ms: Option<u64>,
}

/// How to revert one change a `NoWait` request made.
#[derive(Debug)]
struct Undo {
    resource: Resource,
    /// The mode held before, or `None` if the request made it a holder.
    previous: Option<LockMode>,
}

/// The outcome of trying to take one lock right now.
enum Attempt {
    Granted { released_at_lsn: Option<u64> },
    Blocked { mode: LockMode, upgrade: bool },
}

impl LockTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// A table whose grants report at least `lsn` as `released_at_lsn`: for
    /// a coordinator taking over, whose predecessor's lock table is lost,
    /// pass the highest LSN that may have committed.
    pub fn with_released_floor(lsn: u64) -> Self {
        LockTable {
            forgotten_lsn: Some(lsn),
            ..Self::default()
        }
    }

    /// Takes the batch `locks` for `txn`, in order, under `policy`. The
    /// answer, now or later, is a [`LockEffect`] carrying `request_id`;
    /// other transactions' requests may be answered too (a deadlock victim).
    pub fn acquire(
        &mut self,
        txn: TxnId,
        request_id: u64,
        locks: Vec<LockRequest>,
        policy: WaitPolicy,
        now_ms: u64,
    ) -> AcquireStatus {
        let next_age = &mut self.next_age;
        let state = self.txns.entry(txn).or_insert_with(|| {
            *next_age += 1;
            TxnLocks {
                age: *next_age,
                held: Vec::new(),
                pending: None,
            }
        });
        if let Some(pending) = &state.pending {
            let error = LockError::RequestPending {
                pending_request_id: pending.request_id,
            };
            self.effects.push(LockEffect::Failed {
                txn,
                request_id,
                error,
            });
            return AcquireStatus::Answered;
        }
        let request = PendingRequest {
            request_id,
            locks,
            next: 0,
            policy,
            released_at_lsn: None,
            skipped: Vec::new(),
            waiting_on: None,
            deadline_ms: None,
        };
        self.run(txn, request, now_ms);
        self.settle(now_ms);
        if self.is_waiting(txn) {
            AcquireStatus::Waiting
        } else {
            AcquireStatus::Answered
        }
    }

    /// Ends `txn`: releases all its locks and fails its waiting request, if
    /// any, with [`LockError::OwnerAborted`]. `commit_lsn` is its commit's
    /// LSN, or `None` for an abort; the next holders of its resources are
    /// told it. Unknown transactions are ignored.
    pub fn release_all(&mut self, txn: TxnId, commit_lsn: Option<u64>, now_ms: u64) {
        self.end_txn(txn, commit_lsn, LockError::OwnerAborted);
        self.settle(now_ms);
    }

    /// Aborts every transaction of an evicted frontend, failing their
    /// waiting requests with [`LockError::OwnerEvicted`]. Keeping a late
    /// request from that frontend out afterwards is the membership layer's
    /// job: the table would take it as a new transaction.
    pub fn release_frontend(&mut self, frontend: u64, now_ms: u64) {
        let mut doomed: Vec<TxnId> = self
            .txns
            .keys()
            .filter(|txn| txn.frontend == frontend)
            .copied()
            .collect();
        doomed.sort_unstable();
        for txn in doomed {
            self.end_txn(txn, None, LockError::OwnerEvicted { frontend });
        }
        // Only now: granting in between could hand a lock to another doomed
        // transaction.
        self.settle(now_ms);
    }

    /// Fails every wait whose lock_timeout has passed at `now_ms` with
    /// [`LockError::Timeout`].
    pub fn tick(&mut self, now_ms: u64) {
        while let Some(&(deadline, txn)) = self.deadlines.first() {
            if deadline > now_ms {
                break;
            }
            self.deadlines.pop_first();
            let resource = self.txns.get(&txn).and_then(|state| {
                state
                    .pending
                    .as_ref()
                    .and_then(|pending| pending.waiting_on)
            });
            if let Some(resource) = resource {
                self.fail_pending(txn, LockError::Timeout { resource });
            }
        }
        self.settle(now_ms);
    }

    /// The answers produced so far, oldest first. Drain after every input.
    pub fn drain_effects(&mut self) -> std::vec::Drain<'_, LockEffect> {
        self.effects.drain(..)
    }

    /// The earliest lock_timeout deadline, so the shell can sleep until
    /// then instead of ticking blindly.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.deadlines.first().map(|&(deadline, _)| deadline)
    }

    /// Whether `txn` has a request waiting in some queue.
    pub fn is_waiting(&self, txn: TxnId) -> bool {
        self.txns
            .get(&txn)
            .and_then(|state| state.pending.as_ref())
            .is_some_and(|pending| pending.waiting_on.is_some())
    }

    /// Every held and awaited lock, by resource; per resource the holders,
    /// then the waiters in queue order.
    pub fn holders_and_waiters(&self) -> Vec<LockInfo> {
        let mut resources: Vec<_> = self.resources.iter().collect();
        resources.sort_unstable_by_key(|(resource, _)| **resource);
        let mut rows = Vec::new();
        for (&resource, locks) in resources {
            rows.extend(locks.holders.iter().map(|h| LockInfo {
                resource,
                txn: h.txn,
                mode: h.mode,
                granted: true,
                since_ms: h.since_ms,
            }));
            rows.extend(locks.waiters.iter().map(|w| LockInfo {
                resource,
                txn: w.txn,
                mode: w.mode,
                granted: false,
                since_ms: w.since_ms,
            }));
        }
        rows
    }

    /// Runs `request` from its `next` lock until it is answered or waits.
    fn run(&mut self, txn: TxnId, mut request: PendingRequest, now_ms: u64) {
        let keep_undo = request.policy == WaitPolicy::NoWait;
        while let Some(&lock) = request.locks.get(request.next) {
            let resource = lock.resource();
            match self.try_grant(txn, resource, lock.mode(), now_ms, keep_undo) {
                Attempt::Granted { released_at_lsn } => {
                    request.released_at_lsn = request.released_at_lsn.max(released_at_lsn);
                }
                Attempt::Blocked { mode, upgrade } => match request.policy {
                    WaitPolicy::NoWait => {
                        self.undo_changes(txn);
                        let error = LockError::NotAvailable { resource };
                        self.answer_failed(txn, request.request_id, error);
                        return;
                    }
                    WaitPolicy::SkipLocked => request.skipped.push(request.next),
                    WaitPolicy::Wait { timeout } => {
                        let deadline_ms = timeout.map(|timeout| {
                            let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
                            now_ms.saturating_add(timeout_ms)
                        });
                        self.park(txn, request, resource, mode, upgrade, deadline_ms, now_ms);
                        self.break_deadlocks(txn);
                        return;
                    }
                },
            }
            request.next += 1;
        }
        self.undo.clear();
        self.effects.push(LockEffect::Granted {
            txn,
            request_id: request.request_id,
            released_at_lsn: request.released_at_lsn,
            skipped: request.skipped,
        });
        self.forget_if_idle(txn);
    }

    /// Grants `mode` on `resource` to `txn` if the admission rules allow it
    /// now, changing nothing otherwise.
    fn try_grant(
        &mut self,
        txn: TxnId,
        resource: Resource,
        mode: LockMode,
        now_ms: u64,
        keep_undo: bool,
    ) -> Attempt {
        let floor = self.forgotten_lsn;
        let locks = self
            .resources
            .entry(resource)
            .or_insert_with(|| ResourceLocks::new(floor));
        let released_at_lsn = locks.released_at_lsn;
        // One pass finds both our own holding and what the others hold.
        let mut own = None;
        let mut others = 0u16;
        for (i, holder) in locks.holders.iter().enumerate() {
            if holder.txn == txn {
                own = Some(i);
            } else {
                others |= holder.mode.bit();
            }
        }
        if let Some(i) = own {
            let held = locks.holders[i].mode;
            if held.covers(mode) {
                return Attempt::Granted { released_at_lsn };
            }
            let target = held.supremum(mode);
            if target.conflicts_with_any(others) {
                return Attempt::Blocked {
                    mode: target,
                    upgrade: true,
                };
            }
            locks.holders[i].mode = target;
            if keep_undo {
                self.undo.push(Undo {
                    resource,
                    previous: Some(held),
                });
            }
        } else {
            let waiting = locks
                .waiters
                .iter()
                .fold(0, |modes, w| modes | w.mode.bit());
            if mode.conflicts_with_any(others | waiting) {
                return Attempt::Blocked {
                    mode,
                    upgrade: false,
                };
            }
            locks.holders.push(Holder {
                txn,
                mode,
                since_ms: now_ms,
            });
            self.txns
                .get_mut(&txn)
                .expect("a transaction running a request has state")
                .held
                .push(resource);
            if keep_undo {
                self.undo.push(Undo {
                    resource,
                    previous: None,
                });
            }
        }
        Attempt::Granted { released_at_lsn }
    }

    /// Reverts what the current `NoWait` request took. The table was in a
    /// settled state before the request, and grants only add, so restoring
    /// the holders restores that state; no queue needs a second look.
    fn undo_changes(&mut self, txn: TxnId) {
        let mut undo = mem::take(&mut self.undo);
        for Undo { resource, previous } in undo.drain(..).rev() {
            let Some(locks) = self.resources.get_mut(&resource) else {
                continue;
            };
            let Some(i) = locks.holders.iter().position(|h| h.txn == txn) else {
                continue;
            };
            match previous {
                Some(mode) => locks.holders[i].mode = mode,
                None => {
                    locks.holders.swap_remove(i);
                    if locks.is_idle() {
                        self.forgotten_lsn = self.forgotten_lsn.max(locks.released_at_lsn);
                        self.resources.remove(&resource);
                    }
                    if let Some(state) = self.txns.get_mut(&txn) {
                        // Undone in reverse, so it is the last one pushed.
                        debug_assert_eq!(state.held.last(), Some(&resource));
                        state.held.pop();
                    }
                }
            }
        }
        self.undo = undo;
    }

    /// Puts `request` in `resource`'s queue.
    #[allow(clippy::too_many_arguments)]
    fn park(
        &mut self,
        txn: TxnId,
        mut request: PendingRequest,
        resource: Resource,
        mode: LockMode,
        upgrade: bool,
        deadline_ms: Option<u64>,
        now_ms: u64,
    ) {
        let locks = self
            .resources
            .get_mut(&resource)
            .expect("a blocked resource has holders");
        let waiter = Waiter {
            txn,
            mode,
            upgrade,
            since_ms: now_ms,
        };
        if upgrade {
            let front = locks.waiters.iter().take_while(|w| w.upgrade).count();
            locks.waiters.insert(front, waiter);
        } else {
            locks.waiters.push_back(waiter);
        }
        if let Some(deadline) = deadline_ms {
            self.deadlines.insert((deadline, txn));
        }
        request.waiting_on = Some(resource);
        request.deadline_ms = deadline_ms;
        self.txns
            .get_mut(&txn)
            .expect("a transaction running a request has state")
            .pending = Some(request);
    }

    /// Searches for wait cycles through `txn`, which just started waiting,
    /// and fails the youngest member of each until none is left or `txn`
    /// itself was the victim.
    fn break_deadlocks(&mut self, txn: TxnId) {
        while let Some(cycle) = find_cycle(txn, |t, out| self.blockers(t, out)) {
            let victim = choose_victim(&cycle, |t| self.txns.get(&t).map_or(0, |s| s.age))
                .expect("a cycle has members");
            let error = LockError::Deadlock {
                cycle: self.describe_cycle(&cycle),
            };
            self.fail_pending(victim, error);
            if victim == txn {
                break;
            }
        }
    }

    /// Appends the transactions `txn` waits for (see the module docs).
    fn blockers(&self, txn: TxnId, out: &mut Vec<TxnId>) {
        let Some(resource) = self.waiting_on(txn) else {
            return;
        };
        let Some(locks) = self.resources.get(&resource) else {
            return;
        };
        let Some(position) = locks.waiters.iter().position(|w| w.txn == txn) else {
            return;
        };
        let me = locks.waiters[position];
        out.extend(
            locks
                .holders
                .iter()
                .filter(|h| h.txn != txn && h.mode.conflicts_with(me.mode))
                .map(|h| h.txn),
        );
        if !me.upgrade {
            out.extend(
                locks
                    .waiters
                    .iter()
                    .take(position)
                    .filter(|w| w.mode.conflicts_with(me.mode))
                    .map(|w| w.txn),
            );
        }
    }

    fn waiting_on(&self, txn: TxnId) -> Option<Resource> {
        self.txns.get(&txn)?.pending.as_ref()?.waiting_on
    }

    /// Names each wait of `cycle` for the error message.
    fn describe_cycle(&self, cycle: &[TxnId]) -> DeadlockCycle {
        let mut edges = Vec::with_capacity(cycle.len());
        for (i, &waiter) in cycle.iter().enumerate() {
            let holder = cycle[(i + 1) % cycle.len()];
            let Some(resource) = self.waiting_on(waiter) else {
                continue;
            };
            let mode = self
                .resources
                .get(&resource)
                .and_then(|locks| locks.waiters.iter().find(|w| w.txn == waiter))
                .map(|w| w.mode);
            if let Some(mode) = mode {
                edges.push(WaitEdge {
                    waiter,
                    resource,
                    mode,
                    holder,
                });
            }
        }
        DeadlockCycle(edges)
    }

    /// Fails `txn`'s pending request with `error`, taking it out of its
    /// queue. Its held locks stay until the transaction ends.
    fn fail_pending(&mut self, txn: TxnId, error: LockError) {
        let Some(request) = self.txns.get_mut(&txn).and_then(|s| s.pending.take()) else {
            return;
        };
        self.unpark(txn, &request);
        self.answer_failed(txn, request.request_id, error);
    }

    /// Takes a parked request out of its queue and the deadline index.
    fn unpark(&mut self, txn: TxnId, request: &PendingRequest) {
        if let Some(deadline) = request.deadline_ms {
            self.deadlines.remove(&(deadline, txn));
        }
        if let Some(resource) = request.waiting_on {
            if let Some(locks) = self.resources.get_mut(&resource) {
                locks.waiters.retain(|w| w.txn != txn);
                // Waiters behind it may now be grantable.
                self.dirty.push(resource);
            }
        }
    }

    fn answer_failed(&mut self, txn: TxnId, request_id: u64, error: LockError) {
        self.effects.push(LockEffect::Failed {
            txn,
            request_id,
            error,
        });
        self.forget_if_idle(txn);
    }

    /// Drops the state of a transaction that holds and awaits nothing, so
    /// one that never calls `release_all` costs nothing.
    fn forget_if_idle(&mut self, txn: TxnId) {
        if self
            .txns
            .get(&txn)
            .is_some_and(|s| s.held.is_empty() && s.pending.is_none())
        {
            self.txns.remove(&txn);
        }
    }

    /// Releases everything `txn` holds and fails its pending request.
    fn end_txn(&mut self, txn: TxnId, commit_lsn: Option<u64>, error: LockError) {
        let Some(state) = self.txns.remove(&txn) else {
            return;
        };
        if let Some(request) = &state.pending {
            self.unpark(txn, request);
            self.effects.push(LockEffect::Failed {
                txn,
                request_id: request.request_id,
                error,
            });
        }
        for resource in state.held {
            let Some(locks) = self.resources.get_mut(&resource) else {
                continue;
            };
            if let Some(i) = locks.holders.iter().position(|h| h.txn == txn) {
                locks.holders.swap_remove(i);
            }
            if commit_lsn.is_some() {
                locks.released_at_lsn = locks.released_at_lsn.max(commit_lsn);
            }
            if locks.is_idle() {
                self.forgotten_lsn = self.forgotten_lsn.max(locks.released_at_lsn);
                self.resources.remove(&resource);
            } else if !locks.waiters.is_empty() {
                self.dirty.push(resource);
            }
        }
    }

    /// Grants every queue touched by this input, until nothing changes.
    fn settle(&mut self, now_ms: u64) {
        while let Some(resource) = self.dirty.pop() {
            for (txn, released_at_lsn) in self.grant_waiters(resource, now_ms) {
                self.resume(txn, released_at_lsn, now_ms);
            }
        }
    }

    /// Grants, in queue order, the waiters of `resource` that the admission
    /// rules allow, returning them in that order. Their requests are marked
    /// as running but not resumed: resuming may touch this queue again.
    fn grant_waiters(&mut self, resource: Resource, now_ms: u64) -> Vec<(TxnId, Option<u64>)> {
        let mut granted = Vec::new();
        let Some(locks) = self.resources.get_mut(&resource) else {
            return granted;
        };
        // The modes of the waiters ahead that stay waiting.
        let mut ahead = 0u16;
        let mut i = 0;
        while let Some(&waiter) = locks.waiters.get(i) {
            let blocked = waiter
                .mode
                .conflicts_with_any(locks.modes_held_by_others(waiter.txn))
                || (!waiter.upgrade && waiter.mode.conflicts_with_any(ahead));
            if blocked {
                ahead |= waiter.mode.bit();
                i += 1;
                continue;
            }
            locks.waiters.remove(i);
            match locks.holders.iter_mut().find(|h| h.txn == waiter.txn) {
                Some(holder) => holder.mode = waiter.mode,
                None => {
                    locks.holders.push(Holder {
                        txn: waiter.txn,
                        mode: waiter.mode,
                        since_ms: now_ms,
                    });
                    if let Some(state) = self.txns.get_mut(&waiter.txn) {
                        state.held.push(resource);
                    }
                }
            }
            if let Some(request) = self
                .txns
                .get_mut(&waiter.txn)
                .and_then(|s| s.pending.as_mut())
            {
                request.waiting_on = None;
                if let Some(deadline) = request.deadline_ms.take() {
                    self.deadlines.remove(&(deadline, waiter.txn));
                }
            }
            granted.push((waiter.txn, locks.released_at_lsn));
        }
        if locks.is_idle() {
            self.forgotten_lsn = self.forgotten_lsn.max(locks.released_at_lsn);
            self.resources.remove(&resource);
        }
        granted
    }

    /// Continues `txn`'s request after the lock it waited for was granted.
    fn resume(&mut self, txn: TxnId, released_at_lsn: Option<u64>, now_ms: u64) {
        let Some(mut request) = self.txns.get_mut(&txn).and_then(|s| s.pending.take()) else {
            return;
        };
        request.released_at_lsn = request.released_at_lsn.max(released_at_lsn);
        request.next += 1;
        self.run(txn, request, now_ms);
    }
}
