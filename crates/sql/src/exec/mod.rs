//! The executor: runs a [`Plan`] to completion over the transaction and
//! returns its rows (materialised; the hot paths are point lookups).
//!
//! - [`expr`]: evaluating expressions, and the slots computed before them.
//! - [`scan`]: table scans, key lookups, row decoding and row locks.
//! - [`ops`]: joins, aggregation, sorting, DISTINCT, set operations, CTEs.
//! - [`window`]: window functions over partitions and frames.
//! - `srf`: function scans (unnest, jsonb_each...), WITH ORDINALITY.
//! - [`dml`]: INSERT, UPDATE, DELETE with constraints and indexes.
//! - [`ddl`]: CREATE, DROP, ALTER, TRUNCATE.
//! - [`copy`]: COPY FROM STDIN / TO STDOUT formats.

pub mod copy;
pub mod ddl;
pub mod dml;
pub mod expr;
pub mod ops;
pub mod scan;
mod srf;
pub mod window;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use shoal_txn::{Database, Transaction};

use crate::catalog::Catalog;
use crate::error::{Error, ErrorCode, Result};
use crate::func::FunctionContext;
use crate::pg_catalog::cluster::ClusterStatus;
use crate::planner::plan::{Plan, SlotKind};
use crate::session::state::SessionState;
use crate::session::CancelHandle;
use crate::types::Value;

/// One row of values.
pub type Row = Vec<Value>;

/// A boxed future (the executor recurses over the plan tree).
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// What a slot holds once computed.
#[derive(Clone, Debug)]
pub enum SlotVal {
    Value(Value),
    Rows(Arc<Vec<Row>>),
}

/// Everything a running statement reads and writes.
pub struct Ctx<'a> {
    pub txn: &'a mut Transaction,
    pub db: &'a Arc<Database>,
    pub catalog: &'a Catalog,
    pub params: &'a [Value],
    pub slots: &'a [SlotKind],
    pub slot_vals: Vec<Option<SlotVal>>,
    pub state: &'a mut SessionState,
    pub fctx: FunctionContext,
    pub cancel: CancelHandle,
    pub deadline: Option<Instant>,
    /// Materialised CTEs by id.
    pub ctes: HashMap<usize, Arc<Vec<Row>>>,
    /// Rows processed since the last cancel check.
    ticks: u32,
    /// The catalog as committed now, read under the DDL lock.
    pub fresh_catalog: Option<Arc<Catalog>>,
    /// The coordinator's status, asked on the statement's first scan of
    /// a cluster view and kept so that every scan of them agrees.
    pub cluster_status: Option<Arc<ClusterStatus>>,
}

impl<'a> Ctx<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        txn: &'a mut Transaction,
        db: &'a Arc<Database>,
        catalog: &'a Catalog,
        params: &'a [Value],
        slots: &'a [SlotKind],
        state: &'a mut SessionState,
        fctx: FunctionContext,
        cancel: CancelHandle,
        deadline: Option<Instant>,
    ) -> Ctx<'a> {
        Ctx {
            txn,
            db,
            catalog,
            params,
            slots,
            slot_vals: vec![None; slots.len()],
            state,
            fctx,
            cancel,
            deadline,
            ctes: HashMap::new(),
            ticks: 0,
            fresh_catalog: None,
            cluster_status: None,
        }
    }

    /// Checks for a cancel request or an expired statement_timeout.
    pub fn check_cancel(&mut self) -> Result<()> {
        self.ticks += 1;
        if self.ticks % 256 != 0 {
            return Ok(());
        }
        self.check_now()
    }

    /// [`Ctx::check_cancel`] for loops over many rows, which also yields
    /// to the runtime every 1024 rows: a statement over a large table must
    /// not hold a worker thread for seconds, or the frontend's lease
    /// heartbeats (and every other session on that worker) stall behind it.
    pub async fn pace(&mut self) -> Result<()> {
        self.check_cancel()?;
        if self.ticks % 1024 == 0 {
            tokio::task::yield_now().await;
        }
        Ok(())
    }

    /// After a table lock was first granted to this transaction: if DDL
    /// committed since the statement was bound (it may have waited behind
    /// that DDL's lock), the plan may miss a new index or column, so the
    /// statement must be bound again. PostgreSQL takes table locks before
    /// planning for the same reason.
    pub async fn check_plan_current(&mut self) -> Result<()> {
        if self.state.catalog_dirty {
            return Ok(());
        }
        self.txn.sync_latest().await?;
        if self.db.catalog_version() != self.state.statement_catalog {
            self.state.stale_plan = true;
            return Err(Error::new(
                crate::error::ErrorCode::SerializationFailure,
                "a table's definition changed while this statement waited for its lock",
            )
            .with_hint("Retry the statement."));
        }
        Ok(())
    }

    /// How long a lock may be waited for: lock_timeout, cut short by
    /// what is left of statement_timeout.
    pub fn lock_wait(&self) -> Option<std::time::Duration> {
        let lock = self.state.settings.lock_timeout();
        let left = self.deadline.map(|d| {
            d.saturating_duration_since(Instant::now())
                .max(std::time::Duration::from_millis(1))
        });
        match (lock, left) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A failed lock request as PostgreSQL reports it.
    pub fn lock_failed(&self, e: shoal_txn::Error, table: &str) -> Error {
        if e.kind == shoal_txn::ErrorKind::LockTimeout {
            if let Some(d) = self.deadline {
                if Instant::now() >= d {
                    return Error::new(
                        ErrorCode::QueryCanceled,
                        "canceling statement due to statement timeout",
                    );
                }
            }
        }
        scan::lock_error(e, table)
    }

    pub fn check_now(&mut self) -> Result<()> {
        if self.cancel.take() {
            return Err(Error::new(
                ErrorCode::QueryCanceled,
                "canceling statement due to user request",
            ));
        }
        if let Some(d) = self.deadline {
            if Instant::now() >= d {
                return Err(Error::new(
                    ErrorCode::QueryCanceled,
                    "canceling statement due to statement timeout",
                ));
            }
        }
        Ok(())
    }

    /// Runs `plan` with `outer` as the rows of enclosing queries.
    pub fn run<'b>(&'b mut self, plan: &'b Plan, outer: &'b [Row]) -> BoxFut<'b, Vec<Row>>
    where
        'a: 'b,
    {
        Box::pin(async move {
            self.check_now()?;
            match plan {
                Plan::Values { rows } => {
                    let mut out = Vec::with_capacity(rows.len());
                    for r in rows {
                        let mut row = Vec::with_capacity(r.len());
                        for e in r {
                            row.push(self.eval_full(e, &[], outer).await?);
                        }
                        out.push(row);
                    }
                    Ok(out)
                }
                Plan::Scan {
                    table,
                    access,
                    filter,
                    lock,
                } => {
                    self.scan(table, access, filter.as_ref(), *lock, outer)
                        .await
                }
                Plan::Virtual { name } => crate::pg_catalog::scan(name, self).await,
                Plan::Function {
                    name,
                    args,
                    ordinality,
                    ..
                } => self.function_scan(name, args, *ordinality, outer).await,
                Plan::Filter { input, predicate } => {
                    let rows = self.run(input, outer).await?;
                    let mut out = Vec::new();
                    for r in rows {
                        self.pace().await?;
                        if self.eval_full(predicate, &r, outer).await?.is_true() {
                            out.push(r);
                        }
                    }
                    Ok(out)
                }
                Plan::Project { input, exprs } => {
                    let rows = self.run(input, outer).await?;
                    let mut out = Vec::with_capacity(rows.len());
                    for r in rows {
                        self.pace().await?;
                        let mut row = Vec::with_capacity(exprs.len());
                        for e in exprs {
                            row.push(self.eval_full(e, &r, outer).await?);
                        }
                        out.push(row);
                    }
                    Ok(out)
                }
                Plan::Join {
                    kind,
                    left,
                    right,
                    equi,
                    on,
                    left_width,
                    right_width,
                } => {
                    let l = self.run(left, outer).await?;
                    if let Plan::Lateral { input } = right.as_ref() {
                        let mut out = Vec::new();
                        for lr in l {
                            let mut stack = outer.to_vec();
                            stack.push(lr.clone());
                            let r = self.run(input, &stack).await?;
                            let (lw, rw) = (*left_width, *right_width);
                            let joined = self
                                .join(*kind, vec![lr], r, equi, on.as_ref(), lw, rw, outer)
                                .await?;
                            out.extend(joined);
                        }
                        return Ok(out);
                    }
                    let r = self.run(right, outer).await?;
                    self.join(
                        *kind,
                        l,
                        r,
                        equi,
                        on.as_ref(),
                        *left_width,
                        *right_width,
                        outer,
                    )
                    .await
                }
                Plan::Lateral { input } => self.run(input, outer).await,
                Plan::Zip { inputs, widths } => {
                    let mut sets = Vec::with_capacity(inputs.len());
                    for i in inputs {
                        sets.push(self.run(i, outer).await?);
                    }
                    let n = sets.iter().map(Vec::len).max().unwrap_or(0);
                    let mut out = Vec::with_capacity(n);
                    for k in 0..n {
                        let mut row = Vec::new();
                        for (set, w) in sets.iter().zip(widths) {
                            match set.get(k) {
                                Some(r) => row.extend(r.iter().cloned()),
                                None => row.extend(std::iter::repeat_n(Value::Null, *w)),
                            }
                        }
                        out.push(row);
                    }
                    Ok(out)
                }
                Plan::Window { input, calls } => {
                    let rows = self.run(input, outer).await?;
                    self.window(rows, calls, outer).await
                }
                Plan::Aggregate { input, group, aggs } => {
                    let rows = self.run(input, outer).await?;
                    self.aggregate(rows, group, aggs, outer).await
                }
                Plan::Sort { input, keys } => {
                    let rows = self.run(input, outer).await?;
                    self.sort(rows, keys, outer).await
                }
                Plan::Limit {
                    input,
                    limit,
                    offset,
                } => {
                    let rows = self.run(input, outer).await?;
                    self.limit(rows, limit.as_ref(), offset.as_ref(), outer)
                }
                Plan::Distinct { input, on } => {
                    let rows = self.run(input, outer).await?;
                    self.distinct(rows, on.as_deref(), outer).await
                }
                Plan::SetOp {
                    kind,
                    all,
                    left,
                    right,
                } => {
                    let l = self.run(left, outer).await?;
                    let r = self.run(right, outer).await?;
                    Ok(ops::set_op(*kind, *all, l, r))
                }
                Plan::CteRef { id } => Ok(self
                    .ctes
                    .get(id)
                    .map(|r| r.as_ref().clone())
                    .unwrap_or_default()),
                Plan::With { ctes, input } => {
                    for (id, base, step) in ctes {
                        self.with_cte(*id, base, step.as_ref(), outer).await?;
                    }
                    self.run(input, outer).await
                }
            }
        })
    }
}

impl Value {
    /// Whether this is SQL TRUE (NULL and FALSE are not).
    pub fn is_true(&self) -> bool {
        matches!(self, Value::Bool(true))
    }
}
