//! Reading and writing catalog objects: each is one row,
//! `[0x01][kind][oid]` -> its JSON, written through the transaction like
//! any other row so DDL is transactional.

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use shoal_storage::Direction;
use shoal_txn::{Database, Transaction};

use super::{Catalog, DatabaseDef, RoleDef, SchemaDef, SequenceDef, TableDef, ViewDef};
use crate::error::{Error, Result};
use crate::keys::{self, Kind};

/// The counter that hands out object ids.
const OID_COUNTER: u64 = 0;
/// User object ids start here, as in PostgreSQL.
const FIRST_USER_OID: u64 = 16384;

/// A fresh, cluster-wide unique object id.
pub async fn new_oid(db: &Database) -> Result<u32> {
    let n = db.next_sequence_value(OID_COUNTER, 16).await?;
    u32::try_from(n + FIRST_USER_OID - 1)
        .map_err(|_| Error::internal("object identifiers exhausted"))
}

/// Loads the whole catalog as `txn` sees it.
pub async fn load(txn: &Transaction) -> Result<Catalog> {
    let start = Bytes::from(vec![keys::CATALOG]);
    let end = Bytes::from(vec![keys::CATALOG + 1]);
    let mut it = txn
        .scan(
            (Bound::Included(start), Bound::Excluded(end)),
            Direction::Forward,
        )
        .await?;
    let mut cat = Catalog::default();
    while let Some((k, v)) = it.next().await? {
        let Some(kind) = k.get(1) else { continue };
        let bad = |e: serde_json::Error| Error::internal(format!("corrupt catalog row: {e}"));
        match *kind {
            x if x == Kind::Database as u8 => {
                cat.databases
                    .push(serde_json::from_slice::<DatabaseDef>(&v).map_err(bad)?);
            }
            x if x == Kind::Schema as u8 => {
                cat.schemas
                    .push(serde_json::from_slice::<SchemaDef>(&v).map_err(bad)?);
            }
            x if x == Kind::Table as u8 => {
                let t: TableDef = serde_json::from_slice(&v).map_err(bad)?;
                cat.tables.insert(t.oid, Arc::new(t));
            }
            x if x == Kind::Sequence as u8 => {
                let s: SequenceDef = serde_json::from_slice(&v).map_err(bad)?;
                cat.sequences.insert(s.oid, Arc::new(s));
            }
            x if x == Kind::View as u8 => {
                let s: ViewDef = serde_json::from_slice(&v).map_err(bad)?;
                cat.views.insert(s.oid, Arc::new(s));
            }
            x if x == Kind::Role as u8 => {
                cat.roles
                    .push(serde_json::from_slice::<RoleDef>(&v).map_err(bad)?);
            }
            _ => {}
        }
    }
    cat.index_names();
    Ok(cat)
}

/// Writes (creates or replaces) one catalog object.
pub fn put<T: Serialize>(txn: &mut Transaction, kind: Kind, oid: u32, obj: &T) -> Result<()> {
    let json =
        serde_json::to_vec(obj).map_err(|e| Error::internal(format!("encode catalog: {e}")))?;
    txn.put(keys::catalog_key(kind, oid), json);
    Ok(())
}

/// Deletes one catalog object.
pub fn delete(txn: &mut Transaction, kind: Kind, oid: u32) {
    txn.delete(keys::catalog_key(kind, oid));
}
