//! The page cache's disk tier: verified SST pages kept as files in a local
//! directory, so that a process restarted on the same host starts warm.
//!
//! The directory should be dedicated to the cache; only these names in it
//! are ever written or deleted:
//!
//! ```text
//! <dir>/lock       locked (flock) while a process uses the cache: one user at a time
//! <dir>/identity   which store the pages belong to (see below)
//! <dir>/pages/<sst id:020>-<page:010>.page
//! <dir>/tmp/       files being written, renamed into pages/ once complete
//! ```
//!
//! A page file is `magic u32 | format u32 | sst id u64 | page u32 | page
//! bytes (u32 length, then the bytes) | crc32c u32` (little endian, the CRC
//! over everything before it, as in [`crate::codec`]). A file is written
//! whole under `tmp/` and renamed into place, so a reader never sees a half
//! written one; it is not fsynced, because a file torn by a power cut fails
//! its CRC, which makes it a miss: it is deleted and the page is fetched
//! from the object store again. A file naming another key than its name
//! says is treated the same way, so a damaged file is never served.
//!
//! Keys are SST ids, unique within one store only, so the directory holds
//! one store's pages. `identity` records that store (its random id from
//! `<root>/store-id`, and its root prefix); a directory holding another
//! identity, or none, has its pages wiped when it is opened.
//!
//! Capacity: an LRU index (moka, weighted by file size) holds every file's
//! key; a file evicted from the index is deleted. Opening the cache scans
//! `pages/` and indexes what it finds, newest first up to the capacity,
//! deleting the rest and everything under `tmp/`.

use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use moka::notification::RemovalCause;
use moka::policy::EvictionPolicy;

use super::PageKey;
use crate::codec::{Decoder, Encoder};
use crate::error::{Error, Result};

const MAGIC: u32 = 0x5348_5043; // "SHPC"
const FORMAT_VERSION: u32 = 1;
/// Bytes a page file holds besides the page: the header fields, the page's
/// length and the CRC.
const FILE_OVERHEAD: u64 = 4 + 4 + 8 + 4 + 4 + 4;
/// The first line of the identity file, so a future format change wipes
/// the old files instead of misreading them.
const IDENTITY_HEADER: &str = "shoal page cache, format 1\n";

/// Where the disk tier lives and how big it may grow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskCacheOptions {
    /// The directory, dedicated to this cache (created if missing).
    pub dir: PathBuf,
    /// The most bytes of page files kept (headers included).
    pub capacity_bytes: u64,
}

/// A snapshot of the disk tier's metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskStats {
    /// Lookups answered from a file: memory misses of data pages, and SST
    /// tails (index, filter, footer) when an SST is opened.
    pub hits: u64,
    /// Lookups the disk could not answer either (each one went on to the
    /// object store).
    pub misses: u64,
    /// Files that failed to read or verify (deleted, then treated as
    /// misses) and pages that could not be written.
    pub errors: u64,
    /// Files held. Approximate until [`DiskCache::run_pending_tasks`].
    pub entries: u64,
    /// Bytes of files held, as approximate as `entries`.
    pub bytes: u64,
}

/// The disk tier of one store's page cache. Cheap to clone.
#[derive(Clone)]
pub struct DiskCache {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    pages: PathBuf,
    tmp: PathBuf,
    /// Every file in `pages/`, weighed by its size; evicting an entry
    /// deletes its file.
    index: moka::sync::Cache<PageKey, u32>,
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
    /// Names temp files; the lock makes this process their only writer.
    next_tmp: AtomicU64,
    /// Holds the directory's lock for as long as the cache lives.
    _lock: DirLock,
}

/// What reading a file found.
enum Read {
    Page(Bytes),
    /// No file (evicted or deleted meanwhile): a plain miss.
    Absent,
}

impl DiskCache {
    /// Opens (creating it if need be) the cache directory for the store
    /// that `identity` names, indexing the pages already there. Blocking:
    /// call it from a blocking thread. Fails, naming the directory, when it
    /// cannot be created, locked or written, or another process uses it.
    pub fn open(opts: &DiskCacheOptions, identity: &str) -> Result<DiskCache> {
        let dir = opts.dir.clone();
        let pages = dir.join("pages");
        let tmp = dir.join("tmp");
        for d in [&dir, &pages, &tmp] {
            std::fs::create_dir_all(d).map_err(|e| Error::local("create cache directory", d, e))?;
        }
        let lock = lock_dir(&dir)?;

        // Leftovers of writes that never finished.
        remove_files_in(&tmp)?;
        let identity = format!("{IDENTITY_HEADER}{identity}");
        let identity_path = dir.join("identity");
        let found = match std::fs::read_to_string(&identity_path) {
            Ok(found) => Some(found),
            Err(e) if e.kind() == IoKind::NotFound => None,
            // Unreadable, or not UTF-8: not ours to trust.
            Err(_) => Some(String::new()),
        };
        if found.as_deref() != Some(identity.as_str()) {
            let wiped = remove_files_in(&pages)?;
            if found.is_some() || wiped > 0 {
                tracing::warn!(
                    dir = %dir.display(),
                    wiped,
                    "page cache directory held another store's pages (or an unknown format): wiped them"
                );
            }
        }
        // Written every time: this also proves the directory is writable.
        write_atomically(
            &tmp.join("identity.tmp"),
            &identity_path,
            identity.as_bytes(),
        )
        .map_err(|e| Error::local("write cache identity", &identity_path, e))?;

        let kept = scan(&pages, opts.capacity_bytes)?;
        let evicted_dir = pages.clone();
        let index = moka::sync::Cache::builder()
            .max_capacity(opts.capacity_bytes)
            .eviction_policy(EvictionPolicy::lru())
            .weigher(|_key: &PageKey, size: &u32| *size)
            .support_invalidation_closures()
            .eviction_listener(move |key: Arc<PageKey>, _size, cause| {
                // A replaced entry's file is the new one: keep it.
                if cause != RemovalCause::Replaced {
                    remove_quietly(&evicted_dir.join(file_name(*key)));
                }
            })
            .build();
        let bytes: u64 = kept
            .iter()
            .map(|(key, size)| {
                index.insert(*key, *size);
                u64::from(*size)
            })
            .sum();
        index.run_pending_tasks();
        tracing::info!(
            dir = %dir.display(),
            files = kept.len(),
            bytes,
            capacity = opts.capacity_bytes,
            "opened the page cache's disk tier"
        );
        Ok(DiskCache {
            inner: Arc::new(Inner {
                dir,
                pages,
                tmp,
                index,
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                next_tmp: AtomicU64::new(0),
                _lock: lock,
            }),
        })
    }

    /// The page at `key` if a verified file holds it. A file that fails to
    /// read or verify is deleted and logged, and counts as a miss.
    pub async fn get(&self, key: PageKey) -> Option<Bytes> {
        let inner = &self.inner;
        if !inner.index.contains_key(&key) {
            inner.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let reader = inner.clone();
        let read = tokio::task::spawn_blocking(move || reader.read(key))
            .await
            .unwrap_or_else(|e| Err(Error::InvalidInput(format!("disk cache read task: {e}"))));
        match read {
            Ok(Read::Page(page)) => {
                // Marks the entry recently used.
                inner.index.get(&key);
                inner.hits.fetch_add(1, Ordering::Relaxed);
                return Some(page);
            }
            Ok(Read::Absent) => {}
            Err(e) => {
                tracing::warn!(error = %e, "dropping a damaged page cache file");
                inner.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        // Deletes the file, if any, through the eviction listener.
        inner.index.invalidate(&key);
        inner.misses.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Keeps `page` (verified by the caller) as the file for `key`. A
    /// failure is logged and counted, never returned: the disk tier is an
    /// optimisation, and the page was served anyway.
    pub async fn put(&self, key: PageKey, page: Bytes) {
        let inner = &self.inner;
        let size = FILE_OVERHEAD + page.len() as u64;
        let Ok(size) = u32::try_from(size) else {
            return;
        };
        if u64::from(size) > inner.index.policy().max_capacity().unwrap_or(0) {
            return;
        }
        let writer = inner.clone();
        let written = tokio::task::spawn_blocking(move || writer.write(key, &page))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(format!("write task: {e}"))));
        match written {
            Ok(()) => inner.index.insert(key, size),
            Err(e) => {
                let errors = inner.errors.fetch_add(1, Ordering::Relaxed) + 1;
                // A full or broken disk fails every write: log the 1st,
                // 2nd, 4th, 8th... so the log is not flooded.
                if errors.is_power_of_two() {
                    tracing::warn!(
                        dir = %inner.dir.display(),
                        sst = key.0,
                        page = key.1,
                        errors,
                        error = %e,
                        "could not write a page to the disk cache; going on without it"
                    );
                }
            }
        }
    }

    /// Deletes the files of SST `id` (lazily, as the index runs its
    /// pending tasks; lookups stop finding them at once).
    pub fn invalidate_sst(&self, id: u64) {
        self.retain_ssts(move |sst| sst != id);
    }

    /// Deletes the files of every SST for which `live` says false.
    pub fn retain_ssts(&self, live: impl Fn(u64) -> bool + Send + Sync + 'static) {
        self.inner
            .index
            .invalidate_entries_if(move |key, _| !live(key.0))
            .expect("the index is built with support_invalidation_closures");
    }

    pub fn stats(&self) -> DiskStats {
        let inner = &self.inner;
        DiskStats {
            hits: inner.hits.load(Ordering::Relaxed),
            misses: inner.misses.load(Ordering::Relaxed),
            errors: inner.errors.load(Ordering::Relaxed),
            entries: inner.index.entry_count(),
            bytes: inner.index.weighted_size(),
        }
    }

    /// Applies pending evictions and invalidations now (deleting their
    /// files), so that [`DiskCache::stats`] is exact.
    pub fn run_pending_tasks(&self) {
        self.inner.index.run_pending_tasks();
    }

    /// The directory (for messages).
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }
}

impl Inner {
    fn read(&self, key: PageKey) -> Result<Read> {
        let path = self.pages.join(file_name(key));
        let buf = match std::fs::read(&path) {
            Ok(buf) => buf,
            Err(e) if e.kind() == IoKind::NotFound => return Ok(Read::Absent),
            Err(e) => return Err(Error::local("read page cache file", &path, e)),
        };
        decode(&path.display().to_string(), key, Bytes::from(buf)).map(Read::Page)
    }

    fn write(&self, key: PageKey, page: &[u8]) -> std::io::Result<()> {
        let n = self.next_tmp.fetch_add(1, Ordering::Relaxed);
        let tmp = self.tmp.join(format!("{n}.tmp"));
        write_atomically(&tmp, &self.pages.join(file_name(key)), &encode(key, page))
    }
}

impl std::fmt::Debug for DiskCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskCache")
            .field("dir", &self.inner.dir)
            .field("stats", &self.stats())
            .finish()
    }
}

/// The file name of `key`; zero-padded so a listing sorts by key.
fn file_name((sst, page): PageKey) -> String {
    format!("{sst:020}-{page:010}.page")
}

/// The key a file name stands for, if it is one of ours.
fn parse_file_name(name: &str) -> Option<PageKey> {
    let (sst, page) = name.strip_suffix(".page")?.split_once('-')?;
    let key = (sst.parse().ok()?, page.parse().ok()?);
    (file_name(key) == name).then_some(key)
}

fn encode((sst, page_no): PageKey, page: &[u8]) -> Vec<u8> {
    let mut e = Encoder::with_capacity(page.len() + FILE_OVERHEAD as usize);
    e.u32(MAGIC);
    e.u32(FORMAT_VERSION);
    e.u64(sst);
    e.u32(page_no);
    e.bytes(page);
    e.finish_with_crc()
}

/// The page in a file's bytes, which must be a complete, intact file for
/// `key`.
fn decode(object: &str, key: PageKey, buf: Bytes) -> Result<Bytes> {
    let mut d = Decoder::checked(object, "page cache file", buf)?;
    if d.u32()? != MAGIC {
        return Err(d.corrupt("not a page cache file (bad magic)"));
    }
    let format = d.u32()?;
    if format != FORMAT_VERSION {
        return Err(d.corrupt(format!("unsupported page cache format {format}")));
    }
    let found = (d.u64()?, d.u32()?);
    if found != key {
        return Err(d.corrupt(format!("holds page {found:?}, its name says {key:?}")));
    }
    let page = d.bytes()?;
    d.finish()?;
    Ok(page)
}

/// Writes `bytes` to `tmp`, then renames it to `path`, so `path` is never
/// seen half written. The temp file is removed if the rename fails.
fn write_atomically(tmp: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(tmp, bytes)?;
    std::fs::rename(tmp, path).inspect_err(|_| remove_quietly(tmp))
}

/// The held lock of a cache directory: released when dropped (or when the
/// process dies, so a crash never leaves a stale lock).
#[cfg(unix)]
type DirLock = nix::fcntl::Flock<std::fs::File>;
#[cfg(not(unix))]
type DirLock = std::fs::File;

/// Takes the directory's lock file, so two processes never share (and
/// evict from under each other) one cache.
fn lock_dir(dir: &Path) -> Result<DirLock> {
    let path = dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::local("open cache lock file", &path, e))?;
    #[cfg(unix)]
    {
        use nix::fcntl::{Flock, FlockArg};
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(lock),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(Error::InvalidInput(format!(
                "page cache directory {} is in use by another process (or another store in this one)",
                dir.display()
            ))),
            Err((_, errno)) => Err(Error::local(
                "lock cache directory",
                &path,
                std::io::Error::from(errno),
            )),
        }
    }
    #[cfg(not(unix))]
    {
        tracing::warn!(dir = %dir.display(), "cache directory locks are not supported here");
        Ok(file)
    }
}

/// Deletes the plain files directly in `dir`; returns how many.
fn remove_files_in(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::local("list cache directory", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::local("list cache directory", dir, e))?;
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::remove_file(&path).map_err(|e| Error::local("delete cache file", &path, e))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Lists `pages/`, returning the files to index, oldest first, keeping the
/// newest that fit in `capacity` and deleting the rest, along with files
/// too small to be a page file and names that are not ours.
fn scan(pages: &Path, capacity: u64) -> Result<Vec<(PageKey, u32)>> {
    let mut found = Vec::new();
    let entries =
        std::fs::read_dir(pages).map_err(|e| Error::local("list cache directory", pages, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::local("list cache directory", pages, e))?;
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let key = entry.file_name().to_str().and_then(parse_file_name);
        let size = u32::try_from(meta.len())
            .ok()
            .filter(|s| u64::from(*s) >= FILE_OVERHEAD);
        match (key, size) {
            (Some(key), Some(size)) => {
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                found.push((modified, key, size));
            }
            _ => remove_quietly(&entry.path()),
        }
    }
    // Newest first: they are the likeliest to be read again.
    found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut total = 0u64;
    let mut kept = Vec::new();
    for (_, key, size) in found {
        if total + u64::from(size) <= capacity {
            total += u64::from(size);
            kept.push((key, size));
        } else {
            remove_quietly(&pages.join(file_name(key)));
        }
    }
    kept.reverse();
    Ok(kept)
}

/// Deletes a file that may already be gone; other failures are logged
/// (the file then stays until the next start's scan).
fn remove_quietly(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != IoKind::NotFound {
            tracing::warn!(path = %path.display(), error = %e, "could not delete a page cache file");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "store-id 1\nroot db\n";

    fn opts(dir: &Path, capacity_bytes: u64) -> DiskCacheOptions {
        DiskCacheOptions {
            dir: dir.to_path_buf(),
            capacity_bytes,
        }
    }

    fn page(n: u8, len: usize) -> Bytes {
        Bytes::from(vec![n; len])
    }

    fn files(dir: &Path) -> Vec<(String, u64)> {
        let mut out: Vec<_> = std::fs::read_dir(dir.join("pages"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().into_string().unwrap(),
                    e.metadata().unwrap().len(),
                )
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn file_format_is_pinned() {
        let bytes = encode((7, 3), b"abc");
        let expected: &[u8] = &[
            0x43, 0x50, 0x48, 0x53, // magic "SHPC"
            1, 0, 0, 0, // format
            7, 0, 0, 0, 0, 0, 0, 0, // sst id
            3, 0, 0, 0, // page
            3, 0, 0, 0, b'a', b'b', b'c', // page bytes
        ];
        assert_eq!(&bytes[..expected.len()], expected);
        assert_eq!(bytes.len() as u64, FILE_OVERHEAD + 3);
        assert_eq!(
            decode("f", (7, 3), Bytes::from(bytes.clone())).unwrap(),
            &b"abc"[..]
        );
        let err = decode("f", (7, 4), Bytes::from(bytes.clone())).unwrap_err();
        assert!(err.to_string().contains("its name says"), "{err}");
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(
                decode("f", (7, 3), Bytes::from(bad)).is_err(),
                "flip at {i}"
            );
        }
        assert!(decode("f", (7, 3), Bytes::from(bytes[..bytes.len() - 1].to_vec())).is_err());
        assert_eq!(file_name((7, 3)), "00000000000000000007-0000000003.page");
        assert_eq!(
            parse_file_name(&file_name((u64::MAX, u32::MAX))),
            Some((u64::MAX, u32::MAX))
        );
        assert_eq!(parse_file_name("7-3.page"), None);
        assert_eq!(
            parse_file_name("00000000000000000007-0000000003.page.tmp"),
            None
        );
    }

    #[tokio::test]
    async fn pages_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(&opts(dir.path(), 1 << 20), ID).unwrap();
        assert_eq!(cache.get((1, 0)).await, None);
        cache.put((1, 0), page(1, 100)).await;
        cache.put((1, 1), page(2, 200)).await;
        assert_eq!(cache.get((1, 0)).await, Some(page(1, 100)));
        cache.run_pending_tasks();
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.errors), (1, 1, 0));
        assert_eq!((stats.entries, stats.bytes), (2, 300 + 2 * FILE_OVERHEAD));
        drop(cache);

        let cache = DiskCache::open(&opts(dir.path(), 1 << 20), ID).unwrap();
        let stats = cache.stats();
        assert_eq!((stats.entries, stats.bytes), (2, 300 + 2 * FILE_OVERHEAD));
        assert_eq!(cache.get((1, 1)).await, Some(page(2, 200)));
        assert_eq!(cache.get((1, 0)).await, Some(page(1, 100)));
        assert_eq!(cache.stats().hits, 2);
    }

    #[tokio::test]
    async fn damaged_files_are_deleted_and_missed_never_served() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(&opts(dir.path(), 1 << 20), ID).unwrap();
        for p in 0..3 {
            cache.put((5, p), page(9, 1000)).await;
        }
        let path = |p| dir.path().join("pages").join(file_name((5, p)));
        // A flipped byte, a truncated file, and another page's file.
        let mut bytes = std::fs::read(path(0)).unwrap();
        bytes[500] ^= 1;
        std::fs::write(path(0), bytes).unwrap();
        let bytes = std::fs::read(path(1)).unwrap();
        std::fs::write(path(1), &bytes[..bytes.len() / 2]).unwrap();
        std::fs::write(path(2), encode((5, 0), &[9; 1000])).unwrap();

        for p in 0..3 {
            assert_eq!(cache.get((5, p)).await, None, "page {p}");
        }
        cache.run_pending_tasks();
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.errors), (0, 3, 3));
        assert_eq!(stats.entries, 0);
        assert_eq!(files(dir.path()), vec![]);

        // Written again, it is served again.
        cache.put((5, 0), page(9, 1000)).await;
        assert_eq!(cache.get((5, 0)).await, Some(page(9, 1000)));
    }

    #[tokio::test]
    async fn capacity_bounds_the_files_kept() {
        let dir = tempfile::tempdir().unwrap();
        let size = 1000 + FILE_OVERHEAD;
        let cache = DiskCache::open(&opts(dir.path(), 10 * size), ID).unwrap();
        for p in 0..100 {
            cache.put((1, p), page(1, 1000)).await;
            cache.run_pending_tasks();
        }
        let on_disk = files(dir.path());
        let total: u64 = on_disk.iter().map(|(_, len)| len).sum();
        assert_eq!(on_disk.len(), 10, "{on_disk:?}");
        assert_eq!(total, 10 * size);
        assert_eq!(cache.stats().bytes, total);
        // LRU: the last ten written are the ones kept.
        assert_eq!(on_disk[0].0, file_name((1, 90)));
        // A page too big for the whole cache is not written at all.
        cache.put((2, 0), page(1, 20_000)).await;
        cache.run_pending_tasks();
        assert!(!dir.path().join("pages").join(file_name((2, 0))).exists());
        drop(cache);

        // Reopened smaller: the newest files that fit stay, the rest go.
        let cache = DiskCache::open(&opts(dir.path(), 4 * size + 10), ID).unwrap();
        assert_eq!(files(dir.path()).len(), 4);
        assert_eq!(cache.stats().bytes, 4 * size);
    }

    #[tokio::test]
    async fn opening_cleans_temp_files_and_strays() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(&opts(dir.path(), 1 << 20), ID).unwrap();
        cache.put((3, 3), page(3, 10)).await;
        drop(cache);
        std::fs::write(dir.path().join("tmp/7.tmp"), b"half a page").unwrap();
        std::fs::write(dir.path().join("pages/junk"), b"?").unwrap();
        std::fs::write(dir.path().join("pages").join(file_name((4, 0))), b"tiny").unwrap();
        let cache = DiskCache::open(&opts(dir.path(), 1 << 20), ID).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        assert_eq!(files(dir.path()).len(), 1);
        assert_eq!(cache.get((3, 3)).await, Some(page(3, 10)));
    }

    #[tokio::test]
    async fn another_stores_pages_are_wiped() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(&opts(dir.path(), 1 << 20), ID).unwrap();
        cache.put((7, 0), page(1, 10)).await;
        drop(cache);
        let other = "store-id 2\nroot db\n";
        let cache = DiskCache::open(&opts(dir.path(), 1 << 20), other).unwrap();
        assert_eq!(files(dir.path()), vec![]);
        assert_eq!(cache.get((7, 0)).await, None);
        let identity = std::fs::read_to_string(dir.path().join("identity")).unwrap();
        assert_eq!(identity, format!("{IDENTITY_HEADER}{other}"));
        // A directory with pages but no identity file is not trusted either.
        cache.put((7, 0), page(2, 10)).await;
        drop(cache);
        std::fs::remove_file(dir.path().join("identity")).unwrap();
        let _cache = DiskCache::open(&opts(dir.path(), 1 << 20), other).unwrap();
        assert_eq!(files(dir.path()), vec![]);
    }

    #[tokio::test]
    async fn invalidated_ssts_lose_their_files() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(&opts(dir.path(), 1 << 20), ID).unwrap();
        for id in 1..=3 {
            cache.put((id, 0), page(1, 10)).await;
            cache.put((id, 1), page(1, 10)).await;
        }
        cache.invalidate_sst(2);
        assert_eq!(cache.get((2, 0)).await, None);
        cache.retain_ssts(|id| id != 3);
        cache.run_pending_tasks();
        let names: Vec<_> = files(dir.path()).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, vec![file_name((1, 0)), file_name((1, 1))]);
    }

    #[test]
    fn unusable_directories_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"").unwrap();
        let err = DiskCache::open(&opts(&file.join("cache"), 1 << 20), ID).unwrap_err();
        assert_eq!(err.kind(), crate::error::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("a-file"), "{err}");

        let _held = DiskCache::open(&opts(dir.path(), 1 << 20), ID).unwrap();
        let err = DiskCache::open(&opts(dir.path(), 1 << 20), ID).unwrap_err();
        assert!(
            err.to_string().contains("in use by another process"),
            "{err}"
        );
        assert!(
            err.to_string().contains(&dir.path().display().to_string()),
            "{err}"
        );
    }

    #[tokio::test]
    async fn failed_writes_are_counted_not_returned() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(&opts(dir.path(), 1 << 20), ID).unwrap();
        std::fs::remove_dir(dir.path().join("tmp")).unwrap();
        cache.put((1, 0), page(1, 10)).await;
        assert_eq!(cache.stats().errors, 1);
        assert_eq!(cache.get((1, 0)).await, None);
    }
}
