//! Crash tests: a failure injected at every step of append, flush and
//! compaction (each object-store request in turn, failing before it takes
//! effect or after), then a "crash" (the store is dropped) and a re-open on
//! the healthy store. Nothing that was in a WAL segment may be lost, no SST
//! a manifest needs may be missing, and the store must work on afterwards.

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::{path::Path, ObjectStore};
use shoal_storage::db::{Store, StoreOptions};
use shoal_storage::object::{FailFilter, FaultConfig, FaultyStore};
use shoal_storage::sst::SstOptions;
use shoal_storage::{CommittedTxn, Direction, Lsn, Write};

fn options() -> StoreOptions {
    StoreOptions {
        sst: SstOptions {
            page_size: 512,
            ..SstOptions::default()
        },
        l0_compaction_trigger: 2,
        target_sst_bytes: 4096,
        gc_grace: Duration::ZERO,
        ..StoreOptions::default()
    }
}

/// What was acknowledged: per LSN, the full key -> value map as of it.
#[derive(Default, Clone)]
struct History {
    states: Vec<BTreeMap<Bytes, Bytes>>,
}

impl History {
    fn last_lsn(&self) -> Lsn {
        self.states.len() as Lsn
    }

    fn at(&self, lsn: Lsn) -> BTreeMap<Bytes, Bytes> {
        if lsn == 0 {
            BTreeMap::new()
        } else {
            self.states[lsn as usize - 1].clone()
        }
    }

    /// The next transaction: rewrites a few keys, deletes one.
    fn next_txn(&mut self) -> CommittedTxn {
        let lsn = self.last_lsn() + 1;
        let mut state = self.at(lsn - 1);
        let mut writes = Vec::new();
        for i in 0..6u64 {
            let k = Bytes::from(format!("row{:04}", (lsn * 7 + i * 13) % 97));
            let v = Bytes::from(format!(
                "value-{lsn}-{i}-{}",
                "x".repeat((lsn % 50) as usize)
            ));
            state.insert(k.clone(), v.clone());
            writes.push(Write {
                key: k,
                value: Some(v),
            });
        }
        let gone = Bytes::from(format!("row{:04}", (lsn * 31) % 97));
        writes.retain(|w| w.key != gone);
        state.remove(&gone);
        writes.push(Write {
            key: gone,
            value: None,
        });
        self.states.push(state);
        CommittedTxn { lsn, writes }
    }

    async fn append(&mut self, store: &Store, n: usize) {
        let txns: Vec<CommittedTxn> = (0..n).map(|_| self.next_txn()).collect();
        store.append(txns, vec![]).await.expect("append");
    }
}

/// Re-opens `objects` and checks every snapshot from `from` on against the
/// history, through gets and scans in both directions.
async fn check(
    objects: Arc<dyn ObjectStore>,
    root: &Path,
    history: &History,
    from: Lsn,
    what: &str,
) -> Store {
    let store = Store::open(objects, root.clone(), options())
        .await
        .unwrap_or_else(|e| panic!("{what}: re-open failed: {e}"));
    assert_eq!(
        store.last_lsn(),
        history.last_lsn(),
        "{what}: acknowledged commits lost"
    );
    for lsn in from..=history.last_lsn() {
        let want = history.at(lsn);
        let fwd = store
            .scan(
                (Bound::Unbounded, Bound::Unbounded),
                lsn,
                Direction::Forward,
            )
            .await
            .and_then_collect()
            .await
            .unwrap_or_else(|e| panic!("{what}: scan at {lsn}: {e}"));
        let want_rows: Vec<(Bytes, Bytes)> = want.clone().into_iter().collect();
        assert_eq!(fwd, want_rows, "{what}: forward scan at {lsn}");
        let mut rev = store
            .scan(
                (Bound::Unbounded, Bound::Unbounded),
                lsn,
                Direction::Reverse,
            )
            .await
            .and_then_collect()
            .await
            .unwrap_or_else(|e| panic!("{what}: reverse scan at {lsn}: {e}"));
        rev.reverse();
        assert_eq!(rev, want_rows, "{what}: reverse scan at {lsn}");
        for k in 0..97 {
            let key = Bytes::from(format!("row{k:04}"));
            let got = store
                .get(&key, lsn)
                .await
                .unwrap_or_else(|e| panic!("{what}: get: {e}"));
            assert_eq!(got.as_ref(), want.get(&key), "{what}: get {key:?} at {lsn}");
        }
    }
    store
}

trait CollectAll {
    async fn and_then_collect(self) -> shoal_storage::Result<Vec<(Bytes, Bytes)>>;
}

impl CollectAll for shoal_storage::Result<shoal_storage::iter::SnapshotIter> {
    async fn and_then_collect(self) -> shoal_storage::Result<Vec<(Bytes, Bytes)>> {
        self?.collect(usize::MAX).await
    }
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Append,
    Flush,
    Compact,
}

/// Builds a store with some flushed and some unflushed history, then runs
/// `step` with the `n`-th request failing (`after`: failing once it took
/// effect). Returns None when the step made fewer than `n` requests.
async fn crash_at(
    base: Arc<dyn ObjectStore>,
    root: &Path,
    step: Step,
    n: u64,
    after: bool,
) -> Option<History> {
    let faults = FaultConfig::new();
    let faulty: Arc<dyn ObjectStore> =
        Arc::new(FaultyStore::with_config(base.clone(), faults.clone()));
    let store = Store::open(faulty, root.clone(), options())
        .await
        .expect("open");
    let mut history = History::default();
    for _ in 0..3 {
        history.append(&store, 4).await;
        store.flush().await.expect("flush");
    }
    history.append(&store, 3).await;
    let attempted = history.clone();
    let mut attempted_more = history.clone();
    let txns: Vec<CommittedTxn> = (0..2).map(|_| attempted_more.next_txn()).collect();

    if after {
        faults.fail_after_nth(n, FailFilter::Any);
    } else {
        faults.fail_nth(n, FailFilter::Any);
    }
    let before = faults.injected();
    let outcome = match step {
        Step::Append => store.append(txns, vec![]).await.map(|_| ()),
        Step::Flush => store.flush().await.map(|_| ()),
        Step::Compact => store.compact(5, true).await.map(|_| ()),
    };
    let injected = faults.injected() > before;
    faults.heal();
    drop(store); // the crash
    if !injected {
        outcome.expect("the step succeeds when nothing fails");
        return None;
    }
    // An append whose segment landed (even if the PUT reported an error
    // that the store could not resolve) is durable: replay must find it.
    let wal_landed = matches!(step, Step::Append) && (outcome.is_ok() || after);
    Some(if wal_landed {
        attempted_more
    } else {
        attempted
    })
}

async fn crash_every_step(step: Step, after: bool) {
    for ts in common::test_stores() {
        let mut n = 1;
        loop {
            let root = Path::from(format!("crash-{step:?}-{after}-{n}"));
            let Some(mut history) = crash_at(ts.store.clone(), &root, step, n, after).await else {
                assert!(n > 1, "{step:?} made no request on {}", ts.name);
                break;
            };
            let what = format!("{} {step:?} failing request {n} (after={after})", ts.name);
            let from = if matches!(step, Step::Compact) { 5 } else { 0 };
            let store = check(ts.store.clone(), &root, &history, from, &what).await;
            // The store works on: more commits, a flush, a full compaction
            // and garbage collection leave every snapshot readable.
            history.append(&store, 2).await;
            store
                .flush()
                .await
                .unwrap_or_else(|e| panic!("{what}: flush after: {e}"));
            store
                .compact(from, true)
                .await
                .unwrap_or_else(|e| panic!("{what}: compact after: {e}"));
            store
                .collect_garbage()
                .await
                .unwrap_or_else(|e| panic!("{what}: gc after: {e}"));
            drop(store);
            check(ts.store.clone(), &root, &history, history.last_lsn(), &what).await;
            n += 1;
        }
    }
}

#[tokio::test]
async fn crash_during_append() {
    crash_every_step(Step::Append, false).await;
    crash_every_step(Step::Append, true).await;
}

#[tokio::test]
async fn crash_during_flush() {
    crash_every_step(Step::Flush, false).await;
    crash_every_step(Step::Flush, true).await;
}

#[tokio::test]
async fn crash_during_compaction() {
    crash_every_step(Step::Compact, false).await;
    crash_every_step(Step::Compact, true).await;
}

/// Garbage collection never deletes what a manifest needs, and does delete
/// the SSTs a crashed flush left behind.
#[tokio::test]
async fn gc_removes_orphans_only() {
    for ts in common::test_stores() {
        let root = Path::from("gc");
        let faults = FaultConfig::new();
        let faulty: Arc<dyn ObjectStore> =
            Arc::new(FaultyStore::with_config(ts.store.clone(), faults.clone()));
        let store = Store::open(faulty, root.clone(), options())
            .await
            .expect("open");
        let mut history = History::default();
        history.append(&store, 5).await;
        // The SST upload lands, the manifest publish fails: an orphan.
        faults.fail_nth(2, FailFilter::Put);
        assert!(store.flush().await.is_err());
        faults.heal();
        drop(store);
        let store = check(ts.store.clone(), &root, &history, 0, ts.name).await;
        let stats = store.collect_garbage().await.expect("gc");
        assert_eq!(
            stats.ssts_deleted, 1,
            "{}: the orphan SST is deleted",
            ts.name
        );
        store.flush().await.expect("flush");
        history.append(&store, 5).await;
        store.flush().await.expect("flush");
        store.compact(0, true).await.expect("compact");
        let stats = store.collect_garbage().await.expect("gc");
        assert_eq!(
            stats.ssts_deleted, 2,
            "{}: the compacted L0 files are deleted",
            ts.name
        );
        drop(store);
        check(ts.store.clone(), &root, &history, 0, ts.name).await;
    }
}
