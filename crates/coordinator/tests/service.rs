//! The coordinator service end to end in one process: a real gRPC server on
//! 127.0.0.1 over a real store, and real clients.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use object_store::{memory::InMemory, path::Path, ObjectStore};
use shoal_coordinator::client::CoordinatorClient;
use shoal_coordinator::error::ErrorKind;
use shoal_coordinator::locks::TxnId;
use shoal_coordinator::proto as pb;
use shoal_coordinator::server::CoordinatorOptions;
use shoal_storage::db::{Store, StoreOptions};
use shoal_storage::Write;

mod common;

use common::{row, start_with, status, Running};

async fn start(objects: Arc<dyn ObjectStore>) -> Running {
    start_with(objects, CoordinatorOptions::default()).await
}

async fn durable_lsn(endpoint: &str) -> u64 {
    status(endpoint).await.last_lsn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_from_three_frontends_are_durable_and_visible_everywhere() {
    let coord = start(Arc::new(InMemory::new())).await;
    let mut clients = Vec::new();
    for id in 1..=3 {
        clients.push(Arc::new(
            CoordinatorClient::join(&coord.endpoint, id, "test", 0, None)
                .await
                .expect("join"),
        ));
    }
    let mut tasks = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        for w in 0..8u64 {
            let c = c.clone();
            tasks.push(tokio::spawn(async move {
                let mut lsns = Vec::new();
                for n in 0..25u64 {
                    let txn = TxnId {
                        frontend: c.member().frontend_id,
                        txn: w * 1000 + n,
                    };
                    let key = (i as u64) * 10_000 + w * 100 + n;
                    c.lock(txn, 1, vec![row(7, key)], pb::WaitPolicy::Wait, None)
                        .await
                        .expect("lock");
                    let lsn = c
                        .commit(txn, vec![Write::put(format!("k{key}"), format!("v{key}"))])
                        .await
                        .expect("commit");
                    // Read-your-writes on every node: each snapshot taken
                    // after the commit returned includes it.
                    lsns.push(lsn);
                }
                lsns
            }));
        }
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let max = *all.iter().max().expect("commits");
    for c in &clients {
        assert!(
            c.snapshot().await.expect("snapshot") >= max,
            "a later snapshot includes every commit"
        );
    }
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 3 * 8 * 25, "every commit has its own LSN");
    let status = clients[0].status().await.expect("status");
    assert_eq!(status.members.len(), 3);
    assert!(status.members.iter().all(|m| m.subscribed));

    // Everything acknowledged is in the store.
    drop(clients);
    let objects = coord.objects.clone();
    coord.shutdown().await;
    let store = Store::open(
        objects,
        Path::from("db"),
        StoreOptions {
            epoch: 99,
            ..StoreOptions::default()
        },
    )
    .await
    .expect("reopen");
    for key in [0u64, 10_000 + 705, 20_000 + 324] {
        assert_eq!(
            store
                .get(format!("k{key}").as_bytes(), store.last_lsn())
                .await
                .expect("get"),
            Some(Bytes::from(format!("v{key}")))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_conflict_across_frontends_and_die_with_their_holder() {
    let coord = start(Arc::new(InMemory::new())).await;
    let a = CoordinatorClient::join(&coord.endpoint, 1, "a", 0, None)
        .await
        .expect("join");
    let b = CoordinatorClient::join(&coord.endpoint, 2, "b", 0, None)
        .await
        .expect("join");
    let ta = TxnId {
        frontend: 1,
        txn: 1,
    };
    let tb = TxnId {
        frontend: 2,
        txn: 1,
    };
    a.lock(ta, 1, vec![row(1, 42)], pb::WaitPolicy::Wait, None)
        .await
        .expect("a locks");
    let err = b
        .lock(tb, 1, vec![row(1, 42)], pb::WaitPolicy::NoWait, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind, Some(ErrorKind::LockNotAvailable), "{err}");
    let err = b
        .lock(
            tb,
            2,
            vec![row(1, 42)],
            pb::WaitPolicy::Wait,
            Some(Duration::from_millis(50)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, Some(ErrorKind::LockTimeout), "{err}");

    // A commits: B's waiting lock is granted with A's commit LSN.
    let waiter = tokio::spawn({
        let endpoint = coord.endpoint.clone();
        async move {
            let b2 = CoordinatorClient::join(&endpoint, 3, "b2", 0, None)
                .await
                .expect("join");
            let t = TxnId {
                frontend: 3,
                txn: 1,
            };
            let granted = b2
                .lock(t, 1, vec![row(1, 42)], pb::WaitPolicy::Wait, None)
                .await;
            (b2, granted)
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let lsn = a
        .commit(ta, vec![Write::put("k", "v")])
        .await
        .expect("commit");
    let (b2, granted) = waiter.await.expect("waiter");
    assert_eq!(granted.expect("granted").released_at_lsn, Some(lsn));

    // B2's frontend dies holding the lock: it is released within a lease.
    drop(b2);
    let started = Instant::now();
    let t2 = TxnId {
        frontend: 1,
        txn: 2,
    };
    a.lock(
        t2,
        1,
        vec![row(1, 42)],
        pb::WaitPolicy::Wait,
        Some(Duration::from_secs(10)),
    )
    .await
    .expect("granted after the dead holder's lease ran out");
    let waited = started.elapsed();
    assert!(
        waited <= Duration::from_millis(3500),
        "released after {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequence_blocks_never_repeat_across_frontends_and_restarts() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let mut seen = Vec::new();
    for _round in 0..2 {
        let coord = start(objects.clone()).await;
        // These frontends keep no data: they hold whatever is durable.
        let held = durable_lsn(&coord.endpoint).await;
        let a = CoordinatorClient::join(&coord.endpoint, 1, "a", held, None)
            .await
            .expect("join");
        let b = CoordinatorClient::join(&coord.endpoint, 2, "b", held, None)
            .await
            .expect("join");
        for i in 0..20 {
            let c = if i % 2 == 0 { &a } else { &b };
            let (first, last) = c.sequence_block(5, 10).await.expect("block");
            assert_eq!(last - first + 1, 10);
            seen.extend(first..=last);
        }
        drop((a, b));
        coord.shutdown().await;
    }
    let n = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen.len(),
        n,
        "no value handed out twice, also across a restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_leader_cannot_make_anything_visible() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let old = start(objects.clone()).await;
    let a = CoordinatorClient::join(&old.endpoint, 1, "a", 0, None)
        .await
        .expect("join");
    a.commit(
        TxnId {
            frontend: 1,
            txn: 1,
        },
        vec![Write::put("x", "1")],
    )
    .await
    .expect("commit");
    // A second coordinator claims the next epoch and fences the WAL.
    let new = start(objects.clone()).await;
    let err = a
        .commit(
            TxnId {
                frontend: 1,
                txn: 2,
            },
            vec![Write::put("x", "2")],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.kind,
            Some(ErrorKind::CommitFailed | ErrorKind::Unavailable)
        ),
        "the old leader refuses: {err}"
    );
    let outcome = old.local.finished().await;
    assert!(outcome.is_err(), "the old leader stops: {outcome:?}");
    // The new leader holds visibility until old leases ran out, then serves.
    let b = CoordinatorClient::join(&new.endpoint, 1, "a", 1, None)
        .await
        .expect("join new");
    let lsn = b
        .commit(
            TxnId {
                frontend: 1,
                txn: 3,
            },
            vec![Write::put("x", "3")],
        )
        .await
        .expect("commit");
    assert!(lsn > 1);
    new.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_cut_at_the_byte_limit() {
    use shoal_coordinator::core::CoreConfig;
    let opts = CoordinatorOptions {
        core: CoreConfig {
            max_batch_bytes: 4096,
            ..CoreConfig::default()
        },
        ..CoordinatorOptions::default()
    };
    let coord = start_with(Arc::new(InMemory::new()), opts).await;
    let endpoint = coord.endpoint.clone();
    let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = sizes.clone();
    let apply: shoal_coordinator::client::Applier = Arc::new(move |txns| {
        let bytes: usize = txns
            .iter()
            .flat_map(|t| &t.writes)
            .map(|w| w.key.len() + w.value.as_ref().map_or(0, |v| v.len()) + 16)
            .sum();
        seen.lock().expect("lock").push(bytes);
    });
    let c = Arc::new(
        CoordinatorClient::join(&endpoint, 1, "a", 0, Some(apply))
            .await
            .expect("join"),
    );
    let commits = (0..24u64).map(|n| {
        let c = c.clone();
        tokio::spawn(async move {
            let txn = TxnId {
                frontend: 1,
                txn: n,
            };
            c.commit(txn, vec![Write::put(format!("k{n}"), vec![b'v'; 1000])])
                .await
        })
    });
    let mut last = 0;
    for t in commits {
        last = last.max(t.await.expect("task").expect("commit"));
    }
    assert!(c.snapshot().await.expect("snapshot") >= last);
    let sizes = sizes.lock().expect("lock").clone();
    let expected: usize = (0..24).map(|n| format!("k{n}").len() + 1000 + 16).sum();
    assert_eq!(
        sizes.iter().sum::<usize>(),
        expected,
        "every write applied once"
    );
    assert!(
        sizes.iter().all(|&b| b <= 4096),
        "no batch over the limit: {sizes:?}"
    );
}
