//! Creating the catalog of a fresh cluster: database `postgres`, schemas
//! `pg_catalog` and `public`, superuser `postgres`. Idempotent and safe
//! when several frontends start at once: the writer holds a table lock on a
//! reserved id and re-checks the marker under it.

use std::sync::Arc;
use std::time::Duration;

use shoal_txn::{Database, Isolation, LockMode, WaitPolicy};

use super::store::put;
use super::*;
use crate::keys::{catalog_key, Kind};

/// The table-lock id that serialises bootstrap across frontends.
const BOOTSTRAP_LOCK: u64 = 1;

/// Creates the initial catalog unless it exists.
pub async fn bootstrap(db: &Arc<Database>) -> Result<()> {
    let marker = catalog_key(Kind::Marker, 0);
    {
        let mut txn = db.begin(Isolation::ReadCommitted).await?;
        txn.begin_statement().await?;
        if txn.get(&marker).await?.is_some() {
            txn.rollback().await?;
            return Ok(());
        }
        txn.rollback().await?;
    }
    let mut txn = db.begin(Isolation::ReadCommitted).await?;
    txn.begin_statement().await?;
    txn.lock(
        &[(BOOTSTRAP_LOCK, None, LockMode::TableExclusive)],
        WaitPolicy::Wait,
        Some(Duration::from_secs(60)),
    )
    .await?;
    if txn.get_latest(&marker).await?.value.is_some() {
        txn.rollback().await?;
        return Ok(());
    }
    put(
        &mut txn,
        Kind::Database,
        POSTGRES_DB,
        &DatabaseDef {
            oid: POSTGRES_DB,
            name: "postgres".into(),
            owner: POSTGRES_ROLE,
        },
    )?;
    for (oid, name) in [
        (PG_CATALOG, "pg_catalog"),
        (PUBLIC, "public"),
        (INFORMATION_SCHEMA, "information_schema"),
    ] {
        put(
            &mut txn,
            Kind::Schema,
            oid,
            &SchemaDef {
                oid,
                name: name.into(),
                owner: POSTGRES_ROLE,
            },
        )?;
    }
    put(
        &mut txn,
        Kind::Role,
        POSTGRES_ROLE,
        &RoleDef {
            oid: POSTGRES_ROLE,
            name: "postgres".into(),
            superuser: true,
            login: true,
            password: None,
        },
    )?;
    txn.put(marker, b"1".to_vec());
    txn.commit().await?;
    Ok(())
}
