//! The SST byte layout: data pages, the index block and the footer (the
//! bloom block is in [`super::bloom`]). Every decoder here validates what it
//! reads against the object's size, so that damaged input becomes
//! [`Error::Corrupt`] rather than a panic or an out-of-range request.

use std::cmp::Ordering;

use bytes::Bytes;

use crate::codec::{Decoder, Encoder};
use crate::error::{Error, Result};
use crate::types::{Entry, Lsn};

/// "SHOALSST", little endian, at the start of the footer.
pub(super) const MAGIC: u64 = u64::from_le_bytes(*b"SHOALSST");
pub(super) const FORMAT_VERSION: u32 = 1;
/// magic, version, 7 u64 fields, CRC.
pub(super) const FOOTER_LEN: usize = 8 + 4 + 7 * 8 + 4;
/// A page's trailer: its entry count and its CRC.
pub(super) const PAGE_TRAILER_LEN: usize = 4 + 4;

/// The order of entries in an SST: key ascending, then LSN descending, so
/// that the first version of a key met in a forward scan is its newest.
pub(super) fn entry_order(key: &[u8], lsn: Lsn, other_key: &[u8], other_lsn: Lsn) -> Ordering {
    key.cmp(other_key).then(other_lsn.cmp(&lsn))
}

/// How many bytes [`PageBuilder::add`] appends for `entry`, its slot in the
/// offset array included.
pub(super) fn encoded_entry_len(entry: &Entry) -> usize {
    let value = entry.value.as_ref().map_or(0, |v| 4 + v.len());
    4 + entry.key.len() + 8 + 1 + value + 4
}

/// Accumulates one data page:
/// `entry* | offset: u32 per entry | count: u32 | crc32c: u32`,
/// an entry being `key: bytes | lsn: u64 | value: opt_bytes`.
///
/// Keys are not prefix-compressed: pages are cached encoded and decoded on
/// every access, and uncompressed entries decode as zero-copy slices of the
/// cached page. The offset array lets a lookup binary-search a page and a
/// reverse scan walk it backwards without decoding it whole.
#[derive(Default)]
pub(super) struct PageBuilder {
    enc: Encoder,
    offsets: Vec<u32>,
}

impl PageBuilder {
    pub(super) fn add(&mut self, entry: &Entry) {
        self.offsets
            .push(u32::try_from(self.enc.len()).expect("page size checked by the writer"));
        self.enc.bytes(&entry.key);
        self.enc.u64(entry.lsn);
        self.enc.opt_bytes(entry.value.as_deref());
    }

    pub(super) fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// The encoded size of the page as it stands, trailer included.
    pub(super) fn len(&self) -> usize {
        self.enc.len() + 4 * self.offsets.len() + PAGE_TRAILER_LEN
    }

    /// Encodes the page and leaves the builder empty.
    pub(super) fn finish(&mut self) -> Vec<u8> {
        let mut enc = std::mem::take(&mut self.enc);
        for &offset in &self.offsets {
            enc.u32(offset);
        }
        enc.u32(u32::try_from(self.offsets.len()).expect("entries per page fit the page"));
        self.offsets.clear();
        enc.finish_with_crc()
    }
}

/// A decoded view of one data page whose CRC has already been checked.
#[derive(Clone)]
pub(super) struct Page {
    /// The page without its CRC.
    body: Bytes,
    count: usize,
    /// Where the entries end and the offset array begins.
    entries_end: usize,
}

impl Page {
    /// Parses a page, CRC included, that the caller has verified.
    pub(super) fn parse(object: &str, no: usize, raw: Bytes) -> Result<Page> {
        let corrupt = |why: &str| Error::corrupt(object, format!("page {no}: {why}"));
        if raw.len() < PAGE_TRAILER_LEN {
            return Err(corrupt("shorter than its trailer"));
        }
        let body = raw.slice(..raw.len() - 4);
        let count_at = body.len() - 4;
        let count = read_u32(&body, count_at) as usize;
        let entries_end = count
            .checked_mul(4)
            .and_then(|n| count_at.checked_sub(n))
            .ok_or_else(|| corrupt("entry count exceeds the page"))?;
        if count == 0 {
            return Err(corrupt("no entries"));
        }
        Ok(Page {
            body,
            count,
            entries_end,
        })
    }

    pub(super) fn len(&self) -> usize {
        self.count
    }

    /// Entry `i` (which must be `< len()`), sharing the page's memory.
    pub(super) fn entry(&self, object: &str, i: usize) -> Result<Entry> {
        let start = self.offset(i);
        let end = if i + 1 < self.count {
            self.offset(i + 1)
        } else {
            self.entries_end
        };
        if start > end || end > self.entries_end {
            return Err(Error::corrupt(
                object,
                format!("entry {i}: bad offsets {start}..{end}"),
            ));
        }
        let mut d = Decoder::new(object, self.body.slice(start..end));
        let entry = Entry {
            key: d.bytes()?,
            lsn: d.u64()?,
            value: d.opt_bytes()?,
        };
        d.finish()?;
        Ok(entry)
    }

    /// The first index whose entry satisfies `pred`, or `len()` if none
    /// does; `pred` must be false for a prefix of the page and true after.
    pub(super) fn search(&self, object: &str, pred: impl Fn(&Entry) -> bool) -> Result<usize> {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(&self.entry(object, mid)?) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Ok(lo)
    }

    fn offset(&self, i: usize) -> usize {
        read_u32(&self.body, self.entries_end + 4 * i) as usize
    }
}

fn read_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(buf[at..at + 4].try_into().expect("4 bytes"))
}

/// Where one data page is and what it starts with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PageHandle {
    pub(super) offset: u64,
    pub(super) len: u32,
    pub(super) first_key: Bytes,
    pub(super) first_lsn: Lsn,
}

/// The index block:
/// `count: u32 | (offset: u64 | len: u32 | first_key: bytes | first_lsn: u64)* |
/// max_key: bytes | crc32c: u32`. The SST's min key is page 0's first key.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Index {
    pub(super) pages: Vec<PageHandle>,
    pub(super) max_key: Bytes,
}

impl Index {
    pub(super) fn encode(&self) -> Vec<u8> {
        let keys: usize = self.pages.iter().map(|p| p.first_key.len()).sum();
        let mut e = Encoder::with_capacity(8 + 24 * self.pages.len() + keys + self.max_key.len());
        e.u32(u32::try_from(self.pages.len()).expect("page count fits u32"));
        for p in &self.pages {
            e.u64(p.offset);
            e.u32(p.len);
            e.bytes(&p.first_key);
            e.u64(p.first_lsn);
        }
        e.bytes(&self.max_key);
        e.finish_with_crc()
    }

    /// Decodes and checks the index of an object whose data pages fill
    /// `0..data_end`: pages must tile that range in order, and their first
    /// entries must ascend, or the lookups' binary searches would lie.
    pub(super) fn decode(object: &str, buf: Bytes, data_end: u64) -> Result<Index> {
        let mut d = Decoder::checked(object, "index", buf)?;
        let n = d.count(8 + 4 + 4 + 8)?;
        let mut pages: Vec<PageHandle> = Vec::with_capacity(n);
        let mut next_offset = 0u64;
        for no in 0..n {
            let page = PageHandle {
                offset: d.u64()?,
                len: d.u32()?,
                first_key: d.bytes()?,
                first_lsn: d.u64()?,
            };
            if page.offset != next_offset || (page.len as usize) < PAGE_TRAILER_LEN {
                return Err(d.corrupt(format!("index: page {no} is misplaced")));
            }
            if let Some(prev) = pages.last() {
                let order = entry_order(
                    &prev.first_key,
                    prev.first_lsn,
                    &page.first_key,
                    page.first_lsn,
                );
                if order != Ordering::Less {
                    return Err(d.corrupt(format!("index: page {no} is out of order")));
                }
            }
            next_offset += u64::from(page.len);
            pages.push(page);
        }
        let max_key = d.bytes()?;
        d.finish()?;
        match pages.last() {
            None => return Err(d.corrupt("index: no pages")),
            Some(last) if last.first_key > max_key => {
                return Err(d.corrupt("index: max key below the last page"))
            }
            Some(_) if next_offset != data_end => {
                return Err(d.corrupt("index: pages do not fill the data region"))
            }
            Some(_) => {}
        }
        Ok(Index { pages, max_key })
    }
}

/// The fixed-size footer that ends every SST:
/// `magic: u64 | version: u32 | index_offset, index_len, bloom_offset,
/// bloom_len, entries, min_lsn, max_lsn: u64 | crc32c: u32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Footer {
    pub(super) index_offset: u64,
    pub(super) index_len: u64,
    pub(super) bloom_offset: u64,
    pub(super) bloom_len: u64,
    pub(super) entries: u64,
    pub(super) min_lsn: Lsn,
    pub(super) max_lsn: Lsn,
}

impl Footer {
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::with_capacity(FOOTER_LEN);
        e.u64(MAGIC);
        e.u32(FORMAT_VERSION);
        for v in [
            self.index_offset,
            self.index_len,
            self.bloom_offset,
            self.bloom_len,
            self.entries,
            self.min_lsn,
            self.max_lsn,
        ] {
            e.u64(v);
        }
        let buf = e.finish_with_crc();
        debug_assert_eq!(buf.len(), FOOTER_LEN);
        buf
    }

    /// Decodes the last [`FOOTER_LEN`] bytes of an object of `size` bytes
    /// and checks that the blocks it names lie in order inside the object:
    /// data pages, then the index, then the bloom filter, then the footer.
    pub(super) fn decode(object: &str, buf: Bytes, size: u64) -> Result<Footer> {
        let mut d = Decoder::checked(object, "footer", buf)?;
        if d.u64()? != MAGIC {
            return Err(d.corrupt("footer: not an SST (bad magic)"));
        }
        let version = d.u32()?;
        if version != FORMAT_VERSION {
            return Err(d.corrupt(format!("footer: unsupported format version {version}")));
        }
        let footer = Footer {
            index_offset: d.u64()?,
            index_len: d.u64()?,
            bloom_offset: d.u64()?,
            bloom_len: d.u64()?,
            entries: d.u64()?,
            min_lsn: d.u64()?,
            max_lsn: d.u64()?,
        };
        d.finish()?;
        let index_end = footer.index_offset.checked_add(footer.index_len);
        let bloom_end = footer.bloom_offset.checked_add(footer.bloom_len);
        let tiled = index_end == Some(footer.bloom_offset)
            && bloom_end.and_then(|e| e.checked_add(FOOTER_LEN as u64)) == Some(size);
        if !tiled || footer.index_offset == 0 {
            return Err(d.corrupt(format!(
                "footer: blocks do not fit an object of {size} bytes"
            )));
        }
        if footer.entries == 0 || footer.min_lsn > footer.max_lsn {
            return Err(d.corrupt("footer: bad entry count or LSN range"));
        }
        Ok(footer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, lsn: Lsn, value: Option<&str>) -> Entry {
        Entry {
            key: Bytes::copy_from_slice(key.as_bytes()),
            lsn,
            value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
        }
    }

    #[test]
    fn page_round_trip_and_search() {
        let entries = vec![
            entry("a", 9, Some("x")),
            entry("a", 3, None),
            entry("b", 5, Some("")),
            entry("c", 1, Some("yyy")),
        ];
        let mut b = PageBuilder::default();
        for e in &entries {
            b.add(e);
        }
        let expected_len = b.len();
        let raw = Bytes::from(b.finish());
        assert_eq!(raw.len(), expected_len);
        assert_eq!(
            raw.len(),
            entries.iter().map(encoded_entry_len).sum::<usize>() + PAGE_TRAILER_LEN
        );
        assert!(b.is_empty());
        Decoder::checked("obj", "page 0", raw.clone()).unwrap();
        let page = Page::parse("obj", 0, raw).unwrap();
        assert_eq!(page.len(), 4);
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(&page.entry("obj", i).unwrap(), e);
        }
        assert_eq!(page.search("obj", |e| e.key[..] >= b"b"[..]).unwrap(), 2);
        assert_eq!(page.search("obj", |e| e.key[..] > b"c"[..]).unwrap(), 4);
        assert_eq!(page.search("obj", |_| true).unwrap(), 0);
    }

    #[test]
    fn bad_pages_are_errors() {
        assert!(Page::parse("obj", 0, Bytes::from_static(&[0; 7])).is_err());
        // count = 0
        assert!(Page::parse("obj", 0, Bytes::from_static(&[0; 8])).is_err());
        // count larger than the page
        assert!(Page::parse("obj", 0, Bytes::from_static(&[9, 0, 0, 0, 0, 0, 0, 0])).is_err());
        // one entry whose offset points past the entries
        let page = Page::parse(
            "obj",
            0,
            Bytes::from_static(&[50, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]),
        )
        .unwrap();
        let err = page.entry("obj", 0).unwrap_err();
        assert!(matches!(err, Error::Corrupt { object, .. } if object == "obj"));
    }

    #[test]
    fn footer_round_trip_and_checks() {
        let f = Footer {
            index_offset: 100,
            index_len: 20,
            bloom_offset: 120,
            bloom_len: 30,
            entries: 7,
            min_lsn: 1,
            max_lsn: 9,
        };
        let buf = Bytes::from(f.encode());
        let size = 150 + FOOTER_LEN as u64;
        assert_eq!(Footer::decode("obj", buf.clone(), size).unwrap(), f);
        assert!(Footer::decode("obj", buf.clone(), size + 1).is_err());
        let bad = Footer {
            bloom_offset: 121,
            ..f
        };
        assert!(Footer::decode("obj", Bytes::from(bad.encode()), size).is_err());
        let huge = Footer {
            index_len: u64::MAX,
            ..f
        };
        assert!(Footer::decode("obj", Bytes::from(huge.encode()), size).is_err());
    }

    #[test]
    fn index_checks_tiling_and_order() {
        let page = |offset, len, key: &str, lsn| PageHandle {
            offset,
            len,
            first_key: Bytes::copy_from_slice(key.as_bytes()),
            first_lsn: lsn,
        };
        let index = Index {
            pages: vec![
                page(0, 50, "a", 5),
                page(50, 60, "a", 2),
                page(110, 40, "c", 1),
            ],
            max_key: Bytes::from_static(b"d"),
        };
        let buf = Bytes::from(index.encode());
        assert_eq!(Index::decode("obj", buf.clone(), 150).unwrap(), index);
        assert!(Index::decode("obj", buf, 151).is_err());
        let unordered = Index {
            pages: vec![page(0, 50, "b", 5), page(50, 60, "a", 2)],
            max_key: Bytes::from_static(b"d"),
        };
        assert!(Index::decode("obj", Bytes::from(unordered.encode()), 110).is_err());
        let gap = Index {
            pages: vec![page(0, 50, "a", 5), page(51, 60, "b", 2)],
            max_key: Bytes::from_static(b"d"),
        };
        assert!(Index::decode("obj", Bytes::from(gap.encode()), 111).is_err());
    }
}
