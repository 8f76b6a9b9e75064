//! The page cache: verified SST data pages in memory, weighted by their byte
//! length, so hot pages cost no object-store request; optionally backed by
//! a second tier of files on local disk ([`disk`]), so a restarted process
//! starts warm.
//!
//! Lookups go memory, then disk, then the loader (the object store). A
//! page the loader returns is written to disk (a failed write is logged,
//! never an error), and a page found on disk is put in memory.
//!
//! Keys are `(sst id, page number)`. SST ids are never reused within a store
//! (every SST is a create-if-absent of a fresh number), so a cached page can
//! never be stale; one cache must therefore serve one store only, since two
//! stores may both have an SST 7 (the disk tier checks this with the
//! store's id). Pages of deleted SSTs are dropped by
//! [`PageCache::invalidate_sst`] or simply age out.

pub mod disk;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use moka::future::Cache;

use crate::error::{Error, Result};
pub use disk::{DiskCache, DiskCacheOptions, DiskStats};

/// Where one page lives: the SST's id and the page's number within it.
pub type PageKey = (u64, u32);

/// A byte-weighted cache of SST pages, shared by every reader of a store.
/// Cheap to clone: clones share the same pages and counters.
#[derive(Clone)]
pub struct PageCache {
    pages: Cache<PageKey, Bytes>,
    /// Counted here rather than by moka, whose own counters would count a
    /// coalesced waiter as a miss although it issued no request.
    counters: Arc<Counters>,
    /// The disk tier, if there is one.
    disk: Option<DiskCache>,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    warmed: AtomicU64,
}

/// A snapshot of the cache's metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered without loading: cached pages, and lookups that
    /// waited for a concurrent load of the same page.
    pub hits: u64,
    /// Lookups that missed memory: each was answered by the disk tier
    /// (`disk.hits`) or ran its loader (one object-store request).
    pub misses: u64,
    /// Pages held. Approximate: moka applies inserts and evictions in
    /// batches (see [`PageCache::run_pending_tasks`]).
    pub entries: u64,
    /// Bytes held, as approximate as `entries`.
    pub weighted_bytes: u64,
    /// Pages put in ahead of any lookup by [`PageCache::warm`].
    pub warmed: u64,
    /// The disk tier's counters (all zero without one).
    pub disk: DiskStats,
}

impl PageCache {
    /// A cache holding at most `capacity_bytes` bytes of pages (0 caches
    /// nothing, but concurrent loads of one page are still coalesced).
    pub fn new(capacity_bytes: u64) -> Self {
        let pages = Cache::builder()
            .max_capacity(capacity_bytes)
            // A page over 4 GiB cannot exist (page lengths are u32), but
            // saturate rather than wrap in case one ever does.
            .weigher(|_key: &PageKey, page: &Bytes| u32::try_from(page.len()).unwrap_or(u32::MAX))
            .support_invalidation_closures()
            .build();
        PageCache {
            pages,
            counters: Arc::default(),
            disk: None,
        }
    }

    /// This cache with `disk` as its second tier.
    pub fn with_disk(self, disk: DiskCache) -> Self {
        PageCache {
            disk: Some(disk),
            ..self
        }
    }

    /// The disk tier, if there is one.
    pub fn disk(&self) -> Option<&DiskCache> {
        self.disk.as_ref()
    }

    /// The page at `key`, from memory, from disk or from `load`. Concurrent misses of
    /// one page run a single `load`; the others wait for it and share its
    /// result or its error. Errors are not cached: the next lookup retries.
    ///
    /// `load` must return exactly what belongs at `key`, already verified:
    /// whatever it returns is served to every later reader.
    pub async fn get_or_load<F, Fut>(&self, key: PageKey, load: F) -> Result<Bytes>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes>>,
    {
        let mut loaded = false;
        let result = self
            .pages
            .try_get_with(key, async {
                loaded = true;
                let Some(disk) = &self.disk else {
                    return load().await;
                };
                if let Some(page) = disk.get(key).await {
                    return Ok(page);
                }
                let page = load().await?;
                disk.put(key, page.clone()).await;
                Ok(page)
            })
            .await;
        let counter = if loaded {
            &self.counters.misses
        } else {
            &self.counters.hits
        };
        counter.fetch_add(1, Ordering::Relaxed);
        result.map_err(unshare_error)
    }

    /// Puts `page`, which must be exactly what belongs at `key` and already
    /// verified, in memory unless a page is there: a warm-up ahead of the
    /// lookups. Returns whether it was put in.
    pub async fn warm(&self, key: PageKey, page: Bytes) -> bool {
        let fresh = self.pages.entry(key).or_insert(page).await.is_fresh();
        if fresh {
            self.counters.warmed.fetch_add(1, Ordering::Relaxed);
        }
        fresh
    }

    /// Whether the page at `key` is held in memory.
    pub fn contains(&self, key: PageKey) -> bool {
        self.pages.contains_key(&key)
    }

    /// At most how many bytes of pages this cache holds in memory.
    pub fn capacity(&self) -> u64 {
        self.pages.policy().max_capacity().unwrap_or(0)
    }

    /// Drops every cached page of SST `id`, in memory and on disk (after it
    /// was deleted, so its pages stop taking room from live ones). Takes
    /// effect lazily, as moka runs its pending tasks; lookups stop seeing
    /// the pages at once.
    pub fn invalidate_sst(&self, id: u64) {
        self.pages
            .invalidate_entries_if(move |key, _| key.0 == id)
            .expect("the cache is built with support_invalidation_closures");
        if let Some(disk) = &self.disk {
            disk.invalidate_sst(id);
        }
    }

    /// Drops every page held in memory (the disk tier keeps its files).
    pub fn clear(&self) {
        self.pages.invalidate_all();
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.counters.hits.load(Ordering::Relaxed),
            misses: self.counters.misses.load(Ordering::Relaxed),
            entries: self.pages.entry_count(),
            weighted_bytes: self.pages.weighted_size(),
            warmed: self.counters.warmed.load(Ordering::Relaxed),
            disk: self.disk.as_ref().map(DiskCache::stats).unwrap_or_default(),
        }
    }

    /// Applies moka's pending inserts, evictions and invalidations now, so
    /// that [`PageCache::stats`] is exact (for tests and metrics scrapes).
    pub async fn run_pending_tasks(&self) {
        self.pages.run_pending_tasks().await;
        if let Some(disk) = &self.disk {
            disk.run_pending_tasks();
        }
    }
}

impl std::fmt::Debug for PageCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageCache")
            .field("stats", &self.stats())
            .finish()
    }
}

/// Turns an error that moka shared between coalesced waiters back into an
/// owned [`Error`] of the same kind. Every variant but `ObjectStore` is plain
/// data and is copied; an object-store error (not `Clone`) is carried as the
/// source of a generic one, which keeps its message and its kind (retry).
pub(crate) fn unshare_error(shared: Arc<Error>) -> Error {
    let shared = match Arc::try_unwrap(shared) {
        Ok(owned) => return owned,
        Err(shared) => shared,
    };
    match &*shared {
        Error::Fenced { object } => Error::Fenced {
            object: object.clone(),
        },
        Error::Corrupt { object, reason } => Error::Corrupt {
            object: object.clone(),
            reason: reason.clone(),
        },
        Error::Missing { object } => Error::Missing {
            object: object.clone(),
        },
        Error::InvalidInput(reason) => Error::InvalidInput(reason.clone()),
        Error::LocalIo { op, path, source } => Error::LocalIo {
            op,
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        Error::ObjectStore { op, object, .. } => Error::ObjectStore {
            op,
            object: object.clone(),
            source: object_store::Error::Generic {
                store: "shared load",
                source: Box::new(SharedStoreError(shared.clone())),
            },
        },
    }
}

/// An object-store error that several waiters share: displays as, and has
/// as its source, the original error.
#[derive(Debug)]
struct SharedStoreError(Arc<Error>);

impl SharedStoreError {
    fn inner(&self) -> Option<&object_store::Error> {
        match &*self.0 {
            Error::ObjectStore { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl std::fmt::Display for SharedStoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.inner() {
            Some(source) => source.fmt(f),
            None => self.0.fmt(f),
        }
    }
}

impl std::error::Error for SharedStoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner().map(|e| e as _)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[tokio::test]
    async fn hit_after_miss_and_byte_weighting() {
        let cache = PageCache::new(1 << 20);
        let loads = AtomicUsize::new(0);
        let load = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok(Bytes::from(vec![7u8; 1000]))
        };
        let a = cache.get_or_load((1, 0), load).await.unwrap();
        let b = cache.get_or_load((1, 0), load).await.unwrap();
        assert_eq!(a, b);
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        cache.run_pending_tasks().await;
        assert_eq!(
            cache.stats(),
            CacheStats {
                hits: 1,
                misses: 1,
                entries: 1,
                weighted_bytes: 1000,
                warmed: 0,
                disk: DiskStats::default(),
            }
        );
    }

    #[tokio::test]
    async fn capacity_bounds_the_bytes_held() {
        let cache = PageCache::new(10_000);
        for page in 0..100u32 {
            cache
                .get_or_load((1, page), || async { Ok(Bytes::from(vec![0u8; 1000])) })
                .await
                .unwrap();
        }
        cache.run_pending_tasks().await;
        let stats = cache.stats();
        assert_eq!(stats.misses, 100);
        assert!(stats.weighted_bytes <= 10_000, "{stats:?}");
        assert!(stats.entries <= 10, "{stats:?}");
    }

    #[tokio::test]
    async fn concurrent_misses_load_once() {
        let cache = PageCache::new(1 << 20);
        let loads = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (cache, loads) = (cache.clone(), loads.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_load((3, 9), || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(Bytes::from_static(b"page"))
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(&t.await.unwrap().unwrap()[..], b"page");
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (15, 1));
    }

    #[tokio::test]
    async fn errors_keep_their_kind_and_are_not_cached() {
        let cache = PageCache::new(1 << 20);
        let err = cache
            .get_or_load((1, 1), || async {
                Err(Error::corrupt("sst/x", "bad page"))
            })
            .await
            .unwrap_err();
        assert!(matches!(&err, Error::Corrupt { object, .. } if object == "sst/x"));

        let err = cache
            .get_or_load((1, 1), || async {
                Err(Error::store(
                    "get",
                    "sst/x",
                    object_store::Error::Generic {
                        store: "test",
                        source: "connection reset".into(),
                    },
                ))
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Retry);
        assert!(err.to_string().contains("sst/x"), "{err}");

        let page = cache
            .get_or_load((1, 1), || async { Ok(Bytes::from_static(b"ok")) })
            .await
            .unwrap();
        assert_eq!(&page[..], b"ok");
    }

    #[test]
    fn shared_errors_are_rebuilt_with_their_kind_and_message() {
        let original = Arc::new(Error::store(
            "get",
            "sst/y",
            object_store::Error::Generic {
                store: "test",
                source: "timed out".into(),
            },
        ));
        let _other_waiter = original.clone();
        let err = unshare_error(original);
        assert_eq!(err.kind(), ErrorKind::Retry);
        let source = std::error::Error::source(&err).expect("has a source");
        assert!(source.to_string().contains("timed out"), "{source}");

        let shared = Arc::new(Error::Missing {
            object: "sst/z".into(),
        });
        let _other_waiter = shared.clone();
        assert!(matches!(unshare_error(shared), Error::Missing { object } if object == "sst/z"));
    }

    #[tokio::test]
    async fn invalidate_sst_drops_only_that_sst() {
        let cache = PageCache::new(1 << 20);
        for id in [1u64, 2] {
            for page in 0..3u32 {
                cache
                    .get_or_load((id, page), || async { Ok(Bytes::from_static(b"p")) })
                    .await
                    .unwrap();
            }
        }
        cache.invalidate_sst(1);
        cache.run_pending_tasks().await;
        assert_eq!(cache.stats().entries, 3);
        let misses = cache.stats().misses;
        cache
            .get_or_load((2, 0), || async { Ok(Bytes::from_static(b"p")) })
            .await
            .unwrap();
        assert_eq!(cache.stats().misses, misses);
        cache
            .get_or_load((1, 0), || async { Ok(Bytes::from_static(b"p")) })
            .await
            .unwrap();
        assert_eq!(cache.stats().misses, misses + 1);
    }

    fn disk_cache(dir: &std::path::Path) -> DiskCache {
        let opts = DiskCacheOptions {
            dir: dir.to_path_buf(),
            capacity_bytes: 1 << 20,
        };
        DiskCache::open(&opts, "store-id test\n").unwrap()
    }

    #[tokio::test]
    async fn lookups_go_memory_then_disk_then_the_loader() {
        let dir = tempfile::tempdir().unwrap();
        let loads = AtomicUsize::new(0);
        let load = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok(Bytes::from(vec![5u8; 100]))
        };
        let cache = PageCache::new(1 << 20).with_disk(disk_cache(dir.path()));
        cache.get_or_load((1, 0), load).await.unwrap();
        cache.get_or_load((1, 0), load).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (1, 1));
        assert_eq!((stats.disk.hits, stats.disk.misses), (0, 1));
        drop(cache);

        // A new process: memory is cold, the disk answers, no load runs.
        let cache = PageCache::new(1 << 20).with_disk(disk_cache(dir.path()));
        let page = cache
            .get_or_load((1, 0), || async {
                Err(Error::corrupt("sst/1", "must not load"))
            })
            .await
            .unwrap();
        assert_eq!(page, Bytes::from(vec![5u8; 100]));
        // ...and the page is in memory now: a second lookup is a memory hit.
        cache
            .get_or_load((1, 0), || async {
                Err(Error::corrupt("sst/1", "must not load"))
            })
            .await
            .unwrap();
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (1, 1));
        assert_eq!((stats.disk.hits, stats.disk.misses), (1, 0));

        // Invalidating the SST drops it from both tiers.
        cache.invalidate_sst(1);
        cache.run_pending_tasks().await;
        assert_eq!(cache.stats().disk.entries, 0);
        cache.get_or_load((1, 0), load).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failing_disk_never_fails_a_read() {
        let dir = tempfile::tempdir().unwrap();
        let cache = PageCache::new(1 << 20).with_disk(disk_cache(dir.path()));
        // Writes fail from now on: the temp directory is gone.
        std::fs::remove_dir_all(dir.path().join("tmp")).unwrap();
        let page = cache
            .get_or_load((2, 0), || async { Ok(Bytes::from_static(b"page")) })
            .await
            .unwrap();
        assert_eq!(&page[..], b"page");
        assert_eq!(cache.stats().disk.errors, 1);
        // Errors of the loader are still returned, and not cached.
        cache.clear();
        cache.run_pending_tasks().await;
        let err = cache
            .get_or_load((3, 0), || async { Err(Error::corrupt("sst/3", "bad")) })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corrupt);
    }
}
