//! Group commit against a real `Store` on an in-memory object store: LSNs,
//! batching, durability after reopen, failed and fenced PUTs, size limits
//! and shutdown.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use futures::StreamExt;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::ObjectStore;
use shoal_coordinator::group_commit::{
    BatchStage, CommitError, DurableBatch, GroupCommit, GroupCommitConfig,
};
use shoal_storage::db::{Store, StoreOptions};
use shoal_storage::object::{FailFilter, FaultConfig, FaultyStore};
use shoal_storage::{CommittedTxn, Lsn, Write};

async fn open(objects: &Arc<dyn ObjectStore>) -> Arc<Store> {
    Arc::new(
        Store::open(objects.clone(), Path::default(), StoreOptions::default())
            .await
            .expect("open store"),
    )
}

/// An in-memory object store with fault injection.
fn faulty() -> (Arc<dyn ObjectStore>, Arc<FaultConfig>) {
    let store = FaultyStore::new(Arc::new(InMemory::new()));
    let faults = store.faults();
    (Arc::new(store), faults)
}

async fn wal_segments(objects: &Arc<dyn ObjectStore>) -> usize {
    let prefix = Path::from("wal");
    objects.list(Some(&prefix)).collect::<Vec<_>>().await.len()
}

fn key(committer: usize, i: usize) -> String {
    format!("c{committer:02}/t{i:03}")
}

/// `committers` tasks each commit `per_committer` one-write transactions,
/// one at a time; returns every (key, LSN) acknowledged.
async fn run_committers(
    gc: &GroupCommit,
    committers: usize,
    per_committer: usize,
) -> Vec<(String, Lsn)> {
    let tasks = (0..committers).map(|c| {
        let gc = gc.clone();
        tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..per_committer {
                let k = key(c, i);
                let lsn = gc
                    .commit(vec![Write::put(k.clone(), format!("v{c}.{i}"))])
                    .await
                    .expect("commit");
                acked.push((k, lsn));
            }
            acked
        })
    });
    join_all(tasks)
        .await
        .into_iter()
        .flat_map(|r| r.expect("committer task"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_get_dense_lsns_and_survive_reopen() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let store = open(&objects).await;
    let (gc, task) = GroupCommit::start(store.clone(), GroupCommitConfig::default());

    let acked = run_committers(&gc, 64, 50).await;
    let lsns: BTreeSet<Lsn> = acked.iter().map(|(_, lsn)| *lsn).collect();
    assert_eq!(lsns.len(), 3200, "every commit got its own LSN");
    assert_eq!(
        lsns.iter().copied().collect::<Vec<_>>(),
        (1..=3200).collect::<Vec<_>>()
    );
    assert_eq!(store.last_lsn(), 3200);

    gc.shutdown().await;
    task.await.expect("join").expect("clean shutdown");
    let stats = gc.stats();
    let segments = wal_segments(&objects).await;
    assert_eq!(stats.txns, 3200);
    assert_eq!(stats.batches as usize, segments);
    assert!(
        segments < 3200 / 4,
        "{segments} segments: commits were not batched"
    );

    let reopened = open(&objects).await;
    assert_eq!(reopened.last_lsn(), 3200);
    for (k, lsn) in &acked {
        let got = reopened.get(k.as_bytes(), 3200).await.expect("get");
        assert!(got.is_some(), "{k} (LSN {lsn}) lost");
        // Visible exactly from its own LSN on.
        assert!(reopened
            .get(k.as_bytes(), lsn - 1)
            .await
            .expect("get")
            .is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_puts_make_big_batches() {
    let (objects, faults) = faulty();
    faults.set_put_latency(Duration::from_millis(10));
    let store = open(&objects).await;
    let (gc, task) = GroupCommit::start(store.clone(), GroupCommitConfig::default());

    let started = std::time::Instant::now();
    let acked = run_committers(&gc, 64, 10).await;
    let elapsed = started.elapsed();
    assert_eq!(acked.len(), 640);
    gc.shutdown().await;
    task.await.expect("join").expect("clean shutdown");

    let stats = gc.stats();
    let per_batch = stats.txns as f64 / stats.batches as f64;
    assert!(
        per_batch >= 16.0,
        "{stats:?}: {per_batch:.1} txns per batch"
    );
    // One PUT at a time would take 6.4 s without batching.
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert_eq!(wal_segments(&objects).await as u64, stats.batches);
}

/// Commits `n` transactions at once; with `max_batch_txns = n` and a long
/// delay they form exactly one batch.
async fn commit_batch(gc: &GroupCommit, tag: &str, n: usize) -> Vec<Result<Lsn, CommitError>> {
    join_all((0..n).map(|i| gc.commit(vec![Write::put(format!("{tag}{i}"), "v")]))).await
}

fn one_batch_config(n: usize) -> GroupCommitConfig {
    GroupCommitConfig {
        max_batch_delay: Duration::from_secs(60),
        max_batch_txns: n,
        ..GroupCommitConfig::default()
    }
}

#[tokio::test]
async fn a_failed_put_fails_exactly_its_batch() {
    let (objects, faults) = faulty();
    let store = open(&objects).await;
    let (gc, task) = GroupCommit::start(store.clone(), one_batch_config(8));

    let first = commit_batch(&gc, "a", 8).await;
    assert!(first.iter().all(Result::is_ok), "{first:?}");

    faults.fail_nth(1, FailFilter::Put);
    let failed = commit_batch(&gc, "b", 8).await;
    assert!(
        failed
            .iter()
            .all(|r| matches!(r, Err(CommitError::Storage(_)))),
        "{failed:?}"
    );

    let later = commit_batch(&gc, "c", 8).await;
    let later: Vec<Lsn> = later.into_iter().map(|r| r.expect("commit")).collect();
    // The failed batch's LSNs (9..=16) are not reused.
    assert_eq!(later, (17..=24).collect::<Vec<_>>());
    assert_eq!(gc.stats().failed_batches, 1);
    gc.shutdown().await;
    task.await.expect("join").expect("clean shutdown");

    let reopened = open(&objects).await;
    assert_eq!(reopened.last_lsn(), 24);
    for i in 0..8 {
        let get = |k: String| {
            let reopened = reopened.clone();
            async move { reopened.get(k.as_bytes(), 24).await.expect("get") }
        };
        assert!(get(format!("a{i}")).await.is_some());
        assert!(
            get(format!("b{i}")).await.is_none(),
            "failed txn b{i} is durable"
        );
        assert!(get(format!("c{i}")).await.is_some());
    }
}

#[tokio::test]
async fn a_put_whose_answer_was_lost_still_commits() {
    let (objects, faults) = faulty();
    let store = open(&objects).await;
    let (gc, _task) = GroupCommit::start(store, one_batch_config(4));
    faults.fail_after_nth(1, FailFilter::Put);
    let results = commit_batch(&gc, "a", 4).await;
    let lsns: Vec<Lsn> = results.into_iter().map(|r| r.expect("commit")).collect();
    assert_eq!(lsns, vec![1, 2, 3, 4]);
    assert_eq!(faults.injected(), 1);
}

#[tokio::test]
async fn a_fenced_sequencer_stops_for_good() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let ours = open(&objects).await;
    let theirs = open(&objects).await;
    // Another writer takes segment 1 first.
    theirs
        .append(
            vec![CommittedTxn {
                lsn: 1,
                writes: vec![Write::put("theirs", "v")],
            }],
            vec![],
        )
        .await
        .expect("their append");

    let (gc, task) = GroupCommit::start(ours, one_batch_config(4));
    let results = commit_batch(&gc, "ours", 4).await;
    assert!(
        results.iter().all(|r| r == &Err(CommitError::Fenced)),
        "{results:?}"
    );
    assert_eq!(
        task.await.expect("join"),
        Err(CommitError::Fenced),
        "the task ends"
    );
    assert!(gc.is_fenced());
    assert_eq!(
        gc.commit(vec![Write::put("later", "v")]).await,
        Err(CommitError::Fenced)
    );
    let reopened = open(&objects).await;
    assert!(reopened.get(b"ours0", 10).await.expect("get").is_none());
}

#[tokio::test]
async fn oversize_transactions_are_rejected_before_sequencing() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let config = GroupCommitConfig {
        max_batch_bytes: 1024,
        ..GroupCommitConfig::default()
    };
    let (gc, _task) = GroupCommit::start(open(&objects).await, config);
    let big = gc.commit(vec![Write::put("k", vec![0u8; 2000])]).await;
    assert!(
        matches!(big, Err(CommitError::TooLarge { limit: 1024, bytes }) if bytes > 2000),
        "{big:?}"
    );
    // It took no LSN.
    assert_eq!(gc.commit(vec![Write::put("k", "small")]).await, Ok(1));
}

#[tokio::test]
async fn the_byte_limit_splits_batches() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let config = GroupCommitConfig {
        max_batch_delay: Duration::from_millis(50),
        max_batch_bytes: 1000,
        ..GroupCommitConfig::default()
    };
    let (gc, task) = GroupCommit::start(open(&objects).await, config);
    // Each is about 400 bytes: two fit in a batch, the third starts the next.
    let results =
        join_all((0..6).map(|i| gc.commit(vec![Write::put(format!("k{i}"), vec![0u8; 380])])))
            .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    gc.shutdown().await;
    task.await.expect("join").expect("clean shutdown");
    assert_eq!(gc.stats().batches, 3);
    assert_eq!(wal_segments(&objects).await, 3);
}

#[tokio::test]
async fn shutdown_flushes_the_open_batch_and_refuses_later_commits() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let (gc, task) = GroupCommit::start(open(&objects).await, one_batch_config(1000));
    let pending = tokio::spawn(gc.commit(vec![Write::put("k", "v")]));
    // Let it reach the batch, which would wait a minute for company.
    tokio::time::sleep(Duration::from_millis(20)).await;
    gc.shutdown().await;
    assert_eq!(pending.await.expect("join"), Ok(1));
    task.await.expect("join").expect("clean shutdown");
    assert_eq!(
        gc.commit(vec![Write::put("k", "v")]).await,
        Err(CommitError::ShutDown)
    );
}

#[tokio::test]
async fn dropping_every_handle_flushes_and_ends_the_task() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let (gc, task) = GroupCommit::start(open(&objects).await, one_batch_config(1000));
    let pending = tokio::spawn(gc.commit(vec![Write::put("k", "v")]));
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(gc);
    let answered = tokio::time::timeout(Duration::from_secs(5), pending).await;
    assert_eq!(
        answered
            .expect("flushed without waiting out the delay")
            .expect("join"),
        Ok(1)
    );
    task.await.expect("join").expect("clean shutdown");
    assert_eq!(wal_segments(&objects).await, 1);
}

/// A stage that holds durable batches until told to let them through, as
/// deliver/visible will until every frontend has acked.
#[derive(Clone, Default)]
struct HoldingStage {
    held: Arc<std::sync::Mutex<Vec<DurableBatch>>>,
    sealed: Arc<std::sync::Mutex<Vec<(u64, Lsn, Lsn)>>>,
}

impl BatchStage for HoldingStage {
    fn sealed(&mut self, batch: &shoal_coordinator::group_commit::SealedBatch<'_>) {
        let first = batch.txns.first().map_or(0, |t| t.lsn);
        let last = batch.txns.last().map_or(0, |t| t.lsn);
        self.sealed
            .lock()
            .expect("lock")
            .push((batch.batch_id, first, last));
    }

    fn durable(&mut self, batch: DurableBatch) {
        self.held.lock().expect("lock").push(batch);
    }
}

#[tokio::test]
async fn a_stage_decides_when_committers_are_answered() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let stage = HoldingStage::default();
    let (gc, _task) =
        GroupCommit::start_with_stage(open(&objects).await, one_batch_config(3), stage.clone());
    let pending = tokio::spawn({
        let gc = gc.clone();
        async move { commit_batch(&gc, "k", 3).await }
    });
    // Durable, but not answered while the stage holds it.
    let batch = loop {
        if let Some(batch) = stage.held.lock().expect("lock").pop() {
            break batch;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    assert_eq!((batch.first_lsn, batch.last_lsn, batch.len()), (1, 3, 3));
    assert_eq!(stage.sealed.lock().expect("lock").as_slice(), &[(1, 1, 3)]);
    assert!(!pending.is_finished());
    batch.acknowledge();
    let results = pending.await.expect("join");
    assert_eq!(results, vec![Ok(1), Ok(2), Ok(3)]);
}

#[tokio::test]
async fn sequence_marks_are_logged_with_the_batch() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let store = open(&objects).await;
    let (gc, task) = GroupCommit::start(store.clone(), GroupCommitConfig::default());
    let lsn = gc
        .commit_with_sequences(vec![], vec![(7, 1000), (8, 50)])
        .await
        .expect("commit");
    assert_eq!(lsn, 1);
    gc.shutdown().await;
    task.await.expect("join").expect("clean shutdown");
    let sequences = open(&objects).await.sequences().await;
    assert_eq!(sequences.get(&7), Some(&1000));
    assert_eq!(sequences.get(&8), Some(&50));
}
