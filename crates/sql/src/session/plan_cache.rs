//! Plans kept with their statement: a prepared statement is bound once
//! and its plan run again at each Execute, as PostgreSQL's plan cache
//! does, until something the binding depended on changes.
//!
//! A plan depends on the catalog it was bound against (the shared
//! snapshot of one catalog version, or a transaction's own catalog while
//! it runs DDL: a new [`Catalog`] each time), the session's `search_path`,
//! the settings that read constants (TimeZone, DateStyle...), and the
//! parameters' types. The plan holds no values: parameters, `now()`,
//! sequences and the session's functions are read when it runs.

use std::sync::{Arc, Mutex, Weak};

use sqlparser::ast::{self, Statement};

use crate::binder::{Binder, ScopeCol};
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::exec::dml::{InsertPlan, ModifyPlan};
use crate::planner::plan::{Plan, SlotKind};
use crate::types::{DataType, FormatOptions, Value};

/// The plan slot of one parsed statement. A copy of the statement starts
/// without a plan (the wire layer shares a prepared statement with its
/// portals behind an `Arc`, so they share its plan).
#[derive(Default)]
pub struct PlanCache(Mutex<Option<Arc<CachedPlan>>>);

impl Clone for PlanCache {
    fn clone(&self) -> Self {
        PlanCache::default()
    }
}

impl std::fmt::Debug for PlanCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let planned = self.0.lock().map(|p| p.is_some()).unwrap_or(false);
        f.debug_struct("PlanCache")
            .field("planned", &planned)
            .finish()
    }
}

/// A statement bound for execution.
pub(crate) enum BoundStatement {
    Query { plan: Plan, cols: Vec<ScopeCol> },
    Insert(InsertPlan),
    Update(ModifyPlan),
    Delete(ModifyPlan),
}

/// A bound statement and what it was bound under.
pub(crate) struct CachedPlan {
    /// The catalog it was bound against. Held weakly: an old catalog is
    /// not kept alive by a plan (the allocation stays, so its address
    /// cannot be taken by a newer catalog).
    catalog: Weak<Catalog>,
    search_path: Vec<String>,
    format: FormatOptions,
    param_types: Vec<Option<DataType>>,
    pub(crate) bound: BoundStatement,
    pub(crate) slots: Vec<SlotKind>,
}

impl CachedPlan {
    fn binds_the_same(
        &self,
        catalog: &Arc<Catalog>,
        search_path: &[String],
        format: &FormatOptions,
        param_types: &[Option<DataType>],
    ) -> bool {
        std::ptr::eq(self.catalog.as_ptr(), Arc::as_ptr(catalog))
            && self.search_path == search_path
            && &self.format == format
            && self.param_types == param_types
    }
}

/// Whether `stmt` is bound by [`plan`]: queries and INSERT/UPDATE/DELETE
/// without data-modifying CTEs (those run their CTEs first and bind the
/// statement over the CTEs' rows, so each execution binds anew).
pub(crate) fn cacheable(stmt: &Statement) -> bool {
    let dml_ctes = |with: &Option<ast::With>| {
        with.as_ref()
            .is_some_and(|w| w.cte_tables.iter().any(|c| crate::binder::is_dml(&c.query)))
    };
    match stmt {
        // WITH ... INSERT/UPDATE/DELETE binds its CTEs around the row source.
        Statement::Query(q) if q.with.is_some() => {
            !dml_ctes(&q.with)
                && !matches!(
                    q.body.as_ref(),
                    ast::SetExpr::Insert(_) | ast::SetExpr::Update(_) | ast::SetExpr::Delete(_)
                )
        }
        Statement::Query(_) => true,
        Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => true,
        _ => false,
    }
}

/// The plan of `stmt` (which must be [`cacheable`]) for this catalog,
/// search path, format settings and parameters: the one in `cache` if it
/// was bound under the same, else a new one, which `cache` then keeps.
pub(crate) fn plan(
    cache: &PlanCache,
    catalog: &Arc<Catalog>,
    search_path: Vec<String>,
    format: FormatOptions,
    stmt: &Statement,
    params: &[Value],
) -> Result<Arc<CachedPlan>> {
    let param_types: Vec<Option<DataType>> = params.iter().map(|v| v.data_type()).collect();
    let kept = cache
        .0
        .lock()
        .map_err(|_| Error::internal("plan cache poisoned"))?
        .clone();
    if let Some(p) = kept {
        if p.binds_the_same(catalog, &search_path, &format, &param_types) {
            return Ok(p);
        }
    }
    let mut b = Binder::new(catalog, &search_path, &format, param_types.clone());
    let bound = match stmt {
        Statement::Query(q) => {
            let named = crate::binder::expr::reg_outputs_named(q);
            let (plan, cols) = b.query(named.as_ref().unwrap_or(q))?;
            BoundStatement::Query { plan, cols }
        }
        Statement::Insert(ins) => BoundStatement::Insert(b.bind_insert(ins)?),
        Statement::Update(u) => BoundStatement::Update(b.bind_update(u)?),
        Statement::Delete(d) => BoundStatement::Delete(b.bind_delete(d)?),
        _ => return Err(Error::internal("a plan asked for an uncacheable statement")),
    };
    let slots = b.slots;
    let planned = Arc::new(CachedPlan {
        catalog: Arc::downgrade(catalog),
        search_path,
        format,
        param_types,
        bound,
        slots,
    });
    *cache
        .0
        .lock()
        .map_err(|_| Error::internal("plan cache poisoned"))? = Some(planned.clone());
    Ok(planned)
}
