//! SSTs (`sst/<id:020>.sst`): sorted, immutable tables of versioned rows,
//! written once with create-if-absent and read page by page.
//!
//! An SST holds [`Entry`](crate::types::Entry)s sorted by key ascending,
//! then LSN descending. Its layout, every block ending in a CRC32C of the
//! block:
//!
//! ```text
//! data page 0 | data page 1 | ... | index block | bloom block | footer (72 bytes)
//! ```
//!
//! * data pages (`format::PageBuilder`): whole entries up to a target size
//!   (an entry bigger than that gets a page of its own), then an offset per
//!   entry and the count, so a page can be binary-searched;
//! * the index block (`format::Index`): each page's offset, length, first
//!   key and first LSN, then the SST's max key (its min key is page 0's);
//! * the bloom block (`bloom`): a filter over user keys;
//! * the footer (`format::Footer`): magic, format version, where the index
//!   and filter are, entry count and LSN range.
//!
//! [`SstWriter`] builds an object in memory; [`SstStore`] uploads it and
//! opens [`SstReader`]s, which read the footer, index and filter with one
//! suffix GET and then fetch data pages with ranged GETs through the
//! [`PageCache`]. Any damaged byte is an [`Error::Corrupt`] naming the
//! object, never a wrong answer.

mod bloom;
mod format;
mod iter;
mod reader;
mod writer;

use std::sync::Arc;

use bytes::Bytes;
use moka::future::Cache;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::cache::{unshare_error, PageCache};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::object;
use crate::types::Lsn;

pub use iter::SstIter;
pub use reader::SstReader;
pub use writer::SstWriter;

/// How many bytes of open readers (their indexes and filters) an
/// [`SstStore`] keeps; readers still in use stay alive regardless.
const OPEN_READERS_BYTES: u64 = 256 << 20;

/// How SSTs are built.
#[derive(Clone, Debug)]
pub struct SstOptions {
    /// Target size of a data page in bytes: the unit of reading and caching.
    pub page_size: usize,
    /// Bloom filter bits per distinct key (10 gives about 1% false positives).
    pub bloom_bits_per_key: usize,
}

impl Default for SstOptions {
    fn default() -> Self {
        SstOptions {
            page_size: 16 * 1024,
            bloom_bits_per_key: 10,
        }
    }
}

/// What the manifest records about one SST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SstInfo {
    pub id: u64,
    /// The object's size in bytes.
    pub size: u64,
    pub entries: u64,
    pub min_key: Bytes,
    pub max_key: Bytes,
    pub min_lsn: Lsn,
    pub max_lsn: Lsn,
}

/// Writes, opens and deletes the SSTs of one store. Cheap to clone.
#[derive(Clone)]
pub struct SstStore {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn ObjectStore>,
    layout: Layout,
    cache: PageCache,
    /// Open readers by SST id, so that opening an SST again costs no
    /// request; concurrent first opens share one.
    readers: Cache<u64, Arc<SstReader>>,
    /// Held by the warm-up running ([`SstStore::warm`]): one at a time.
    warming: tokio::sync::Mutex<()>,
}

impl SstStore {
    pub fn new(store: Arc<dyn ObjectStore>, layout: Layout, cache: PageCache) -> Self {
        let readers = Cache::builder()
            .max_capacity(OPEN_READERS_BYTES)
            .weigher(|_id: &u64, reader: &Arc<SstReader>| {
                u32::try_from(reader.memory_size()).unwrap_or(u32::MAX)
            })
            .build();
        SstStore {
            inner: Arc::new(Inner {
                store,
                layout,
                cache,
                readers,
                warming: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Starts putting the pages of `ssts` in the page cache, in the
    /// background, after any warm-up already running ([`SstReader::warm`]).
    /// An SST that cannot be read (deleted by garbage collection meanwhile,
    /// say) is skipped: its pages load on demand as always.
    pub fn warm(&self, ssts: Vec<SstInfo>) {
        if ssts.is_empty() {
            return;
        }
        let store = self.clone();
        tokio::spawn(async move {
            let _one = store.inner.warming.lock().await;
            for info in ssts {
                let warmed = async { store.open(&info).await?.warm().await };
                match warmed.await {
                    Ok(pages) => tracing::debug!(sst = info.id, pages, "page cache warmed"),
                    Err(e) => tracing::debug!(sst = info.id, error = %e, "page cache not warmed"),
                }
            }
        });
    }

    /// Encodes `writer` as SST `id` and uploads it with create-if-absent: if
    /// the object exists, somebody else wrote it and this is
    /// [`Error::Fenced`]. The new SST is then open without a further request.
    pub async fn write(&self, writer: SstWriter, id: u64) -> Result<SstInfo> {
        let (info, bytes) = writer.finish(id)?;
        let written = self.upload(id, bytes).await?;
        debug_assert_eq!(written, info, "the writer's info describes its bytes");
        Ok(info)
    }

    /// Uploads the bytes of a finished [`SstWriter`] as SST `id`, like
    /// [`SstStore::write`] (so a caller can retry another id after
    /// [`Error::Fenced`] without encoding again). The bytes are checked
    /// before they are uploaded: anything but an SST is [`Error::Corrupt`].
    pub async fn write_bytes(&self, id: u64, bytes: Bytes) -> Result<()> {
        self.upload(id, bytes).await.map(drop)
    }

    async fn upload(&self, id: u64, bytes: Bytes) -> Result<SstInfo> {
        let inner = &self.inner;
        let path = inner.layout.sst(id);
        let reader = SstReader::from_bytes(
            inner.store.clone(),
            path.clone(),
            inner.cache.clone(),
            id,
            &bytes,
        )?;
        object::create(inner.store.as_ref(), &path, bytes).await?;
        let info = reader.info().clone();
        inner.readers.insert(id, Arc::new(reader)).await;
        Ok(info)
    }

    /// Opens the SST that `info` describes (from memory if it is open). The
    /// object must match `info`: a missing object is [`Error::Missing`], a
    /// different one [`Error::Corrupt`].
    pub async fn open(&self, info: &SstInfo) -> Result<Arc<SstReader>> {
        let inner = &self.inner;
        let reader = inner
            .readers
            .try_get_with(info.id, async {
                let path = inner.layout.sst(info.id);
                SstReader::open(inner.store.clone(), path, inner.cache.clone(), info)
                    .await
                    .map(Arc::new)
            })
            .await
            .map_err(unshare_error)?;
        if reader.info() != info {
            return Err(Error::corrupt(
                inner.layout.sst(info.id),
                format!(
                    "open SST is {:?}, the manifest says {info:?}",
                    reader.info()
                ),
            ));
        }
        Ok(reader)
    }

    /// Deletes SST `id` and forgets its reader and cached pages. Deleting an
    /// SST that is already gone succeeds, so a crashed cleanup can be rerun.
    pub async fn delete(&self, id: u64) -> Result<()> {
        let inner = &self.inner;
        let path = inner.layout.sst(id);
        match inner.store.delete(&path).await {
            Ok(()) => {}
            Err(e) => match Error::store("delete", &path, e) {
                Error::Missing { .. } => {}
                e => return Err(e),
            },
        }
        inner.readers.invalidate(&id).await;
        inner.cache.invalidate_sst(id);
        Ok(())
    }

    pub fn cache(&self) -> &PageCache {
        &self.inner.cache
    }
}

impl std::fmt::Debug for SstStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SstStore")
            .field("store", &self.inner.store)
            .field("layout", &self.inner.layout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::ops::{Bound, Range};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use futures::stream::BoxStream;
    use object_store::memory::InMemory;
    use object_store::path::Path;
    use object_store::{
        CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta,
        PutMultipartOptions, PutOptions, PutPayload, PutResult,
    };

    use super::*;
    use crate::error::ErrorKind;
    use crate::types::{Direction, Entry};

    /// An in-memory store that counts GET requests.
    #[derive(Debug, Default)]
    struct CountingStore {
        inner: InMemory,
        gets: AtomicUsize,
    }

    impl std::fmt::Display for CountingStore {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Counting({})", self.inner)
        }
    }

    #[async_trait]
    impl ObjectStore for CountingStore {
        async fn put_opts(
            &self,
            location: &Path,
            payload: PutPayload,
            opts: PutOptions,
        ) -> object_store::Result<PutResult> {
            self.inner.put_opts(location, payload, opts).await
        }

        async fn put_multipart_opts(
            &self,
            location: &Path,
            opts: PutMultipartOptions,
        ) -> object_store::Result<Box<dyn MultipartUpload>> {
            self.inner.put_multipart_opts(location, opts).await
        }

        async fn get_opts(
            &self,
            location: &Path,
            options: GetOptions,
        ) -> object_store::Result<GetResult> {
            self.gets.fetch_add(1, Ordering::SeqCst);
            self.inner.get_opts(location, options).await
        }

        async fn get_ranges(
            &self,
            location: &Path,
            ranges: &[Range<u64>],
        ) -> object_store::Result<Vec<Bytes>> {
            self.gets.fetch_add(1, Ordering::SeqCst);
            self.inner.get_ranges(location, ranges).await
        }

        fn delete_stream(
            &self,
            locations: BoxStream<'static, object_store::Result<Path>>,
        ) -> BoxStream<'static, object_store::Result<Path>> {
            self.inner.delete_stream(locations)
        }

        fn list(
            &self,
            prefix: Option<&Path>,
        ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
            self.inner.list(prefix)
        }

        async fn list_with_delimiter(
            &self,
            prefix: Option<&Path>,
        ) -> object_store::Result<ListResult> {
            self.inner.list_with_delimiter(prefix).await
        }

        async fn copy_opts(
            &self,
            from: &Path,
            to: &Path,
            options: CopyOptions,
        ) -> object_store::Result<()> {
            self.inner.copy_opts(from, to, options).await
        }
    }

    struct Fixture {
        objects: Arc<CountingStore>,
        layout: Layout,
    }

    impl Fixture {
        fn new() -> Self {
            Fixture {
                objects: Arc::new(CountingStore::default()),
                layout: Layout::new(Path::from("db")),
            }
        }

        /// A store with a fresh page cache and no open readers, as a new
        /// process would have.
        fn store(&self) -> SstStore {
            SstStore::new(
                self.objects.clone(),
                self.layout.clone(),
                PageCache::new(64 << 20),
            )
        }

        fn gets(&self) -> usize {
            self.objects.gets.load(Ordering::SeqCst)
        }

        async fn put_raw(&self, id: u64, bytes: Bytes) {
            self.objects
                .put(&self.layout.sst(id), PutPayload::from(bytes))
                .await
                .unwrap();
        }
    }

    fn small_pages() -> SstOptions {
        SstOptions {
            page_size: 256,
            bloom_bits_per_key: 10,
        }
    }

    fn key(i: u64) -> Bytes {
        Bytes::from(format!("key{i:05}"))
    }

    /// Entries for the even keys 0..2n: up to four versions each, some of
    /// them tombstones, with values of varied length. Odd keys are absent.
    fn model(n: u64) -> Vec<Entry> {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut entries = Vec::new();
        for i in 0..n {
            let versions = 1 + rand() % 4;
            let mut lsns: BTreeSet<u64> = BTreeSet::new();
            while lsns.len() < versions as usize {
                lsns.insert(1 + rand() % 100);
            }
            for &lsn in lsns.iter().rev() {
                let value = (rand() % 5 != 0)
                    .then(|| Bytes::from(vec![b'a' + (lsn % 26) as u8; (rand() % 40) as usize]));
                entries.push(Entry {
                    key: key(2 * i),
                    lsn,
                    value,
                });
            }
        }
        entries
    }

    fn build(opts: SstOptions, entries: &[Entry]) -> SstWriter {
        let mut w = SstWriter::new(opts);
        for e in entries {
            w.add(e).unwrap();
        }
        w
    }

    fn model_get(entries: &[Entry], key: &[u8], snapshot: Lsn) -> Option<Entry> {
        entries
            .iter()
            .find(|e| &e.key[..] == key && e.lsn <= snapshot)
            .cloned()
    }

    fn model_scan(
        entries: &[Entry],
        range: &(Bound<Bytes>, Bound<Bytes>),
        direction: Direction,
    ) -> Vec<Entry> {
        let mut out: Vec<Entry> = entries
            .iter()
            .filter(|e| std::ops::RangeBounds::contains(range, &e.key))
            .cloned()
            .collect();
        if direction == Direction::Reverse {
            // Stable, so each key's versions stay newest first.
            out.sort_by(|a, b| b.key.cmp(&a.key));
        }
        out
    }

    async fn scan(
        reader: &Arc<SstReader>,
        range: (Bound<Bytes>, Bound<Bytes>),
        direction: Direction,
    ) -> Result<Vec<Entry>> {
        let mut iter = reader.iter(range, direction);
        let mut out = Vec::new();
        while let Some(e) = iter.next().await? {
            out.push(e);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn round_trip_with_many_pages() {
        let fx = Fixture::new();
        let entries = model(300);
        let info = fx
            .store()
            .write(build(small_pages(), &entries), 1)
            .await
            .unwrap();
        assert_eq!(info.entries, entries.len() as u64);
        assert_eq!(info.min_key, key(0));
        assert_eq!(info.max_key, key(598));
        assert!(info.size > 20 * 256, "{info:?}");

        // A new process: one GET opens the SST, a second open costs nothing.
        let store = fx.store();
        let before = fx.gets();
        let reader = store.open(&info).await.unwrap();
        assert_eq!(fx.gets(), before + 1);
        assert!(Arc::ptr_eq(&reader, &store.open(&info).await.unwrap()));
        assert_eq!(fx.gets(), before + 1);
        assert_eq!(reader.info(), &info);

        let all = (Bound::Unbounded, Bound::Unbounded);
        assert_eq!(
            scan(&reader, all.clone(), Direction::Forward)
                .await
                .unwrap(),
            entries
        );
        assert_eq!(
            scan(&reader, all.clone(), Direction::Reverse)
                .await
                .unwrap(),
            model_scan(&entries, &all, Direction::Reverse)
        );

        // Every key, present or not, just below, at and above each of its
        // versions (and of its neighbours' versions, for the absent ones).
        for i in 0..600 {
            let k = key(i);
            let near = |e: &&Entry| e.key == k || e.key == key(i + 1);
            let mut snapshots: BTreeSet<u64> = [0, 50, u64::MAX].into();
            for e in entries.iter().filter(near) {
                snapshots.extend([e.lsn - 1, e.lsn, e.lsn + 1]);
            }
            for snapshot in snapshots {
                let got = reader.get(&k, snapshot).await.unwrap();
                assert_eq!(
                    got,
                    model_get(&entries, &k, snapshot),
                    "{k:?} at {snapshot}"
                );
            }
        }
        for absent in [&b""[..], b"a", b"key", b"key00000\x00", b"key99999", b"zzz"] {
            assert_eq!(reader.get(absent, u64::MAX).await.unwrap(), None);
        }
        assert!(
            entries.iter().any(|e| e.value.is_none()),
            "model has tombstones"
        );
    }

    #[tokio::test]
    async fn absent_keys_mostly_cost_no_page_read() {
        let fx = Fixture::new();
        let entries = model(300);
        for (id, bits, expect_reads) in [(1, 10, false), (2, 1, true)] {
            let opts = SstOptions {
                page_size: 256,
                bloom_bits_per_key: bits,
            };
            let info = fx.store().write(build(opts, &entries), id).await.unwrap();
            let store = fx.store();
            let reader = store.open(&info).await.unwrap();
            let mut reads = 0;
            for i in 0..300 {
                let before = fx.gets() + store.cache().stats().hits as usize;
                assert_eq!(reader.get(&key(2 * i + 1), u64::MAX).await.unwrap(), None);
                reads += usize::from(fx.gets() + store.cache().stats().hits as usize > before);
            }
            if expect_reads {
                // One bit per key: most lookups are false positives that
                // read a page and still find nothing.
                assert!(reads > 100, "{reads} false positives");
            } else {
                assert!(reads < 20, "{reads} false positives");
            }
        }
    }

    #[tokio::test]
    async fn scans_with_every_bound_match_the_model() {
        let fx = Fixture::new();
        let entries = model(60);
        let info = fx
            .store()
            .write(build(small_pages(), &entries), 1)
            .await
            .unwrap();
        let reader = fx.store().open(&info).await.unwrap();
        let mut points: Vec<Bytes> = vec![Bytes::new(), Bytes::from_static(b"zzz")];
        for i in [0, 1, 2, 3, 17, 40, 41, 64, 65, 100, 118, 119] {
            points.push(key(i));
        }
        let mut bounds = vec![Bound::Unbounded];
        for p in &points {
            bounds.push(Bound::Included(p.clone()));
            bounds.push(Bound::Excluded(p.clone()));
        }
        for lo in &bounds {
            for hi in &bounds {
                for direction in [Direction::Forward, Direction::Reverse] {
                    let range = (lo.clone(), hi.clone());
                    let got = scan(&reader, range.clone(), direction).await.unwrap();
                    assert_eq!(
                        got,
                        model_scan(&entries, &range, direction),
                        "{range:?} {direction:?}"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn an_entry_bigger_than_a_page() {
        let fx = Fixture::new();
        let mut entries = model(20);
        let big = Entry {
            key: key(21),
            lsn: 7,
            value: Some(Bytes::from(vec![9u8; 5000])),
        };
        let at = entries.partition_point(|e| e.key < big.key);
        entries.insert(at, big.clone());
        let info = fx
            .store()
            .write(build(small_pages(), &entries), 1)
            .await
            .unwrap();
        let reader = fx.store().open(&info).await.unwrap();
        assert_eq!(reader.get(&big.key, 7).await.unwrap(), Some(big.clone()));
        assert_eq!(reader.get(&big.key, 6).await.unwrap(), None);
        let all = (Bound::Unbounded, Bound::Unbounded);
        assert_eq!(
            scan(&reader, all.clone(), Direction::Forward)
                .await
                .unwrap(),
            entries
        );
        assert_eq!(
            scan(&reader, all.clone(), Direction::Reverse)
                .await
                .unwrap(),
            model_scan(&entries, &all, Direction::Reverse)
        );
    }

    #[tokio::test]
    async fn a_large_index_takes_a_second_get() {
        let fx = Fixture::new();
        let entries = model(6000);
        let info = fx
            .store()
            .write(build(small_pages(), &entries), 1)
            .await
            .unwrap();
        let store = fx.store();
        let before = fx.gets();
        let reader = store.open(&info).await.unwrap();
        assert_eq!(fx.gets(), before + 2);
        for i in [0, 1, 2999, 6000, 11998] {
            assert_eq!(
                reader.get(&key(i), u64::MAX).await.unwrap(),
                model_get(&entries, &key(i), u64::MAX)
            );
        }
    }

    /// The on-object format, pinned: changing it needs a new format version.
    #[test]
    fn format_is_stable() {
        let entries = [
            Entry {
                key: Bytes::from_static(b"a"),
                lsn: 2,
                value: Some(Bytes::from_static(b"x")),
            },
            Entry {
                key: Bytes::from_static(b"a"),
                lsn: 1,
                value: None,
            },
            Entry {
                key: Bytes::from_static(b"b"),
                lsn: 3,
                value: Some(Bytes::from_static(b"yz")),
            },
        ];
        let opts = SstOptions {
            page_size: 48,
            bloom_bits_per_key: 10,
        };
        let (_, bytes) = build(opts, &entries).finish(1).unwrap();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, PINNED_SST);
    }

    const PINNED_SST: &str = concat!(
        // page 0: (a, 2, x)
        "01000000610200000000000000010100000078000000000100000064242ea4",
        // page 1: (a, 1, tombstone)
        "010000006101000000000000000000000000010000001fce15df",
        // page 2: (b, 3, yz)
        "010000006203000000000000000102000000797a0000000001000000325c5d83",
        // index
        "0300000000000000000000001f000000010000006102000000000000001f000000000000001a00000001000000610100000000000000390000000000000020000000010000006203000000000000000100000062f901877f",
        // bloom filter
        "070000000800000080012202480ca0280d3bf7be",
        // footer
        "53484f414c5353540100000059000000000000005800000000000000b100000000000000140000000000000003000000000000000100000000000000030000000000000076bdfd0a",
    );

    #[tokio::test]
    async fn writing_an_existing_id_is_fenced() {
        let fx = Fixture::new();
        let entries = model(5);
        let store = fx.store();
        store
            .write(build(SstOptions::default(), &entries), 3)
            .await
            .unwrap();
        let err = store
            .write(build(SstOptions::default(), &entries), 3)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Fenced { object } if object.ends_with("00000000000000000003.sst")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn pages_are_cached() {
        let fx = Fixture::new();
        let entries = model(100);
        let info = fx
            .store()
            .write(build(small_pages(), &entries), 1)
            .await
            .unwrap();
        let store = fx.store();
        let reader = store.open(&info).await.unwrap();
        let before = fx.gets();
        let k = &entries[0].key;
        let first = reader.get(k, u64::MAX).await.unwrap();
        assert_eq!(fx.gets(), before + 1);
        assert_eq!(reader.get(k, u64::MAX).await.unwrap(), first);
        assert_eq!(fx.gets(), before + 1);
        store.cache().run_pending_tasks().await;
        let stats = store.cache().stats();
        assert_eq!((stats.hits, stats.misses, stats.entries), (1, 1, 1));
        assert!(stats.weighted_bytes > 0 && stats.weighted_bytes <= 256 + 5000);
    }

    #[tokio::test]
    async fn concurrent_opens_share_one_get() {
        let fx = Fixture::new();
        let info = fx
            .store()
            .write(build(small_pages(), &model(50)), 1)
            .await
            .unwrap();
        let store = fx.store();
        let before = fx.gets();
        let opens: Vec<_> = (0..8)
            .map(|_| {
                let (store, info) = (store.clone(), info.clone());
                tokio::spawn(async move { store.open(&info).await })
            })
            .collect();
        for open in opens {
            open.await.unwrap().unwrap();
        }
        assert_eq!(fx.gets(), before + 1);
    }

    #[tokio::test]
    async fn the_object_must_match_the_manifest() {
        let fx = Fixture::new();
        let info = fx
            .store()
            .write(build(small_pages(), &model(50)), 1)
            .await
            .unwrap();
        let other = fx
            .store()
            .write(build(small_pages(), &model(49)), 2)
            .await
            .unwrap();

        let missing = SstInfo {
            id: 9,
            ..info.clone()
        };
        let err = fx.store().open(&missing).await.unwrap_err();
        assert!(
            matches!(&err, Error::Missing { object } if object.ends_with("00000000000000000009.sst")),
            "{err}"
        );

        for wrong in [
            SstInfo {
                size: info.size + 1,
                ..info.clone()
            },
            SstInfo {
                entries: info.entries - 1,
                ..info.clone()
            },
            SstInfo {
                max_lsn: info.max_lsn + 1,
                ..info.clone()
            },
            SstInfo {
                max_key: key(1),
                ..info.clone()
            },
            SstInfo {
                id: 2,
                ..info.clone()
            },
            SstInfo {
                id: 1,
                ..other.clone()
            },
        ] {
            let err = fx.store().open(&wrong).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Corrupt, "{wrong:?}: {err}");
        }
        // An open reader is no excuse for a mismatch either.
        let store = fx.store();
        store.open(&info).await.unwrap();
        let wrong = SstInfo {
            min_lsn: 0,
            ..info.clone()
        };
        assert_eq!(
            store.open(&wrong).await.unwrap_err().kind(),
            ErrorKind::Corrupt
        );
    }

    #[tokio::test]
    async fn delete_forgets_the_sst() {
        let fx = Fixture::new();
        let store = fx.store();
        let info = store
            .write(build(small_pages(), &model(50)), 1)
            .await
            .unwrap();
        store.open(&info).await.unwrap();
        store.delete(1).await.unwrap();
        assert!(matches!(
            store.open(&info).await.unwrap_err(),
            Error::Missing { .. }
        ));
        store.delete(1).await.unwrap();
    }

    /// Reads everything from SST `id`, checking each answer against the
    /// model: any damage must be an error naming the object.
    async fn read_all(store: &SstStore, info: &SstInfo, entries: &[Entry]) -> Result<()> {
        let reader = store.open(info).await?;
        let all = (Bound::Unbounded, Bound::Unbounded);
        for direction in [Direction::Forward, Direction::Reverse] {
            let got = scan(&reader, all.clone(), direction).await?;
            assert_eq!(
                got,
                model_scan(entries, &all, direction),
                "wrong answer from {}",
                info.id
            );
        }
        for e in entries {
            for snapshot in [e.lsn, u64::MAX] {
                let got = reader.get(&e.key, snapshot).await?;
                assert_eq!(
                    got,
                    model_get(entries, &e.key, snapshot),
                    "wrong answer from {}",
                    info.id
                );
            }
        }
        Ok(())
    }

    #[tokio::test]
    async fn every_flipped_byte_is_detected() {
        let fx = Fixture::new();
        let entries = model(12);
        let opts = SstOptions {
            page_size: 128,
            bloom_bits_per_key: 10,
        };
        let (info, bytes) = build(opts, &entries).finish(1).unwrap();
        assert!(
            bytes.len() > 4 * 128,
            "several pages: {} bytes",
            bytes.len()
        );
        let store = fx.store();
        let mut id = 100;
        for at in 0..bytes.len() {
            for flip in [0x01u8, 0xff] {
                id += 1;
                let mut bad = bytes.to_vec();
                bad[at] ^= flip;
                fx.put_raw(id, Bytes::from(bad)).await;
                let info = SstInfo { id, ..info.clone() };
                let err = read_all(&store, &info, &entries)
                    .await
                    .expect_err(&format!("flip {flip:#x} of byte {at} went unnoticed"));
                let object = fx.layout.sst(id).to_string();
                assert!(
                    matches!(&err, Error::Corrupt { object: o, .. } if *o == object),
                    "byte {at}: {err}"
                );
            }
        }
    }

    #[tokio::test]
    async fn truncated_objects_are_corrupt() {
        let fx = Fixture::new();
        let entries = model(12);
        let (info, bytes) = build(small_pages(), &entries).finish(1).unwrap();
        let store = fx.store();
        for (n, len) in [
            0,
            1,
            71,
            72,
            73,
            bytes.len() / 2,
            bytes.len() - 73,
            bytes.len() - 1,
        ]
        .into_iter()
        .enumerate()
        {
            let id = 100 + n as u64;
            fx.put_raw(id, bytes.slice(..len)).await;
            // Whether the manifest has the full size or the truncated one.
            for size in [info.size, len as u64] {
                let info = SstInfo {
                    id,
                    size,
                    ..info.clone()
                };
                let err = read_all(&store, &info, &entries).await.unwrap_err();
                assert_eq!(err.kind(), ErrorKind::Corrupt, "{len} bytes: {err}");
                assert!(
                    err.to_string().contains(&fx.layout.sst(id).to_string()),
                    "{err}"
                );
            }
        }
        let id = 200;
        fx.put_raw(id, bytes.clone()).await;
        read_all(&store, &SstInfo { id, ..info }, &entries)
            .await
            .unwrap();
    }
}
