//! Leadership: epochs in the object store (`epochs/<n>`), claimed with
//! create-if-absent, so at most one coordinator ever holds an epoch; the
//! newest epoch leads. A new leader fences the old one by appending an
//! epoch-change WAL segment (the old leader's next append loses the race
//! for that segment number), and the old one also abdicates when its
//! periodic check finds a newer epoch.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt};
use shoal_storage::db::Store;
use shoal_storage::layout::{Layout, ObjectKind};
use shoal_storage::{object, Error, Result};

/// The newest epoch and what its claimant wrote (its address), if any.
pub async fn current_epoch(
    objects: &dyn ObjectStore,
    layout: &Layout,
) -> Result<Option<(u64, String)>> {
    let dir = layout.dir(ObjectKind::Epoch);
    let listed: Vec<u64> = objects
        .list(Some(&dir))
        .try_filter_map(|m| {
            futures::future::ready(Ok(layout.parse(ObjectKind::Epoch, &m.location)))
        })
        .try_collect()
        .await
        .map_err(|e| Error::store("list", &dir, e))?;
    let Some(mut epoch) = listed.into_iter().max() else {
        return Ok(None);
    };
    // A listing may lag a just-created epoch: probe upwards.
    while object::read_if_exists(objects, &layout.epoch(epoch + 1))
        .await?
        .is_some()
    {
        epoch += 1;
    }
    let address = epoch_address(objects, layout, epoch)
        .await?
        .unwrap_or_default();
    Ok(Some((epoch, address)))
}

/// The address the claimant of `epoch` wrote (the first line of
/// `epochs/<epoch>`), or None if the epoch was never claimed or names no
/// address.
pub async fn epoch_address(
    objects: &dyn ObjectStore,
    layout: &Layout,
    epoch: u64,
) -> Result<Option<String>> {
    let Some(body) = object::read_if_exists(objects, &layout.epoch(epoch)).await? else {
        return Ok(None);
    };
    let address = String::from_utf8_lossy(&body)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    Ok(Some(address).filter(|a| !a.is_empty()))
}

/// Claims the epoch after the newest one for a coordinator reachable at
/// `address`. Returns the epoch and whether an earlier leader existed.
pub async fn claim_epoch(
    objects: &dyn ObjectStore,
    layout: &Layout,
    address: &str,
) -> Result<(u64, bool)> {
    loop {
        let previous = current_epoch(objects, layout).await?.map(|(e, _)| e);
        let epoch = previous.unwrap_or(0) + 1;
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let body = Bytes::from(format!("{address}\nstarted_at_ms {started}\n"));
        match object::create(objects, &layout.epoch(epoch), body).await {
            Ok(()) => return Ok((epoch, previous.is_some())),
            // Another coordinator claimed it first: look again.
            Err(Error::Fenced { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Whether an epoch newer than `epoch` has been claimed.
pub async fn newer_epoch_exists(store: &Store, epoch: u64) -> Result<bool> {
    let path = store.layout().epoch(epoch + 1);
    match store.object_store().head(&path).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(Error::store("head", &path, e)),
    }
}
