//! The memtable: the not-yet-flushed versions of every key, in memory, as an
//! MVCC map `(key, lsn) -> value | tombstone` on a lock-free skiplist.
//!
//! Writers (one at a time, in LSN order: the coordinator's commit order)
//! insert whole batches; any number of readers get and scan concurrently.

use std::cmp::{Ordering, Reverse};
use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Arc;

use bytes::Bytes;
use crossbeam_skiplist::SkipMap;

use crate::types::{CommittedTxn, Direction, Entry, Lsn};

/// The skiplist key: user key ascending, then LSN descending, so the newest
/// version of a key comes first and "newest at or below snapshot s" is one seek.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct VersionKey {
    key: Bytes,
    lsn: Reverse<Lsn>,
}

impl VersionKey {
    fn new(key: Bytes, lsn: Lsn) -> Self {
        VersionKey {
            key,
            lsn: Reverse(lsn),
        }
    }
}

/// An in-memory MVCC map. Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct Memtable {
    map: SkipMap<VersionKey, Option<Bytes>>,
    /// Approximate bytes held, to decide when to flush.
    size: AtomicUsize,
    /// The highest LSN inserted (0 when empty).
    max_lsn: AtomicU64,
    /// The lowest LSN inserted (u64::MAX when empty).
    min_lsn: AtomicU64,
}

impl std::fmt::Debug for Memtable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memtable")
            .field("entries", &self.map.len())
            .field("size", &self.size())
            .field("min_lsn", &self.min_lsn())
            .field("max_lsn", &self.max_lsn())
            .finish()
    }
}

impl Memtable {
    pub fn new() -> Self {
        Memtable {
            min_lsn: AtomicU64::new(u64::MAX),
            ..Default::default()
        }
    }

    /// Inserts every write of a batch of committed transactions. Re-inserting
    /// a version that is already present (a redelivered batch) is harmless.
    pub fn insert_batch(&self, txns: &[CommittedTxn]) {
        for txn in txns {
            for w in &txn.writes {
                let bytes = w.key.len() + w.value.as_ref().map_or(0, |v| v.len()) + 32;
                self.map
                    .insert(VersionKey::new(w.key.clone(), txn.lsn), w.value.clone());
                self.size.fetch_add(bytes, AtomicOrdering::Relaxed);
            }
            self.max_lsn.fetch_max(txn.lsn, AtomicOrdering::AcqRel);
            self.min_lsn.fetch_min(txn.lsn, AtomicOrdering::AcqRel);
        }
    }

    /// The newest version of `key` at or below `snapshot`, tombstones
    /// included (`value: None`), or `None` if the memtable has none.
    pub fn get(&self, key: &[u8], snapshot: Lsn) -> Option<Entry> {
        let key = Bytes::copy_from_slice(key);
        let from = VersionKey::new(key.clone(), snapshot);
        let to = VersionKey::new(key, 0);
        let e = self.map.range(from..=to).next()?;
        Some(Entry {
            key: e.key().key.clone(),
            lsn: e.key().lsn.0,
            value: e.value().clone(),
        })
    }

    /// Every version within `range`, in scan order (see [`MemtableIter`]).
    pub fn iter(
        self: &Arc<Self>,
        range: (Bound<Bytes>, Bound<Bytes>),
        direction: Direction,
    ) -> MemtableIter {
        // Version-key bounds that include or exclude all versions of a key.
        let lower = match range.0 {
            Bound::Included(k) => Bound::Included(VersionKey::new(k, Lsn::MAX)),
            Bound::Excluded(k) => Bound::Excluded(VersionKey::new(k, 0)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let upper = match range.1 {
            Bound::Included(k) => Bound::Included(VersionKey::new(k, 0)),
            Bound::Excluded(k) => Bound::Excluded(VersionKey::new(k, Lsn::MAX)),
            Bound::Unbounded => Bound::Unbounded,
        };
        MemtableIter {
            mem: Arc::clone(self),
            lower,
            upper,
            direction,
            buf: VecDeque::new(),
            done: false,
        }
    }

    /// Removes every version at or below `lsn` (it is now in SSTs).
    /// Readers that need those versions must read them from the SSTs of a
    /// manifest whose `flushed_lsn >= lsn`.
    pub fn drop_upto(&self, lsn: Lsn) {
        for e in self.map.iter() {
            if e.key().lsn.0 <= lsn {
                let bytes = e.key().key.len() + e.value().as_ref().map_or(0, |v| v.len()) + 32;
                if e.remove() {
                    self.size.fetch_sub(bytes, AtomicOrdering::Relaxed);
                }
            }
        }
        if self.map.is_empty() {
            self.min_lsn.store(u64::MAX, AtomicOrdering::Release);
        } else {
            self.min_lsn.fetch_max(lsn + 1, AtomicOrdering::AcqRel);
        }
    }

    /// Approximate bytes held.
    pub fn size(&self) -> usize {
        self.size.load(AtomicOrdering::Relaxed)
    }

    /// Number of versions held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The highest LSN ever inserted, 0 if none.
    pub fn max_lsn(&self) -> Lsn {
        self.max_lsn.load(AtomicOrdering::Acquire)
    }

    /// The lowest LSN still possibly held, `None` when empty.
    pub fn min_lsn(&self) -> Option<Lsn> {
        match self.min_lsn.load(AtomicOrdering::Acquire) {
            u64::MAX => None,
            l => Some(l),
        }
    }
}

/// How many versions one refill of a [`MemtableIter`] copies out of the skiplist.
const ITER_BATCH: usize = 256;

/// Iterates the versions within a range. Forward: key ascending, LSN
/// descending. Reverse: key descending, and within one key still LSN
/// descending (newest first), so a snapshot reader resolves versions the same
/// way in both directions. It copies a batch of entries at a time, so it
/// holds no borrow of the skiplist and sees inserts made while it runs only
/// beyond its current batch (callers filter by snapshot LSN anyway).
pub struct MemtableIter {
    mem: Arc<Memtable>,
    lower: Bound<VersionKey>,
    upper: Bound<VersionKey>,
    direction: Direction,
    buf: VecDeque<Entry>,
    done: bool,
}

impl MemtableIter {
    /// The next version, or `None` at the end of the range.
    pub fn next_entry(&mut self) -> Option<Entry> {
        if self.buf.is_empty() && !self.done {
            self.refill();
        }
        self.buf.pop_front()
    }

    fn refill(&mut self) {
        let range = self
            .mem
            .map
            .range::<VersionKey, _>((self.lower.clone(), self.upper.clone()));
        let mut batch: Vec<Entry> = Vec::with_capacity(ITER_BATCH);
        let mut last: Option<VersionKey> = None;
        let mut take = |e: crossbeam_skiplist::map::Entry<'_, VersionKey, Option<Bytes>>| {
            // Stop once the batch is full and we are at a key boundary, so a
            // reverse batch always holds whole keys (needed to re-order them).
            if batch.len() >= ITER_BATCH && last.as_ref().is_some_and(|l| l.key != e.key().key) {
                return false;
            }
            batch.push(Entry {
                key: e.key().key.clone(),
                lsn: e.key().lsn.0,
                value: e.value().clone(),
            });
            last = Some(e.key().clone());
            true
        };
        let mut exhausted = true;
        match self.direction {
            Direction::Forward => {
                for e in range {
                    if !take(e) {
                        exhausted = false;
                        break;
                    }
                }
            }
            Direction::Reverse => {
                for e in range.rev() {
                    if !take(e) {
                        exhausted = false;
                        break;
                    }
                }
            }
        }
        match last {
            Some(last) if !exhausted => match self.direction {
                Direction::Forward => self.lower = Bound::Excluded(last),
                Direction::Reverse => self.upper = Bound::Excluded(last),
            },
            _ => self.done = true,
        }
        if self.direction == Direction::Reverse {
            // Entries came key descending, LSN ascending: flip each key's run.
            let mut start = 0;
            while start < batch.len() {
                let mut end = start + 1;
                while end < batch.len() && batch[end].key == batch[start].key {
                    end += 1;
                }
                batch[start..end].reverse();
                start = end;
            }
        }
        self.buf.extend(batch);
    }
}

/// Compares two entries in scan order for `direction` (see [`MemtableIter`]).
pub fn scan_order(direction: Direction, a: &Entry, b: &Entry) -> Ordering {
    let by_key = match direction {
        Direction::Forward => a.key.cmp(&b.key),
        Direction::Reverse => b.key.cmp(&a.key),
    };
    by_key.then(b.lsn.cmp(&a.lsn))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Write;

    fn txn(lsn: Lsn, writes: &[(&str, Option<&str>)]) -> CommittedTxn {
        CommittedTxn {
            lsn,
            writes: writes
                .iter()
                .map(|(k, v)| Write {
                    key: Bytes::copy_from_slice(k.as_bytes()),
                    value: v.map(|v| Bytes::copy_from_slice(v.as_bytes())),
                })
                .collect(),
        }
    }

    fn collect(it: &mut MemtableIter) -> Vec<(String, Lsn)> {
        let mut out = vec![];
        while let Some(e) = it.next_entry() {
            out.push((String::from_utf8(e.key.to_vec()).unwrap(), e.lsn));
        }
        out
    }

    #[test]
    fn get_at_snapshots() {
        let m = Memtable::new();
        m.insert_batch(&[
            txn(1, &[("a", Some("a1")), ("b", Some("b1"))]),
            txn(3, &[("a", Some("a3"))]),
            txn(5, &[("a", None)]),
        ]);
        assert_eq!(m.get(b"a", 0), None);
        assert_eq!(m.get(b"a", 1).unwrap().value.as_deref(), Some(&b"a1"[..]));
        assert_eq!(m.get(b"a", 2).unwrap().lsn, 1);
        assert_eq!(m.get(b"a", 4).unwrap().value.as_deref(), Some(&b"a3"[..]));
        assert_eq!(m.get(b"a", 5).unwrap().value, None);
        assert_eq!(m.get(b"a", u64::MAX).unwrap().lsn, 5);
        assert_eq!(m.get(b"c", 9), None);
        assert_eq!((m.min_lsn(), m.max_lsn()), (Some(1), 5));
    }

    #[test]
    fn iterates_in_both_directions_across_batches() {
        let m = Arc::new(Memtable::new());
        let keys: Vec<String> = (0..700).map(|i| format!("k{i:04}")).collect();
        for lsn in 1..=3 {
            let writes: Vec<(&str, Option<&str>)> =
                keys.iter().map(|k| (k.as_str(), Some("v"))).collect();
            m.insert_batch(&[txn(lsn, &writes)]);
        }
        let fwd = collect(&mut m.iter((Bound::Unbounded, Bound::Unbounded), Direction::Forward));
        let mut expect = vec![];
        for k in &keys {
            for lsn in [3, 2, 1] {
                expect.push((k.clone(), lsn));
            }
        }
        assert_eq!(fwd, expect);
        let rev = collect(&mut m.iter((Bound::Unbounded, Bound::Unbounded), Direction::Reverse));
        let mut expect = vec![];
        for k in keys.iter().rev() {
            for lsn in [3, 2, 1] {
                expect.push((k.clone(), lsn));
            }
        }
        assert_eq!(rev, expect);

        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        let r = collect(&mut m.iter(
            (Bound::Excluded(b("k0001")), Bound::Included(b("k0003"))),
            Direction::Reverse,
        ));
        assert_eq!(r.len(), 6);
        assert_eq!(r[0], ("k0003".into(), 3));
        assert_eq!(r[5], ("k0002".into(), 1));
        let r = collect(&mut m.iter(
            (Bound::Included(b("k0001")), Bound::Excluded(b("k0003"))),
            Direction::Forward,
        ));
        assert_eq!(r.first(), Some(&("k0001".into(), 3)));
        assert_eq!(r.last(), Some(&("k0002".into(), 1)));
    }

    #[test]
    fn drop_upto_removes_flushed_versions() {
        let m = Memtable::new();
        m.insert_batch(&[txn(1, &[("a", Some("1"))]), txn(2, &[("a", Some("2"))])]);
        let before = m.size();
        m.drop_upto(1);
        assert!(m.size() < before);
        assert_eq!(m.get(b"a", 1), None);
        assert_eq!(m.get(b"a", 2).unwrap().lsn, 2);
        assert_eq!(m.min_lsn(), Some(2));
        m.drop_upto(2);
        assert!(m.is_empty());
        assert_eq!(m.min_lsn(), None);
    }
}
