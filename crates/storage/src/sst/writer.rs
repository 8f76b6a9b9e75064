//! Builds one SST object in memory from entries in SST order.

use std::cmp::Ordering;

use bytes::Bytes;

use super::bloom::{key_hash, Bloom};
use super::format::{encoded_entry_len, entry_order, Footer, Index, PageBuilder, PageHandle};
use super::{SstInfo, SstOptions};
use crate::error::{Error, Result};
use crate::types::{Entry, Lsn};

/// The largest entry a page can hold: page lengths and offsets are u32.
const MAX_ENTRY_LEN: usize = u32::MAX as usize / 2;

/// Accumulates entries into data pages; [`SstWriter::finish`] adds the
/// index, the bloom filter and the footer.
pub struct SstWriter {
    opts: SstOptions,
    /// The finished pages, back to back: the object's data region.
    data: Vec<u8>,
    page: PageBuilder,
    /// The first entry of the page being built, for its index entry.
    page_first: Option<(Bytes, Lsn)>,
    pages: Vec<PageHandle>,
    /// Encoded size of the index so far, for [`SstWriter::estimated_size`].
    index_len: usize,
    /// One hash per distinct key; the filter is sized at the end, when the
    /// number of keys is known.
    key_hashes: Vec<u64>,
    /// The last entry added, to enforce the order.
    last: Option<(Bytes, Lsn)>,
    entries: u64,
    min_lsn: Lsn,
    max_lsn: Lsn,
}

impl SstWriter {
    pub fn new(opts: SstOptions) -> Self {
        SstWriter {
            opts,
            data: Vec::new(),
            page: PageBuilder::default(),
            page_first: None,
            pages: Vec::new(),
            index_len: 0,
            key_hashes: Vec::new(),
            last: None,
            entries: 0,
            min_lsn: Lsn::MAX,
            max_lsn: 0,
        }
    }

    /// Adds the next entry. Entries must arrive in (key asc, lsn desc)
    /// order; anything else is [`Error::InvalidInput`].
    pub fn add(&mut self, entry: &Entry) -> Result<()> {
        let len = encoded_entry_len(entry);
        if len > MAX_ENTRY_LEN {
            return Err(Error::InvalidInput(format!(
                "SST entry of {len} bytes is too large"
            )));
        }
        let new_key = match &self.last {
            None => true,
            Some((key, lsn)) => match entry_order(key, *lsn, &entry.key, entry.lsn) {
                Ordering::Less => key[..] != entry.key[..],
                _ => {
                    return Err(Error::InvalidInput(format!(
                        "SST entries out of order: ({:?}, {}) after ({:?}, {})",
                        entry.key, entry.lsn, key, lsn
                    )))
                }
            },
        };
        // A page holds whole entries; one too big for any page is alone in its own.
        if !self.page.is_empty() && self.page.len() + len > self.opts.page_size {
            self.finish_page();
        }
        if self.page.is_empty() {
            self.page_first = Some((entry.key.clone(), entry.lsn));
        }
        self.page.add(entry);
        if new_key {
            self.key_hashes.push(key_hash(&entry.key));
        }
        self.last = Some((entry.key.clone(), entry.lsn));
        self.entries += 1;
        self.min_lsn = self.min_lsn.min(entry.lsn);
        self.max_lsn = self.max_lsn.max(entry.lsn);
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Bytes encoded so far, including the index and filter that
    /// [`SstWriter::finish`] would add (to cut output files at a target size
    /// during compaction).
    pub fn estimated_size(&self) -> usize {
        let bloom = self.key_hashes.len() * self.opts.bloom_bits_per_key / 8;
        self.data.len() + self.page.len() + self.index_len + bloom + super::format::FOOTER_LEN
    }

    /// Encodes the object; `id` goes into the returned info. An SST with no
    /// entries has no key range, so it is [`Error::InvalidInput`].
    pub fn finish(mut self, id: u64) -> Result<(SstInfo, Bytes)> {
        let Some((max_key, _)) = self.last.take() else {
            return Err(Error::InvalidInput(
                "an SST needs at least one entry".into(),
            ));
        };
        self.finish_page();
        let min_key = self.pages[0].first_key.clone();
        let index = Index {
            pages: self.pages,
            max_key: max_key.clone(),
        }
        .encode();
        let bloom = Bloom::encode(&self.key_hashes, self.opts.bloom_bits_per_key);
        let index_offset = self.data.len() as u64;
        let footer = Footer {
            index_offset,
            index_len: index.len() as u64,
            bloom_offset: index_offset + index.len() as u64,
            bloom_len: bloom.len() as u64,
            entries: self.entries,
            min_lsn: self.min_lsn,
            max_lsn: self.max_lsn,
        };
        let mut buf = self.data;
        buf.extend_from_slice(&index);
        buf.extend_from_slice(&bloom);
        buf.extend_from_slice(&footer.encode());
        let info = SstInfo {
            id,
            size: buf.len() as u64,
            entries: self.entries,
            min_key,
            max_key,
            min_lsn: self.min_lsn,
            max_lsn: self.max_lsn,
        };
        Ok((info, Bytes::from(buf)))
    }

    fn finish_page(&mut self) {
        let Some((first_key, first_lsn)) = self.page_first.take() else {
            return;
        };
        let page = self.page.finish();
        self.index_len += 8 + 4 + 4 + first_key.len() + 8;
        self.pages.push(PageHandle {
            offset: self.data.len() as u64,
            len: u32::try_from(page.len()).expect("entries are capped well under 4 GiB"),
            first_key,
            first_lsn,
        });
        self.data.extend_from_slice(&page);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn entry(key: &str, lsn: Lsn) -> Entry {
        Entry {
            key: Bytes::copy_from_slice(key.as_bytes()),
            lsn,
            value: Some(Bytes::from_static(b"v")),
        }
    }

    #[test]
    fn rejects_out_of_order_and_duplicate_entries() {
        let mut w = SstWriter::new(SstOptions::default());
        w.add(&entry("b", 5)).unwrap();
        w.add(&entry("b", 3)).unwrap();
        for bad in [entry("b", 3), entry("b", 4), entry("a", 9)] {
            let err = w.add(&bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
        }
        w.add(&entry("c", 9)).unwrap();
        assert_eq!(w.entries(), 3);
    }

    #[test]
    fn empty_writer_cannot_finish() {
        let w = SstWriter::new(SstOptions::default());
        assert!(w.is_empty());
        assert_eq!(w.finish(1).unwrap_err().kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn pages_respect_the_target_size_and_estimate_is_close() {
        let opts = SstOptions {
            page_size: 256,
            bloom_bits_per_key: 10,
        };
        let mut w = SstWriter::new(opts);
        for i in 0..200u64 {
            w.add(&entry(&format!("key{i:05}"), 1000 - i)).unwrap();
        }
        let big = Entry {
            key: Bytes::from_static(b"zz"),
            lsn: 1,
            value: Some(Bytes::from(vec![1u8; 1000])),
        };
        w.add(&big).unwrap();
        w.add(&entry("zzz", 1)).unwrap();
        let estimate = w.estimated_size();
        let pages = w.pages.len();
        let (info, bytes) = w.finish(42).unwrap();
        assert!(pages > 10, "{pages} pages");
        assert_eq!(info.size, bytes.len() as u64);
        assert_eq!(info.entries, 202);
        assert_eq!((info.min_lsn, info.max_lsn), (1, 1000));
        assert_eq!(&info.min_key[..], b"key00000");
        assert_eq!(&info.max_key[..], b"zzz");
        let diff = estimate.abs_diff(bytes.len());
        assert!(
            diff < bytes.len() / 20,
            "estimate {estimate}, real {}",
            bytes.len()
        );
    }
}
