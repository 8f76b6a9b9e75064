//! Pipelined WAL appends: several segments' PUTs in flight at once. They
//! become readable in segment order; a failed one voids itself and every
//! later one (a jump record skips them, even those that landed); a new
//! leader's epoch-change record jumps past every PUT its predecessor may
//! still have in flight, so a straggler never enters the log.

use std::sync::Arc;

use bytes::Bytes;
use object_store::{memory::InMemory, path::Path, ObjectStore};
use shoal_storage::db::{Store, StoreOptions};
use shoal_storage::layout::Layout;
use shoal_storage::object::{FailFilter, FaultConfig, FaultyStore};
use shoal_storage::wal::{Wal, MAX_PIPELINE};
use shoal_storage::{CommittedTxn, Error, Lsn, Write};

fn options(epoch: u64) -> StoreOptions {
    StoreOptions {
        epoch,
        ..StoreOptions::default()
    }
}

fn txn(lsn: Lsn, key: &str) -> Vec<CommittedTxn> {
    vec![CommittedTxn {
        lsn,
        writes: vec![Write::put(key.to_string(), format!("v{lsn}"))],
    }]
}

/// An in-memory store, its fault configuration, and the faulty store over it.
fn faulty_memory() -> (Arc<dyn ObjectStore>, Arc<FaultConfig>, Arc<dyn ObjectStore>) {
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let faulty = FaultyStore::new(inner.clone());
    let faults = faulty.faults();
    (inner, faults, Arc::new(faulty))
}

async fn open(objects: &Arc<dyn ObjectStore>, epoch: u64) -> Store {
    Store::open(objects.clone(), Path::from("db"), options(epoch))
        .await
        .expect("open the store")
}

/// Every key of `keys` and whether the store holds it at its last LSN.
async fn holds(store: &Store, keys: &[&str]) -> Vec<(String, bool)> {
    let at = store.last_lsn();
    let mut out = Vec::new();
    for k in keys {
        let found = store.get(k.as_bytes(), at).await.expect("get").is_some();
        out.push((k.to_string(), found));
    }
    out
}

fn expect(keys: &[(&str, bool)]) -> Vec<(String, bool)> {
    keys.iter().map(|(k, b)| (k.to_string(), *b)).collect()
}

/// The numbers of the log's segments, as a reader follows them.
async fn log_numbers(objects: &Arc<dyn ObjectStore>) -> Vec<u64> {
    let wal = Wal::new(objects.clone(), Layout::new(Path::from("db")));
    let read = wal.read_from(1, usize::MAX).await.expect("read the WAL");
    read.segments.iter().map(|(n, _)| *n).collect()
}

#[tokio::test]
async fn segments_written_out_of_order_become_readable_in_order() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let store = open(&objects, 1).await;
    let r1 = store.reserve(txn(1, "a"), vec![]).expect("reserve 1");
    let r2 = store
        .reserve(txn(2, "b"), vec![(7, 100)])
        .expect("reserve 2");
    let r3 = store.reserve(txn(3, "c"), vec![]).expect("reserve 3");
    assert_eq!((r1.segment, r2.segment, r3.segment), (1, 2, 3));
    assert!(!store.wal_idle());

    assert_eq!(store.write_reserved(r3).await.expect("write 3"), 3);
    assert_eq!(store.write_reserved(r2).await.expect("write 2"), 2);
    // Durable, but segment 1 is not: nothing is readable yet.
    assert_eq!(store.last_lsn(), 0);
    assert!(store.sequences().await.is_empty());
    store.write_reserved(r1).await.expect("write 1");
    assert!(store.wal_idle());
    assert_eq!(store.last_lsn(), 3);
    assert_eq!(store.sequences().await.get(&7), Some(&100));
    assert_eq!(
        holds(&store, &["a", "b", "c"]).await,
        expect(&[("a", true), ("b", true), ("c", true)])
    );
    let reopened = open(&objects, 1).await;
    assert_eq!(reopened.last_lsn(), 3);
    assert_eq!(reopened.sequences().await.get(&7), Some(&100));
}

#[tokio::test]
async fn the_pipeline_stays_within_its_window() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let store = open(&objects, 1).await;
    let mut reserved = Vec::new();
    for i in 0..MAX_PIPELINE {
        reserved.push(store.reserve(txn(i + 1, "k"), vec![]).expect("reserve"));
    }
    let err = store
        .reserve(txn(MAX_PIPELINE + 1, "k"), vec![])
        .expect_err("one too many in flight");
    assert!(
        matches!(err, Error::InvalidInput(ref m) if m.contains("ahead")),
        "{err}"
    );
    let first = reserved.remove(0);
    store.write_reserved(first).await.expect("write the first");
    store
        .reserve(txn(MAX_PIPELINE + 1, "k"), vec![])
        .expect("room again once the first is durable");
}

#[tokio::test]
async fn a_failed_segment_voids_every_later_one_even_those_that_landed() {
    let (inner, faults, objects) = faulty_memory();
    let store = open(&objects, 1).await;
    store.append(txn(1, "a"), vec![]).await.expect("append 1");

    let r2 = store.reserve(txn(2, "b"), vec![]).expect("reserve 2");
    let r3 = store
        .reserve(txn(3, "c"), vec![(5, 50)])
        .expect("reserve 3");
    let r4 = store.reserve(txn(4, "d"), vec![]).expect("reserve 4");
    faults.fail_nth(1, FailFilter::Put);
    let err = store.write_reserved(r2).await.expect_err("segment 2 fails");
    assert!(matches!(err, Error::ObjectStore { .. }), "{err}");
    // The later PUTs land, but they follow a failed segment.
    store.write_reserved(r3).await.expect("segment 3 lands");
    store.write_reserved(r4).await.expect("segment 4 lands");
    assert_eq!(
        store.last_lsn(),
        1,
        "nothing after the failed segment counts"
    );
    assert!(store.sequences().await.is_empty());
    let err = store
        .reserve(txn(5, "e"), vec![])
        .expect_err("no append before the repair");
    assert!(
        matches!(err, Error::InvalidInput(ref m) if m.contains("repaired")),
        "{err}"
    );

    store.repair_wal().await.expect("repair");
    let n = store
        .append(txn(10, "e"), vec![])
        .await
        .expect("append after the repair");
    assert_eq!(n, 5, "the log goes on after the void segments");
    assert_eq!(log_numbers(&inner).await, vec![1, 2, 5]);

    for s in [&store, &open(&inner, 2).await] {
        assert_eq!(s.last_lsn(), 10);
        assert_eq!(
            holds(s, &["a", "b", "c", "d", "e"]).await,
            expect(&[
                ("a", true),
                ("b", false),
                ("c", false),
                ("d", false),
                ("e", true)
            ])
        );
        assert!(
            s.sequences().await.is_empty(),
            "a void segment's sequence mark does not count"
        );
    }
}

#[tokio::test]
async fn a_failed_last_segment_is_numbered_again() {
    let (inner, faults, objects) = faulty_memory();
    let store = open(&objects, 1).await;
    faults.fail_nth(1, FailFilter::Put);
    store
        .append(txn(1, "lost"), vec![])
        .await
        .expect_err("the PUT fails");
    // Nothing else was in flight: no repair needed, the number is reused.
    assert_eq!(
        store.append(txn(2, "kept"), vec![]).await.expect("append"),
        1
    );
    store.repair_wal().await.expect("nothing to repair");
    assert_eq!(log_numbers(&inner).await, vec![1]);
    assert_eq!(
        holds(&open(&inner, 2).await, &["lost", "kept"]).await,
        expect(&[("lost", false), ("kept", true)])
    );
}

/// The old leader (epoch 1) has segments 2..=5 in flight when a new leader
/// (epoch 2) takes over: 3 has landed, 2 lands while the new leader starts.
#[tokio::test]
async fn a_new_leader_jumps_past_the_old_leaders_pipeline() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let old = open(&objects, 1).await;
    old.append(txn(1, "a1"), vec![]).await.expect("append 1");
    let r2 = old.reserve(txn(2, "a2"), vec![]).expect("reserve 2");
    let r3 = old.reserve(txn(3, "a3"), vec![]).expect("reserve 3");
    let r4 = old.reserve(txn(4, "a4"), vec![]).expect("reserve 4");
    let r5 = old.reserve(txn(5, "a5"), vec![]).expect("reserve 5");
    old.write_reserved(r3).await.expect("segment 3 lands");

    let new = open(&objects, 2).await;
    assert_eq!(new.last_lsn(), 1, "the log ends at the gap");
    // Segment 2 lands before the new leader's record: the record goes after
    // it, and 2 and 3 (durable before the record) are part of the log.
    old.write_reserved(r2).await.expect("segment 2 lands");
    let at = new.begin_epoch().await.expect("epoch-change record");
    assert_eq!(at, 4);
    assert_eq!(new.last_lsn(), 3);
    // The old leader's segment 4 loses the race and fences it; its segment
    // 5 lands, but inside the record's jump.
    let err = old
        .write_reserved(r4)
        .await
        .expect_err("segment 4 is taken");
    assert!(matches!(err, Error::Fenced { .. }), "{err}");
    old.write_reserved(r5)
        .await
        .expect("segment 5 lands (void)");

    let n = new
        .append(txn(6, "b"), vec![])
        .await
        .expect("new leader appends");
    assert_eq!(n, 4 + MAX_PIPELINE);
    assert_eq!(log_numbers(&objects).await, vec![1, 2, 3, 4, n]);
    let reader = open(&objects, 3).await;
    assert_eq!(reader.last_lsn(), 6);
    assert_eq!(
        holds(&reader, &["a1", "a2", "a3", "a4", "a5", "b"]).await,
        expect(&[
            ("a1", true),
            ("a2", true),
            ("a3", true),
            ("a4", false),
            ("a5", false),
            ("b", true)
        ])
    );
    assert_eq!(
        reader.get(b"b", 6).await.expect("get"),
        Some(Bytes::from("v6"))
    );
}

#[tokio::test]
async fn a_newer_leaders_record_fences_an_older_one_starting_late() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let older = open(&objects, 1).await;
    let newer = open(&objects, 2).await;
    newer.begin_epoch().await.expect("the newer leader starts");
    let err = older
        .begin_epoch()
        .await
        .expect_err("the older one is fenced");
    assert!(matches!(err, Error::Fenced { .. }), "{err}");
}

#[tokio::test]
async fn only_a_store_asked_to_keep_replayed_batches_keeps_them() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let writer = open(&objects, 1).await;
    writer.append(txn(1, "a"), vec![]).await.expect("append");
    writer.append(txn(2, "b"), vec![]).await.expect("append");
    drop(writer);

    // A reader (an inspection, a standby) replays the log without a copy.
    let reader = open(&objects, 1).await;
    assert_eq!(
        holds(&reader, &["a", "b"]).await,
        expect(&[("a", true), ("b", true)])
    );
    assert!(reader.take_replayed().is_empty());

    // A coordinator taking the lead keeps them, segment by segment, once.
    let opts = StoreOptions {
        keep_replayed: true,
        ..options(2)
    };
    let leader = Store::open(objects.clone(), Path::from("db"), opts)
        .await
        .expect("open the store");
    let lsns: Vec<Vec<Lsn>> = leader
        .take_replayed()
        .iter()
        .map(|batch| batch.iter().map(|t| t.lsn).collect())
        .collect();
    assert_eq!(lsns, vec![vec![1], vec![2]]);
    assert!(leader.take_replayed().is_empty());
}
