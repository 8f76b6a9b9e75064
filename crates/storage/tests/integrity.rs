//! Fencing and corruption at the level of the whole store: two writers
//! racing for one WAL segment or manifest version (exactly one wins, the
//! other is fenced), a newer epoch fencing an older writer, and flipped bytes
//! in any object being an error naming that object, never a wrong answer.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::{path::Path, ObjectStore, ObjectStoreExt, PutPayload};
use rand::{rngs::StdRng, Rng, SeedableRng};
use shoal_storage::db::{Store, StoreOptions};
use shoal_storage::sst::SstOptions;
use shoal_storage::{CommittedTxn, Error, Lsn, Write};

fn options(epoch: u64) -> StoreOptions {
    StoreOptions {
        sst: SstOptions {
            page_size: 512,
            ..SstOptions::default()
        },
        target_sst_bytes: 4096,
        epoch,
        ..StoreOptions::default()
    }
}

fn txn(lsn: Lsn) -> CommittedTxn {
    CommittedTxn {
        lsn,
        writes: (0..8)
            .map(|i| {
                Write::put(
                    format!("k{:03}", (lsn * 11 + i) % 60),
                    format!("v{lsn}.{i}"),
                )
            })
            .collect(),
    }
}

#[tokio::test]
async fn racing_writers_one_wins_the_other_is_fenced() {
    for ts in common::test_stores() {
        let root = Path::from("race");
        let a = Store::open(ts.store.clone(), root.clone(), options(0))
            .await
            .expect("open a");
        let b = Store::open(ts.store.clone(), root.clone(), options(0))
            .await
            .expect("open b");
        let (ra, rb) = tokio::join!(
            a.append(vec![txn(1)], vec![]),
            b.append(vec![txn(1)], vec![])
        );
        assert!(
            ra.is_ok() != rb.is_ok(),
            "{}: exactly one append wins",
            ts.name
        );
        let (winner, loser, err) = if ra.is_ok() { (a, b, rb) } else { (b, a, ra) };
        assert!(
            matches!(err, Err(Error::Fenced { .. })),
            "{}: {err:?}",
            ts.name
        );
        // A fenced writer stays fenced.
        assert!(matches!(
            loser.append(vec![txn(2)], vec![]).await,
            Err(Error::Fenced { .. })
        ));

        // Two writers racing for the next manifest version.
        let c = Store::open(ts.store.clone(), root.clone(), options(0))
            .await
            .expect("open c");
        winner.append(vec![txn(2)], vec![]).await.expect("append");
        c.apply(&[txn(2)]);
        let (rw, rc) = tokio::join!(winner.flush(), c.flush());
        assert!(
            rw.is_ok() != rc.is_ok(),
            "{}: exactly one manifest publish wins",
            ts.name
        );
        let err = if rw.is_ok() { rc } else { rw };
        assert!(
            matches!(err, Err(Error::Fenced { .. })),
            "{}: {err:?}",
            ts.name
        );
    }
}

#[tokio::test]
async fn a_newer_epoch_fences_the_older_writer() {
    for ts in common::test_stores() {
        let root = Path::from("epochs");
        let old = Store::open(ts.store.clone(), root.clone(), options(1))
            .await
            .expect("open");
        old.append(vec![txn(1)], vec![]).await.expect("append");
        let new = Store::open(ts.store.clone(), root.clone(), options(2))
            .await
            .expect("open");
        assert_eq!(new.last_lsn(), 1);
        new.append(vec![txn(2)], vec![])
            .await
            .expect("append as epoch 2");
        let err = old.append(vec![txn(2)], vec![]).await;
        assert!(
            matches!(err, Err(Error::Fenced { .. })),
            "{}: {err:?}",
            ts.name
        );
        // Re-opening with the old epoch gives a read-only store.
        let stale = Store::open(ts.store.clone(), root.clone(), options(1))
            .await
            .expect("open");
        assert_eq!(
            stale.get(b"k022", 2).await.expect("read"),
            new.get(b"k022", 2).await.expect("read")
        );
        assert!(matches!(
            stale.append(vec![txn(3)], vec![]).await,
            Err(Error::Fenced { .. })
        ));
        assert!(matches!(stale.flush().await, Err(Error::Fenced { .. })));
    }
}

/// Reads every row and a few point gets at the newest snapshot.
async fn read_all(store: &Store) -> shoal_storage::Result<Vec<(Bytes, Bytes)>> {
    common::read_all(store, store.last_lsn(), 7).await
}

#[tokio::test]
async fn flipped_bytes_are_errors_naming_the_object() {
    let ts = common::memory_store();
    let root = Path::from("corrupt");
    let store = Store::open(ts.store.clone(), root.clone(), options(0))
        .await
        .expect("open");
    for lsn in 1..=30 {
        store
            .append(vec![txn(lsn)], vec![(1, lsn * 100)])
            .await
            .expect("append");
        if lsn % 8 == 0 {
            store.flush().await.expect("flush");
        }
        if lsn == 20 {
            store.compact(0, true).await.expect("compact");
        }
    }
    let expected = read_all(&store).await.expect("read");
    drop(store);

    let objects: Vec<Path> = ts
        .store
        .list(Some(&root))
        .map_ok(|m| m.location)
        .try_collect()
        .await
        .expect("list");
    assert!(objects.len() > 10, "{objects:?}");
    let mut rng = StdRng::seed_from_u64(7);
    let mut detected = 0;
    for path in objects {
        let original = ts
            .store
            .get(&path)
            .await
            .expect("get")
            .bytes()
            .await
            .expect("bytes");
        let mut positions: Vec<usize> = (0..original.len().min(48)).collect();
        positions.extend(original.len().saturating_sub(80)..original.len());
        positions.extend((0..48).map(|_| rng.random_range(0..original.len())));
        for pos in positions {
            let mut bad = original.to_vec();
            bad[pos] ^= 1 << rng.random_range(0..8);
            put(&ts.store, &path, Bytes::from(bad)).await;
            let outcome = match Store::open(ts.store.clone(), root.clone(), options(0)).await {
                Ok(s) => read_all(&s).await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(rows) => assert_eq!(
                    rows, expected,
                    "flipped byte {pos} of {path} gave a wrong answer"
                ),
                Err(e) => {
                    assert!(
                        matches!(e, Error::Corrupt { .. } | Error::Missing { .. }),
                        "flipped byte {pos} of {path}: {e}"
                    );
                    assert!(
                        e.to_string().contains(path.as_ref()),
                        "error names {path}: {e}"
                    );
                    detected += 1;
                }
            }
        }
        put(&ts.store, &path, original).await;
    }
    assert!(detected > 500, "only {detected} flips mattered");
    let store = Store::open(ts.store.clone(), root, options(0))
        .await
        .expect("open");
    assert_eq!(read_all(&store).await.expect("read"), expected);
}

async fn put(store: &Arc<dyn ObjectStore>, path: &Path, bytes: Bytes) {
    store.put(path, PutPayload::from(bytes)).await.expect("put");
}

/// A write that landed although its PUT reported an error is our own, not
/// a lost race: the store reads it back and goes on without being fenced.
#[tokio::test]
async fn a_landed_write_reported_as_failed_is_settled() {
    use shoal_storage::object::{FailFilter, FaultConfig, FaultyStore};
    for ts in common::test_stores() {
        let faults = FaultConfig::new();
        let faulty: Arc<dyn ObjectStore> =
            Arc::new(FaultyStore::with_config(ts.store.clone(), faults.clone()));
        let store = Store::open(faulty, Path::from("settle"), options(0))
            .await
            .expect("open");
        faults.fail_after_nth(1, FailFilter::Put);
        store
            .append(vec![txn(1)], vec![])
            .await
            .expect("the segment landed");
        store
            .append(vec![txn(2)], vec![])
            .await
            .expect("not fenced");
        // The second PUT of a flush is its manifest.
        faults.fail_after_nth(2, FailFilter::Put);
        assert!(store.flush().await.expect("the manifest landed"));
        assert_eq!(faults.injected(), 2, "{}", ts.name);
        store
            .append(vec![txn(3)], vec![])
            .await
            .expect("not fenced");
        assert_eq!(store.manifest().flushed_lsn, 2);
        // A PUT that fails before landing fails the append; the number is reused.
        faults.fail_nth(1, FailFilter::Put);
        assert!(store.append(vec![txn(4)], vec![]).await.is_err());
        store
            .append(vec![txn(4)], vec![])
            .await
            .expect("retry the same LSN");
        drop(store);
        let reopened = Store::open(ts.store.clone(), Path::from("settle"), options(0))
            .await
            .expect("open");
        assert_eq!(reopened.last_lsn(), 4, "{}", ts.name);
    }
}
