//! Criterion benchmarks of the storage layer: memtable insert and get, SST
//! build and point get (through a warm page cache and with no cache), and a
//! merge scan of 1M versioned keys across the memtable and several SSTs.

use std::hint::black_box;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use object_store::{memory::InMemory, path::Path, ObjectStore};
use rand::{rngs::StdRng, Rng, SeedableRng};
use shoal_storage::cache::PageCache;
use shoal_storage::db::{Store, StoreOptions};
use shoal_storage::layout::Layout;
use shoal_storage::memtable::Memtable;
use shoal_storage::sst::{SstOptions, SstStore, SstWriter};
use shoal_storage::{CommittedTxn, Direction, Entry, Write};

const VALUE: &[u8] = &[b'v'; 100];

fn key(i: u64) -> Bytes {
    Bytes::from(format!("table0001/row{i:012}"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn memtable(c: &mut Criterion) {
    let mut g = c.benchmark_group("memtable");
    let batch: Vec<CommittedTxn> = (0..1000)
        .map(|i| CommittedTxn {
            lsn: i + 1,
            writes: vec![Write::put(
                key(i * 7919 % 100_000),
                Bytes::from_static(VALUE),
            )],
        })
        .collect();
    g.throughput(Throughput::Elements(batch.len() as u64));
    g.bench_function("insert_1000_rows", |b| {
        b.iter_batched(
            Memtable::new,
            |m| m.insert_batch(black_box(&batch)),
            BatchSize::SmallInput,
        )
    });

    let m = Memtable::new();
    for chunk in (0..100_000u64).collect::<Vec<_>>().chunks(1000) {
        let txns: Vec<CommittedTxn> = chunk
            .iter()
            .map(|&i| CommittedTxn {
                lsn: i + 1,
                writes: vec![Write::put(key(i), Bytes::from_static(VALUE))],
            })
            .collect();
        m.insert_batch(&txns);
    }
    let mut rng = StdRng::seed_from_u64(1);
    let keys: Vec<Bytes> = (0..4096)
        .map(|_| key(rng.random_range(0..100_000)))
        .collect();
    let mut i = 0;
    g.throughput(Throughput::Elements(1));
    g.bench_function("get_100k_rows", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(m.get(&keys[i], u64::MAX))
        })
    });
    g.finish();
}

fn entries(n: u64) -> Vec<Entry> {
    (0..n)
        .map(|i| Entry {
            key: key(i),
            lsn: i + 1,
            value: Some(Bytes::from_static(VALUE)),
        })
        .collect()
}

fn sst(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("sst");
    let rows = entries(100_000);
    g.throughput(Throughput::Elements(rows.len() as u64));
    g.sample_size(10);
    g.bench_function("build_100k_rows", |b| {
        b.iter(|| {
            let mut w = SstWriter::new(SstOptions::default());
            for e in &rows {
                w.add(e).expect("add");
            }
            black_box(w.finish(1).expect("finish"))
        })
    });

    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let mut w = SstWriter::new(SstOptions::default());
    for e in &rows {
        w.add(e).expect("add");
    }
    let layout = Layout::new(Path::from("bench"));
    let writer_store = SstStore::new(objects.clone(), layout.clone(), PageCache::new(0));
    let info = rt.block_on(writer_store.write(w, 1)).expect("write");

    g.throughput(Throughput::Elements(1));
    g.sample_size(50);
    for (name, cache_bytes) in [("point_get_cached", 64u64 << 20), ("point_get_uncached", 0)] {
        let ssts = SstStore::new(objects.clone(), layout.clone(), PageCache::new(cache_bytes));
        let reader = rt.block_on(ssts.open(&info)).expect("open");
        let mut rng = StdRng::seed_from_u64(2);
        let keys: Vec<Bytes> = (0..4096)
            .map(|_| key(rng.random_range(0..100_000)))
            .collect();
        // Warm the cache with every page once.
        for i in (0..100_000).step_by(50) {
            rt.block_on(reader.get(&key(i), u64::MAX)).expect("get");
        }
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % keys.len();
                black_box(rt.block_on(reader.get(&keys[i], u64::MAX)).expect("get"))
            })
        });
    }
    g.finish();
}

/// 250,000 keys with 4 versions each, in three L0 SSTs and the memtable.
fn merge_scan(c: &mut Criterion) {
    let rt = runtime();
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let store = rt
        .block_on(Store::open(
            objects,
            Path::from("scan"),
            StoreOptions::default(),
        ))
        .expect("open");
    const KEYS: u64 = 250_000;
    let mut lsn = 0;
    for version in 0..4 {
        for chunk in (0..KEYS).collect::<Vec<_>>().chunks(10_000) {
            lsn += 1;
            let writes = chunk
                .iter()
                .map(|&i| Write::put(key(i), Bytes::from(format!("value-{version}"))))
                .collect();
            rt.block_on(store.append(vec![CommittedTxn { lsn, writes }], vec![]))
                .expect("append");
        }
        if version < 3 {
            rt.block_on(store.flush()).expect("flush");
        }
    }
    let mut g = c.benchmark_group("merge_scan");
    g.sample_size(10);
    g.throughput(Throughput::Elements(KEYS * 4));
    g.bench_function("1m_versions_latest", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut it = store
                    .scan(
                        (Bound::Unbounded, Bound::Unbounded),
                        u64::MAX,
                        Direction::Forward,
                    )
                    .await
                    .expect("scan");
                let mut n = 0u64;
                while it.next().await.expect("next").is_some() {
                    n += 1;
                }
                assert_eq!(n, KEYS);
            })
        })
    });
    g.finish();
}

criterion_group!(benches, memtable, sst, merge_scan);
criterion_main!(benches);
