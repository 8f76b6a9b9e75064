//! Robustness of the coordinator service over real gRPC: malformed and
//! hostile input, deadlocks across frontends, catch-up and flush, read-your-
//! writes across frontends, and failed WAL writes. Every test runs a real
//! tonic server on 127.0.0.1 over an in-memory object store (optionally
//! wrapped in a `FaultyStore`) and talks to it with real clients.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use object_store::{memory::InMemory, path::Path, ObjectStore};
use shoal_coordinator::client::{Applier, CoordinatorClient};
use shoal_coordinator::core::CoreConfig;
use shoal_coordinator::error::ErrorKind;
use shoal_coordinator::locks::TxnId;
use shoal_coordinator::proto as pb;
use shoal_coordinator::server::CoordinatorOptions;
use shoal_storage::db::{Store, StoreOptions};
use shoal_storage::object::{FailFilter, FaultConfig, FaultyStore};
use shoal_storage::{CommittedTxn, Write};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::Status;

mod common;

use common::{raw, row, start_with, status, Raw, Running};

async fn start() -> Running {
    start_with(Arc::new(InMemory::new()), CoordinatorOptions::default()).await
}

/// A coordinator over a `FaultyStore` wrapping an in-memory store; returns
/// the inner store too (to reopen it afterwards without faults).
async fn start_faulty(
    opts: CoordinatorOptions,
) -> (Running, Arc<FaultConfig>, Arc<dyn ObjectStore>) {
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let faulty = FaultyStore::new(inner.clone());
    let faults = faulty.faults();
    let coord = start_with(Arc::new(faulty), opts).await;
    (coord, faults, inner)
}

async fn raw_join(c: &mut Raw, frontend_id: u64, held: u64) -> pb::Member {
    c.join(pb::JoinRequest {
        frontend_id,
        address: format!("raw-{frontend_id}"),
        highest_lsn_held: held,
    })
    .await
    .expect("join")
    .into_inner()
    .member
    .expect("join names the member")
}

fn txn(frontend: u64, txn: u64) -> TxnId {
    TxnId { frontend, txn }
}

fn txn_pb(frontend: u64, txn: u64) -> Option<pb::TxnId> {
    Some(pb::TxnId { frontend, txn })
}

fn lock_req(
    member: &pb::Member,
    t: (u64, u64),
    request_id: u64,
    locks: Vec<pb::LockSpec>,
    policy: i32,
) -> pb::LockRequest {
    pb::LockRequest {
        member: Some(*member),
        txn: txn_pb(t.0, t.1),
        request_id,
        locks,
        policy,
        timeout_ms: 0,
    }
}

fn commit_req(
    member: &pb::Member,
    t: (u64, u64),
    writes: Vec<(&str, Vec<u8>)>,
) -> pb::CommitRequest {
    pb::CommitRequest {
        member: Some(*member),
        txn: txn_pb(t.0, t.1),
        writes: writes
            .into_iter()
            .map(|(k, v)| pb::Write {
                key: k.as_bytes().to_vec(),
                value: Some(v),
            })
            .collect(),
    }
}

/// The error `r` must be; panics (naming `what`) if it succeeded.
fn expect_err<T>(what: &str, r: Result<T, Status>) -> Status {
    match r {
        Ok(_) => panic!("{what}: expected an error, but it succeeded"),
        Err(s) => s,
    }
}

/// Asserts that `r` failed with a status of `kind` (read from `shoal-error`).
fn assert_kind<T>(what: &str, r: Result<T, Status>, kind: ErrorKind) {
    let s = expect_err(what, r);
    assert_eq!(
        ErrorKind::of(&s),
        Some(kind),
        "{what}: wrong kind; status {:?}: {}",
        s.code(),
        s.message()
    );
}

/// A real client that commits one write: proves the server still serves.
async fn prove_serving(endpoint: &str, frontend_id: u64) -> u64 {
    let held = status(endpoint).await.last_lsn;
    let c = CoordinatorClient::join(endpoint, frontend_id, "probe", held, None)
        .await
        .expect("probe joins");
    let t = txn(frontend_id, 999_999);
    c.lock(
        t,
        1,
        vec![row(99, frontend_id)],
        pb::WaitPolicy::NoWait,
        None,
    )
    .await
    .expect("probe locks");
    c.commit(t, vec![Write::put(format!("probe{frontend_id}"), "ok")])
        .await
        .expect("probe commits")
}

/// An applier that records every (LSN, key) it is handed, in order.
/// What an applier saw: `(lsn, key)` per write, in order.
type Seen = Arc<Mutex<Vec<(u64, Bytes)>>>;

fn recorder() -> (Applier, Seen) {
    let seen: Arc<Mutex<Vec<(u64, Bytes)>>> = Arc::default();
    let s = seen.clone();
    let apply: Applier = Arc::new(move |txns: &[CommittedTxn]| {
        let mut s = s.lock().unwrap();
        for t in txns {
            for w in &t.writes {
                s.push((t.lsn, w.key.clone()));
            }
        }
    });
    (apply, seen)
}

async fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn reopen(objects: Arc<dyn ObjectStore>) -> Store {
    Store::open(
        objects,
        Path::from("db"),
        StoreOptions {
            epoch: u64::MAX,
            ..StoreOptions::default()
        },
    )
    .await
    .expect("reopen the store")
}

// ---------------------------------------------------------------------------
// 1. Bad input
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_replaced_members_are_refused_with_not_member() {
    let coord = start().await;
    let mut c = raw(&coord.endpoint).await;

    let probe = c.clone();
    let check_all = |label: &'static str, member: pb::Member| {
        let mut c = probe.clone();
        async move {
            let f = member.frontend_id;
            assert_kind(
                &format!("{label}: heartbeat"),
                c.heartbeat(pb::HeartbeatRequest {
                    member: Some(member),
                    sent_at_ms: 1,
                    ..Default::default()
                })
                .await,
                ErrorKind::NotMember,
            );
            assert_kind(
                &format!("{label}: lock"),
                c.lock(lock_req(&member, (f, 1), 1, vec![row(1, 1)], 0))
                    .await,
                ErrorKind::NotMember,
            );
            assert_kind(
                &format!("{label}: commit"),
                c.commit(commit_req(&member, (f, 1), vec![("x", b"1".to_vec())]))
                    .await,
                ErrorKind::NotMember,
            );
            assert_kind(
                &format!("{label}: subscribe"),
                c.subscribe(pb::SubscribeRequest {
                    member: Some(member),
                    from_lsn: 0,
                })
                .await,
                ErrorKind::NotMember,
            );
            assert_kind(
                &format!("{label}: sequence"),
                c.next_sequence_block(pb::SequenceRequest {
                    member: Some(member),
                    sequence_id: 1,
                    block_size: 10,
                })
                .await,
                ErrorKind::NotMember,
            );
        }
    };

    // A frontend id nobody joined as.
    check_all(
        "unknown frontend",
        pb::Member {
            frontend_id: 4242,
            incarnation: 1,
        },
    )
    .await;

    // Frontend 5 joins twice: the first incarnation is replaced.
    let first = raw_join(&mut c, 5, 0).await;
    let second = raw_join(&mut c, 5, 0).await;
    assert_ne!(first.incarnation, second.incarnation);
    check_all("replaced incarnation", first).await;
    // A made-up incarnation of a live frontend id.
    check_all(
        "future incarnation",
        pb::Member {
            frontend_id: 5,
            incarnation: second.incarnation + 1000,
        },
    )
    .await;

    // The current incarnation is served.
    c.heartbeat(pb::HeartbeatRequest {
        member: Some(second),
        sent_at_ms: 1,
        ..Default::default()
    })
    .await
    .expect("the live incarnation heartbeats");
    c.lock(lock_req(&second, (5, 1), 1, vec![row(1, 1)], 0))
        .await
        .expect("the live incarnation locks");
    let lsn = c
        .commit(commit_req(&second, (5, 1), vec![("x", b"1".to_vec())]))
        .await
        .expect("the live incarnation commits")
        .into_inner()
        .lsn;
    assert!(lsn >= 1);

    // Requests without a member at all.
    assert_kind(
        "heartbeat without member",
        c.heartbeat(pb::HeartbeatRequest::default()).await,
        ErrorKind::InvalidArgument,
    );
    assert_kind(
        "subscribe without member",
        c.subscribe(pb::SubscribeRequest::default()).await,
        ErrorKind::InvalidArgument,
    );
    assert_kind(
        "commit without member",
        c.commit(pb::CommitRequest {
            member: None,
            txn: txn_pb(5, 2),
            writes: vec![],
        })
        .await,
        ErrorKind::InvalidArgument,
    );
    assert_kind(
        "sequence without member",
        c.next_sequence_block(pb::SequenceRequest {
            member: None,
            sequence_id: 1,
            block_size: 1,
        })
        .await,
        ErrorKind::InvalidArgument,
    );

    prove_serving(&coord.endpoint, 77).await;
    coord.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_of_another_frontend_are_invalid_argument() {
    let coord = start().await;
    let mut c = raw(&coord.endpoint).await;
    let m1 = raw_join(&mut c, 1, 0).await;
    let m2 = raw_join(&mut c, 2, 0).await;

    // Frontend 2 takes a lock for its own transaction.
    c.lock(lock_req(&m2, (2, 1), 1, vec![row(1, 10)], 0))
        .await
        .expect("own lock");

    // Frontend 1 names frontend 2's transaction.
    assert_kind(
        "lock for a foreign txn",
        c.lock(lock_req(&m1, (2, 1), 2, vec![row(1, 11)], 0)).await,
        ErrorKind::InvalidArgument,
    );
    assert_kind(
        "commit of a foreign txn",
        c.commit(commit_req(&m1, (2, 1), vec![("stolen", b"1".to_vec())]))
            .await,
        ErrorKind::InvalidArgument,
    );
    assert_kind(
        "lock without txn",
        c.lock(pb::LockRequest {
            member: Some(m1),
            txn: None,
            request_id: 1,
            locks: vec![row(1, 12)],
            policy: 0,
            timeout_ms: 0,
        })
        .await,
        ErrorKind::InvalidArgument,
    );
    assert_kind(
        "commit without txn",
        c.commit(pb::CommitRequest {
            member: Some(m1),
            txn: None,
            writes: vec![],
        })
        .await,
        ErrorKind::InvalidArgument,
    );
    // An abort naming a foreign transaction must not release its locks.
    let _ = c
        .abort(pb::AbortRequest {
            member: Some(m1),
            txn: txn_pb(2, 1),
        })
        .await;
    assert_kind(
        "frontend 2's lock survives a foreign abort",
        c.lock(lock_req(&m1, (1, 1), 1, vec![row(1, 10)], 1)).await,
        ErrorKind::LockNotAvailable,
    );
    // Nothing was committed for the foreign commit.
    let s = status(&coord.endpoint).await;
    assert_eq!(s.last_lsn, 0, "no LSN was handed out");

    // Frontend 2 commits its own transaction fine.
    c.commit(commit_req(&m2, (2, 1), vec![("mine", b"1".to_vec())]))
        .await
        .expect("own commit");
    prove_serving(&coord.endpoint, 77).await;
    coord.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_lock_requests_are_invalid_argument_and_take_nothing() {
    let coord = start().await;
    let mut c = raw(&coord.endpoint).await;
    let m1 = raw_join(&mut c, 1, 0).await;
    let m2 = raw_join(&mut c, 2, 0).await;
    let t1 = (1, 1);

    let bad: Vec<(&str, pb::LockSpec)> = vec![
        (
            "row lock without key hash",
            pb::LockSpec {
                table_id: 1,
                key_hash: None,
                mode: pb::LockMode::RowExclusive as i32,
            },
        ),
        (
            "row share lock without key hash",
            pb::LockSpec {
                table_id: 1,
                key_hash: None,
                mode: pb::LockMode::RowKeyShare as i32,
            },
        ),
        (
            "table lock with key hash",
            pb::LockSpec {
                table_id: 1,
                key_hash: Some(3),
                mode: pb::LockMode::TableX as i32,
            },
        ),
        (
            "table IS lock with key hash",
            pb::LockSpec {
                table_id: 1,
                key_hash: Some(3),
                mode: pb::LockMode::TableIs as i32,
            },
        ),
        (
            "unspecified lock mode",
            pb::LockSpec {
                table_id: 1,
                key_hash: Some(3),
                mode: pb::LockMode::Unspecified as i32,
            },
        ),
        (
            "lock mode out of range",
            pb::LockSpec {
                table_id: 1,
                key_hash: Some(3),
                mode: 42,
            },
        ),
        (
            "negative lock mode",
            pb::LockSpec {
                table_id: 1,
                key_hash: Some(3),
                mode: -1,
            },
        ),
    ];
    for (i, (what, spec)) in bad.into_iter().enumerate() {
        // The bad spec comes after a good one: the good one must not be
        // taken either (the request is refused as a whole).
        let r = c
            .lock(lock_req(&m1, t1, i as u64 + 1, vec![row(1, 100), spec], 0))
            .await;
        assert_kind(what, r, ErrorKind::InvalidArgument);
    }
    for policy in [3, 17, -1] {
        assert_kind(
            &format!("wait policy {policy}"),
            c.lock(lock_req(&m1, t1, 50, vec![row(1, 100)], policy))
                .await,
            ErrorKind::InvalidArgument,
        );
    }
    // None of the refused requests left a lock on row 100: another
    // frontend takes it with NOWAIT.
    c.lock(lock_req(
        &m2,
        (2, 1),
        1,
        vec![row(1, 100)],
        pb::WaitPolicy::NoWait as i32,
    ))
    .await
    .expect("row 100 is free");
    let s = status(&coord.endpoint).await;
    assert!(
        s.locks
            .iter()
            .all(|l| l.txn.as_ref().is_some_and(|t| t.frontend == 2)),
        "only frontend 2 holds locks: {:?}",
        s.locks
    );

    // The same transaction still works with well-formed requests.
    c.lock(lock_req(
        &m1,
        t1,
        100,
        vec![
            pb::LockSpec {
                table_id: 1,
                key_hash: None,
                mode: pb::LockMode::TableIx as i32,
            },
            row(1, 101),
        ],
        pb::WaitPolicy::NoWait as i32,
    ))
    .await
    .expect("well-formed lock");
    c.commit(commit_req(&m1, t1, vec![("a", b"1".to_vec())]))
        .await
        .expect("commit");
    prove_serving(&coord.endpoint, 77).await;
    coord.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_lock_request_while_one_waits_is_refused_and_the_first_keeps_waiting() {
    let coord = start().await;
    let mut c = raw(&coord.endpoint).await;
    let m1 = raw_join(&mut c, 1, 0).await;
    let m2 = raw_join(&mut c, 2, 0).await;
    c.lock(lock_req(&m1, (1, 1), 1, vec![row(1, 5)], 0))
        .await
        .expect("holder");
    let waiter = tokio::spawn({
        let mut c = c.clone();
        async move { c.lock(lock_req(&m2, (2, 1), 1, vec![row(1, 5)], 0)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiter.is_finished(), "the waiter waits");
    assert_kind(
        "second request of a waiting txn",
        c.lock(lock_req(&m2, (2, 1), 2, vec![row(1, 6)], 0)).await,
        ErrorKind::InvalidArgument,
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiter.is_finished(), "the first request still waits");
    c.abort(pb::AbortRequest {
        member: Some(m1),
        txn: txn_pb(1, 1),
    })
    .await
    .expect("abort");
    let granted = tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .expect("granted in time")
        .expect("task")
        .expect("granted");
    assert_eq!(granted.into_inner().released_at_lsn, None);
    coord.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_request_id_while_waiting_does_not_orphan_the_first_request() {
    let coord = start().await;
    let mut c = raw(&coord.endpoint).await;
    let m1 = raw_join(&mut c, 1, 0).await;
    let m2 = raw_join(&mut c, 2, 0).await;
    c.lock(lock_req(&m1, (1, 1), 1, vec![row(1, 5)], 0))
        .await
        .expect("holder");
    let waiter = tokio::spawn({
        let mut c = c.clone();
        async move { c.lock(lock_req(&m2, (2, 1), 7, vec![row(1, 5)], 0)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiter.is_finished(), "the waiter waits");
    // A retry of the same request (same id) while it is still queued.
    assert_kind(
        "the same request id again",
        c.lock(lock_req(&m2, (2, 1), 7, vec![row(1, 5)], 0)).await,
        ErrorKind::InvalidArgument,
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    if waiter.is_finished() {
        let r = waiter.await.expect("task");
        let s = expect_err("first request", r);
        panic!(
            "the first, still-queued request was answered {:?} ({:?}: {}) though it still waits in the lock table",
            ErrorKind::of(&s),
            s.code(),
            s.message()
        );
    }
    c.abort(pb::AbortRequest {
        member: Some(m1),
        txn: txn_pb(1, 1),
    })
    .await
    .expect("abort");
    tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .expect("granted in time")
        .expect("task")
        .expect("the first request is granted");
    coord.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_that_arrives_after_its_abort_is_refused() {
    // A frontend whose lease ran out while its commit was in flight gives
    // up and aborts; if the abort reaches the core first, the locks are
    // gone and the commit must not be applied without them.
    let coord = start().await;
    let mut c = raw(&coord.endpoint).await;
    let m = raw_join(&mut c, 1, 0).await;
    c.lock(lock_req(&m, (1, 1), 1, vec![row(1, 1)], 0))
        .await
        .expect("lock");
    c.abort(pb::AbortRequest {
        member: Some(m),
        txn: txn_pb(1, 1),
    })
    .await
    .expect("abort");
    assert_kind(
        "commit after abort",
        c.commit(commit_req(&m, (1, 1), vec![("late", b"x".to_vec())]))
            .await,
        ErrorKind::Aborted,
    );
    // Another transaction takes the released lock and commits.
    c.lock(lock_req(&m, (1, 2), 1, vec![row(1, 1)], 0))
        .await
        .expect("the aborted transaction's lock is free");
    let lsn = c
        .commit(commit_req(&m, (1, 2), vec![("late", b"y".to_vec())]))
        .await
        .expect("commit")
        .into_inner()
        .lsn;
    let s = status(&coord.endpoint).await;
    assert_eq!(s.last_lsn, lsn, "the refused commit took no LSN");
    coord.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_commit_while_the_first_is_in_flight_is_refused() {
    let (coord, faults, inner) = start_faulty(CoordinatorOptions::default()).await;
    let mut c = raw(&coord.endpoint).await;
    let m = raw_join(&mut c, 1, 0).await;
    c.lock(lock_req(&m, (1, 1), 1, vec![row(1, 1)], 0))
        .await
        .expect("lock");
    // Every WAL PUT takes 300 ms: the first commit stays in flight.
    faults.set_put_latency(Duration::from_millis(300));
    let (mut ca, mut cb) = (c.clone(), c.clone());
    let (a, b) = tokio::join!(
        ca.commit(commit_req(&m, (1, 1), vec![("dup", b"a".to_vec())])),
        cb.commit(commit_req(&m, (1, 1), vec![("dup", b"b".to_vec())])),
    );
    let (ok, err) = match (a, b) {
        (Ok(ok), Err(err)) | (Err(err), Ok(ok)) => (ok.into_inner().lsn, err),
        (Ok(_), Ok(_)) => panic!("both commits of one transaction succeeded"),
        (Err(a), Err(b)) => panic!("both commits failed: {a:?} / {b:?}"),
    };
    assert_eq!(
        ErrorKind::of(&err),
        Some(ErrorKind::InvalidArgument),
        "{err:?}"
    );
    // While a commit is in flight, its transaction takes no new locks.
    faults.set_put_latency(Duration::from_millis(300));
    let in_flight = tokio::spawn({
        let mut c = c.clone();
        async move {
            c.commit(commit_req(&m, (1, 2), vec![("later", b"x".to_vec())]))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_kind(
        "lock for a committing txn",
        c.lock(lock_req(&m, (1, 2), 1, vec![row(1, 2)], 0)).await,
        ErrorKind::InvalidArgument,
    );
    in_flight
        .await
        .expect("task")
        .expect("the in-flight commit succeeds");
    faults.reset();

    let s = status(&coord.endpoint).await;
    assert_eq!(s.last_lsn, ok + 1, "exactly one LSN per transaction");
    prove_serving(&coord.endpoint, 77).await;
    coord.shutdown().await;
    let store = reopen(inner).await;
    assert!(
        store
            .get(b"dup", store.last_lsn())
            .await
            .expect("get")
            .is_some(),
        "the one accepted commit is durable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_transaction_is_refused_and_never_stored() {
    let opts = CoordinatorOptions {
        core: CoreConfig {
            max_transaction_bytes: 4096,
            ..CoreConfig::default()
        },
        ..CoordinatorOptions::default()
    };
    let coord = start_with(Arc::new(InMemory::new()), opts).await;
    let (apply, seen) = recorder();
    let watcher = CoordinatorClient::join(&coord.endpoint, 9, "w", 0, Some(apply))
        .await
        .expect("watcher joins");
    let mut c = raw(&coord.endpoint).await;
    let m = raw_join(&mut c, 1, 0).await;

    // One big value.
    assert_kind(
        "one 5000-byte value",
        c.commit(commit_req(&m, (1, 1), vec![("big", vec![7u8; 5000])]))
            .await,
        ErrorKind::InvalidArgument,
    );
    // Many small writes adding up to more than the limit.
    let keys: Vec<String> = (0..100).map(|i| format!("small{i:03}")).collect();
    let writes = keys
        .iter()
        .map(|k| (k.as_str(), vec![1u8; 40]))
        .collect::<Vec<_>>();
    assert_kind(
        "100 writes of ~64 bytes",
        c.commit(commit_req(&m, (1, 2), writes)).await,
        ErrorKind::InvalidArgument,
    );
    // One byte over the limit (key + value + 16 bytes of overhead per write).
    assert_kind(
        "4097 bytes",
        c.commit(commit_req(&m, (1, 3), vec![("k", vec![0u8; 4096 - 16])]))
            .await,
        ErrorKind::InvalidArgument,
    );
    assert_eq!(status(&coord.endpoint).await.last_lsn, 0, "no LSN used");
    // Exactly at the limit is accepted; the refused transaction ids are
    // usable again.
    let lsn = c
        .commit(commit_req(&m, (1, 3), vec![("k", vec![0u8; 4096 - 17])]))
        .await
        .expect("4096 bytes fit")
        .into_inner()
        .lsn;
    let lsn2 = c
        .commit(commit_req(&m, (1, 1), vec![("fine", b"v".to_vec())]))
        .await
        .expect("small commit")
        .into_inner()
        .lsn;
    assert!(lsn2 > lsn);
    wait_until("watcher applies", Duration::from_secs(2), || {
        seen.lock().unwrap().len() == 2
    })
    .await;
    let keys_seen: Vec<Bytes> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, k)| k.clone())
        .collect();
    assert_eq!(keys_seen, vec![Bytes::from("k"), Bytes::from("fine")]);
    drop(watcher);

    let objects = coord.objects.clone();
    coord.shutdown().await;
    let store = reopen(objects).await;
    let at = store.last_lsn();
    assert_eq!(at, lsn2);
    assert_eq!(store.get(b"big", at).await.expect("get"), None);
    assert_eq!(store.get(b"small000", at).await.expect("get"), None);
    assert_eq!(
        store.get(b"k", at).await.expect("get").map(|v| v.len()),
        Some(4096 - 17)
    );
    assert_eq!(
        store.get(b"fine", at).await.expect("get"),
        Some(Bytes::from("v"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequence_block_sizes_outside_the_range_are_invalid_argument() {
    let coord = start().await;
    let c = CoordinatorClient::join(&coord.endpoint, 1, "a", 0, None)
        .await
        .expect("join");
    for n in [0, (1 << 20) + 1, u64::MAX] {
        let err = c.sequence_block(3, n).await.unwrap_err();
        assert_eq!(
            err.kind,
            Some(ErrorKind::InvalidArgument),
            "block size {n}: {err}"
        );
    }
    // The refused requests consumed nothing: the first block starts at 1.
    let (first, last) = c.sequence_block(3, 1 << 20).await.expect("2^20 is fine");
    assert_eq!((first, last), (1, 1 << 20));
    let (first, last) = c.sequence_block(3, 1).await.expect("1 is fine");
    assert_eq!((first, last), ((1 << 20) + 1, (1 << 20) + 1));
    prove_serving(&coord.endpoint, 77).await;
    drop(c);
    coord.shutdown().await;
}

/// A tiny deterministic generator (no rand dependency in this crate).
fn garbage(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Writes `bytes` to the server, then reads until it closes or 2 s pass.
async fn send_garbage(addr: std::net::SocketAddr, bytes: &[u8], close_write: bool) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.expect("tcp connect");
    // The server may stop reading without closing: do not block on it.
    let _ = tokio::time::timeout(Duration::from_secs(2), s.write_all(bytes)).await;
    if close_write {
        let _ = s.shutdown().await;
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_grpc_port_does_not_hurt_the_server() {
    let coord = start().await;
    let a = CoordinatorClient::join(&coord.endpoint, 1, "a", 0, None)
        .await
        .expect("join");
    a.commit(txn(1, 1), vec![Write::put("before", "1")])
        .await
        .expect("commit before");

    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    // A connection that sends half a preface and then idles, held open
    // while everything else happens: it must not block other connections.
    let mut idle = TcpStream::connect(coord.addr).await.expect("tcp");
    idle.write_all(&PREFACE[..10]).await.expect("write");

    let mut huge_frame = PREFACE.to_vec();
    // A frame header claiming 16 MiB of an unknown type on stream 1.
    huge_frame.extend_from_slice(&[0xff, 0xff, 0xff, 0xee, 0, 0, 0, 0, 1]);
    huge_frame.extend_from_slice(&garbage(9, 1000));
    let mut bad_headers = PREFACE.to_vec();
    bad_headers.extend_from_slice(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]); // empty SETTINGS
    bad_headers.extend_from_slice(&[0, 0, 16, 0x1, 0x5, 0, 0, 0, 1]); // HEADERS, 16 bytes
    bad_headers.extend_from_slice(&[0xff; 16]); // not HPACK
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("random bytes", garbage(1, 4096), true),
        ("1 MiB of random bytes", garbage(2, 1 << 20), false),
        (
            "an HTTP/1.1 request",
            b"GET /shoal.coordinator.v1.Coordinator/Status HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            false,
        ),
        (
            "an HTTP/1.1 POST claiming a huge body",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\nabc".to_vec(),
            true,
        ),
        ("a truncated preface", PREFACE[..12].to_vec(), true),
        ("a preface then a huge bogus frame", huge_frame, false),
        ("a preface then undecodable headers", bad_headers, false),
        ("nothing at all", Vec::new(), true),
    ];
    for (what, bytes, close_write) in cases {
        let started = Instant::now();
        let _answer = send_garbage(coord.addr, &bytes, close_write).await;
        // The server still answers a real client after each.
        let s = status(&coord.endpoint).await;
        assert!(s.epoch >= 1, "{what}: status after garbage");
        assert!(
            !coord.local.is_finished(),
            "{what}: the coordinator stopped"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what}: took {:?}",
            started.elapsed()
        );
    }
    // Many connections at once, each with garbage.
    let floods: Vec<_> = (0..32)
        .map(|i| {
            let addr = coord.addr;
            tokio::spawn(async move { send_garbage(addr, &garbage(100 + i, 2048), true).await })
        })
        .collect();
    for f in floods {
        f.await.expect("flood task");
    }

    // The existing client still commits, and a new one joins and commits.
    let lsn = a
        .commit(txn(1, 2), vec![Write::put("after", "2")])
        .await
        .expect("commit after garbage");
    assert!(lsn >= 2);
    assert!(a.is_serving(), "the client kept its lease and stream");
    prove_serving(&coord.endpoint, 77).await;
    drop(idle);
    drop(a);
    coord.shutdown().await;
}

// ---------------------------------------------------------------------------
// 2. Deadlock across frontends
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadlock_across_two_frontends_picks_exactly_one_victim() {
    let coord = start().await;
    let c1 = Arc::new(
        CoordinatorClient::join(&coord.endpoint, 1, "a", 0, None)
            .await
            .expect("join 1"),
    );
    let c2 = Arc::new(
        CoordinatorClient::join(&coord.endpoint, 2, "b", 0, None)
            .await
            .expect("join 2"),
    );
    let t1 = txn(1, 1);
    let t2 = txn(2, 1);
    let (a, b) = (row(1, 100), row(1, 200));
    c1.lock(t1, 1, vec![a], pb::WaitPolicy::Wait, None)
        .await
        .expect("T1 locks A");
    c2.lock(t2, 1, vec![b], pb::WaitPolicy::Wait, None)
        .await
        .expect("T2 locks B");
    let h1 = tokio::spawn({
        let (c1, b) = (c1.clone(), b);
        async move { c1.lock(t1, 2, vec![b], pb::WaitPolicy::Wait, None).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!h1.is_finished(), "T1 waits for B");
    let h2 = tokio::spawn({
        let (c2, a) = (c2.clone(), a);
        async move { c2.lock(t2, 2, vec![a], pb::WaitPolicy::Wait, None).await }
    });
    wait_until("a deadlock victim", Duration::from_secs(5), || {
        h1.is_finished() || h2.is_finished()
    })
    .await;
    // The survivor keeps waiting: it is not a victim too.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        h1.is_finished() != h2.is_finished(),
        "exactly one victim (T1 done: {}, T2 done: {})",
        h1.is_finished(),
        h2.is_finished()
    );
    let (victim, survivor, victim_client, victim_txn, survivor_client, survivor_txn) =
        if h1.is_finished() {
            (h1, h2, c1.clone(), t1, c2.clone(), t2)
        } else {
            (h2, h1, c2.clone(), t2, c1.clone(), t1)
        };
    let err = victim.await.expect("task").unwrap_err();
    assert_eq!(err.kind, Some(ErrorKind::Deadlock), "{err}");
    // The victim still holds its first lock until it aborts.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !survivor.is_finished(),
        "survivor waits for the victim's abort"
    );
    victim_client.abort(victim_txn).await.expect("abort");
    let granted = tokio::time::timeout(Duration::from_secs(2), survivor)
        .await
        .expect("survivor granted in time")
        .expect("task")
        .expect("survivor granted");
    assert_eq!(granted.released_at_lsn, None, "released by an abort");
    survivor_client
        .commit(survivor_txn, vec![Write::put("winner", "1")])
        .await
        .expect("survivor commits");
    assert!(
        status(&coord.endpoint).await.locks.is_empty(),
        "no locks left"
    );
    drop((c1, c2, victim_client, survivor_client));
    coord.shutdown().await;
}

// ---------------------------------------------------------------------------
// 3. Catch-up and flush
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_flush_old_joiners_reload_and_subscribers_saw_every_commit() {
    let opts = CoordinatorOptions {
        store: StoreOptions {
            flush_bytes: 1,
            ..StoreOptions::default()
        },
        ..CoordinatorOptions::default()
    };
    let coord = start_with(Arc::new(InMemory::new()), opts).await;
    let (apply, seen) = recorder();
    let follower = CoordinatorClient::join(&coord.endpoint, 2, "f", 0, Some(apply))
        .await
        .expect("follower joins");
    let writer = CoordinatorClient::join(&coord.endpoint, 1, "w", 0, None)
        .await
        .expect("writer joins");
    let mut lsns = Vec::new();
    for n in 0..20u64 {
        let t = txn(1, n);
        writer
            .lock(t, 1, vec![row(1, n)], pb::WaitPolicy::NoWait, None)
            .await
            .expect("lock");
        lsns.push(
            writer
                .commit(t, vec![Write::put(format!("k{n:02}"), format!("v{n}"))])
                .await
                .expect("commit"),
        );
        if n % 5 == 0 {
            // Let some flushes happen between commits.
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
    }
    let last = *lsns.last().unwrap();
    assert!(lsns.windows(2).all(|w| w[0] < w[1]), "LSNs increase");

    // Wait until everything is flushed.
    let deadline = Instant::now() + Duration::from_secs(5);
    let s = loop {
        let s = status(&coord.endpoint).await;
        if s.flushed_lsn >= last {
            break s;
        }
        assert!(Instant::now() < deadline, "not flushed: {s:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(s.manifest_version >= 1);
    // The manifest is published before the core hears the flush finished
    // (after compaction and GC): wait until the core trimmed its history,
    // i.e. a subscription from just below the last LSN is refused. A probe
    // that got in is replaced at once by joining its id again (which
    // evicts it), so no commit ever waits for its acks.
    let mut probe = raw(&coord.endpoint).await;
    loop {
        let m = raw_join(&mut probe, 3, 0).await;
        let r = probe
            .subscribe(pb::SubscribeRequest {
                member: Some(m),
                from_lsn: last - 1,
            })
            .await;
        match r {
            Err(e) => {
                assert_eq!(ErrorKind::of(&e), Some(ErrorKind::Reload), "{e:?}");
                break;
            }
            Ok(_) => {
                raw_join(&mut probe, 3, 0).await;
                assert!(Instant::now() < deadline, "history never trimmed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }

    // The follower saw each commit visible, and each batch exactly once,
    // in LSN order.
    wait_until("follower visible", Duration::from_secs(2), || {
        follower.visible_lsn() >= last
    })
    .await;
    assert!(follower.snapshot().await.expect("snapshot") >= last);
    let got = seen.lock().unwrap().clone();
    let want: Vec<(u64, Bytes)> = lsns
        .iter()
        .enumerate()
        .map(|(n, &l)| (l, Bytes::from(format!("k{n:02}"))))
        .collect();
    assert_eq!(got, want, "each commit applied exactly once, in LSN order");

    // A frontend holding less than the flushed LSN must reload.
    for held in [0, s.flushed_lsn - 1] {
        let err = CoordinatorClient::join(&coord.endpoint, 3, "old", held, None)
            .await
            .err()
            .unwrap_or_else(|| panic!("join holding {held} < flushed {} succeeded", s.flushed_lsn));
        assert_eq!(err.kind, Some(ErrorKind::Reload), "held {held}: {err}");
    }
    // Also over raw gRPC: subscribe is refused with Reload.
    let mut c = raw(&coord.endpoint).await;
    let m = raw_join(&mut c, 4, 0).await;
    assert_kind(
        "raw subscribe below the flushed LSN",
        c.subscribe(pb::SubscribeRequest {
            member: Some(m),
            from_lsn: 0,
        })
        .await,
        ErrorKind::Reload,
    );

    // Joining with the current durable LSN works, and follows from there.
    let durable = status(&coord.endpoint).await.last_lsn;
    assert_eq!(durable, last);
    let (apply5, seen5) = recorder();
    let fresh = CoordinatorClient::join(&coord.endpoint, 5, "fresh", durable, Some(apply5))
        .await
        .expect("join at the durable LSN");
    assert!(fresh.snapshot().await.expect("snapshot") >= durable);
    let t = txn(1, 100);
    let lsn = writer
        .commit(t, vec![Write::put("after", "x")])
        .await
        .expect("commit after");
    assert!(fresh.snapshot().await.expect("snapshot") >= lsn);
    assert!(follower.snapshot().await.expect("snapshot") >= lsn);
    wait_until("fresh applies", Duration::from_secs(2), || {
        !seen5.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(
        seen5.lock().unwrap().clone(),
        vec![(lsn, Bytes::from("after"))],
        "the fresh joiner gets only what came after its LSN"
    );
    wait_until("follower applies", Duration::from_secs(2), || {
        seen.lock().unwrap().len() == 21
    })
    .await;
    assert_eq!(seen.lock().unwrap()[20], (lsn, Bytes::from("after")));
    drop((follower, writer, fresh));
    coord.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joiner_is_caught_up_from_memory_exactly_once_in_order() {
    let coord = start().await;
    let writer = CoordinatorClient::join(&coord.endpoint, 1, "w", 0, None)
        .await
        .expect("writer");
    let mut lsns = Vec::new();
    for n in 0..10u64 {
        lsns.push(
            writer
                .commit(txn(1, n), vec![Write::put(format!("k{n}"), "v")])
                .await
                .expect("commit"),
        );
    }
    // Joins holding the first five commits: it is sent the other five.
    let (apply, seen) = recorder();
    let late = CoordinatorClient::join(&coord.endpoint, 2, "late", lsns[4], Some(apply))
        .await
        .expect("late joiner");
    let snap = late.snapshot().await.expect("snapshot");
    assert!(snap >= lsns[9], "caught up before serving: {snap}");
    for n in 10..15u64 {
        lsns.push(
            writer
                .commit(txn(1, n), vec![Write::put(format!("k{n}"), "v")])
                .await
                .expect("commit"),
        );
    }
    wait_until("late joiner applies", Duration::from_secs(2), || {
        seen.lock().unwrap().len() >= 10
    })
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let want: Vec<(u64, Bytes)> = (5..15)
        .map(|n| (lsns[n], Bytes::from(format!("k{n}"))))
        .collect();
    assert_eq!(*seen.lock().unwrap(), want);
    drop((writer, late));
    coord.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joiner_claiming_more_than_the_durable_end_is_refused_or_kept_coherent() {
    let coord = start().await;
    let writer = CoordinatorClient::join(&coord.endpoint, 1, "w", 0, None)
        .await
        .expect("writer");
    for n in 0..3u64 {
        writer
            .commit(txn(1, n), vec![Write::put(format!("k{n}"), "v")])
            .await
            .expect("commit");
    }
    let end = status(&coord.endpoint).await.last_lsn;
    let (apply, seen) = recorder();
    match CoordinatorClient::join(&coord.endpoint, 2, "ahead", end + 50, Some(apply)).await {
        Err(e) => assert!(
            matches!(e.kind, Some(ErrorKind::Reload | ErrorKind::InvalidArgument)),
            "refused, but with an unclear kind: {e:?}"
        ),
        Ok(ahead) => {
            let lsn = writer
                .commit(txn(1, 10), vec![Write::put("later", "v")])
                .await
                .expect("commit");
            let visible = status(&coord.endpoint).await.visible_lsn;
            let snap = ahead.snapshot().await.expect("snapshot");
            assert!(
                snap <= visible,
                "a snapshot at LSN {snap} is above the coordinator's visible LSN {visible}"
            );
            wait_until(
                "the later commit is applied",
                Duration::from_secs(2),
                || seen.lock().unwrap().iter().any(|(l, _)| *l == lsn),
            )
            .await;
        }
    }
    coord.shutdown().await;
}

/// A frontend that has just joined must not serve a snapshot older than a
/// commit acknowledged before it joined (its catch-up must come first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frontend_that_just_joined_never_snapshots_below_an_acknowledged_commit() {
    let coord = start().await;
    let writer = CoordinatorClient::join(&coord.endpoint, 1, "w", 0, None)
        .await
        .expect("writer");
    let mut stale = Vec::new();
    // The previous joiner stays connected (and acking) until the next one
    // replaces it: a frontend that just vanishes holds up commits until its
    // lease runs out, by design.
    let mut previous = None;
    for i in 0..50u64 {
        let lsn = writer
            .commit(txn(1, i), vec![Write::put(format!("k{i}"), "v")])
            .await
            .expect("commit");
        // Joins holding nothing: it is caught up from the coordinator's memory.
        let c = CoordinatorClient::join(&coord.endpoint, 2, "j", 0, None)
            .await
            .expect("join");
        let snap = c.snapshot().await.expect("snapshot");
        if snap < lsn {
            stale.push((i, snap, lsn));
        }
        previous = Some(c);
    }
    drop(previous);
    assert!(
        stale.is_empty(),
        "snapshots below an acknowledged commit right after joining (round, snapshot, commit): {stale:?}"
    );
    drop(writer);
    coord.shutdown().await;
}

// ---------------------------------------------------------------------------
// 4. Read-your-writes across frontends
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_snapshot_after_a_commit_includes_it_on_every_frontend() {
    let coord = start().await;
    let mut clients = Vec::new();
    for id in 1..=3 {
        clients.push(
            CoordinatorClient::join(&coord.endpoint, id, "rw", 0, None)
                .await
                .expect("join"),
        );
    }
    let rounds = 300u64;
    let mut stale = Vec::new();
    let mut last = 0;
    for r in 0..rounds {
        let i = (r % 3) as usize;
        let c = &clients[i];
        let t = txn(c.member().frontend_id, r);
        let lsn = c
            .commit(t, vec![Write::put(format!("r{r}"), "v")])
            .await
            .expect("commit");
        assert!(lsn > last, "LSNs increase");
        last = lsn;
        for (j, other) in clients.iter().enumerate() {
            if j == i {
                continue;
            }
            let snap = other.snapshot().await.expect("snapshot");
            if snap < lsn {
                stale.push((r, j, snap, lsn));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "{} stale snapshots (round, client, snapshot, commit): {:?}",
        stale.len(),
        &stale[..stale.len().min(10)]
    );
    drop(clients);
    coord.shutdown().await;
}

// ---------------------------------------------------------------------------
// 5. Failed WAL writes
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_wal_write_fails_the_commit_releases_its_locks_and_leaves_nothing() {
    let (coord, faults, inner) = start_faulty(CoordinatorOptions::default()).await;
    let (apply_a, seen_a) = recorder();
    let a = CoordinatorClient::join(&coord.endpoint, 1, "a", 0, Some(apply_a))
        .await
        .expect("join a");
    let (apply_b, seen_b) = recorder();
    let b = Arc::new(
        CoordinatorClient::join(&coord.endpoint, 2, "b", 0, Some(apply_b))
            .await
            .expect("join b"),
    );
    let first = a
        .commit(txn(1, 1), vec![Write::put("first", "1")])
        .await
        .expect("a healthy commit");

    let t1 = txn(1, 2);
    a.lock(
        t1,
        1,
        vec![row(1, 1), row(1, 2)],
        pb::WaitPolicy::Wait,
        None,
    )
    .await
    .expect("T1 locks rows 1 and 2");
    // T2 waits behind T1 for row 2.
    let t2 = txn(2, 1);
    let waiter = tokio::spawn({
        let b = b.clone();
        async move {
            b.lock(
                t2,
                1,
                vec![row(1, 2)],
                pb::WaitPolicy::Wait,
                Some(Duration::from_secs(5)),
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiter.is_finished(), "T2 waits for T1");

    faults.fail_all(FailFilter::Put);
    let err = a
        .commit(t1, vec![Write::put("lost", "x")])
        .await
        .unwrap_err();
    assert_eq!(err.kind, Some(ErrorKind::CommitFailed), "{err}");
    let s = status(&coord.endpoint).await;
    assert!(
        s.visible_lsn < s.last_lsn,
        "the failed LSN is not visible: {s:?}"
    );
    assert_eq!(s.visible_lsn, first);

    // Its locks are gone: T2 is granted row 2, not at the failed LSN, and
    // another transaction takes row 1 with NOWAIT.
    let granted = tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .expect("T2 granted in time")
        .expect("task")
        .expect("T2 granted");
    assert_eq!(
        granted.released_at_lsn, None,
        "a failed commit hands no LSN to the next holder"
    );
    b.lock(txn(2, 2), 1, vec![row(1, 1)], pb::WaitPolicy::NoWait, None)
        .await
        .expect("row 1 is free");

    // Still down: another commit fails the same way.
    let err = b
        .commit(txn(2, 2), vec![Write::put("lost2", "y")])
        .await
        .unwrap_err();
    assert_eq!(err.kind, Some(ErrorKind::CommitFailed), "{err}");

    faults.heal();
    let kept = a
        .commit(txn(1, 3), vec![Write::put("kept", "k")])
        .await
        .expect("commit after heal");
    assert!(kept > s.last_lsn, "LSNs continue above the failed ones");
    let kept2 = b
        .commit(t2, vec![Write::put("kept2", "k")])
        .await
        .expect("T2 commits after heal");
    assert!(a.snapshot().await.expect("snapshot") >= kept2);
    assert!(b.snapshot().await.expect("snapshot") >= kept2);
    wait_until("both apply", Duration::from_secs(2), || {
        seen_a.lock().unwrap().len() == 3 && seen_b.lock().unwrap().len() == 3
    })
    .await;
    for seen in [&seen_a, &seen_b] {
        let keys: Vec<Bytes> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|(_, k)| k.clone())
            .collect();
        assert_eq!(
            keys,
            vec![
                Bytes::from("first"),
                Bytes::from("kept"),
                Bytes::from("kept2")
            ],
            "failed commits are never applied"
        );
    }
    drop(a);
    drop(b);
    coord.shutdown().await;

    let store = reopen(inner).await;
    let at = store.last_lsn();
    assert_eq!(at, kept2);
    assert_eq!(store.get(b"lost", at).await.expect("get"), None);
    assert_eq!(store.get(b"lost2", at).await.expect("get"), None);
    assert_eq!(
        store.get(b"first", at).await.expect("get"),
        Some(Bytes::from("1"))
    );
    assert_eq!(
        store.get(b"kept", at).await.expect("get"),
        Some(Bytes::from("k"))
    );
    assert_eq!(
        store.get(b"kept2", at).await.expect("get"),
        Some(Bytes::from("k"))
    );
}

/// Batch 1 is durable but still waits for a slow frontend's ack when batch
/// 2's WAL write fails. Only batch 2 failed: a frontend must keep batch 1
/// pending and apply it once it becomes visible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_does_not_discard_an_earlier_durable_pending_batch() {
    let (coord, faults, _inner) = start_faulty(CoordinatorOptions::default()).await;
    let (apply, seen) = recorder();
    let a = Arc::new(
        CoordinatorClient::join(&coord.endpoint, 1, "a", 0, Some(apply))
            .await
            .expect("join a"),
    );
    // A slow frontend that subscribes and acks only when told.
    let mut r = raw(&coord.endpoint).await;
    let slow = raw_join(&mut r, 9, 0).await;
    let mut events = r
        .subscribe(pb::SubscribeRequest {
            member: Some(slow),
            from_lsn: 0,
        })
        .await
        .expect("subscribe")
        .into_inner();

    let first = tokio::spawn({
        let a = a.clone();
        async move { a.commit(txn(1, 1), vec![Write::put("first", "1")]).await }
    });
    // The slow frontend receives batch 1; it does not ack yet.
    let batch1 = loop {
        let e = tokio::time::timeout(Duration::from_secs(2), events.message())
            .await
            .expect("an event in time")
            .expect("stream")
            .expect("not closed");
        if let Some(pb::event::Kind::Batch(b)) = e.kind {
            break b;
        }
    };
    // Let batch 1's WAL write finish (it is durable, awaiting one ack).
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!first.is_finished(), "batch 1 waits for the slow ack");

    faults.fail_all(FailFilter::Put);
    let err = a
        .commit(txn(1, 2), vec![Write::put("second", "2")])
        .await
        .unwrap_err();
    assert_eq!(err.kind, Some(ErrorKind::CommitFailed), "{err}");
    faults.heal();

    r.ack(pb::AckRequest {
        member: Some(slow),
        batch_ids: vec![batch1.batch_id],
    })
    .await
    .expect("ack");
    let lsn1 = tokio::time::timeout(Duration::from_secs(2), first)
        .await
        .expect("batch 1 visible in time")
        .expect("task")
        .expect("batch 1 committed");
    assert_eq!(batch1.txns.last().map(|t| t.lsn), Some(lsn1));
    wait_until("a's visible LSN", Duration::from_secs(2), || {
        a.visible_lsn() >= lsn1
    })
    .await;
    let snap = tokio::time::timeout(Duration::from_secs(3), a.snapshot())
        .await
        .expect("a snapshot without stalling")
        .expect("snapshot");
    assert!(snap >= lsn1);
    wait_until(
        "a applies batch 1 (it was durable, only batch 2 failed)",
        Duration::from_secs(2),
        || seen.lock().unwrap().iter().any(|(l, _)| *l == lsn1),
    )
    .await;
    drop(a);
    coord.shutdown().await;
}

/// With several WAL PUTs in flight, the second batch's PUT fails: it and
/// every later batch fail (their PUTs land, but the repair voids them),
/// the first commits, and commits go on afterwards. The store, reopened,
/// holds exactly the commits that were acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_put_in_the_pipeline_fails_it_and_later_batches_only() {
    let (coord, faults, inner) = start_faulty(CoordinatorOptions::default()).await;
    let a = Arc::new(
        CoordinatorClient::join(&coord.endpoint, 1, "a", 0, None)
            .await
            .expect("join a"),
    );
    faults.set_put_latency(Duration::from_millis(200));
    faults.fail_nth(2, FailFilter::Put);
    // Four commits 20 ms apart: each is its own batch, all four PUTs are in
    // flight at once (the default pipeline holds four).
    let mut commits = Vec::new();
    for i in 1..=4u64 {
        let a = a.clone();
        commits.push(tokio::spawn(async move {
            a.commit(txn(1, i), vec![Write::put(format!("k{i}"), "v")])
                .await
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut outcomes = Vec::new();
    for c in commits {
        outcomes.push(c.await.expect("task"));
    }
    let first = *outcomes[0].as_ref().expect("the first batch commits");
    for (i, r) in outcomes.iter().enumerate().skip(1) {
        let err = r.as_ref().expect_err("later batches fail");
        assert_eq!(
            err.kind,
            Some(ErrorKind::CommitFailed),
            "commit {}: {err}",
            i + 1
        );
    }
    faults.set_put_latency(Duration::ZERO);
    let kept = a
        .commit(txn(1, 5), vec![Write::put("k5", "v")])
        .await
        .expect("commits go on after the repair");
    assert!(kept > first);
    drop(a);
    coord.shutdown().await;

    // Batches 3 and 4 had landed: a jump record voids them.
    let wal = shoal_storage::wal::Wal::new(
        inner.clone(),
        shoal_storage::layout::Layout::new(Path::from("db")),
    );
    let log = wal.read_from(1, usize::MAX).await.expect("read the WAL");
    assert!(
        log.segments.iter().any(|(_, s)| s.continue_at.is_some()),
        "a jump record skips the void segments: {:?}",
        log.segments.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    let store = reopen(inner).await;
    let at = store.last_lsn();
    assert_eq!(at, kept);
    for (key, present) in [
        ("k1", true),
        ("k2", false),
        ("k3", false),
        ("k4", false),
        ("k5", true),
    ] {
        assert_eq!(
            store.get(key.as_bytes(), at).await.expect("get").is_some(),
            present,
            "{key}"
        );
    }
}

/// A new leader keeps what it replayed from the WAL as its memory of
/// batches: a frontend that holds nothing joins and catches up from it
/// (before, it was told to reload from the store).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_catches_frontends_up_from_what_it_replayed() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let first = start_with(objects.clone(), CoordinatorOptions::default()).await;
    let a = CoordinatorClient::join(&first.endpoint, 1, "a", 0, None)
        .await
        .expect("join the first leader");
    let mut last = 0;
    for i in 1..=5u64 {
        last = a
            .commit(txn(1, i), vec![Write::put(format!("k{i}"), "v")])
            .await
            .expect("commit");
    }
    drop(a);
    first.shutdown().await;

    let second = start_with(objects, CoordinatorOptions::default()).await;
    let (apply, seen) = recorder();
    let b = CoordinatorClient::join(&second.endpoint, 2, "b", 0, Some(apply))
        .await
        .expect("a frontend holding nothing joins without a reload");
    wait_until("b applies the five commits", Duration::from_secs(5), || {
        seen.lock().unwrap().len() == 5
    })
    .await;
    let seen = seen.lock().unwrap().clone();
    let keys: Vec<Bytes> = seen.iter().map(|(_, k)| k.clone()).collect();
    let expected: Vec<Bytes> = (1..=5).map(|i| Bytes::from(format!("k{i}"))).collect();
    assert_eq!(keys, expected);
    assert_eq!(seen.last().map(|(lsn, _)| *lsn), Some(last));
    drop(b);
    second.shutdown().await;
}
