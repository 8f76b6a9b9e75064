//! The page cache's disk tier at the level of the whole store: a store
//! reopened on the same cache directory reads its SSTs with no object-store
//! GET (proved by a store whose every GET fails), a damaged file is refetched
//! and never served, a directory warmed by another store (even one at the
//! same root, created again) is not trusted, capacity holds, and deleted
//! SSTs lose their files.

mod common;

use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::ObjectStore;
use shoal_storage::cache::DiskCacheOptions;
use shoal_storage::db::{Store, StoreOptions};
use shoal_storage::object::{FailFilter, FaultConfig, FaultyStore, MetricsStore, Op};
use shoal_storage::sst::SstOptions;
use shoal_storage::{ErrorKind, Lsn};

/// An in-memory store whose GETs can be made to fail, with its requests
/// counted on top.
struct Objects {
    store: Arc<dyn ObjectStore>,
    metrics: Arc<MetricsStore>,
    faults: Arc<FaultConfig>,
}

impl Objects {
    fn new() -> Self {
        let faulty = FaultyStore::new(Arc::new(InMemory::new()));
        let faults = faulty.faults();
        let metrics = MetricsStore::new(Arc::new(faulty));
        Objects {
            store: metrics.clone(),
            metrics,
            faults,
        }
    }

    fn gets(&self) -> u64 {
        self.metrics.snapshot().op(Op::Get).requests
    }
}

fn options(disk: Option<&FsPath>, capacity_bytes: u64) -> StoreOptions {
    StoreOptions {
        sst: SstOptions {
            page_size: 512,
            ..SstOptions::default()
        },
        disk_cache: disk.map(|dir| DiskCacheOptions {
            dir: dir.to_path_buf(),
            capacity_bytes,
        }),
        gc_grace: Duration::ZERO,
        ..StoreOptions::default()
    }
}

/// Writes 3 SSTs of 200 keys, every value tagged with `tag`; returns the
/// last LSN.
async fn fill(objects: &Objects, tag: &str) -> Lsn {
    let writer = Store::open(objects.store.clone(), Path::from("db"), options(None, 0))
        .await
        .expect("open the writer");
    for lsn in 1..=3u64 {
        common::append_and_flush(&writer, lsn, &format!("{tag}-{lsn}")).await;
    }
    assert_eq!(writer.manifest().level(0).len(), 3);
    3
}

async fn read_all(store: &Store, lsn: Lsn) -> shoal_storage::Result<Vec<(Bytes, Bytes)>> {
    common::read_all(store, lsn, 17).await
}

/// The store of `objects` under `db`, with its disk cache in `dir`.
async fn open(objects: &Objects, dir: &FsPath, disk_bytes: u64) -> Store {
    Store::open(
        objects.store.clone(),
        Path::from("db"),
        options(Some(dir), disk_bytes),
    )
    .await
    .unwrap()
}

fn page_files(dir: &FsPath) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("pages"))
        .expect("list pages/")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn a_restart_on_the_same_directory_reads_no_sst_object() {
    let objects = Objects::new();
    let lsn = fill(&objects, "a").await;
    let dir = tempfile::tempdir().unwrap();

    // Cold: every page and SST tail comes from the object store.
    let store = open(&objects, dir.path(), 1 << 30).await;
    let before = objects.gets();
    let rows = read_all(&store, lsn).await.unwrap();
    let cold_gets = objects.gets() - before;
    assert_eq!(rows.len(), 200);
    assert!(rows.iter().all(|(_, v)| v.starts_with(b"a-3-")));
    store.cache().run_pending_tasks().await;
    let stats = store.cache().stats();
    assert_eq!(stats.disk.hits, 0);
    assert!(stats.disk.entries > 30, "{stats:?}");
    assert_eq!(stats.disk.entries, page_files(dir.path()).len() as u64);
    // One tail GET per SST, then one GET per page.
    assert_eq!(cold_gets, stats.disk.misses, "{stats:?}");
    drop(store);

    // Warm: with every GET failing from here on, the SSTs read from disk.
    let store = open(&objects, dir.path(), 1 << 30).await;
    objects.faults.fail_all(FailFilter::Get);
    let before = objects.gets();
    assert_eq!(read_all(&store, lsn).await.unwrap(), rows);
    assert_eq!(objects.gets(), before, "no GET after the restart");
    let stats = store.cache().stats();
    assert_eq!(stats.disk.misses, 0, "{stats:?}");
    assert_eq!(stats.disk.hits, cold_gets, "{stats:?}");
    drop(store);

    // Without the directory the same reads need the object store: they fail.
    let store = Store::open(objects.store.clone(), Path::from("db"), options(None, 0));
    objects.faults.heal();
    let store = store.await.unwrap();
    objects.faults.fail_all(FailFilter::Get);
    let err = read_all(&store, lsn).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retry, "{err}");
}

#[tokio::test]
async fn damaged_files_are_refetched_never_served() {
    let objects = Objects::new();
    let lsn = fill(&objects, "a").await;
    let dir = tempfile::tempdir().unwrap();
    let rows = read_all(&open(&objects, dir.path(), 1 << 30).await, lsn)
        .await
        .unwrap();

    // Flip one byte in the middle of every file, truncate one of them.
    let files = page_files(dir.path());
    for file in &files {
        let mut bytes = std::fs::read(file).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x01;
        std::fs::write(file, bytes).unwrap();
    }
    let bytes = std::fs::read(&files[0]).unwrap();
    std::fs::write(&files[0], &bytes[..bytes.len() - 9]).unwrap();

    let store = open(&objects, dir.path(), 1 << 30).await;
    let before = objects.gets();
    assert_eq!(read_all(&store, lsn).await.unwrap(), rows);
    let stats = store.cache().stats();
    assert_eq!(stats.disk.errors, files.len() as u64, "{stats:?}");
    assert_eq!(stats.disk.hits, 0, "{stats:?}");
    assert_eq!(objects.gets() - before, files.len() as u64);
    drop(store);

    // Refetched pages were written again: the next restart is warm.
    let store = open(&objects, dir.path(), 1 << 30).await;
    objects.faults.fail_all(FailFilter::Get);
    assert_eq!(read_all(&store, lsn).await.unwrap(), rows);
    assert_eq!(store.cache().stats().disk.errors, 0);
}

#[tokio::test]
async fn a_directory_of_another_store_is_wiped_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let first = Objects::new();
    let lsn = fill(&first, "first").await;
    let store = open(&first, dir.path(), 1 << 30).await;
    read_all(&store, lsn).await.unwrap();
    drop(store);
    let warmed = page_files(dir.path()).len();
    assert!(warmed > 0);

    // Another store at the same root with the same SST ids (as if the
    // first one had been deleted and created again at the same URL).
    let second = Objects::new();
    let lsn = fill(&second, "second").await;
    let store = open(&second, dir.path(), 1 << 30).await;
    assert_eq!(store.cache().stats().disk.entries, 0, "wiped on open");
    let rows = read_all(&store, lsn).await.unwrap();
    assert!(rows.iter().all(|(_, v)| v.starts_with(b"second-3-")));
    assert_eq!(store.cache().stats().disk.hits, 0);

    // One directory serves one store at a time.
    let err = Store::open(
        first.store.clone(),
        Path::from("db"),
        options(Some(dir.path()), 1 << 30),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("in use by another process"),
        "{err}"
    );
}

#[tokio::test]
async fn capacity_holds_and_deleted_ssts_lose_their_files() {
    let objects = Objects::new();
    let lsn = fill(&objects, "a").await;
    let dir = tempfile::tempdir().unwrap();
    let capacity = 8 * 1024;
    let store = open(&objects, dir.path(), capacity).await;
    read_all(&store, lsn).await.unwrap();
    store.cache().run_pending_tasks().await;
    let on_disk: u64 = page_files(dir.path())
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert!(on_disk <= capacity, "{on_disk} bytes on disk");
    assert!(on_disk > capacity / 2, "{on_disk} bytes on disk");
    assert_eq!(store.cache().stats().disk.bytes, on_disk);
    drop(store);

    // The store's own compaction and garbage collection drop the files of
    // the SSTs they delete.
    let store = open(&objects, dir.path(), 1 << 30).await;
    let rows = read_all(&store, lsn).await.unwrap();
    let old: Vec<u64> = store.manifest().ssts().map(|s| s.id).collect();
    assert!(store.compact(lsn, true).await.unwrap());
    tokio::time::sleep(Duration::from_millis(20)).await;
    let gc = store.collect_garbage().await.unwrap();
    assert_eq!(gc.ssts_deleted, old.len(), "{gc:?}");
    store.cache().run_pending_tasks().await;
    let names: Vec<String> = page_files(dir.path())
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for id in &old {
        let prefix = format!("{id:020}-");
        assert!(
            !names.iter().any(|n| n.starts_with(&prefix)),
            "SST {id}: {names:?}"
        );
    }
    assert_eq!(read_all(&store, lsn).await.unwrap(), rows);
}
