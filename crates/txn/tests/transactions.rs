//! Transactions against a real coordinator and two frontends sharing one
//! in-memory object store: own writes, visibility after commit on both
//! frontends, rollback, savepoints, row locks across frontends, READ
//! COMMITTED re-check and REPEATABLE READ serialization failures.

use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::ObjectStore;
use shoal_coordinator::local::LocalCoordinator;
use shoal_coordinator::server::CoordinatorOptions;
use shoal_storage::Direction;
use shoal_txn::{Database, DatabaseOptions, ErrorKind, Isolation, LockMode, WaitPolicy};
use tokio::net::TcpListener;

struct Cluster {
    coordinator: LocalCoordinator,
    objects: Arc<dyn ObjectStore>,
    root: Path,
    a: Arc<Database>,
    b: Arc<Database>,
}

async fn cluster() -> Cluster {
    cluster_with(CoordinatorOptions::default()).await
}

/// A cluster whose frontends call the coordinator directly, as in `shoal
/// dev` (no gRPC between them).
async fn cluster_in_process() -> Cluster {
    let c = cluster_with(CoordinatorOptions {
        in_process: true,
        ..CoordinatorOptions::default()
    })
    .await;
    assert!(c.a.client().is_in_process() && c.b.client().is_in_process());
    c
}

async fn cluster_with(opts: CoordinatorOptions) -> Cluster {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let root = Path::from("db");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let coordinator = LocalCoordinator::start(listener, objects.clone(), root.clone(), opts)
        .await
        .expect("coordinator");
    let open = |id: u64| {
        let objects = objects.clone();
        let root = root.clone();
        let addr = coordinator.addr.to_string();
        async move {
            Database::open_on(
                objects,
                root,
                DatabaseOptions {
                    frontend_id: id,
                    coordinator: addr,
                    address: format!("frontend-{id}"),
                    cache_bytes: 1 << 20,
                    disk_cache: None,
                },
            )
            .await
            .expect("frontend")
        }
    };
    let a = open(1).await;
    let b = open(2).await;
    Cluster {
        coordinator,
        objects,
        root,
        a,
        b,
    }
}

fn all() -> (Bound<Bytes>, Bound<Bytes>) {
    (Bound::Unbounded, Bound::Unbounded)
}

#[tokio::test]
async fn commit_is_visible_on_every_frontend() {
    let c = cluster().await;
    let mut t = c.a.begin(Isolation::ReadCommitted).await.unwrap();
    t.begin_statement().await.unwrap();
    t.put(&b"k1"[..], &b"v1"[..]);
    t.put(&b"k2"[..], &b"v2"[..]);
    assert_eq!(t.get(b"k1").await.unwrap().as_deref(), Some(&b"v1"[..]));
    // Not visible elsewhere before commit.
    let mut other = c.b.begin(Isolation::ReadCommitted).await.unwrap();
    other.begin_statement().await.unwrap();
    assert_eq!(other.get(b"k1").await.unwrap(), None);
    let lsn = t.commit().await.unwrap();
    assert!(lsn > 0);
    // A READ COMMITTED statement that starts after the commit sees it, on B.
    other.begin_statement().await.unwrap();
    assert_eq!(other.get(b"k1").await.unwrap().as_deref(), Some(&b"v1"[..]));
    let rows = other.scan(all(), Direction::Forward).await.unwrap();
    assert_eq!(rows.collect(10).await.unwrap().len(), 2);
    other.rollback().await.unwrap();
    c.coordinator.stop().await.unwrap();
}

#[tokio::test]
async fn scan_merges_own_writes_and_deletes() {
    let c = cluster().await;
    let mut t = c.a.begin(Isolation::ReadCommitted).await.unwrap();
    t.begin_statement().await.unwrap();
    for k in ["a", "c", "e"] {
        t.put(Bytes::from(k), Bytes::from("old"));
    }
    t.commit().await.unwrap();
    let mut t = c.a.begin(Isolation::ReadCommitted).await.unwrap();
    t.begin_statement().await.unwrap();
    t.put(&b"b"[..], &b"new"[..]);
    t.put(&b"c"[..], &b"new"[..]);
    t.delete(&b"e"[..]);
    let fwd: Vec<_> = t
        .scan(all(), Direction::Forward)
        .await
        .unwrap()
        .collect(10)
        .await
        .unwrap();
    let keys: Vec<&[u8]> = fwd.iter().map(|(k, _)| k.as_ref()).collect();
    assert_eq!(keys, vec![&b"a"[..], b"b", b"c"]);
    assert_eq!(fwd[2].1.as_ref(), b"new");
    let rev: Vec<_> = t
        .scan(all(), Direction::Reverse)
        .await
        .unwrap()
        .collect(10)
        .await
        .unwrap();
    let keys: Vec<&[u8]> = rev.iter().map(|(k, _)| k.as_ref()).collect();
    assert_eq!(keys, vec![&b"c"[..], b"b", b"a"]);
    // An empty range neither panics nor returns rows.
    let empty = t
        .scan(
            (
                Bound::Excluded(Bytes::from("b")),
                Bound::Excluded(Bytes::from("b")),
            ),
            Direction::Forward,
        )
        .await
        .unwrap();
    assert!(empty.collect(10).await.unwrap().is_empty());
    t.rollback().await.unwrap();
    let mut t = c.b.begin(Isolation::ReadCommitted).await.unwrap();
    t.begin_statement().await.unwrap();
    assert_eq!(t.get(b"b").await.unwrap(), None, "rolled back");
    assert_eq!(t.get(b"e").await.unwrap().as_deref(), Some(&b"old"[..]));
}

#[tokio::test]
async fn savepoints_undo_later_writes() {
    let c = cluster().await;
    let mut t = c.a.begin(Isolation::ReadCommitted).await.unwrap();
    t.begin_statement().await.unwrap();
    t.put(&b"x"[..], &b"1"[..]);
    let sp = t.savepoint();
    t.put(&b"x"[..], &b"2"[..]);
    t.put(&b"y"[..], &b"2"[..]);
    t.rollback_to(&sp);
    assert_eq!(t.get(b"x").await.unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(t.get(b"y").await.unwrap(), None);
    t.commit().await.unwrap();
}

#[tokio::test]
async fn row_locks_conflict_across_frontends_and_recheck_sees_the_winner() {
    row_locks_conflict(cluster().await).await;
}

#[tokio::test]
async fn row_locks_conflict_across_frontends_in_process() {
    row_locks_conflict(cluster_in_process().await).await;
}

async fn row_locks_conflict(c: Cluster) {
    let key: &[u8] = b"row";
    let mut setup = c.a.begin(Isolation::ReadCommitted).await.unwrap();
    setup.begin_statement().await.unwrap();
    setup.put(key, &b"0"[..]);
    setup.commit().await.unwrap();

    let mut t1 = c.a.begin(Isolation::ReadCommitted).await.unwrap();
    t1.begin_statement().await.unwrap();
    t1.lock(
        &[(7, Some(key), LockMode::RowExclusive)],
        WaitPolicy::Wait,
        None,
    )
    .await
    .unwrap();
    let mut t2 = c.b.begin(Isolation::ReadCommitted).await.unwrap();
    t2.begin_statement().await.unwrap();
    let err = t2
        .lock(
            &[(7, Some(key), LockMode::RowExclusive)],
            WaitPolicy::NoWait,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::LockNotAvailable);
    let err = t2
        .lock(
            &[(7, Some(key), LockMode::RowExclusive)],
            WaitPolicy::Wait,
            Some(Duration::from_millis(50)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::LockTimeout);
    let skipped = t2
        .lock(
            &[(7, Some(key), LockMode::RowExclusive)],
            WaitPolicy::SkipLocked,
            None,
        )
        .await
        .unwrap();
    assert_eq!(skipped, vec![0]);

    // T2 waits; T1 writes and commits; T2 gets the lock and re-reads the
    // row past its snapshot, seeing T1's value (READ COMMITTED re-check).
    let waiter = tokio::spawn(async move {
        t2.lock(
            &[(7, Some(key), LockMode::RowExclusive)],
            WaitPolicy::Wait,
            None,
        )
        .await
        .unwrap();
        let at_snapshot = t2.get(b"row").await.unwrap();
        let latest = t2.get_latest(b"row").await.unwrap();
        t2.rollback().await.unwrap();
        (at_snapshot, latest)
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    t1.put(key, &b"1"[..]);
    let lsn = t1.commit().await.unwrap();
    let (at_snapshot, latest) = waiter.await.unwrap();
    assert_eq!(at_snapshot.as_deref(), Some(&b"0"[..]));
    assert_eq!(latest.value.as_deref(), Some(&b"1"[..]));
    assert_eq!(latest.lsn, lsn);
}

#[tokio::test]
async fn repeatable_read_fails_on_a_concurrent_update() {
    let c = cluster().await;
    let key: &[u8] = b"acct";
    let mut setup = c.a.begin(Isolation::ReadCommitted).await.unwrap();
    setup.begin_statement().await.unwrap();
    setup.put(key, &b"100"[..]);
    setup.commit().await.unwrap();

    let mut rr = c.a.begin(Isolation::RepeatableRead).await.unwrap();
    rr.begin_statement().await.unwrap();
    assert_eq!(rr.get(key).await.unwrap().as_deref(), Some(&b"100"[..]));

    let mut w = c.b.begin(Isolation::ReadCommitted).await.unwrap();
    w.begin_statement().await.unwrap();
    w.put(key, &b"50"[..]);
    w.commit().await.unwrap();

    // The snapshot holds: the old value is still what RR reads...
    rr.begin_statement().await.unwrap();
    assert_eq!(rr.get(key).await.unwrap().as_deref(), Some(&b"100"[..]));
    // ...and writing the row it changed is a serialization failure.
    let err = rr.get_latest(key).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Serialization);
    rr.rollback().await.unwrap();
}

#[tokio::test]
async fn sequence_values_never_repeat_across_frontends() {
    sequences_never_repeat(cluster().await).await;
}

#[tokio::test]
async fn sequence_values_never_repeat_across_frontends_in_process() {
    sequences_never_repeat(cluster_in_process().await).await;
}

async fn sequences_never_repeat(c: Cluster) {
    let mut seen = std::collections::HashSet::new();
    for i in 0..50 {
        let db = if i % 2 == 0 { &c.a } else { &c.b };
        let v = db.next_sequence_value(99, 8).await.unwrap();
        assert!(seen.insert(v), "value {v} handed out twice");
    }
}

#[tokio::test]
async fn frontends_follow_flushes_and_keep_reading_everything() {
    let mut opts = CoordinatorOptions::default();
    opts.store.flush_bytes = 4 << 10;
    let c = cluster_with(opts).await;
    for batch in 0..20u32 {
        let mut t = c.a.begin(Isolation::ReadCommitted).await.unwrap();
        t.begin_statement().await.unwrap();
        for i in 0..20u32 {
            let k = format!("key{:05}", batch * 20 + i);
            t.put(Bytes::from(k), Bytes::from(vec![b'v'; 100]));
        }
        t.commit().await.unwrap();
    }
    // The coordinator flushed; each frontend installs the manifests.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while c.b.store().manifest().version == 0 {
        assert!(std::time::Instant::now() < deadline, "no manifest followed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for db in [&c.a, &c.b] {
        let mut t = db.begin(Isolation::ReadCommitted).await.unwrap();
        t.begin_statement().await.unwrap();
        let rows = t
            .scan(all(), Direction::Forward)
            .await
            .unwrap()
            .collect(1000)
            .await
            .unwrap();
        assert_eq!(rows.len(), 400);
        assert!(t.get(b"key00000").await.unwrap().is_some());
        assert!(t.get(b"key00399").await.unwrap().is_some());
    }
}

/// Linearizable reads across frontends: once a commit has returned on A,
/// a transaction that starts on B sees it, every time (the snapshot rule,
/// and the client applying a batch before publishing its LSN).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returned_commit_is_seen_at_once_on_the_other_frontend() {
    let c = cluster().await;
    assert!(!c.a.client().is_in_process());
    returned_commits_are_seen_at_once(c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returned_commit_is_seen_at_once_on_the_other_frontend_in_process() {
    returned_commits_are_seen_at_once(cluster_in_process().await).await;
}

async fn returned_commits_are_seen_at_once(c: Cluster) {
    for round in 0..300u32 {
        let (writer, reader) = if round % 2 == 0 {
            (&c.a, &c.b)
        } else {
            (&c.b, &c.a)
        };
        let mut w = writer.begin(Isolation::ReadCommitted).await.unwrap();
        w.begin_statement().await.unwrap();
        w.put(&b"reg"[..], Bytes::from(round.to_be_bytes().to_vec()));
        w.commit().await.unwrap();
        let mut r = reader.begin(Isolation::ReadCommitted).await.unwrap();
        r.begin_statement().await.unwrap();
        let seen = r.get(b"reg").await.unwrap();
        assert_eq!(
            seen.as_deref(),
            Some(&round.to_be_bytes()[..]),
            "stale read in round {round}"
        );
        r.rollback().await.unwrap();
    }
}

async fn wait_serving(db: &Database) {
    for _ in 0..500 {
        if db.is_serving() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("frontend {} did not re-join", db.frontend_id());
}

/// The coordinator is replaced (a new leader at a new address, as when a
/// spare takes over): the frontends find it through its epoch in the
/// store, join it again and catch up; a transaction that spanned the
/// change fails instead of committing under a membership that is gone;
/// nothing committed before is lost and the frontends agree afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frontends_rejoin_a_new_coordinator_and_catch_up() {
    rejoin_a_new_coordinator(cluster().await, false).await;
}

/// The same with the coordinators in the frontends' process: the stopped
/// one's direct calls fail and its event stream ends, the frontends join
/// the new one, directly too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frontends_rejoin_a_new_coordinator_in_process() {
    rejoin_a_new_coordinator(cluster_in_process().await, true).await;
}

async fn rejoin_a_new_coordinator(c: Cluster, in_process: bool) {
    let mut t = c.a.begin(Isolation::ReadCommitted).await.unwrap();
    t.begin_statement().await.unwrap();
    t.put(&b"before"[..], &b"1"[..]);
    t.commit().await.unwrap();

    let mut spanning = c.b.begin(Isolation::ReadCommitted).await.unwrap();
    spanning.begin_statement().await.unwrap();
    spanning.put(&b"spanning"[..], &b"x"[..]);

    c.coordinator.stop().await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let mut opts = CoordinatorOptions {
        in_process,
        ..CoordinatorOptions::default()
    };
    opts.core.membership.lease = Duration::from_millis(500);
    opts.core.leader_lease = Duration::from_millis(500);
    let next = LocalCoordinator::start(listener, c.objects.clone(), c.root.clone(), opts)
        .await
        .expect("new coordinator");
    wait_serving(&c.a).await;
    wait_serving(&c.b).await;
    assert!(c.a.rejoins() >= 1 && c.b.rejoins() >= 1);
    assert_eq!(c.a.client().is_in_process(), in_process);
    assert_eq!(c.b.client().is_in_process(), in_process);

    let err = spanning.commit().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");

    let mut t = c.b.begin(Isolation::ReadCommitted).await.unwrap();
    t.begin_statement().await.unwrap();
    assert_eq!(t.get(b"before").await.unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(t.get(b"spanning").await.unwrap(), None);
    t.put(&b"after"[..], &b"2"[..]);
    t.commit().await.unwrap();
    let mut r = c.a.begin(Isolation::ReadCommitted).await.unwrap();
    r.begin_statement().await.unwrap();
    assert_eq!(r.get(b"after").await.unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(r.get(b"before").await.unwrap().as_deref(), Some(&b"1"[..]));
    r.rollback().await.unwrap();
    next.stop().await.unwrap();
}

/// A frontend that leaves is removed at once: the locks its transactions
/// held are free for the other frontend without waiting out a lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frontend_that_leaves_frees_its_locks_at_once() {
    a_leaver_frees_its_locks(cluster().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frontend_that_leaves_frees_its_locks_at_once_in_process() {
    a_leaver_frees_its_locks(cluster_in_process().await).await;
}

async fn a_leaver_frees_its_locks(c: Cluster) {
    let mut holder = c.a.begin(Isolation::ReadCommitted).await.unwrap();
    holder.begin_statement().await.unwrap();
    holder
        .lock(
            &[(7, Some(&b"row"[..]), LockMode::RowExclusive)],
            WaitPolicy::Wait,
            None,
        )
        .await
        .unwrap();
    c.a.leave().await.unwrap();
    assert!(!c.a.is_serving());
    let mut other = c.b.begin(Isolation::ReadCommitted).await.unwrap();
    other.begin_statement().await.unwrap();
    other
        .lock(
            &[(7, Some(&b"row"[..]), LockMode::RowExclusive)],
            WaitPolicy::Wait,
            Some(Duration::from_millis(500)),
        )
        .await
        .expect("the leaver's lock is released");
    other.rollback().await.unwrap();
    // A frontend that left does not come back by itself.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!c.a.is_serving());
    drop(holder);
}
