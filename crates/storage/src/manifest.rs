//! Manifests (`manifest/<version:020>`): which SSTs are live, by level, and
//! how far the WAL has been flushed into them. Each version is written once
//! with create-if-absent; the current manifest is the highest version.
//!
//! Encoding (little endian), then a CRC32C of everything before it:
//! `magic u32 | format u32 | version u64 | epoch u64 | timeline u64 |
//! flushed_lsn u64 | wal_segment u64 | next_sst_id u64 | n_levels u32 |
//! (n_ssts u32 | sst*)* | n_sequences u32 | (seq u64, hwm u64)*`,
//! where `sst = id u64 | size u64 | entries u64 | min_key bytes | max_key
//! bytes | min_lsn u64 | max_lsn u64`.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

use crate::codec::{Decoder, Encoder};
use crate::error::{Error, Result};
use crate::layout::{Layout, ObjectKind};
use crate::object;
use crate::sst::SstInfo;
use crate::types::Lsn;

const MAGIC: u32 = 0x5348_4d46; // "SHMF"
const FORMAT_VERSION: u32 = 1;

/// One version of the store's durable state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// This manifest's number; version 0 is the implicit empty store.
    pub version: u64,
    /// The epoch of the writer that published it.
    pub epoch: u64,
    pub timeline: u64,
    /// Every WAL entry at or below this LSN is in some SST listed here.
    pub flushed_lsn: Lsn,
    /// Recovery replays the WAL from this segment on (earlier segments hold
    /// nothing above `flushed_lsn`). Segments are numbered from 1.
    pub wal_segment: u64,
    /// The next SST id to try (ids of crashed uploads may be taken: skip them).
    pub next_sst_id: u64,
    /// `levels[0]`: L0, overlapping SSTs, newest (highest LSNs) first.
    /// `levels[1]`: L1, one sorted run of non-overlapping SSTs by key.
    pub levels: Vec<Vec<SstInfo>>,
    /// Sequence high-water marks as of `flushed_lsn`.
    pub sequences: BTreeMap<u64, u64>,
}

impl Manifest {
    /// The manifest of a store nobody has written to.
    pub fn empty() -> Self {
        Manifest {
            timeline: 1,
            wal_segment: 1,
            next_sst_id: 1,
            levels: vec![vec![], vec![]],
            ..Default::default()
        }
    }

    /// The SSTs of level `n` (empty if the level does not exist).
    pub fn level(&self, n: usize) -> &[SstInfo] {
        self.levels.get(n).map_or(&[], |l| l.as_slice())
    }

    /// Every live SST.
    pub fn ssts(&self) -> impl Iterator<Item = &SstInfo> {
        self.levels.iter().flatten()
    }

    pub fn encode(&self) -> Bytes {
        let mut e = Encoder::with_capacity(256);
        e.u32(MAGIC);
        e.u32(FORMAT_VERSION);
        for v in [
            self.version,
            self.epoch,
            self.timeline,
            self.flushed_lsn,
            self.wal_segment,
            self.next_sst_id,
        ] {
            e.u64(v);
        }
        e.u32(self.levels.len() as u32);
        for level in &self.levels {
            e.u32(level.len() as u32);
            for s in level {
                e.u64(s.id);
                e.u64(s.size);
                e.u64(s.entries);
                e.bytes(&s.min_key);
                e.bytes(&s.max_key);
                e.u64(s.min_lsn);
                e.u64(s.max_lsn);
            }
        }
        e.u32(self.sequences.len() as u32);
        for (seq, hwm) in &self.sequences {
            e.u64(*seq);
            e.u64(*hwm);
        }
        Bytes::from(e.finish_with_crc())
    }

    pub fn decode(object: &str, buf: Bytes) -> Result<Self> {
        let mut d = Decoder::checked(object, "manifest", buf)?;
        if d.u32()? != MAGIC {
            return Err(d.corrupt("not a manifest (bad magic)"));
        }
        let format = d.u32()?;
        if format != FORMAT_VERSION {
            return Err(d.corrupt(format!("unsupported manifest format version {format}")));
        }
        let mut m = Manifest {
            version: d.u64()?,
            epoch: d.u64()?,
            timeline: d.u64()?,
            flushed_lsn: d.u64()?,
            wal_segment: d.u64()?,
            next_sst_id: d.u64()?,
            ..Default::default()
        };
        let n_levels = d.count(4)?;
        for _ in 0..n_levels {
            let n = d.count(48)?;
            let mut level = Vec::with_capacity(n);
            for _ in 0..n {
                level.push(SstInfo {
                    id: d.u64()?,
                    size: d.u64()?,
                    entries: d.u64()?,
                    min_key: d.bytes()?,
                    max_key: d.bytes()?,
                    min_lsn: d.u64()?,
                    max_lsn: d.u64()?,
                });
            }
            m.levels.push(level);
        }
        let n = d.count(16)?;
        for _ in 0..n {
            let seq = d.u64()?;
            m.sequences.insert(seq, d.u64()?);
        }
        d.finish()?;
        while m.levels.len() < 2 {
            m.levels.push(vec![]);
        }
        Ok(m)
    }
}

/// Reads and publishes the manifests of one store.
#[derive(Clone, Debug)]
pub struct ManifestStore {
    store: Arc<dyn ObjectStore>,
    layout: Layout,
}

impl ManifestStore {
    pub fn new(store: Arc<dyn ObjectStore>, layout: Layout) -> Self {
        ManifestStore { store, layout }
    }

    /// Publishes `m` as version `m.version`; [`Error::Fenced`] if that
    /// version already exists (another writer published first).
    pub async fn publish(&self, m: &Manifest) -> Result<()> {
        let path = self.layout.manifest(m.version);
        object::create(self.store.as_ref(), &path, m.encode()).await
    }

    /// Reads version `version`; `None` if it does not exist.
    pub async fn read(&self, version: u64) -> Result<Option<Manifest>> {
        let path = self.layout.manifest(version);
        let Some(bytes) = object::read_if_exists(self.store.as_ref(), &path).await? else {
            return Ok(None);
        };
        let m = Manifest::decode(path.as_ref(), bytes)?;
        if m.version != version {
            return Err(Error::corrupt(
                &path,
                format!("holds version {}", m.version),
            ));
        }
        Ok(Some(m))
    }

    /// Every published manifest version with its object metadata, ascending.
    pub async fn list(&self) -> Result<Vec<(u64, ObjectMeta)>> {
        let dir = self.layout.dir(ObjectKind::Manifest);
        let metas: Vec<ObjectMeta> = self
            .store
            .list(Some(&dir))
            .try_collect()
            .await
            .map_err(|e| Error::store("list", &dir, e))?;
        let mut out: Vec<(u64, ObjectMeta)> = metas
            .into_iter()
            .filter_map(|m| Some((self.layout.parse(ObjectKind::Manifest, &m.location)?, m)))
            .collect();
        out.sort_by_key(|(v, _)| *v);
        Ok(out)
    }

    /// The current (highest) manifest, or the empty one for a new store.
    /// After listing it probes the following versions too, so a listing that
    /// lags a just-published version cannot make a reader go back in time.
    pub async fn load_current(&self) -> Result<Manifest> {
        let listed = self.list().await?.last().map(|(v, _)| *v);
        let mut current = match listed {
            Some(v) => self.read(v).await?.ok_or_else(|| Error::Missing {
                object: self.layout.manifest(v).to_string(),
            })?,
            None => Manifest::empty(),
        };
        while let Some(next) = self.read(current.version + 1).await? {
            current = next;
        }
        Ok(current)
    }

    /// Deletes manifest `version` (garbage collection of superseded ones).
    pub async fn delete(&self, version: u64) -> Result<()> {
        let path = self.layout.manifest(version);
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::store("delete", &path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::{memory::InMemory, path::Path};

    fn sample() -> Manifest {
        let sst = |id: u64, lo: &'static str, hi: &'static str| SstInfo {
            id,
            size: 1000 + id,
            entries: 10 * id,
            min_key: Bytes::from_static(lo.as_bytes()),
            max_key: Bytes::from_static(hi.as_bytes()),
            min_lsn: id,
            max_lsn: id * 10,
        };
        Manifest {
            version: 7,
            epoch: 2,
            timeline: 1,
            flushed_lsn: 99,
            wal_segment: 12,
            next_sst_id: 5,
            levels: vec![
                vec![sst(4, "a", "z")],
                vec![sst(1, "a", "m"), sst(2, "n", "z")],
            ],
            sequences: BTreeMap::from([(1, 500), (9, 20)]),
        }
    }

    #[test]
    fn encoding_round_trips_and_is_pinned() {
        let m = sample();
        let buf = m.encode();
        assert_eq!(Manifest::decode("m", buf.clone()).unwrap(), m);
        assert_eq!(buf.len(), 258);
        assert_eq!(
            crc32c::crc32c(&buf[..buf.len() - 4]),
            0xcac4_7bd1,
            "manifest format changed: bump FORMAT_VERSION"
        );
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let buf = sample().encode();
        for i in 0..buf.len() {
            let mut bad = buf.to_vec();
            bad[i] ^= 0x80;
            let err = Manifest::decode("manifest/7", Bytes::from(bad)).unwrap_err();
            assert!(err.to_string().contains("manifest/7"), "{err}");
        }
    }

    #[tokio::test]
    async fn publish_is_create_if_absent_and_current_is_highest() {
        let ms = ManifestStore::new(Arc::new(InMemory::new()), Layout::new(Path::from("r")));
        assert_eq!(ms.load_current().await.unwrap(), Manifest::empty());
        let mut m = sample();
        m.version = 1;
        ms.publish(&m).await.unwrap();
        m.version = 2;
        m.flushed_lsn = 150;
        ms.publish(&m).await.unwrap();
        let err = ms.publish(&m).await.unwrap_err();
        assert!(matches!(err, Error::Fenced { .. }), "{err}");
        assert_eq!(ms.load_current().await.unwrap().flushed_lsn, 150);
        assert_eq!(ms.list().await.unwrap().len(), 2);
    }
}
