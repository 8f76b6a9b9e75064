//! Property test of the store against a `BTreeMap` model: random
//! interleavings of batches, gets, scans, flushes, compactions and re-opens
//! give the model's answers at every snapshot still readable.

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use object_store::{path::Path, ObjectStore};
use proptest::prelude::*;
use shoal_storage::db::{Store, StoreOptions};
use shoal_storage::sst::SstOptions;
use shoal_storage::{CommittedTxn, Direction, Lsn, Write};

#[derive(Clone, Debug)]
enum Op {
    /// A batch of transactions, each a list of (key, value or delete).
    Append(Vec<Vec<(u8, Option<u16>)>>),
    /// Get key at the snapshot picked by the fraction.
    Get(u8, f64),
    /// Scan [lo, hi) (bounds as picked) in a direction at a snapshot.
    Scan(Option<u8>, Option<u8>, bool, bool, f64),
    Flush,
    /// Compact with gc_lsn at the picked fraction of the readable range.
    Compact(f64, bool),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let write = (0u8..24, prop::option::weighted(0.8, any::<u16>()));
    let txn = prop::collection::vec(write, 1..6);
    prop_oneof![
        6 => prop::collection::vec(txn, 1..4).prop_map(Op::Append),
        4 => (0u8..26, 0.0..=1.0f64).prop_map(|(k, s)| Op::Get(k, s)),
        3 => (prop::option::of(0u8..26), prop::option::of(0u8..26), any::<bool>(), any::<bool>(), 0.0..=1.0f64)
            .prop_map(|(lo, hi, inc, rev, s)| Op::Scan(lo, hi, inc, rev, s)),
        2 => Just(Op::Flush),
        1 => (0.0..=1.0f64, any::<bool>()).prop_map(|(g, f)| Op::Compact(g, f)),
        1 => Just(Op::Reopen),
    ]
}

fn key(k: u8) -> Bytes {
    Bytes::from(format!("key{k:03}"))
}

/// Every version ever written, per key.
#[derive(Default)]
struct Model {
    versions: BTreeMap<Bytes, Vec<(Lsn, Option<Bytes>)>>,
    last_lsn: Lsn,
    /// Snapshots below this may have been garbage-collected.
    min_readable: Lsn,
}

impl Model {
    fn get(&self, k: &Bytes, lsn: Lsn) -> Option<Bytes> {
        let vs = self.versions.get(k)?;
        vs.iter()
            .rev()
            .find(|(l, _)| *l <= lsn)
            .and_then(|(_, v)| v.clone())
    }

    fn scan(
        &self,
        range: &(Bound<Bytes>, Bound<Bytes>),
        lsn: Lsn,
        reverse: bool,
    ) -> Vec<(Bytes, Bytes)> {
        let mut rows: Vec<(Bytes, Bytes)> = self
            .versions
            .range::<Bytes, _>((range.0.as_ref(), range.1.as_ref()))
            .filter_map(|(k, _)| Some((k.clone(), self.get(k, lsn)?)))
            .collect();
        if reverse {
            rows.reverse();
        }
        rows
    }

    fn snapshot(&self, frac: f64) -> Lsn {
        let span = self.last_lsn - self.min_readable;
        self.min_readable + (span as f64 * frac).round() as Lsn
    }
}

fn options() -> StoreOptions {
    StoreOptions {
        sst: SstOptions {
            page_size: 256,
            ..SstOptions::default()
        },
        l0_compaction_trigger: 3,
        target_sst_bytes: 1024,
        ..StoreOptions::default()
    }
}

async fn run(objects: Arc<dyn ObjectStore>, root: Path, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut store = Store::open(objects.clone(), root.clone(), options())
        .await
        .expect("open");
    let mut model = Model::default();
    for op in ops {
        match op {
            Op::Append(txns) => {
                let mut batch = Vec::new();
                for writes in txns {
                    model.last_lsn += 1;
                    let lsn = model.last_lsn;
                    let mut ws = Vec::new();
                    for (k, v) in writes {
                        let value = v.map(|v| Bytes::from(format!("v{v}@{lsn}")));
                        let vs = model.versions.entry(key(k)).or_default();
                        // The last write of a key in one transaction wins.
                        if vs.last().is_some_and(|(l, _)| *l == lsn) {
                            vs.pop();
                            ws.retain(|w: &Write| w.key != key(k));
                        }
                        vs.push((lsn, value.clone()));
                        ws.push(Write { key: key(k), value });
                    }
                    batch.push(CommittedTxn { lsn, writes: ws });
                }
                store.append(batch, vec![]).await.expect("append");
            }
            Op::Get(k, s) => {
                let lsn = model.snapshot(s);
                let got = store.get(&key(k), lsn).await.expect("get");
                prop_assert_eq!(got, model.get(&key(k), lsn), "get {} at {}", k, lsn);
            }
            Op::Scan(lo, hi, inclusive, reverse, s) => {
                let lsn = model.snapshot(s);
                let lower = lo.map_or(Bound::Unbounded, |k| Bound::Included(key(k)));
                let upper = hi.map_or(Bound::Unbounded, |k| {
                    if inclusive {
                        Bound::Included(key(k))
                    } else {
                        Bound::Excluded(key(k))
                    }
                });
                let range = (lower, upper);
                if let (Bound::Included(a), Bound::Included(b) | Bound::Excluded(b)) = &range {
                    if a > b {
                        continue;
                    }
                }
                let dir = if reverse {
                    Direction::Reverse
                } else {
                    Direction::Forward
                };
                let got = store
                    .scan(range.clone(), lsn, dir)
                    .await
                    .expect("scan")
                    .collect(usize::MAX)
                    .await
                    .expect("scan rows");
                prop_assert_eq!(
                    got,
                    model.scan(&range, lsn, reverse),
                    "scan {:?} at {}",
                    range,
                    lsn
                );
            }
            Op::Flush => {
                store.flush().await.expect("flush");
            }
            Op::Compact(g, force) => {
                let gc = model.snapshot(g);
                store.compact(gc, force).await.expect("compact");
                model.min_readable = gc;
            }
            Op::Reopen => {
                drop(store);
                store = Store::open(objects.clone(), root.clone(), options())
                    .await
                    .expect("reopen");
                prop_assert_eq!(store.last_lsn(), model.last_lsn);
            }
        }
    }
    // Finally every key at the newest snapshot, after one more re-open.
    drop(store);
    let store = Store::open(objects, root, options()).await.expect("reopen");
    for k in 0..26 {
        prop_assert_eq!(
            store.get(&key(k), model.last_lsn).await.expect("get"),
            model.get(&key(k), model.last_lsn)
        );
    }
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_model_in_memory(ops in prop::collection::vec(op(), 1..80)) {
        let objects: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        runtime().block_on(run(objects, Path::from("model"), ops))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// The same model check through the real file:// and (when configured)
    /// s3:// stores, with fewer cases since each costs real I/O.
    #[test]
    fn store_matches_model_on_every_store(ops in prop::collection::vec(op(), 1..40)) {
        let rt = runtime();
        for ts in common::test_stores() {
            rt.block_on(run(ts.store.clone(), ts.root.clone(), ops.clone()))?;
        }
    }
}
