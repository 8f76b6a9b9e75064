//! The cluster views, `shoal_cluster_members` and `shoal_locks`: the
//! coordinator's members, leases, LSNs and lock table (what `shoal ctl
//! status` prints) as rows, queryable from any frontend.
//!
//! Unlike the other virtual tables these are not computed from the
//! catalog: the executor asks the coordinator's Status RPC when a
//! statement first scans one of them (`rows`), and keeps the answer for
//! the rest of the statement, so a join of the two views sees one state.
//! A coordinator that does not answer is an error (08006), never a stale
//! or empty view.

use std::sync::Arc;
use std::time::Duration;

use shoal_coordinator::membership::MemberId;
use shoal_coordinator::proto as pb;
use shoal_txn::Database;

use super::specs::TableSpec;
use super::{b, o, t};
use crate::catalog::PG_CATALOG;
use crate::error::{Error, ErrorCode, Result};
use crate::exec::{Ctx, Row};
use crate::types::{DataType, Value};

use DataType::{Bool, Int8, Oid as OidT, Text, Timestamptz};

/// How long a statement waits for the coordinator's status: one that
/// accepts connections but does not answer must not hang the query.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

const MEMBERS: &str = "shoal_cluster_members";
const LOCKS: &str = "shoal_locks";

/// The tables of this module, appended to [`super::specs::all`].
pub(super) fn specs() -> Vec<TableSpec> {
    let spec = |name, columns: &[(&'static str, DataType)]| TableSpec {
        name,
        schema: PG_CATALOG,
        oid: 0,
        columns: columns.to_vec(),
    };
    vec![
        spec(
            MEMBERS,
            &[
                ("frontend_id", Int8),
                ("incarnation", Int8),
                ("role", Text),
                ("address", Text),
                ("epoch", Int8),
                ("lease_expires_at", Timestamptz),
                ("lease_remaining_ms", Int8),
                ("received_lsn", Int8),
                ("visible_lsn", Int8),
                ("oldest_snapshot_lsn", Int8),
                ("subscribed", Bool),
                ("is_self", Bool),
            ],
        ),
        spec(
            LOCKS,
            &[
                ("frontend_id", Int8),
                ("txn_id", Int8),
                ("locktype", Text),
                ("relation", OidT),
                ("resource", Text),
                ("mode", Text),
                ("granted", Bool),
            ],
        ),
    ]
}

/// Whether `name` is one of the cluster views (scanned through [`rows`]).
pub(super) fn is_cluster_view(name: &str) -> bool {
    name == MEMBERS || name == LOCKS
}

/// What one statement knows of the cluster.
#[derive(Debug)]
pub struct ClusterStatus {
    status: pb::StatusResponse,
    /// This frontend's membership, for `is_self`.
    me: MemberId,
    /// The address the coordinator claimed its epoch with, if its epoch
    /// record could be read.
    coordinator_address: Option<String>,
    /// This frontend's clock (µs since 2000-01-01) when the answer came:
    /// lease deadlines are on the coordinator's clock, so
    /// `lease_expires_at` is placed relative to this.
    received_at: i64,
}

/// The rows of cluster view `name`, asking the coordinator on the
/// statement's first scan of either view.
pub(super) async fn rows(name: &str, ctx: &mut Ctx<'_>) -> Result<Vec<Row>> {
    let status = match &ctx.cluster_status {
        Some(s) => s.clone(),
        None => {
            let s = Arc::new(ask(ctx.db).await?);
            ctx.cluster_status = Some(s.clone());
            s
        }
    };
    Ok(if name == MEMBERS {
        member_rows(&status)
    } else {
        lock_rows(&status.status)
    })
}

/// The coordinator's status and this frontend's membership, as the
/// membership the frontend holds now asks for it.
async fn coordinator_status(db: &Database) -> Result<(pb::StatusResponse, MemberId)> {
    let client = db.client();
    let answer = tokio::time::timeout(STATUS_TIMEOUT, client.status())
        .await
        .map_err(|_| {
            Error::new(
                ErrorCode::Unavailable,
                format!(
                    "the coordinator did not answer the cluster status request within {} s",
                    STATUS_TIMEOUT.as_secs()
                ),
            )
        })?;
    match answer {
        Ok(status) => Ok((status, client.member())),
        Err(e) => Err(Error::new(
            ErrorCode::Unavailable,
            format!(
                "could not get the cluster status from the coordinator: {}",
                e.message
            ),
        )
        .with_hint("`shoal ctl status` asks the coordinator directly")),
    }
}

async fn ask(db: &Database) -> Result<ClusterStatus> {
    let (status, me) = coordinator_status(db).await?;
    let received_at = crate::session::state::now_micros();
    let store = db.store();
    let coordinator_address = match shoal_coordinator::leader::epoch_address(
        store.object_store().as_ref(),
        store.layout(),
        status.epoch,
    )
    .await
    {
        Ok(address) => address,
        // The view still answers; only the coordinator's address is NULL.
        Err(e) => {
            tracing::warn!(error = %e, epoch = status.epoch, "read the coordinator's epoch record");
            None
        }
    };
    Ok(ClusterStatus {
        status,
        me,
        coordinator_address,
        received_at,
    })
}

/// An LSN or id as bigint (they stay far below 2^63).
fn int8(v: u64) -> Value {
    Value::Int8(i64::try_from(v).unwrap_or(i64::MAX))
}

/// The coordinator first, then the frontends by id and incarnation.
fn member_rows(c: &ClusterStatus) -> Vec<Row> {
    let s = &c.status;
    let mut out = vec![vec![
        Value::Null,
        Value::Null,
        t("coordinator"),
        c.coordinator_address
            .as_deref()
            .map(t)
            .unwrap_or(Value::Null),
        int8(s.epoch),
        Value::Null,
        Value::Null,
        // The last LSN it assigned, and the highest it made visible.
        int8(s.last_lsn),
        int8(s.visible_lsn),
        Value::Null,
        Value::Null,
        b(false),
    ]];
    let mut members: Vec<&pb::MemberStatus> = s.members.iter().collect();
    members.sort_by_key(|m| {
        let id = m.member.unwrap_or_default();
        (id.frontend_id, id.incarnation)
    });
    let now = i64::try_from(s.now_ms).unwrap_or(i64::MAX);
    for m in members {
        let id = m.member.unwrap_or_default();
        let remaining_ms = i64::try_from(m.lease_deadline_ms)
            .unwrap_or(i64::MAX)
            .saturating_sub(now);
        let expires_at = c
            .received_at
            .saturating_add(remaining_ms.saturating_mul(1000));
        let is_self = id.frontend_id == c.me.frontend_id && id.incarnation == c.me.incarnation;
        out.push(vec![
            int8(id.frontend_id),
            int8(id.incarnation),
            t("frontend"),
            t(&m.address),
            int8(s.epoch),
            Value::Timestamptz(expires_at),
            Value::Int8(remaining_ms),
            int8(m.received_lsn),
            int8(m.visible_lsn),
            int8(m.oldest_snapshot_lsn),
            b(m.subscribed),
            b(is_self),
        ]);
    }
    out
}

/// Holders and waiters, in the coordinator's order.
fn lock_rows(s: &pb::StatusResponse) -> Vec<Row> {
    s.locks
        .iter()
        .map(|l| {
            let txn = l.txn.unwrap_or_default();
            let (locktype, relation) = parse_resource(&l.resource);
            vec![
                int8(txn.frontend),
                int8(txn.txn),
                locktype.map(t).unwrap_or(Value::Null),
                relation.map(o).unwrap_or(Value::Null),
                t(&l.resource),
                t(&l.mode),
                b(l.granted),
            ]
        })
        .collect()
}

/// pg_locks' locktype and relation OID of a coordinator resource, as
/// the coordinator names them ("table 16384", "row 0x... of table
/// 16384"); NULLs for a name it does not recognise.
fn parse_resource(resource: &str) -> (Option<&'static str>, Option<u32>) {
    let (locktype, table) = if let Some(table) = resource.strip_prefix("table ") {
        ("relation", table)
    } else if let Some((_, table)) = resource
        .strip_prefix("row ")
        .and_then(|r| r.split_once(" of table "))
    {
        ("tuple", table)
    } else {
        return (None, None);
    };
    (Some(locktype), table.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> ClusterStatus {
        let member = |frontend_id, incarnation, deadline| pb::MemberStatus {
            member: Some(pb::Member {
                frontend_id,
                incarnation,
            }),
            address: format!("fe-{frontend_id}:5432"),
            lease_deadline_ms: deadline,
            received_lsn: 12,
            visible_lsn: 11,
            oldest_snapshot_lsn: 9,
            subscribed: true,
        };
        ClusterStatus {
            status: pb::StatusResponse {
                epoch: 3,
                last_lsn: 12,
                visible_lsn: 11,
                flushed_lsn: 5,
                manifest_version: 2,
                members: vec![member(2, 1, 10_500), member(1, 4, 9_000)],
                locks: vec![
                    pb::LockStatus {
                        txn: Some(pb::TxnId {
                            frontend: 1,
                            txn: 7,
                        }),
                        resource: "row 0x00000000deadbeef of table 16384".into(),
                        mode: "FOR UPDATE".into(),
                        granted: true,
                    },
                    pb::LockStatus {
                        txn: Some(pb::TxnId {
                            frontend: 2,
                            txn: 3,
                        }),
                        resource: "table 16384".into(),
                        mode: "X".into(),
                        granted: false,
                    },
                ],
                now_ms: 10_000,
            },
            me: MemberId {
                frontend_id: 2,
                incarnation: 1,
            },
            coordinator_address: Some("127.0.0.1:7000".into()),
            received_at: 1_000_000,
        }
    }

    #[test]
    fn members_list_the_coordinator_then_frontends_by_id() {
        let rows = member_rows(&status());
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0][2], t("coordinator"));
        assert_eq!(rows[0][3], t("127.0.0.1:7000"));
        assert_eq!(rows[0][4], Value::Int8(3));
        assert_eq!(rows[0][7], Value::Int8(12));
        assert_eq!(rows[0][11], b(false));
        // Frontend 1's lease ran out a second before the answer; frontend
        // 2 (this one) has half a second left.
        assert_eq!(
            rows[1],
            vec![
                Value::Int8(1),
                Value::Int8(4),
                t("frontend"),
                t("fe-1:5432"),
                Value::Int8(3),
                Value::Timestamptz(0),
                Value::Int8(-1000),
                Value::Int8(12),
                Value::Int8(11),
                Value::Int8(9),
                b(true),
                b(false),
            ]
        );
        assert_eq!(rows[2][0], Value::Int8(2));
        assert_eq!(rows[2][5], Value::Timestamptz(1_500_000));
        assert_eq!(rows[2][6], Value::Int8(500));
        assert_eq!(rows[2][11], b(true));
        let width = specs()[0].columns.len();
        assert!(rows.iter().all(|r| r.len() == width));
    }

    #[test]
    fn locks_name_their_relation() {
        let rows = lock_rows(&status().status);
        assert_eq!(
            rows[0],
            vec![
                Value::Int8(1),
                Value::Int8(7),
                t("tuple"),
                o(16384),
                t("row 0x00000000deadbeef of table 16384"),
                t("FOR UPDATE"),
                b(true),
            ]
        );
        assert_eq!(rows[1][2], t("relation"));
        assert_eq!(rows[1][3], o(16384));
        assert_eq!(rows[1][6], b(false));
        assert_eq!(parse_resource("sequence 4"), (None, None));
        let width = specs()[1].columns.len();
        assert!(rows.iter().all(|r| r.len() == width));
    }
}
