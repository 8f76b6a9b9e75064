//! The store: WAL, memtables, SSTs and manifests put together. One writer
//! (the coordinator) appends batches and runs flushes and compactions; any
//! number of readers read at snapshot LSNs.
//!
//! Concurrency: an append reserves its segment number under the WAL cursor's
//! lock and then PUTs without it, so several appends may be in flight (see
//! [`Store::reserve`]); durable segments are applied to the memtable in
//! segment order. A flush holds the cursor's lock only to freeze the active
//! memtable; flushes, compactions and manifest publishes each have their own
//! lock, so a long compaction never blocks commits. Readers take an
//! `Arc<State>` (manifest + memtables) and never block.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as SyncMutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use object_store::{path::Path, ObjectStore};
use tokio::sync::Mutex;

use crate::cache::{DiskCache, DiskCacheOptions, PageCache};
use crate::compaction;
use crate::error::{Error, Result};
use crate::iter::{MergeIter, SnapshotIter, Source};
use crate::layout::Layout;
use crate::manifest::{Manifest, ManifestStore};
use crate::memtable::Memtable;
use crate::sst::{SstInfo, SstOptions, SstStore, SstWriter};
use crate::types::{CommittedTxn, Direction, Entry, Lsn};
use crate::wal::{Wal, WalSegment, MAX_PIPELINE};

/// Tunables of a [`Store`].
#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub sst: SstOptions,
    /// Page cache capacity in bytes.
    pub cache_bytes: u64,
    /// The page cache's disk tier, if any: pages kept in a local directory
    /// so that reopening the store on this host starts warm.
    pub disk_cache: Option<DiskCacheOptions>,
    /// Memtable size at which [`Store::needs_flush`] says yes.
    pub flush_bytes: usize,
    /// WAL segments written since the last flush at which
    /// [`Store::needs_flush`] says yes, however small the memtable: opening
    /// the store replays every segment above the manifest (one GET each),
    /// so this bounds how long a frontend takes to start. Small commits at
    /// a high rate fill many segments long before `flush_bytes`.
    pub flush_segments: u64,
    /// Whether [`Store::open`] replays the WAL above the manifest. A
    /// frontend does not: it joins at the manifest's `flushed_lsn`, and the
    /// coordinator streams it every visible batch above that from memory
    /// (or, when its memory starts higher, answers `Reload`, and the
    /// frontend replays with [`Store::reload`]). On S3 a replay is one GET
    /// per unflushed segment; streaming is one round trip.
    pub replay_wal: bool,
    /// Whether the store keeps a copy of the transactions it replays (at
    /// open and in [`Store::begin_epoch`]) for [`Store::take_replayed`]. A
    /// coordinator taking the lead does, to seed its memory of batches;
    /// anybody else would only hold a second copy of the unflushed log.
    pub keep_replayed: bool,
    /// Whether the page cache is kept warm: when every SST of the manifest
    /// fits in it, the pages of each SST that joins the manifest (and, at
    /// open, of all of them) are read in the background ahead of any
    /// lookup, so that a flush or a compaction, which replace SSTs whose
    /// pages were cached with new ones, does not leave readers to fetch
    /// the whole table again one page at a time. Frontends do; the writer
    /// only reads for compaction. Not with a disk tier (`disk_cache`): that
    /// one is filled by lookups and is what a restart reads back, so pages
    /// keep coming on demand through it.
    pub warm_cache: bool,
    /// Number of L0 files that makes [`Store::compact`] run.
    pub l0_compaction_trigger: usize,
    /// Compaction cuts its output files at about this size.
    pub target_sst_bytes: usize,
    /// How long an unreferenced SST or manifest is kept before garbage
    /// collection deletes it (a reader may still use an older manifest).
    pub gc_grace: Duration,
    /// The epoch this writer writes with; a WAL segment of a higher epoch
    /// fences it.
    pub epoch: u64,
    pub timeline: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            sst: SstOptions::default(),
            cache_bytes: 256 << 20,
            disk_cache: None,
            flush_bytes: 64 << 20,
            flush_segments: 1024,
            replay_wal: true,
            keep_replayed: false,
            warm_cache: false,
            l0_compaction_trigger: 4,
            target_sst_bytes: 64 << 20,
            gc_grace: Duration::from_secs(300),
            epoch: 0,
            timeline: 1,
        }
    }
}

/// What readers see: one manifest and the memtables holding everything
/// above its `flushed_lsn`, the active one first, then frozen ones newest
/// first. Memtables hold disjoint, descending LSN ranges in that order.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) manifest: Arc<Manifest>,
    pub(crate) memtables: Vec<Arc<Memtable>>,
}

/// The WAL above a manifest, read into memory.
struct Replayed {
    memtable: Memtable,
    last_lsn: Lsn,
    sequences: BTreeMap<u64, u64>,
    next_segment: u64,
    /// A segment of an epoch above the reader's was found.
    fenced: bool,
    /// The transactions replayed, one entry per segment that held any.
    batches: Vec<Vec<CommittedTxn>>,
}

/// How many WAL segments [`replay`] asks for at a time.
const REPLAY_READ: usize = 64;

/// Reads every WAL segment from `manifest`'s first unflushed one on, to
/// the end of the log as it stands while it reads. The replayed
/// transactions are kept per segment in `batches` only when `keep` says so.
async fn replay(wal: &Wal, manifest: &Manifest, epoch: u64, keep: bool) -> Result<Replayed> {
    let mem = Memtable::new();
    let mut fenced = false;
    let mut last_lsn = manifest.flushed_lsn;
    let mut sequences = manifest.sequences.clone();
    let mut next_segment = manifest.wal_segment.max(1);
    let mut newest_epoch = 0;
    let mut batches = Vec::new();
    loop {
        let read = wal.read_from(next_segment, REPLAY_READ).await?;
        // A short read stopped at the first segment that did not exist:
        // the end of the log as it stood. A log still being written (a
        // follower reloading while the coordinator commits) would
        // otherwise be chased segment by segment for as long as commits
        // come faster than the reads; what is written after that point
        // reaches a follower from the coordinator's stream.
        let at_end = read.segments.len() < REPLAY_READ;
        for (n, seg) in read.segments {
            if seg.epoch < newest_epoch {
                // Epoch-change records jump past every PUT the fenced leader
                // may still have had in flight, so this cannot happen; if it
                // did, the segment never counted for anybody.
                tracing::warn!(
                    segment = n,
                    epoch = seg.epoch,
                    newest_epoch,
                    "skipping a WAL segment of a fenced epoch"
                );
                continue;
            }
            newest_epoch = seg.epoch;
            fenced |= seg.epoch > epoch;
            let txns: Vec<CommittedTxn> = seg
                .txns
                .into_iter()
                .filter(|t| t.lsn > manifest.flushed_lsn)
                .collect();
            mem.insert_batch(&txns);
            if keep && !txns.is_empty() {
                batches.push(txns);
            }
            last_lsn = last_lsn.max(seg.last_lsn);
            for (s, hwm) in seg.sequences {
                raise(&mut sequences, s, hwm);
            }
        }
        next_segment = read.next;
        if at_end {
            break;
        }
    }
    Ok(Replayed {
        memtable: mem,
        last_lsn,
        sequences,
        next_segment,
        fenced,
        batches,
    })
}

/// The writer's position in the WAL.
struct WalCursor {
    /// The number the next reserved segment gets.
    next_segment: u64,
    /// The last LSN of the last reserved segment.
    reserved_lsn: Lsn,
    /// The log's next segment after the applied ones: everything before it
    /// is durable and in the memtables.
    applied_next: u64,
    /// Durable segments waiting for an earlier one to be written.
    written: BTreeMap<u64, WalSegment>,
    /// Reserved segments whose PUT has not finished.
    outstanding: usize,
    /// The lowest segment whose PUT failed since the last
    /// [`Store::repair_wal`]: nothing may be reserved until then.
    failed: Option<u64>,
    /// Sequence high-water marks including every applied segment.
    sequences: BTreeMap<u64, u64>,
}

/// A WAL segment whose number and LSNs are fixed ([`Store::reserve`]) and
/// whose PUT is yet to be made ([`Store::write_reserved`]).
#[derive(Debug)]
pub struct ReservedSegment {
    /// Its segment number.
    pub segment: u64,
    seg: WalSegment,
}

/// A versioned key-value store on an object store. See the module docs.
pub struct Store {
    pub(crate) layout: Layout,
    pub(crate) opts: StoreOptions,
    pub(crate) objects: Arc<dyn ObjectStore>,
    pub(crate) wal: Wal,
    pub(crate) manifests: ManifestStore,
    pub(crate) ssts: SstStore,
    state: RwLock<Arc<State>>,
    /// The highest LSN appended or applied.
    last_lsn: AtomicU64,
    /// The log's next segment after the applied ones (a copy of the
    /// cursor's `applied_next`, readable without its lock).
    next_segment: AtomicU64,
    /// Set once any write lost a create-if-absent race: this writer must
    /// stop, another one owns the store.
    fenced: AtomicBool,
    cursor: SyncMutex<WalCursor>,
    /// What [`Store::open`] replayed above the manifest (and a new leader
    /// read in after it), batch by batch, until [`Store::take_replayed`].
    replayed: SyncMutex<Vec<Vec<CommittedTxn>>>,
    flush_lock: Mutex<()>,
    pub(crate) compaction_lock: Mutex<()>,
    publish_lock: Mutex<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("root", self.layout.root())
            .field("last_lsn", &self.last_lsn())
            .finish()
    }
}

impl Store {
    /// Opens the store under `root` of `objects`: reads the current manifest,
    /// then replays the WAL above its `flushed_lsn` into a memtable. With a
    /// disk cache it also reads (or creates) the store's id and opens the
    /// cache directory, failing with an error naming the directory if it
    /// cannot be used.
    pub async fn open(
        objects: Arc<dyn ObjectStore>,
        root: Path,
        opts: StoreOptions,
    ) -> Result<Store> {
        let layout = Layout::new(root);
        let wal = Wal::new(objects.clone(), layout.clone());
        let manifests = ManifestStore::new(objects.clone(), layout.clone());
        let manifest = manifests.load_current().await?;
        let mut cache = PageCache::new(opts.cache_bytes);
        if let Some(disk_opts) = &opts.disk_cache {
            let disk = open_disk_cache(objects.as_ref(), &layout, disk_opts).await?;
            // Files of SSTs this manifest no longer lists are dead: this
            // store only ever moves on to newer manifests. Ids from
            // `next_sst_id` on may be published later, so they stay.
            let live: std::collections::HashSet<u64> = manifest.ssts().map(|s| s.id).collect();
            let next = manifest.next_sst_id;
            disk.retain_ssts(move |id| id >= next || live.contains(&id));
            cache = cache.with_disk(disk);
        }
        let ssts = SstStore::new(objects.clone(), layout.clone(), cache);
        let replayed = if opts.replay_wal {
            replay(&wal, &manifest, opts.epoch, opts.keep_replayed).await?
        } else {
            Replayed {
                memtable: Memtable::new(),
                last_lsn: manifest.flushed_lsn,
                sequences: manifest.sequences.clone(),
                next_segment: manifest.wal_segment.max(1),
                fenced: false,
                batches: Vec::new(),
            }
        };
        // A newer epoch has written: this store may be read, never written.
        let fenced = manifest.epoch > opts.epoch || replayed.fenced;
        let Replayed {
            memtable: mem,
            last_lsn,
            sequences,
            next_segment,
            batches,
            ..
        } = replayed;
        tracing::info!(
            root = %layout.root(),
            manifest = manifest.version,
            flushed_lsn = manifest.flushed_lsn,
            last_lsn,
            next_segment,
            fenced,
            "opened store"
        );
        let store = Store {
            layout,
            wal,
            manifests,
            ssts,
            objects,
            state: RwLock::new(Arc::new(State {
                manifest: Arc::new(manifest),
                memtables: vec![Arc::new(mem)],
            })),
            last_lsn: AtomicU64::new(last_lsn),
            next_segment: AtomicU64::new(next_segment),
            fenced: AtomicBool::new(fenced),
            cursor: SyncMutex::new(WalCursor {
                next_segment,
                reserved_lsn: last_lsn,
                applied_next: next_segment,
                written: BTreeMap::new(),
                outstanding: 0,
                failed: None,
                sequences,
            }),
            replayed: SyncMutex::new(batches),
            flush_lock: Mutex::new(()),
            compaction_lock: Mutex::new(()),
            publish_lock: Mutex::new(()),
            opts,
        };
        store.warm_all();
        Ok(store)
    }

    /// For followers (frontends) that lost track of the writer: reads the
    /// current manifest and the WAL above it again, as [`Store::open`]
    /// does, and replaces everything held in memory with that. Readers
    /// that hold the old state keep it; new snapshots see the new one.
    pub async fn reload(&self) -> Result<Lsn> {
        let _publish = self.publish_lock.lock().await;
        let manifest = self.manifests.load_current().await?;
        let replayed = replay(&self.wal, &manifest, self.opts.epoch, false).await?;
        let mut guard = self.state.write().expect("state lock poisoned");
        *guard = Arc::new(State {
            manifest: Arc::new(manifest),
            memtables: vec![Arc::new(replayed.memtable)],
        });
        drop(guard);
        self.warm_all();
        self.last_lsn.store(replayed.last_lsn, Ordering::Release);
        tracing::info!(last_lsn = replayed.last_lsn, "reloaded store");
        Ok(replayed.last_lsn)
    }

    /// Opens the store named by a URL (`file://`, `memory://`, `s3://`).
    pub async fn open_url(url: &str, opts: StoreOptions) -> Result<Store> {
        let (objects, root) = crate::object::open_url(url)?;
        Store::open(objects, root, opts).await
    }

    /// Durably appends one group-commit batch as the next WAL segment, then
    /// makes it readable (at its LSNs) in the memtable. Returns the segment
    /// number. LSNs must be strictly increasing and above every reserved
    /// segment's. [`Store::reserve`] and [`Store::write_reserved`] in one,
    /// for a writer with one append at a time.
    pub async fn append(&self, txns: Vec<CommittedTxn>, sequences: Vec<(u64, u64)>) -> Result<u64> {
        let reserved = self.reserve(txns, sequences)?;
        self.write_reserved(reserved).await
    }

    /// Fixes the next WAL segment for a batch: its number, and its LSNs'
    /// place in the log. Its PUT ([`Store::write_reserved`]) may then run
    /// concurrently with those of other reserved segments, at most
    /// [`MAX_PIPELINE`] ahead of the first one not yet durable. Segments
    /// become readable in the memtables in segment order, each once it and
    /// every earlier one are durable.
    ///
    /// After a failed PUT nothing can be reserved until
    /// [`Store::repair_wal`] has voided it and every later one.
    pub fn reserve(
        &self,
        txns: Vec<CommittedTxn>,
        sequences: Vec<(u64, u64)>,
    ) -> Result<ReservedSegment> {
        self.check_fenced()?;
        let mut cursor = self.cursor.lock().expect("WAL cursor poisoned");
        if let Some(failed) = cursor.failed {
            return Err(Error::InvalidInput(format!(
                "the WAL write of segment {failed} failed: it must be repaired before the next append"
            )));
        }
        let segment = cursor.next_segment;
        if segment >= cursor.applied_next + MAX_PIPELINE {
            return Err(Error::InvalidInput(format!(
                "WAL segment {segment} would be more than {MAX_PIPELINE} ahead of the first one not yet durable ({})",
                cursor.applied_next
            )));
        }
        let seg = WalSegment::new(
            self.opts.epoch,
            self.opts.timeline,
            cursor.reserved_lsn,
            txns,
            sequences,
        )?;
        cursor.next_segment = segment + 1;
        cursor.reserved_lsn = seg.last_lsn;
        cursor.outstanding += 1;
        Ok(ReservedSegment { segment, seg })
    }

    /// PUTs a reserved segment (create-if-absent). Returns its number once
    /// it is durable; it is readable in the memtables once every earlier
    /// segment is too. [`Error::Fenced`] if another writer owns the segment
    /// number: this writer must stop. Any other error leaves the WAL
    /// needing [`Store::repair_wal`] (done here already when no other
    /// segment is in flight and this was the last one reserved: its number
    /// is simply used again).
    pub async fn write_reserved(&self, reserved: ReservedSegment) -> Result<u64> {
        let ReservedSegment { segment, seg } = reserved;
        let written = self.wal.append(segment, &seg).await;
        let result = self
            .settle_create(
                written,
                &seg,
                self.wal.read(segment),
                &self.wal.path(segment),
            )
            .await;
        let mut cursor = self.cursor.lock().expect("WAL cursor poisoned");
        cursor.outstanding -= 1;
        match result {
            Ok(()) => {
                if cursor.failed.is_none_or(|failed| segment < failed) {
                    cursor.written.insert(segment, seg);
                    self.apply_written(&mut cursor);
                }
                // Past a failed segment it is void: it never counts.
                Ok(segment)
            }
            Err(e) => {
                if !matches!(e, Error::Fenced { .. }) {
                    let failed = cursor.failed.map_or(segment, |f| f.min(segment));
                    cursor.failed = Some(failed);
                    if cursor.outstanding == 0 && cursor.next_segment == failed + 1 {
                        self.rewind(&mut cursor, failed);
                    }
                }
                Err(e)
            }
        }
    }

    /// Hands over the transactions [`Store::open`] replayed above the
    /// manifest's `flushed_lsn` (and any [`Store::begin_epoch`] read in
    /// after them), one entry per WAL segment, oldest first: a new leader
    /// seeds its memory of batches with them, so that frontends catch up
    /// from it instead of reading the WAL again. Empty after the first call,
    /// and always unless [`StoreOptions::keep_replayed`] is set.
    pub fn take_replayed(&self) -> Vec<Vec<CommittedTxn>> {
        std::mem::take(&mut *self.replayed.lock().expect("replayed batches poisoned"))
    }

    /// Whether no reserved segment's PUT is still in flight.
    pub fn wal_idle(&self) -> bool {
        self.cursor.lock().expect("WAL cursor poisoned").outstanding == 0
    }

    /// After a failed WAL PUT, once no other is in flight: makes the log go
    /// on as if the failed segment and every later one reserved had never
    /// been written (their PUTs may still have landed; they are void). A
    /// failed last segment is just numbered again; otherwise a jump record
    /// at the failed number skips them all. Nothing to do (Ok) when no PUT
    /// failed. On an error it may be called again.
    pub async fn repair_wal(&self) -> Result<()> {
        self.check_fenced()?;
        let (failed, continue_at, prev_lsn) = {
            let mut cursor = self.cursor.lock().expect("WAL cursor poisoned");
            let Some(failed) = cursor.failed else {
                return Ok(());
            };
            if cursor.outstanding > 0 {
                return Err(Error::InvalidInput(
                    "the WAL can only be repaired once no write is in flight".into(),
                ));
            }
            if cursor.next_segment == failed + 1 {
                self.rewind(&mut cursor, failed);
                return Ok(());
            }
            (failed, cursor.next_segment, self.last_lsn())
        };
        let jump = WalSegment::jump(
            self.opts.epoch,
            self.opts.timeline,
            prev_lsn,
            failed,
            continue_at,
        );
        let written = self.wal.append(failed, &jump).await;
        self.settle_create(
            written,
            &jump,
            self.wal.read(failed),
            &self.wal.path(failed),
        )
        .await?;
        let mut cursor = self.cursor.lock().expect("WAL cursor poisoned");
        self.set_log_end(&mut cursor, continue_at, prev_lsn);
        tracing::info!(
            segment = failed,
            continue_at,
            "voided WAL segments after a failed write"
        );
        Ok(())
    }

    /// Writes the epoch-change record of this writer's epoch at the end of
    /// the log: a jump record [`MAX_PIPELINE`] ahead, so that no PUT still
    /// in flight from the previous leader can land inside the log. That
    /// leader's next write then loses its race and it stops. If one of its
    /// PUTs lands first, its segment is read into the memtables (a segment
    /// durable before the record is part of the log) and the record goes
    /// after it. Returns the record's segment number.
    pub async fn begin_epoch(&self) -> Result<u64> {
        loop {
            self.check_fenced()?;
            let (at, prev_lsn) = {
                let cursor = self.cursor.lock().expect("WAL cursor poisoned");
                if cursor.outstanding > 0 || cursor.next_segment != cursor.applied_next {
                    return Err(Error::InvalidInput(
                        "an epoch-change record must be the writer's first append".into(),
                    ));
                }
                (cursor.next_segment, self.last_lsn())
            };
            let continue_at = at + MAX_PIPELINE;
            let record = WalSegment::jump(
                self.opts.epoch,
                self.opts.timeline,
                prev_lsn,
                at,
                continue_at,
            );
            let found = match self.wal.append(at, &record).await {
                Ok(()) => None,
                Err(Error::Fenced { .. }) => self.wal.read(at).await?,
                Err(e) => match self.wal.read(at).await {
                    Ok(Some(found)) => Some(found),
                    Ok(None) | Err(_) => return Err(e),
                },
            };
            match found {
                Some(found) if found != record => {
                    if found.epoch >= self.opts.epoch {
                        self.fenced.store(true, Ordering::Release);
                        return Err(Error::Fenced {
                            object: self.wal.path(at).to_string(),
                        });
                    }
                    // The previous leader's PUT landed first.
                    self.catch_up_wal(at).await?;
                }
                _ => {
                    let mut cursor = self.cursor.lock().expect("WAL cursor poisoned");
                    self.set_log_end(&mut cursor, continue_at, prev_lsn);
                    return Ok(at);
                }
            }
        }
    }

    /// Reads the log from segment `from` on into the memtables, for a writer
    /// that has appended nothing yet.
    async fn catch_up_wal(&self, from: u64) -> Result<()> {
        let read = self.wal.read_from(from, usize::MAX).await?;
        if read.segments.iter().any(|(_, s)| s.epoch > self.opts.epoch) {
            self.fenced.store(true, Ordering::Release);
            return Err(Error::Fenced {
                object: self.wal.path(from).to_string(),
            });
        }
        let mut cursor = self.cursor.lock().expect("WAL cursor poisoned");
        let mut replayed = self.replayed.lock().expect("replayed batches poisoned");
        for (_, seg) in &read.segments {
            for &(s, hwm) in &seg.sequences {
                raise(&mut cursor.sequences, s, hwm);
            }
            self.apply(&seg.txns);
            if self.opts.keep_replayed && !seg.txns.is_empty() {
                replayed.push(seg.txns.clone());
            }
        }
        self.set_log_end(&mut cursor, read.next, self.last_lsn());
        tracing::info!(
            from,
            next = read.next,
            "read the previous leader's last WAL segments"
        );
        Ok(())
    }

    /// Applies the durable segments that follow the applied ones, in order.
    fn apply_written(&self, cursor: &mut WalCursor) {
        while let Some(seg) = cursor.written.remove(&cursor.applied_next) {
            for &(s, hwm) in &seg.sequences {
                raise(&mut cursor.sequences, s, hwm);
            }
            self.apply(&seg.txns);
            cursor.applied_next = seg.continue_at.unwrap_or(cursor.applied_next + 1);
        }
        self.next_segment
            .store(cursor.applied_next, Ordering::Release);
    }

    /// Numbers the next segment `failed` again: it and nothing after it was
    /// reserved, and no PUT is in flight.
    fn rewind(&self, cursor: &mut WalCursor, failed: u64) {
        debug_assert_eq!(cursor.applied_next, failed);
        self.set_log_end(cursor, failed, self.last_lsn());
    }

    /// With no PUT in flight: the log's next segment is `next`, after LSN
    /// `lsn`; nothing is reserved, waiting or failed beyond it.
    fn set_log_end(&self, cursor: &mut WalCursor, next: u64, lsn: Lsn) {
        cursor.next_segment = next;
        cursor.applied_next = next;
        cursor.reserved_lsn = lsn;
        cursor.written.clear();
        cursor.failed = None;
        self.next_segment.store(next, Ordering::Release);
    }

    /// Applies committed transactions to the memtable only: for holders of
    /// the store that do not write the WAL (frontends fed by the coordinator).
    pub fn apply(&self, txns: &[CommittedTxn]) {
        let Some(last) = txns.last() else { return };
        // Insert under the read lock, so a concurrent [`Store::follow_manifest`]
        // cannot retire the memtable this batch goes into.
        let state = self.state.read().expect("state lock poisoned");
        state.memtables[0].insert_batch(txns);
        self.last_lsn.fetch_max(last.lsn, Ordering::AcqRel);
    }

    /// For followers (frontends): installs manifest `version`, published by
    /// the writer, and retires the memtables it covers. The active memtable
    /// is replaced by a fresh one; a retired memtable stays alive for the
    /// readers that still hold it (they see the old manifest with it), so
    /// no reader ever misses a version. Returns false when `version` is not
    /// newer than the installed one.
    pub async fn follow_manifest(&self, version: u64) -> Result<bool> {
        let _publish = self.publish_lock.lock().await;
        if version <= self.manifest().version {
            return Ok(false);
        }
        let manifest = self
            .manifests
            .read(version)
            .await?
            .ok_or_else(|| Error::Missing {
                object: self.layout.manifest(version).to_string(),
            })?;
        let mut guard = self.state.write().expect("state lock poisoned");
        let flushed = manifest.flushed_lsn;
        let mut memtables = Vec::with_capacity(guard.memtables.len() + 1);
        if !guard.memtables[0].is_empty() {
            memtables.push(Arc::new(Memtable::new()));
        }
        memtables.extend(
            guard
                .memtables
                .iter()
                .filter(|m| m.is_empty() || m.max_lsn() > flushed)
                .cloned(),
        );
        if memtables.is_empty() {
            memtables.push(Arc::new(Memtable::new()));
        }
        let left: Vec<u64> = guard
            .manifest
            .ssts()
            .filter(|old| !manifest.ssts().any(|s| s.id == old.id))
            .map(|old| old.id)
            .collect();
        let joined = manifest
            .ssts()
            .filter(|new| !guard.manifest.ssts().any(|old| old.id == new.id))
            .cloned()
            .collect();
        let manifest = Arc::new(manifest);
        *guard = Arc::new(State {
            manifest: manifest.clone(),
            memtables,
        });
        drop(guard);
        if self.warms(&manifest) {
            // The pages of SSTs that left the manifest (compacted away)
            // make room for the new ones; a snapshot still reading the old
            // manifest fetches what it needs of them again.
            for &id in &left {
                self.ssts.cache().invalidate_sst(id);
            }
            self.ssts.warm(joined);
        } else if let Some(disk) = self.ssts.cache().disk() {
            // Their files would only take disk room from live ones. Memory
            // keeps their pages for the snapshots still reading the old
            // manifest; they age out there.
            for &id in &left {
                disk.invalidate_sst(id);
            }
        }
        Ok(true)
    }

    /// Whether the page cache is to be kept warm with `manifest`'s SSTs:
    /// the store keeps it warm, it has no disk tier and they all fit (see
    /// [`StoreOptions::warm_cache`]).
    fn warms(&self, manifest: &Manifest) -> bool {
        let live: u64 = manifest.ssts().map(|s| s.size).sum();
        let cache = self.ssts.cache();
        self.opts.warm_cache && cache.disk().is_none() && live <= cache.capacity()
    }

    /// Warms the page cache with every SST of the installed manifest, if
    /// [`Store::warms`] says so.
    fn warm_all(&self) {
        let manifest = self.manifest();
        if self.warms(&manifest) {
            self.ssts.warm(manifest.ssts().cloned().collect());
        }
    }

    /// The object store under this store (for its other objects: epochs).
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.objects
    }

    /// Where this store's objects live.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The highest LSN appended or applied.
    pub fn last_lsn(&self) -> Lsn {
        self.last_lsn.load(Ordering::Acquire)
    }

    /// The current manifest.
    pub fn manifest(&self) -> Arc<Manifest> {
        self.state().manifest.clone()
    }

    /// Sequence high-water marks, including every appended segment.
    pub async fn sequences(&self) -> BTreeMap<u64, u64> {
        self.cursor
            .lock()
            .expect("WAL cursor poisoned")
            .sequences
            .clone()
    }

    /// The page cache (for its metrics).
    pub fn cache(&self) -> &PageCache {
        self.ssts.cache()
    }

    /// Bytes held by the memtables.
    pub fn memtable_bytes(&self) -> usize {
        self.state().memtables.iter().map(|m| m.size()).sum()
    }

    /// Whether the memtables have grown past `flush_bytes`, or hold
    /// something and the WAL above the manifest has reached
    /// `flush_segments` segments.
    pub fn needs_flush(&self) -> bool {
        let bytes = self.memtable_bytes();
        if bytes >= self.opts.flush_bytes {
            return true;
        }
        let unflushed = self
            .next_segment
            .load(Ordering::Acquire)
            .saturating_sub(self.manifest().wal_segment);
        bytes > 0 && unflushed >= self.opts.flush_segments
    }

    pub(crate) fn state(&self) -> Arc<State> {
        self.state.read().expect("state lock poisoned").clone()
    }

    fn check_fenced(&self) -> Result<()> {
        if self.fenced.load(Ordering::Acquire) {
            return Err(Error::Fenced {
                object: self.layout.root().to_string(),
            });
        }
        Ok(())
    }

    /// A consistent view at `lsn` (which should not exceed [`Store::last_lsn`]).
    pub fn snapshot(&self, lsn: Lsn) -> Snapshot {
        Snapshot {
            state: self.state(),
            ssts: self.ssts.clone(),
            lsn,
        }
    }

    /// The newest value of `key` at or below `lsn`.
    pub async fn get(&self, key: &[u8], lsn: Lsn) -> Result<Option<Bytes>> {
        self.snapshot(lsn).get(key).await
    }

    /// Rows within `range` as of `lsn`, in `direction`.
    pub async fn scan(
        &self,
        range: (Bound<Bytes>, Bound<Bytes>),
        lsn: Lsn,
        direction: Direction,
    ) -> Result<SnapshotIter> {
        self.snapshot(lsn).scan(range, direction).await
    }

    /// Writes everything in the memtables into one new L0 SST and publishes
    /// a manifest whose `flushed_lsn` covers it. Returns false when there
    /// was nothing to flush.
    pub async fn flush(&self) -> Result<bool> {
        let _flush = self.flush_lock.lock().await;
        self.check_fenced()?;
        // Freeze under the WAL lock, so the frozen memtables hold exactly the
        // segments before `next_segment` and nothing is appended meanwhile.
        let (frozen, flushed_lsn, wal_segment, sequences) = {
            let cursor = self.cursor.lock().expect("WAL cursor poisoned");
            let mut guard = self.state.write().expect("state lock poisoned");
            if guard.memtables.iter().all(|m| m.is_empty()) {
                return Ok(false);
            }
            let mut memtables = vec![Arc::new(Memtable::new())];
            memtables.extend(guard.memtables.iter().cloned());
            let frozen = memtables[1..].to_vec();
            *guard = Arc::new(State {
                manifest: guard.manifest.clone(),
                memtables,
            });
            (
                frozen,
                self.last_lsn(),
                cursor.applied_next,
                cursor.sequences.clone(),
            )
        };
        let sources = frozen
            .iter()
            .map(|m| {
                Source::Memtable(m.iter((Bound::Unbounded, Bound::Unbounded), Direction::Forward))
            })
            .collect();
        let mut merged = MergeIter::new(Direction::Forward, sources);
        let mut writer = SstWriter::new(self.opts.sst.clone());
        while let Some(e) = merged.next().await? {
            writer.add(&e)?;
        }
        let base = self.manifest();
        let info = self.write_sst(writer, base.next_sst_id).await?;
        self.publish(
            |m| {
                m.next_sst_id = m.next_sst_id.max(info.id + 1);
                m.levels[0].insert(0, info.clone());
                m.flushed_lsn = m.flushed_lsn.max(flushed_lsn);
                m.wal_segment = m.wal_segment.max(wal_segment);
                m.sequences = sequences.clone();
                Ok(())
            },
            |memtables| memtables.retain(|m| !frozen.iter().any(|f| Arc::ptr_eq(f, m))),
        )
        .await?;
        tracing::debug!(
            sst = info.id,
            flushed_lsn,
            entries = info.entries,
            "flushed memtable"
        );
        Ok(true)
    }

    /// Uploads an SST under the first free id at or above `first_id` (ids
    /// of uploads that crashed before their manifest was published are
    /// taken but unreferenced; garbage collection removes them).
    pub(crate) async fn write_sst(&self, writer: SstWriter, first_id: u64) -> Result<SstInfo> {
        let (info, bytes) = writer.finish(first_id)?;
        let mut id = first_id;
        for _ in 0..64 {
            match self.ssts.write_bytes(id, bytes.clone()).await {
                Ok(()) => return Ok(SstInfo { id, ..info }),
                Err(Error::Fenced { .. }) => id += 1,
                Err(e) => return Err(e),
            }
        }
        Err(Error::InvalidInput(format!(
            "no free SST id in {first_id}..{id}: too many stray SSTs, run garbage collection"
        )))
    }

    /// Settles the outcome of a create-if-absent write of `ours`. A lost race
    /// fences this writer. Any other error may have come after the object
    /// landed, so `read_back` looks: our own object means success; somebody
    /// else's means we are fenced; none means the write failed (and the same
    /// number may be tried again). If even that cannot be told, writing on
    /// could fork the log, so the writer stops; re-opening resolves it.
    async fn settle_create<T: PartialEq>(
        &self,
        written: Result<()>,
        ours: &T,
        read_back: impl std::future::Future<Output = Result<Option<T>>>,
        object: &Path,
    ) -> Result<()> {
        let e = match written {
            Ok(()) => return Ok(()),
            Err(e @ Error::Fenced { .. }) => {
                self.fenced.store(true, Ordering::Release);
                return Err(e);
            }
            Err(e) => e,
        };
        match read_back.await {
            Ok(Some(found)) if found == *ours => Ok(()),
            Ok(None) => Err(e),
            Ok(Some(_)) => {
                self.fenced.store(true, Ordering::Release);
                Err(Error::Fenced {
                    object: object.to_string(),
                })
            }
            Err(_) => {
                self.fenced.store(true, Ordering::Release);
                Err(e)
            }
        }
    }

    /// Publishes the next manifest: `edit` turns a copy of the current one
    /// into the next, then readers get it with `memtables` edited likewise.
    pub(crate) async fn publish(
        &self,
        edit: impl FnOnce(&mut Manifest) -> Result<()>,
        memtables: impl FnOnce(&mut Vec<Arc<Memtable>>),
    ) -> Result<Arc<Manifest>> {
        let _publish = self.publish_lock.lock().await;
        self.check_fenced()?;
        let mut next = Manifest::clone(&self.manifest());
        next.version += 1;
        next.epoch = self.opts.epoch;
        next.timeline = self.opts.timeline;
        edit(&mut next)?;
        let published = self.manifests.publish(&next).await;
        self.settle_create(
            published,
            &next,
            self.manifests.read(next.version),
            &self.layout.manifest(next.version),
        )
        .await?;
        let next = Arc::new(next);
        let mut guard = self.state.write().expect("state lock poisoned");
        let mut mems = guard.memtables.clone();
        memtables(&mut mems);
        *guard = Arc::new(State {
            manifest: next.clone(),
            memtables: mems,
        });
        Ok(next)
    }

    /// Merges L0 into L1 when L0 has reached its trigger (or always, with
    /// `force`, which then also rewrites all of L1), dropping versions that
    /// no snapshot at or above `gc_lsn` can see. Returns whether it ran.
    pub async fn compact(&self, gc_lsn: Lsn, force: bool) -> Result<bool> {
        compaction::compact(self, gc_lsn, force).await
    }

    /// Deletes SSTs and manifests that no manifest still in use references,
    /// once they are older than the grace period.
    pub async fn collect_garbage(&self) -> Result<compaction::GcStats> {
        compaction::collect_garbage(self).await
    }
}

/// Opens the disk tier for the store under `layout`, which the store's id
/// (and root) identify in the directory.
async fn open_disk_cache(
    objects: &dyn ObjectStore,
    layout: &Layout,
    opts: &DiskCacheOptions,
) -> Result<DiskCache> {
    let id = crate::store_id::load_or_create(objects, layout).await?;
    let identity = format!("store-id {id}\nroot {}\n", layout.root());
    let opts = opts.clone();
    tokio::task::spawn_blocking(move || DiskCache::open(&opts, &identity))
        .await
        .map_err(|e| Error::InvalidInput(format!("open the page cache directory: {e}")))?
}

fn raise(map: &mut BTreeMap<u64, u64>, seq: u64, hwm: u64) {
    let e = map.entry(seq).or_insert(hwm);
    *e = (*e).max(hwm);
}

/// A consistent read-only view of the store at one LSN.
pub struct Snapshot {
    state: Arc<State>,
    ssts: SstStore,
    lsn: Lsn,
}

fn contains(info: &SstInfo, key: &[u8]) -> bool {
    info.min_key.as_ref() <= key && key <= info.max_key.as_ref()
}

fn overlaps(info: &SstInfo, range: &(Bound<Bytes>, Bound<Bytes>)) -> bool {
    let above_lower = match &range.0 {
        Bound::Included(k) => info.max_key >= *k,
        Bound::Excluded(k) => info.max_key > *k,
        Bound::Unbounded => true,
    };
    let below_upper = match &range.1 {
        Bound::Included(k) => info.min_key <= *k,
        Bound::Excluded(k) => info.min_key < *k,
        Bound::Unbounded => true,
    };
    above_lower && below_upper
}

impl Snapshot {
    pub fn lsn(&self) -> Lsn {
        self.lsn
    }

    /// The newest value of `key` at or below the snapshot's LSN. Sources are
    /// tried newest first (memtables, L0 newest first, then L1), so the
    /// first version found is the answer.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(self.get_entry(key).await?.and_then(|e| e.value))
    }

    /// The newest version of `key` at or below the snapshot's LSN, with its
    /// LSN (a tombstone has no value).
    pub async fn get_entry(&self, key: &[u8]) -> Result<Option<Entry>> {
        for m in &self.state.memtables {
            if let Some(e) = m.get(key, self.lsn) {
                return Ok(Some(e));
            }
        }
        let m = &self.state.manifest;
        let l1 = m.level(1);
        let l1_hit = l1.partition_point(|s| s.max_key.as_ref() < key);
        let candidates = m.level(0).iter().chain(l1.get(l1_hit));
        for info in candidates {
            if info.min_lsn > self.lsn || !contains(info, key) {
                continue;
            }
            let sst = self.ssts.open(info).await?;
            if let Some(e) = sst.get(key, self.lsn).await? {
                return Ok(Some(e));
            }
        }
        Ok(None)
    }

    /// Rows within `range`, in `direction`.
    pub async fn scan(
        &self,
        range: (Bound<Bytes>, Bound<Bytes>),
        direction: Direction,
    ) -> Result<SnapshotIter> {
        let mut sources: Vec<Source> = self
            .state
            .memtables
            .iter()
            .map(|m| Source::Memtable(m.iter(range.clone(), direction)))
            .collect();
        for info in self.state.manifest.ssts() {
            if info.min_lsn > self.lsn || !overlaps(info, &range) {
                continue;
            }
            let sst = self.ssts.open(info).await?;
            sources.push(Source::Sst(Box::new(sst.iter(range.clone(), direction))));
        }
        Ok(SnapshotIter::new(
            MergeIter::new(direction, sources),
            self.lsn,
        ))
    }
}
