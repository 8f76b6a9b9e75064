//! Opens an SST (footer, index, bloom filter) and answers point lookups,
//! fetching data pages one ranged GET at a time through the page cache.

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};

use super::bloom::Bloom;
use super::format::{entry_order, Footer, Index, Page, PageHandle, FOOTER_LEN};
use super::iter::SstIter;
use super::SstInfo;
use crate::cache::PageCache;
use crate::codec::Decoder;
use crate::error::{Error, Result};
use crate::types::{Direction, Entry, Lsn};

/// How much of an SST's end [`SstReader::open`] fetches in its first GET:
/// enough for the footer, index and filter of a typical SST, so that one
/// request usually opens it.
pub(super) const OPEN_READ_LEN: u64 = 64 * 1024;

/// The page number under which the page cache's disk tier keeps an SST's
/// tail (index, filter and footer), so that reopening an SST after a
/// restart costs no request either. Never a data page's number: the index
/// counts pages in a u32, so the last one is at most `u32::MAX - 1`.
const TAIL_PAGE: u32 = u32::MAX;

/// About how much one GET of [`SstReader::warm`] reads: a run of pages.
const WARM_READ_BYTES: u64 = 4 << 20;

/// An open SST: its index and filter in memory, its pages fetched on demand.
pub struct SstReader {
    info: SstInfo,
    /// The object's name, for errors.
    object: String,
    path: Path,
    store: Arc<dyn ObjectStore>,
    cache: PageCache,
    pages: Vec<PageHandle>,
    bloom: Bloom,
}

impl SstReader {
    /// Opens the SST that `info` describes, with one suffix GET (two if its
    /// index and filter are larger than [`OPEN_READ_LEN`]), or with none
    /// when the page cache's disk tier holds its tail. The object must
    /// match `info` exactly, or the manifest and the store disagree.
    pub(super) async fn open(
        store: Arc<dyn ObjectStore>,
        path: Path,
        cache: PageCache,
        info: &SstInfo,
    ) -> Result<SstReader> {
        let object = path.to_string();
        let disk = cache.disk().cloned();
        if let Some(disk) = &disk {
            if let Some(tail) = disk.get((info.id, TAIL_PAGE)).await {
                match Self::from_tail(store.clone(), path.clone(), cache.clone(), info, tail) {
                    Ok(reader) => return Ok(reader),
                    // A verified file of another SST 7 (the identity check
                    // failed to catch it) or a format change: refetch.
                    Err(e) => {
                        tracing::warn!(error = %e, "ignoring the SST tail held on disk");
                        disk.invalidate_sst(info.id);
                    }
                }
            }
        }
        let options = GetOptions {
            range: Some(GetRange::Suffix(OPEN_READ_LEN)),
            ..GetOptions::default()
        };
        let got = store
            .get_opts(&path, options)
            .await
            .map_err(|e| Error::store("get", &object, e))?;
        let (size, range) = (got.meta.size, got.range.clone());
        let tail = got
            .bytes()
            .await
            .map_err(|e| Error::store("get", &object, e))?;
        if size != info.size {
            return Err(Error::corrupt(
                &object,
                format!("object has {size} bytes, the manifest says {}", info.size),
            ));
        }
        if range.end != size || tail.len() as u64 != range.end - range.start {
            return Err(Error::corrupt(&object, "short read of the SST's tail"));
        }
        if tail.len() < FOOTER_LEN {
            return Err(Error::corrupt(&object, "too small to be an SST"));
        }
        let footer_at = tail.len() - FOOTER_LEN;
        let footer_bytes = tail.slice(footer_at..);
        let footer = Footer::decode(&object, footer_bytes.clone(), size)?;
        let meta = match footer.index_offset.checked_sub(range.start) {
            Some(skip) => tail.slice(skip as usize..footer_at),
            None => {
                // The index and filter start before the tail we have.
                let head = store
                    .get_range(&path, footer.index_offset..range.start)
                    .await
                    .map_err(|e| Error::store("get", &object, e))?;
                if head.len() as u64 != range.start - footer.index_offset {
                    return Err(Error::corrupt(&object, "short read of the SST's index"));
                }
                let mut meta = BytesMut::with_capacity(head.len() + footer_at);
                meta.extend_from_slice(&head);
                meta.extend_from_slice(&tail[..footer_at]);
                meta.freeze()
            }
        };
        let tail = disk.as_ref().map(|_| {
            let mut tail = BytesMut::with_capacity(meta.len() + FOOTER_LEN);
            tail.extend_from_slice(&meta);
            tail.extend_from_slice(&footer_bytes);
            tail.freeze()
        });
        let reader = Self::from_parts(store, path, cache, info.id, footer, meta)?;
        reader.check_info(info)?;
        if let (Some(disk), Some(tail)) = (disk, tail) {
            disk.put((info.id, TAIL_PAGE), tail).await;
        }
        Ok(reader)
    }

    /// Opens the SST that `info` describes from its tail (index, filter and
    /// footer) as the disk tier kept it, checking it as a fetched one.
    fn from_tail(
        store: Arc<dyn ObjectStore>,
        path: Path,
        cache: PageCache,
        info: &SstInfo,
        tail: Bytes,
    ) -> Result<SstReader> {
        let object = path.to_string();
        let Some(footer_at) = tail.len().checked_sub(FOOTER_LEN) else {
            return Err(Error::corrupt(&object, "cached tail: too small"));
        };
        let footer = Footer::decode(&object, tail.slice(footer_at..), info.size)?;
        if footer.index_offset + footer_at as u64 + FOOTER_LEN as u64 != info.size {
            return Err(Error::corrupt(&object, "cached tail: wrong length"));
        }
        let reader =
            Self::from_parts(store, path, cache, info.id, footer, tail.slice(..footer_at))?;
        reader.check_info(info)?;
        Ok(reader)
    }

    fn check_info(&self, info: &SstInfo) -> Result<()> {
        if &self.info != info {
            return Err(Error::corrupt(
                &self.object,
                format!(
                    "object does not match the manifest: found {:?}, expected {info:?}",
                    self.info
                ),
            ));
        }
        Ok(())
    }

    /// Opens SST `id` from its complete bytes (about to be uploaded: this
    /// checks them, and reading the new SST back then costs no request).
    /// The info is taken from the bytes.
    pub(super) fn from_bytes(
        store: Arc<dyn ObjectStore>,
        path: Path,
        cache: PageCache,
        id: u64,
        bytes: &Bytes,
    ) -> Result<SstReader> {
        let object = path.to_string();
        let Some(footer_at) = bytes.len().checked_sub(FOOTER_LEN) else {
            return Err(Error::corrupt(&object, "too small to be an SST"));
        };
        let size = bytes.len() as u64;
        let footer = Footer::decode(&object, bytes.slice(footer_at..), size)?;
        let meta = bytes.slice(footer.index_offset as usize..footer_at);
        Self::from_parts(store, path, cache, id, footer, meta)
    }

    /// Decodes the index and filter (`meta`, the bytes between the data
    /// pages and the footer, which [`Footer::decode`] checked against the
    /// object's size).
    fn from_parts(
        store: Arc<dyn ObjectStore>,
        path: Path,
        cache: PageCache,
        id: u64,
        footer: Footer,
        meta: Bytes,
    ) -> Result<SstReader> {
        let object = path.to_string();
        // Footer::decode checked that index and filter tile `meta` exactly.
        let index_len = footer.index_len as usize;
        let index = Index::decode(&object, meta.slice(..index_len), footer.index_offset)?;
        let bloom = Bloom::decode(&object, meta.slice(index_len..))?;
        let info = SstInfo {
            id,
            size: footer.bloom_offset + footer.bloom_len + FOOTER_LEN as u64,
            entries: footer.entries,
            min_key: index.pages[0].first_key.clone(),
            max_key: index.max_key,
            min_lsn: footer.min_lsn,
            max_lsn: footer.max_lsn,
        };
        Ok(SstReader {
            info,
            object,
            path,
            store,
            cache,
            pages: index.pages,
            bloom,
        })
    }

    pub fn info(&self) -> &SstInfo {
        &self.info
    }

    /// The newest version of `key` with `lsn <= snapshot` (a tombstone is
    /// returned as an entry with no value), or `None` if there is none.
    /// Checks the bloom filter first, so an absent key usually costs no
    /// page read.
    pub async fn get(&self, key: &[u8], snapshot: Lsn) -> Result<Option<Entry>> {
        if key < &self.info.min_key[..] || key > &self.info.max_key[..] {
            return Ok(None);
        }
        if !self.bloom.may_contain(key) {
            return Ok(None);
        }
        // The answer is the first entry at or after (key, snapshot) in SST
        // order, if it has this key: it is in the last page starting at or
        // before that point, or else it starts the next page.
        let p = self
            .pages
            .partition_point(|h| {
                entry_order(&h.first_key, h.first_lsn, key, snapshot) != Ordering::Greater
            })
            .saturating_sub(1);
        let page = self.page(p).await?;
        let i = page.search(&self.object, |e| {
            entry_order(&e.key, e.lsn, key, snapshot) != Ordering::Less
        })?;
        let found = if i < page.len() {
            page.entry(&self.object, i)?
        } else {
            match self.pages.get(p + 1) {
                Some(next) if &next.first_key[..] == key => {
                    self.page(p + 1).await?.entry(&self.object, 0)?
                }
                _ => return Ok(None),
            }
        };
        Ok((&found.key[..] == key && found.lsn <= snapshot).then_some(found))
    }

    /// Every version of the keys within `range`, loading pages as the scan
    /// reaches them. Forward: key ascending, LSN descending. Reverse: key
    /// descending, and within one key still LSN descending (newest first).
    pub fn iter(
        self: &Arc<Self>,
        range: (Bound<Bytes>, Bound<Bytes>),
        direction: Direction,
    ) -> SstIter {
        SstIter::new(self.clone(), range, direction)
    }

    /// Bytes of memory the open reader holds (for weighing cached handles).
    pub(super) fn memory_size(&self) -> usize {
        let index: usize = self.pages.iter().map(|p| p.first_key.len() + 48).sum();
        std::mem::size_of::<Self>() + index + self.bloom.size() + self.info.max_key.len()
    }

    pub(super) fn object(&self) -> &str {
        &self.object
    }

    pub(super) fn page_handles(&self) -> &[PageHandle] {
        &self.pages
    }

    /// Puts every data page that the page cache does not hold yet in it,
    /// reading runs of adjacent missing pages with one ranged GET of about
    /// [`WARM_READ_BYTES`] each, every page checked like [`Self::page`]'s.
    /// Returns how many pages it put in.
    pub(super) async fn warm(&self) -> Result<usize> {
        let mut warmed = 0;
        let mut start = 0;
        while start < self.pages.len() {
            if self.cache.contains((self.info.id, page_no(start))) {
                start += 1;
                continue;
            }
            let first = self.pages[start].offset;
            let mut end = start + 1;
            while end < self.pages.len() {
                let (prev, next) = (&self.pages[end - 1], &self.pages[end]);
                let adjacent = next.offset == prev.offset + u64::from(prev.len);
                let fits = next.offset + u64::from(next.len) - first <= WARM_READ_BYTES;
                if !adjacent || !fits || self.cache.contains((self.info.id, page_no(end))) {
                    break;
                }
                end += 1;
            }
            let last = &self.pages[end - 1];
            let range = first..last.offset + u64::from(last.len);
            let run = self
                .store
                .get_range(&self.path, range.clone())
                .await
                .map_err(|e| Error::store("get", &self.object, e))?;
            if run.len() as u64 != range.end - range.start {
                return Err(Error::corrupt(
                    &self.object,
                    format!("pages {start}..{end}: short read"),
                ));
            }
            for no in start..end {
                let handle = &self.pages[no];
                let at = (handle.offset - first) as usize;
                // A copy: a slice would keep the whole run alive for as
                // long as any one of its pages stays cached.
                let raw = Bytes::copy_from_slice(&run[at..at + handle.len as usize]);
                Decoder::checked(&self.object, &format!("page {no}"), raw.clone())?;
                if self.cache.warm((self.info.id, page_no(no)), raw).await {
                    warmed += 1;
                }
            }
            start = end;
        }
        Ok(warmed)
    }

    /// Data page `no` (which must be `< page_handles().len()`), from the
    /// cache or with one ranged GET. Its CRC is checked before it is cached,
    /// so cached pages are trusted.
    pub(super) async fn page(&self, no: usize) -> Result<Page> {
        let handle = &self.pages[no];
        let raw = self
            .cache
            .get_or_load((self.info.id, page_no(no)), || async {
                let range = handle.offset..handle.offset + u64::from(handle.len);
                let raw = self
                    .store
                    .get_range(&self.path, range)
                    .await
                    .map_err(|e| Error::store("get", &self.object, e))?;
                if raw.len() != handle.len as usize {
                    return Err(Error::corrupt(
                        &self.object,
                        format!("page {no}: short read"),
                    ));
                }
                Decoder::checked(&self.object, &format!("page {no}"), raw.clone())?;
                Ok(raw)
            })
            .await?;
        Page::parse(&self.object, no, raw)
    }
}

fn page_no(no: usize) -> u32 {
    u32::try_from(no).expect("page count is a u32 in the index")
}

impl std::fmt::Debug for SstReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SstReader")
            .field("object", &self.object)
            .field("info", &self.info)
            .field("pages", &self.pages.len())
            .finish()
    }
}
