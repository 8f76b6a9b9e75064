//! Merge iterators: the memtables and SSTs each yield versions in scan
//! order; [`MergeIter`] merges them into one ordered stream of versions, and
//! [`SnapshotIter`] resolves that stream to what a snapshot sees.

use std::cmp::Ordering;

use bytes::Bytes;

use crate::error::Result;
use crate::memtable::{scan_order, MemtableIter};
use crate::sst::SstIter;
use crate::types::{Direction, Entry, Lsn};

/// One ordered source of versions.
pub enum Source {
    Memtable(MemtableIter),
    Sst(Box<SstIter>),
}

impl Source {
    async fn next(&mut self) -> Result<Option<Entry>> {
        match self {
            Source::Memtable(it) => Ok(it.next_entry()),
            Source::Sst(it) => it.next().await,
        }
    }
}

/// Merges sources that each yield versions in scan order into one stream in
/// scan order. A version present in several sources (a memtable that still
/// holds what was just flushed into an SST) is yielded once.
pub struct MergeIter {
    direction: Direction,
    sources: Vec<Source>,
    /// The current head of each source; `None` once it is exhausted.
    heads: Vec<Option<Entry>>,
    started: bool,
    last: Option<(Bytes, Lsn)>,
}

impl MergeIter {
    pub fn new(direction: Direction, sources: Vec<Source>) -> Self {
        MergeIter {
            direction,
            heads: Vec::with_capacity(sources.len()),
            sources,
            started: false,
            last: None,
        }
    }

    /// The next version in scan order, or `None` at the end.
    pub async fn next(&mut self) -> Result<Option<Entry>> {
        if !self.started {
            for s in &mut self.sources {
                self.heads.push(s.next().await?);
            }
            self.started = true;
        }
        loop {
            // Few sources (memtables, L0 files, one L1 file per key range):
            // a linear pick beats a heap here.
            let mut best: Option<usize> = None;
            for (i, h) in self.heads.iter().enumerate() {
                let Some(h) = h else { continue };
                best = match best {
                    Some(b) => {
                        let cur = self.heads[b].as_ref().expect("best head is present");
                        if scan_order(self.direction, h, cur) == Ordering::Less {
                            Some(i)
                        } else {
                            Some(b)
                        }
                    }
                    None => Some(i),
                };
            }
            let Some(i) = best else { return Ok(None) };
            let entry = std::mem::replace(&mut self.heads[i], self.sources[i].next().await?)
                .expect("best head is present");
            let dup = self
                .last
                .as_ref()
                .is_some_and(|(k, l)| *l == entry.lsn && *k == entry.key);
            if !dup {
                self.last = Some((entry.key.clone(), entry.lsn));
                return Ok(Some(entry));
            }
        }
    }
}

/// Resolves a version stream to the rows a snapshot at `lsn` sees: for each
/// key the newest version at or below `lsn`, skipping keys whose newest such
/// version is a tombstone.
pub struct SnapshotIter {
    inner: MergeIter,
    lsn: Lsn,
    /// The key most recently resolved; older versions of it are skipped.
    done_key: Option<Bytes>,
}

impl SnapshotIter {
    pub fn new(inner: MergeIter, lsn: Lsn) -> Self {
        SnapshotIter {
            inner,
            lsn,
            done_key: None,
        }
    }

    /// The next visible `(key, value)`, or `None` at the end.
    pub async fn next(&mut self) -> Result<Option<(Bytes, Bytes)>> {
        while let Some(e) = self.inner.next().await? {
            if e.lsn > self.lsn || self.done_key.as_ref() == Some(&e.key) {
                continue;
            }
            self.done_key = Some(e.key.clone());
            if let Some(v) = e.value {
                return Ok(Some((e.key, v)));
            }
        }
        Ok(None)
    }

    /// Collects up to `limit` rows.
    pub async fn collect(mut self, limit: usize) -> Result<Vec<(Bytes, Bytes)>> {
        let mut out = Vec::new();
        while out.len() < limit {
            match self.next().await? {
                Some(row) => out.push(row),
                None => break,
            }
        }
        Ok(out)
    }
}

/// Drops versions no snapshot at or above `gc_lsn` can see, from a version
/// stream in forward scan order that holds *every* version of each key it
/// yields (a compaction into the bottom level): keeps all versions above
/// `gc_lsn`, plus the newest at or below it unless that is a tombstone.
pub struct GcFilter {
    inner: MergeIter,
    gc_lsn: Lsn,
    /// The key whose at-or-below-`gc_lsn` version has been decided.
    settled: Option<Bytes>,
}

impl GcFilter {
    pub fn new(inner: MergeIter, gc_lsn: Lsn) -> Self {
        GcFilter {
            inner,
            gc_lsn,
            settled: None,
        }
    }

    pub async fn next(&mut self) -> Result<Option<Entry>> {
        while let Some(e) = self.inner.next().await? {
            if e.lsn > self.gc_lsn {
                return Ok(Some(e));
            }
            if self.settled.as_ref() == Some(&e.key) {
                continue; // older than the version kept for gc_lsn
            }
            self.settled = Some(e.key.clone());
            if e.value.is_some() {
                return Ok(Some(e));
            }
        }
        Ok(None)
    }
}
