//! A follower that keeps its page cache warm (`StoreOptions::warm_cache`,
//! what frontends do) reads the pages of every SST that joins its manifest,
//! at open, after a flush and after a compaction, ahead of any lookup: its
//! reads then need no GET at all (proved by a store whose every GET fails),
//! and the pages of SSTs compacted away make room. When the SSTs do not fit
//! in the cache, nothing is read ahead.

mod common;

use std::sync::Arc;
use std::time::Duration;

use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::ObjectStore;
use shoal_storage::db::{Store, StoreOptions};
use shoal_storage::object::{FailFilter, FaultConfig, FaultyStore};
use shoal_storage::sst::SstOptions;
use shoal_storage::Lsn;

fn options(warm_cache: bool, cache_bytes: u64) -> StoreOptions {
    StoreOptions {
        sst: SstOptions {
            page_size: 512,
            ..SstOptions::default()
        },
        cache_bytes,
        warm_cache,
        replay_wal: !warm_cache,
        gc_grace: Duration::ZERO,
        ..StoreOptions::default()
    }
}

/// Appends one transaction writing 200 keys tagged `lsn` and flushes it.
async fn write_and_flush(writer: &Store, lsn: Lsn) {
    common::append_and_flush(writer, lsn, &lsn.to_string()).await;
}

/// A store whose GETs can be made to fail, its faults, and a writer on it
/// that has flushed one SST (LSN 1).
async fn written_once() -> (Arc<dyn ObjectStore>, Arc<FaultConfig>, Store) {
    let faulty = FaultyStore::new(Arc::new(InMemory::new()));
    let faults = faulty.faults();
    let objects: Arc<dyn ObjectStore> = Arc::new(faulty);
    let writer = Store::open(objects.clone(), Path::from("db"), options(false, 0))
        .await
        .expect("open the writer");
    write_and_flush(&writer, 1).await;
    (objects, faults, writer)
}

/// The bytes of the SSTs in `store`'s manifest.
fn live_bytes(store: &Store) -> u64 {
    store.manifest().ssts().map(|s| s.size).sum()
}

/// Waits until `store`'s cache has warmed at least `pages` pages in all.
async fn warmed(store: &Store, pages: u64) -> u64 {
    for _ in 0..500 {
        let warmed = store.cache().stats().warmed;
        if warmed >= pages {
            return warmed;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the cache warmed {} pages, not {pages}",
        store.cache().stats().warmed
    );
}

/// Reads every row at `lsn` with every GET failing; the faults heal after.
async fn read_without_gets(
    store: &Store,
    faults: &FaultConfig,
    lsn: Lsn,
) -> shoal_storage::Result<usize> {
    faults.fail_all(FailFilter::Get);
    let rows = common::read_all(store, lsn, 7).await;
    faults.heal();
    let rows = rows?;
    assert!(rows
        .iter()
        .all(|(_, v)| v.starts_with(format!("{lsn}-").as_bytes())));
    Ok(rows.len())
}

#[tokio::test]
async fn a_follower_warms_what_open_flush_and_compaction_publish() {
    let (objects, faults, writer) = written_once().await;

    // At open: the SST already published.
    let follower = Store::open(objects.clone(), Path::from("db"), options(true, 1 << 20))
        .await
        .expect("open the follower");
    let at_open = warmed(&follower, 1).await;
    assert_eq!(read_without_gets(&follower, &faults, 1).await.unwrap(), 200);

    // After flushes: each new SST, and only those.
    for lsn in 2..=3 {
        write_and_flush(&writer, lsn).await;
        assert!(follower
            .follow_manifest(writer.manifest().version)
            .await
            .expect("follow"));
    }
    let after_flushes = warmed(&follower, at_open * 3).await;
    assert_eq!(after_flushes, at_open * 3, "every page was read ahead once");
    assert_eq!(read_without_gets(&follower, &faults, 3).await.unwrap(), 200);
    // A GET-less read is no proof without misses that would have needed one.
    let stats = follower.cache().stats();
    assert_eq!(stats.misses, 0, "{stats:?}");

    // After a compaction: its output is read ahead and the pages of the
    // SSTs it replaced are dropped, so the cache holds the live ones only.
    assert!(writer.compact(3, true).await.expect("compact"));
    assert!(follower
        .follow_manifest(writer.manifest().version)
        .await
        .expect("follow"));
    warmed(&follower, after_flushes + 1).await;
    assert_eq!(read_without_gets(&follower, &faults, 3).await.unwrap(), 200);
    follower.cache().run_pending_tasks().await;
    let stats = follower.cache().stats();
    assert_eq!(stats.misses, 0, "{stats:?}");
    assert!(
        stats.weighted_bytes <= live_bytes(&follower),
        "{stats:?} with {} live bytes",
        live_bytes(&follower)
    );
}

#[tokio::test]
async fn a_follower_whose_cache_is_too_small_reads_nothing_ahead() {
    let (objects, faults, writer) = written_once().await;
    let small = live_bytes(&writer) / 2;
    let follower = Store::open(objects.clone(), Path::from("db"), options(true, small))
        .await
        .expect("open the follower");
    write_and_flush(&writer, 2).await;
    assert!(follower
        .follow_manifest(writer.manifest().version)
        .await
        .expect("follow"));
    // Give a (wrongly started) warm-up time to show.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(follower.cache().stats().warmed, 0);
    // Its reads load pages on demand, as without warming.
    assert!(read_without_gets(&follower, &faults, 2).await.is_err());
    assert_eq!(common::read_all(&follower, 2, 7).await.unwrap().len(), 200);
    assert!(follower.cache().stats().misses > 0);
}
