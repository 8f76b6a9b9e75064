//! The store's identity: a random id written once, with create-if-absent,
//! at `<root>/store-id`. Local state kept beside a store (the page cache's
//! disk tier) records it, so it can tell this store from another at the
//! same URL, such as one deleted and created again there, whose SST 7 is a
//! different SST 7.
//!
//! The object is text: `shoal store id 1\n` then 32 hex digits and `\n`.
//! The active coordinator creates it when it takes over (so frontends,
//! which only read the store, need no write access for it); a store opened
//! with a disk cache creates it too if no coordinator has yet.

use bytes::Bytes;
use object_store::ObjectStore;

use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::object;

const HEADER: &str = "shoal store id 1\n";

/// The id of the store laid out by `layout`, creating it if the store has
/// none yet. Concurrent first callers agree: one create wins, the others
/// read the winner's id.
pub async fn load_or_create(objects: &dyn ObjectStore, layout: &Layout) -> Result<String> {
    let path = layout.store_id();
    let object = path.to_string();
    if let Some(bytes) = object::read_if_exists(objects, &path).await? {
        return decode(&object, &bytes);
    }
    let id = format!("{:032x}", rand::random::<u128>());
    match object::create(objects, &path, encode(&id)).await {
        Ok(()) => {
            tracing::info!(object, id, "created the store's id");
            Ok(id)
        }
        Err(Error::Fenced { .. }) => match object::read_if_exists(objects, &path).await? {
            Some(bytes) => decode(&object, &bytes),
            None => Err(Error::Missing { object }),
        },
        Err(e) => Err(e),
    }
}

fn encode(id: &str) -> Bytes {
    Bytes::from(format!("{HEADER}{id}\n"))
}

fn decode(object: &str, bytes: &[u8]) -> Result<String> {
    let id = std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| text.strip_prefix(HEADER))
        .and_then(|rest| rest.strip_suffix('\n'))
        .filter(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()));
    id.map(str::to_string)
        .ok_or_else(|| Error::corrupt(object, "not a store id"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use object_store::memory::InMemory;
    use object_store::path::Path;
    use object_store::{ObjectStoreExt, PutPayload};

    use super::*;

    #[test]
    fn format_is_pinned() {
        let id = "0123456789abcdef0123456789abcdef";
        let bytes = encode(id);
        assert_eq!(
            &bytes[..],
            b"shoal store id 1\n0123456789abcdef0123456789abcdef\n"
        );
        assert_eq!(decode("x", &bytes).unwrap(), id);
        assert!(decode("x", b"shoal store id 1\nxyz\n").is_err());
        assert!(decode("x", &bytes[..bytes.len() - 1]).is_err());
    }

    #[tokio::test]
    async fn created_once_then_read_by_everyone() {
        let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let layout = Layout::new(Path::from("db"));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (objects, layout) = (objects.clone(), layout.clone());
            tasks.push(tokio::spawn(async move {
                load_or_create(objects.as_ref(), &layout).await
            }));
        }
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap().unwrap());
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{ids:?}");
        let other = Layout::new(Path::from("other"));
        assert_ne!(
            load_or_create(objects.as_ref(), &other).await.unwrap(),
            ids[0]
        );

        objects
            .put(
                &Path::from("bad/store-id"),
                PutPayload::from_static(b"junk"),
            )
            .await
            .unwrap();
        let err = load_or_create(objects.as_ref(), &Layout::new(Path::from("bad")))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Corrupt { object, .. } if object == "bad/store-id"),
            "{err}"
        );
    }
}
