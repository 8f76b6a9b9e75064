//! Compaction and garbage collection.
//!
//! Shape: L0 holds the files flushes write (overlapping, newest first); L1
//! is one sorted run of non-overlapping files. A compaction merges all of L0
//! with the L1 files its key range overlaps into new L1 files. Because every
//! version of every key it touches is among its inputs, it can drop versions
//! below the oldest snapshot, tombstones included. See docs/storage.md for
//! why this two-level shape suits object storage.
//!
//! Deletion is deferred: compaction only publishes a manifest without its
//! inputs; [`collect_garbage`] deletes files no manifest in use references,
//! after a grace period, since a reader may still hold an older manifest.

use std::collections::HashSet;
use std::ops::Bound;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::ObjectMeta;

use crate::db::Store;
use crate::error::{Error, Result};
use crate::iter::{GcFilter, MergeIter, Source};
use crate::layout::ObjectKind;
use crate::sst::{SstInfo, SstWriter};
use crate::types::{Direction, Lsn};

/// Runs one compaction if due (or forced). See [`Store::compact`].
pub(crate) async fn compact(store: &Store, gc_lsn: Lsn, force: bool) -> Result<bool> {
    let _compaction = store.compaction_lock.lock().await;
    let manifest = store.manifest();
    let l0 = manifest.level(0).to_vec();
    let l1 = manifest.level(1);
    if !force && l0.len() < store.opts.l0_compaction_trigger {
        return Ok(false);
    }
    let l1_inputs: Vec<SstInfo> = if force {
        l1.to_vec()
    } else {
        let lo = l0.iter().map(|s| &s.min_key).min();
        let hi = l0.iter().map(|s| &s.max_key).max();
        match (lo, hi) {
            (Some(lo), Some(hi)) => l1
                .iter()
                .filter(|s| s.max_key >= *lo && s.min_key <= *hi)
                .cloned()
                .collect(),
            _ => vec![],
        }
    };
    if l0.is_empty() && l1_inputs.is_empty() {
        return Ok(false);
    }
    let inputs: Vec<SstInfo> = l0.iter().chain(&l1_inputs).cloned().collect();

    let mut sources = Vec::with_capacity(inputs.len());
    for info in &inputs {
        let sst = store.ssts.open(info).await?;
        sources.push(Source::Sst(Box::new(
            sst.iter((Bound::Unbounded, Bound::Unbounded), Direction::Forward),
        )));
    }
    let mut versions = GcFilter::new(MergeIter::new(Direction::Forward, sources), gc_lsn);
    let mut outputs = Vec::new();
    let mut next_id = manifest.next_sst_id;
    let mut writer = SstWriter::new(store.opts.sst.clone());
    let mut last_key: Option<Bytes> = None;
    while let Some(e) = versions.next().await? {
        // Cut only between keys, so L1 files never share a key.
        let new_key = last_key.as_ref() != Some(&e.key);
        if new_key && writer.estimated_size() >= store.opts.target_sst_bytes {
            let full = std::mem::replace(&mut writer, SstWriter::new(store.opts.sst.clone()));
            let info = store.write_sst(full, next_id).await?;
            next_id = info.id + 1;
            outputs.push(info);
        }
        if new_key {
            last_key = Some(e.key.clone());
        }
        writer.add(&e)?;
    }
    if !writer.is_empty() {
        let info = store.write_sst(writer, next_id).await?;
        next_id = info.id + 1;
        outputs.push(info);
    }

    let removed: HashSet<u64> = inputs.iter().map(|s| s.id).collect();
    let n_outputs = outputs.len();
    store
        .publish(
            |m| {
                // Flushes may have added L0 files meanwhile; only compaction
                // removes files, and it holds the compaction lock.
                let present: HashSet<u64> = m.ssts().map(|s| s.id).collect();
                if let Some(gone) = removed.iter().find(|id| !present.contains(id)) {
                    return Err(Error::InvalidInput(format!(
                        "compaction input SST {gone} vanished from the manifest"
                    )));
                }
                m.levels[0].retain(|s| !removed.contains(&s.id));
                m.levels[1].retain(|s| !removed.contains(&s.id));
                m.levels[1].extend(outputs);
                m.levels[1].sort_by(|a, b| a.min_key.cmp(&b.min_key));
                m.next_sst_id = m.next_sst_id.max(next_id);
                Ok(())
            },
            |_| {},
        )
        .await?;
    tracing::debug!(
        inputs = inputs.len(),
        outputs = n_outputs,
        gc_lsn,
        "compacted"
    );
    Ok(true)
}

/// What one garbage collection deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcStats {
    pub ssts_deleted: usize,
    pub manifests_deleted: usize,
}

/// See [`Store::collect_garbage`].
pub(crate) async fn collect_garbage(store: &Store) -> Result<GcStats> {
    let grace = chrono_grace(store);
    let manifests = store.manifests.list().await?;
    let current = store.manifest();
    // Manifest v may be in use while it is current or until its successor
    // is older than the grace period.
    let mut in_use = vec![current.version];
    let mut obsolete = vec![];
    for (i, (v, _)) in manifests.iter().enumerate() {
        if *v >= current.version {
            continue;
        }
        match manifests.get(i + 1) {
            Some((_, successor)) if successor.last_modified < grace => obsolete.push(*v),
            _ => in_use.push(*v),
        }
    }
    let mut live: HashSet<u64> = current.ssts().map(|s| s.id).collect();
    for v in &in_use {
        if *v == current.version {
            continue;
        }
        if let Some(m) = store.manifests.read(*v).await? {
            live.extend(m.ssts().map(|s| s.id));
        }
    }

    let dir = store.layout.dir(ObjectKind::Sst);
    let ssts: Vec<ObjectMeta> = store
        .objects
        .list(Some(&dir))
        .try_collect()
        .await
        .map_err(|e| Error::store("list", &dir, e))?;
    let mut stats = GcStats::default();
    for meta in ssts {
        let Some(id) = store.layout.parse(ObjectKind::Sst, &meta.location) else {
            continue;
        };
        // Young unreferenced files may belong to a flush or compaction that
        // has not published its manifest yet.
        if live.contains(&id) || meta.last_modified >= grace {
            continue;
        }
        store.ssts.delete(id).await?;
        stats.ssts_deleted += 1;
    }
    for v in obsolete {
        store.manifests.delete(v).await?;
        stats.manifests_deleted += 1;
    }
    Ok(stats)
}

/// The instant before which objects are past the grace period.
fn chrono_grace(store: &Store) -> chrono::DateTime<chrono::Utc> {
    let grace = chrono::Duration::from_std(store.opts.gc_grace).unwrap_or(chrono::Duration::MAX);
    chrono::Utc::now()
        .checked_sub_signed(grace)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
}
