//! WAL segments (`wal/<segment:020>`): one group-commit batch per object,
//! written once with create-if-absent, so the object store decides races and
//! a writer that loses one is fenced.
//!
//! Encoding (little endian), followed by a CRC32C of everything before it:
//! `magic u32 | version u32 | epoch u64 | timeline u64 | first_lsn u64 |
//! last_lsn u64 | n_txns u32 | txn* | n_sequences u32 | (seq u64, hwm u64)*`,
//! where `txn = lsn u64 | n_writes u32 | (key bytes, value opt_bytes)*`.

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
        })
    }

    pub fn encode(&self) -> Bytes {
        let mut e = Encoder::with_capacity(64 + self.encoded_payload_hint());
        e.u32(MAGIC);
        e.u32(FORMAT_VERSION);
        e.u64(self.epoch);
        e.u64(self.timeline);
        e.u64(self.first_lsn);
        e.u64(self.last_lsn);
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
        if version != FORMAT_VERSION {
            return Err(d.corrupt(format!("unsupported WAL format version {version}")));
        }
        let epoch = d.u64()?;
        let timeline = d.u64()?;
        let first_lsn = d.u64()?;
        let last_lsn = d.u64()?;
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
        let seg = WalSegment::new(epoch, timeline, first_lsn.wrapping_sub(1), txns, sequences)
            .map_err(|e| Error::corrupt(object, e.to_string()))?;
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
const READ_AHEAD: u64 = 8;

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

    /// Reads segments `first, first + 1, ...` in order, up to the first one
    /// that does not exist (segments are written without gaps), at most
    /// `limit` of them. Fetches a few ahead concurrently.
    pub async fn read_from(&self, first: u64, limit: usize) -> Result<Vec<(u64, WalSegment)>> {
        let mut out = Vec::new();
        let mut next = first;
        while out.len() < limit {
            let want = READ_AHEAD.min((limit - out.len()) as u64);
            let reads = join_all((next..next + want).map(|n| self.read(n))).await;
            for (i, r) in reads.into_iter().enumerate() {
                match r? {
                    Some(seg) => out.push((next + i as u64, seg)),
                    None => return Ok(out),
                }
            }
            next += want;
        }
        Ok(out)
    }
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
        let segs = wal.read_from(1, usize::MAX).await.unwrap();
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[1].1.last_lsn, 3);
        assert!(wal.read(3).await.unwrap().is_none());
        assert_eq!(wal.read_from(2, 1).await.unwrap().len(), 1);
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
