//! WAL segments (`wal/<segment:020>`): one group-commit batch per object,
//! written once with create-if-absent, so the object store decides races and
//! a writer that loses one is fenced.
//!
//! Encoding (little endian), followed by a CRC32C of everything before it:
//! `magic u32 | version u32 | epoch u64 | timeline u64 | first_lsn u64 |
//! last_lsn u64 | [continue_at u64] | n_txns u32 | txn* | n_sequences u32 |
//! (seq u64, hwm u64)*`, where `txn = lsn u64 | n_writes u32 | (key bytes,
//! value opt_bytes)*`. Version 1 has no `continue_at`; version 2 (written
//! only for segments that have one) does.
//!
//! Segments are written by a pipeline: up to [`MAX_PIPELINE`] PUTs may be in
//! flight, so the object store can hold segment `n + 1` while `n` is still
//! missing. A reader reads up to the first missing number. A *jump record*
//! (an empty segment with `continue_at`) says the log goes on at
//! `continue_at`, and every segment numbered in between is void: a writer
//! writes one where its pipeline failed (the later PUTs in flight may still
//! land, and must never count), and a new leader writes its epoch-change
//! record as one, `MAX_PIPELINE` ahead, so that no PUT still in flight from
//! the leader it fences can land inside the log.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::join_all;
use object_store::{path::Path, ObjectStore};

use crate::codec::{Decoder, Encoder};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::object;
use crate::types::{CommittedTxn, Lsn, Write};

const MAGIC: u32 = 0x5348_574c; // "SHWL"
const FORMAT_VERSION: u32 = 1;
/// The format of segments with a `continue_at`.
const FORMAT_VERSION_JUMP: u32 = 2;

/// The most WAL PUTs a writer may have in flight: a writer only writes
/// segment `n` once every segment below `n - MAX_PIPELINE + 1` is durable.
/// This is part of the format's contract (epoch-change records jump this
/// far), so it can only grow with a format change.
pub const MAX_PIPELINE: u64 = 64;

/// One WAL segment: a run of committed transactions with consecutive,
/// strictly increasing LSNs, plus any sequence high-water marks raised in
/// this batch. A segment with no transactions (an epoch-change record)
/// covers no LSNs: `first_lsn == last_lsn + 1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalSegment {
    /// The leadership epoch of the coordinator that wrote it.
    pub epoch: u64,
    /// The timeline (bumped when a standby is promoted).
    pub timeline: u64,
    pub first_lsn: Lsn,
    pub last_lsn: Lsn,
    pub txns: Vec<CommittedTxn>,
    /// `(sequence id, high-water mark)`: no value at or below a mark may be
    /// handed out again, also after a restart.
    pub sequences: Vec<(u64, u64)>,
    /// A jump record's: the number of the log's next segment. Segments
    /// numbered between this one and it are void.
    pub continue_at: Option<u64>,
}

impl WalSegment {
    /// A segment of `txns`, which must have strictly increasing LSNs all
    /// above `prev_lsn` (the last LSN of the log so far).
    pub fn new(
        epoch: u64,
        timeline: u64,
        prev_lsn: Lsn,
        txns: Vec<CommittedTxn>,
        sequences: Vec<(u64, u64)>,
    ) -> Result<Self> {
        let mut last = prev_lsn;
        for t in &txns {
            if t.lsn <= last {
                return Err(Error::InvalidInput(format!(
                    "WAL batch LSN {} does not follow {last}",
                    t.lsn
                )));
            }
            last = t.lsn;
        }
        Ok(WalSegment {
            epoch,
            timeline,
            first_lsn: txns.first().map_or(prev_lsn + 1, |t| t.lsn),
            last_lsn: last,
            txns,
            sequences,
            continue_at: None,
        })
    }

    /// A jump record written as segment `at`: an empty segment after LSN
    /// `prev_lsn` saying the log continues at segment `continue_at`.
    pub fn jump(epoch: u64, timeline: u64, prev_lsn: Lsn, at: u64, continue_at: u64) -> Self {
        debug_assert!(continue_at > at);
        WalSegment {
            epoch,
            timeline,
            first_lsn: prev_lsn + 1,
            last_lsn: prev_lsn,
            txns: Vec::new(),
            sequences: Vec::new(),
            continue_at: Some(continue_at),
        }
    }

    pub fn encode(&self) -> Bytes {
        let mut e = Encoder::with_capacity(64 + self.encoded_payload_hint());
        e.u32(MAGIC);
        e.u32(match self.continue_at {
            None => FORMAT_VERSION,
            Some(_) => FORMAT_VERSION_JUMP,
        });
        e.u64(self.epoch);
        e.u64(self.timeline);
        e.u64(self.first_lsn);
        e.u64(self.last_lsn);
        if let Some(next) = self.continue_at {
            e.u64(next);
        }
        e.u32(self.txns.len() as u32);
        for t in &self.txns {
            e.u64(t.lsn);
            e.u32(t.writes.len() as u32);
            for w in &t.writes {
                e.bytes(&w.key);
                e.opt_bytes(w.value.as_deref());
            }
        }
        e.u32(self.sequences.len() as u32);
        for (seq, hwm) in &self.sequences {
            e.u64(*seq);
            e.u64(*hwm);
        }
        Bytes::from(e.finish_with_crc())
    }

    fn encoded_payload_hint(&self) -> usize {
        self.txns
            .iter()
            .flat_map(|t| &t.writes)
            .map(|w| 9 + w.key.len() + w.value.as_ref().map_or(0, |v| v.len() + 4))
            .sum()
    }

    /// Decodes and validates a segment read from `object`.
    pub fn decode(object: &str, buf: Bytes) -> Result<Self> {
        let mut d = Decoder::checked(object, "segment", buf)?;
        if d.u32()? != MAGIC {
            return Err(d.corrupt("not a WAL segment (bad magic)"));
        }
        let version = d.u32()?;
        if version != FORMAT_VERSION && version != FORMAT_VERSION_JUMP {
            return Err(d.corrupt(format!("unsupported WAL format version {version}")));
        }
        let epoch = d.u64()?;
        let timeline = d.u64()?;
        let first_lsn = d.u64()?;
        let last_lsn = d.u64()?;
        let continue_at = match version {
            FORMAT_VERSION_JUMP => Some(d.u64()?),
            _ => None,
        };
        let n = d.count(12)?;
        let mut txns = Vec::with_capacity(n);
        for _ in 0..n {
            let lsn = d.u64()?;
            let w = d.count(5)?;
            let mut writes = Vec::with_capacity(w);
            for _ in 0..w {
                let key = d.bytes()?;
                let value = d.opt_bytes()?;
                writes.push(Write { key, value });
            }
            txns.push(CommittedTxn { lsn, writes });
        }
        let s = d.count(16)?;
        let mut sequences = Vec::with_capacity(s);
        for _ in 0..s {
            sequences.push((d.u64()?, d.u64()?));
        }
        d.finish()?;
        let mut seg = WalSegment::new(epoch, timeline, first_lsn.wrapping_sub(1), txns, sequences)
            .map_err(|e| Error::corrupt(object, e.to_string()))?;
        if continue_at.is_some() && !seg.txns.is_empty() {
            return Err(Error::corrupt(object, "a jump record holds transactions"));
        }
        seg.continue_at = continue_at;
        if seg.first_lsn != first_lsn || seg.last_lsn != last_lsn {
            return Err(Error::corrupt(
                object,
                format!(
                    "header says LSNs {first_lsn}..={last_lsn}, transactions say {}..={}",
                    seg.first_lsn, seg.last_lsn
                ),
            ));
        }
        Ok(seg)
    }
}

/// The WAL of one store: numbered segments starting at 1.
#[derive(Clone, Debug)]
pub struct Wal {
    store: Arc<dyn ObjectStore>,
    layout: Layout,
}

/// How many segments a catch-up read fetches concurrently.
const READ_AHEAD: u64 = 32;

impl Wal {
    pub fn new(store: Arc<dyn ObjectStore>, layout: Layout) -> Self {
        Wal { store, layout }
    }

    pub fn path(&self, segment: u64) -> Path {
        self.layout.wal(segment)
    }

    /// Writes segment number `segment` if nobody has; [`Error::Fenced`] if
    /// somebody already did.
    pub async fn append(&self, segment: u64, seg: &WalSegment) -> Result<()> {
        object::create(self.store.as_ref(), &self.path(segment), seg.encode()).await
    }

    /// Reads segment number `segment`; `None` if it does not exist.
    pub async fn read(&self, segment: u64) -> Result<Option<WalSegment>> {
        let path = self.path(segment);
        match object::read_if_exists(self.store.as_ref(), &path).await? {
            Some(bytes) => WalSegment::decode(path.as_ref(), bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Reads the log from segment `first` on, in order, up to the first
    /// number that does not exist, at most `limit` segments, following jump
    /// records over void segments. Fetches a few ahead concurrently.
    pub async fn read_from(&self, first: u64, limit: usize) -> Result<WalRead> {
        let mut segments = Vec::new();
        let mut next = first;
        'read: while segments.len() < limit {
            let want = READ_AHEAD.min((limit - segments.len()) as u64);
            let reads = join_all((next..next + want).map(|n| self.read(n))).await;
            let start = next;
            for (i, r) in reads.into_iter().enumerate() {
                let n = start + i as u64;
                let Some(seg) = r? else {
                    next = n;
                    break 'read;
                };
                next = seg.continue_at.unwrap_or(n + 1);
                let jumped = seg.continue_at.is_some();
                segments.push((n, seg));
                if jumped {
                    // The rest of this read-ahead is void.
                    continue 'read;
                }
            }
        }
        Ok(WalRead { segments, next })
    }
}

/// What [`Wal::read_from`] read.
#[derive(Debug)]
pub struct WalRead {
    /// The segments of the log, with their numbers, in order.
    pub segments: Vec<(u64, WalSegment)>,
    /// The number the log's next segment will have.
    pub next: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    fn seg(prev: Lsn, lsns: &[Lsn]) -> WalSegment {
        let txns = lsns
            .iter()
            .map(|&lsn| CommittedTxn {
                lsn,
                writes: vec![
                    Write::put(format!("k{lsn}"), format!("v{lsn}")),
                    Write::delete(format!("d{lsn}")),
                ],
            })
            .collect();
        WalSegment::new(3, 1, prev, txns, vec![(7, 1000)]).unwrap()
    }

    #[test]
    fn encoding_round_trips_and_is_pinned() {
        let s = seg(0, &[1, 2, 5]);
        let buf = s.encode();
        assert_eq!(WalSegment::decode("w", buf.clone()).unwrap(), s);
        // The format is a contract with every store ever written: pin it.
        assert_eq!(buf.len(), 164);
        assert_eq!(
            crc32c::crc32c(&buf[..buf.len() - 4]),
            0x9f96_3774,
            "WAL format changed: bump FORMAT_VERSION"
        );

        let empty = WalSegment::new(4, 1, 9, vec![], vec![]).unwrap();
        assert_eq!((empty.first_lsn, empty.last_lsn), (10, 9));
        assert_eq!(WalSegment::decode("w", empty.encode()).unwrap(), empty);
    }

    #[test]
    fn rejects_unordered_batches() {
        let t = |lsn| CommittedTxn {
            lsn,
            writes: vec![],
        };
        assert!(WalSegment::new(1, 1, 5, vec![t(5)], vec![]).is_err());
        assert!(WalSegment::new(1, 1, 0, vec![t(2), t(2)], vec![]).is_err());
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let buf = seg(0, &[1, 2]).encode();
        for i in 0..buf.len() {
            let mut bad = buf.to_vec();
            bad[i] ^= 0x01;
            let err = WalSegment::decode("wal/1", Bytes::from(bad)).unwrap_err();
            assert!(
                matches!(err, Error::Corrupt { ref object, .. } if object == "wal/1"),
                "{err}"
            );
        }
        for n in 0..buf.len() {
            assert!(WalSegment::decode("wal/1", buf.slice(..n)).is_err());
        }
    }

    #[tokio::test]
    async fn append_is_create_if_absent_and_reads_stop_at_the_gap() {
        let wal = Wal::new(Arc::new(InMemory::new()), Layout::new(Path::default()));
        wal.append(1, &seg(0, &[1])).await.unwrap();
        wal.append(2, &seg(1, &[2, 3])).await.unwrap();
        let err = wal.append(2, &seg(1, &[2])).await.unwrap_err();
        assert!(matches!(err, Error::Fenced { .. }), "{err}");
        let read = wal.read_from(1, usize::MAX).await.unwrap();
        assert_eq!(read.segments.len(), 2);
        assert_eq!(read.segments[1].1.last_lsn, 3);
        assert_eq!(read.next, 3);
        assert!(wal.read(3).await.unwrap().is_none());
        let one = wal.read_from(2, 1).await.unwrap();
        assert_eq!((one.segments.len(), one.next), (1, 3));
        // A segment past the gap is not part of the log (yet).
        wal.append(4, &seg(3, &[4])).await.unwrap();
        assert_eq!(wal.read_from(1, usize::MAX).await.unwrap().next, 3);
    }

    #[tokio::test]
    async fn reads_follow_jump_records_over_void_segments() {
        let wal = Wal::new(Arc::new(InMemory::new()), Layout::new(Path::default()));
        wal.append(1, &seg(0, &[1])).await.unwrap();
        // 2 is missing; 3 and 12 landed from a pipeline whose 2 failed.
        wal.append(3, &seg(2, &[3])).await.unwrap();
        wal.append(12, &seg(3, &[4])).await.unwrap();
        assert_eq!(wal.read_from(1, usize::MAX).await.unwrap().next, 2);
        // The writer voids 2..=20 with a jump record at 2.
        let jump = WalSegment::jump(3, 1, 1, 2, 21);
        wal.append(2, &jump).await.unwrap();
        wal.append(21, &seg(1, &[2])).await.unwrap();
        let read = wal.read_from(1, usize::MAX).await.unwrap();
        let numbers: Vec<u64> = read.segments.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, vec![1, 2, 21]);
        assert_eq!(read.next, 22);
        assert_eq!(read.segments[1].1, jump);
        let lsns: Vec<Lsn> = read.segments.iter().map(|(_, s)| s.last_lsn).collect();
        assert_eq!(lsns, vec![1, 1, 2]);
        // Limits count segments of the log, not void ones.
        let two = wal.read_from(1, 2).await.unwrap();
        assert_eq!((two.segments.len(), two.next), (2, 21));
    }

    #[test]
    fn jump_records_round_trip_and_plain_segments_keep_version_1() {
        let jump = WalSegment::jump(7, 2, 41, 9, 9 + MAX_PIPELINE);
        let buf = jump.encode();
        assert_eq!(u32::from_le_bytes(buf[4..8].try_into().unwrap()), 2);
        assert_eq!(WalSegment::decode("w", buf).unwrap(), jump);
        let plain = seg(0, &[1]).encode();
        assert_eq!(u32::from_le_bytes(plain[4..8].try_into().unwrap()), 1);
    }

    #[tokio::test]
    async fn racing_writers_exactly_one_wins() {
        let wal = Wal::new(Arc::new(InMemory::new()), Layout::new(Path::default()));
        let tries = (0..16).map(|i| {
            let wal = wal.clone();
            async move { wal.append(1, &seg(0, &[1 + i])).await }
        });
        let results = join_all(tries).await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        assert!(results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, Error::Fenced { .. })));
    }
}
