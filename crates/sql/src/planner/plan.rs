//! The plan tree the binder builds and the executor runs: typed
//! expressions over the input row ([`Expr`]) and relational operators
//! ([`Plan`]).

use std::sync::Arc;

use crate::catalog::TableDef;
use crate::func::aggregate::AggregateFn;
use crate::func::{BinaryOp, UnaryOp};
use crate::types::{DataType, Value};

/// A bound, typed expression evaluated over one input row.
#[derive(Clone, Debug)]
pub enum Expr {
    Const(Value),
    /// A column of the input row.
    Column(usize),
    /// A column of an enclosing query's row (`depth` 1 is the nearest).
    Outer {
        depth: usize,
        index: usize,
    },
    /// `$n` (0-based).
    Param(usize),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    Unary(UnaryOp, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    IsNull(Box<Expr>),
    /// `IS TRUE` / `IS FALSE` (never NULL).
    IsBool(Box<Expr>, bool),
    IsDistinct(Box<Expr>, Box<Expr>),
    Cast(Box<Expr>, DataType),
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        else_: Option<Box<Expr>>,
    },
    Coalesce(Vec<Expr>),
    NullIf(Box<Expr>, Box<Expr>),
    /// GREATEST (true) / LEAST (false).
    MinMax(Vec<Expr>, bool),
    InList(Box<Expr>, Vec<Expr>),
    /// A scalar function of `func`.
    Func(String, Vec<Expr>),
    /// A function that reads session state.
    Session(SessionFn, Vec<Expr>),
    /// A value computed before the row's evaluation (subqueries and
    /// functions with effects): see `exec::expr`.
    Slot(usize),
    Exists(usize),
    InSubquery(Box<Expr>, usize),
    /// An aggregate call (only while binding a grouped query).
    Agg(usize),
    /// A window function call (only while binding a select list).
    Window(usize),
}

/// Session-reading functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionFn {
    CurrVal,
    CurrentSetting,
    Version,
    CurrentDatabase,
    CurrentUser,
    CurrentSchema,
    CurrentSchemas,
    BackendPid,
    Now,
    StatementTimestamp,
    ClockTimestamp,
    CurrentDate,
    LastVal,
}

/// A value computed asynchronously before the expression that uses it.
#[derive(Clone, Debug)]
pub enum SlotKind {
    NextVal(Expr),
    /// pg_sleep(seconds): waits, giving way to cancels and timeouts.
    Sleep(Expr),
    SetVal(Vec<Expr>),
    SetConfig(Vec<Expr>),
    /// A subquery; `correlated` ones run again for each outer row.
    Subquery {
        plan: Box<Plan>,
        correlated: bool,
        scalar: bool,
        /// `ARRAY(subquery)`, and the right side of `x op ANY/ALL
        /// (subquery)`: the first column of every row, as one array.
        array: bool,
    },
}

impl Expr {
    /// Visits every sub-expression (not into subquery plans).
    pub fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        match self {
            Expr::Binary(_, a, b)
            | Expr::And(a, b)
            | Expr::Or(a, b)
            | Expr::IsDistinct(a, b)
            | Expr::NullIf(a, b) => {
                a.walk(f);
                b.walk(f);
            }
            Expr::Unary(_, a)
            | Expr::Not(a)
            | Expr::IsNull(a)
            | Expr::IsBool(a, _)
            | Expr::Cast(a, _)
            | Expr::InSubquery(a, _) => a.walk(f),
            Expr::Case {
                operand,
                whens,
                else_,
            } => {
                if let Some(o) = operand {
                    o.walk(f);
                }
                for (w, t) in whens {
                    w.walk(f);
                    t.walk(f);
                }
                if let Some(e) = else_ {
                    e.walk(f);
                }
            }
            Expr::Coalesce(v) | Expr::MinMax(v, _) | Expr::Func(_, v) | Expr::Session(_, v) => {
                v.iter().for_each(|e| e.walk(f))
            }
            Expr::InList(a, v) => {
                a.walk(f);
                v.iter().for_each(|e| e.walk(f));
            }
            _ => {}
        }
    }

    /// Rewrites bottom-up.
    pub fn rewrite(self, f: &mut dyn FnMut(Expr) -> crate::Result<Expr>) -> crate::Result<Expr> {
        let b = |e: Box<Expr>, f: &mut dyn FnMut(Expr) -> crate::Result<Expr>| {
            e.rewrite(f).map(Box::new)
        };
        let e = match self {
            Expr::Binary(op, a, c) => Expr::Binary(op, b(a, f)?, b(c, f)?),
            Expr::And(a, c) => Expr::And(b(a, f)?, b(c, f)?),
            Expr::Or(a, c) => Expr::Or(b(a, f)?, b(c, f)?),
            Expr::IsDistinct(a, c) => Expr::IsDistinct(b(a, f)?, b(c, f)?),
            Expr::NullIf(a, c) => Expr::NullIf(b(a, f)?, b(c, f)?),
            Expr::Unary(op, a) => Expr::Unary(op, b(a, f)?),
            Expr::Not(a) => Expr::Not(b(a, f)?),
            Expr::IsNull(a) => Expr::IsNull(b(a, f)?),
            Expr::IsBool(a, v) => Expr::IsBool(b(a, f)?, v),
            Expr::Cast(a, t) => Expr::Cast(b(a, f)?, t),
            Expr::InSubquery(a, s) => Expr::InSubquery(b(a, f)?, s),
            Expr::Case {
                operand,
                whens,
                else_,
            } => Expr::Case {
                operand: match operand {
                    Some(o) => Some(b(o, f)?),
                    None => None,
                },
                whens: whens
                    .into_iter()
                    .map(|(w, t)| Ok((w.rewrite(f)?, t.rewrite(f)?)))
                    .collect::<crate::Result<_>>()?,
                else_: match else_ {
                    Some(o) => Some(b(o, f)?),
                    None => None,
                },
            },
            Expr::Coalesce(v) => Expr::Coalesce(rw_all(v, f)?),
            Expr::MinMax(v, g) => Expr::MinMax(rw_all(v, f)?, g),
            Expr::Func(n, v) => Expr::Func(n, rw_all(v, f)?),
            Expr::Session(n, v) => Expr::Session(n, rw_all(v, f)?),
            Expr::InList(a, v) => Expr::InList(b(a, f)?, rw_all(v, f)?),
            other => other,
        };
        f(e)
    }

    /// Whether it reads only constants and parameters (no row, no slot).
    pub fn is_row_independent(&self) -> bool {
        let mut ok = true;
        self.walk(&mut |e| {
            if matches!(
                e,
                Expr::Column(_)
                    | Expr::Outer { .. }
                    | Expr::Slot(_)
                    | Expr::Exists(_)
                    | Expr::InSubquery(..)
                    | Expr::Agg(_)
                    | Expr::Session(..)
            ) {
                ok = false;
            }
        });
        ok
    }

    /// Column indexes it reads.
    pub fn columns(&self) -> Vec<usize> {
        let mut v = Vec::new();
        self.walk(&mut |e| {
            if let Expr::Column(i) = e {
                v.push(*i);
            }
        });
        v
    }

    /// Structural equality (constants compared by their debug form).
    pub fn same(&self, other: &Expr) -> bool {
        format!("{self:?}") == format!("{other:?}")
    }
}

fn rw_all(
    v: Vec<Expr>,
    f: &mut dyn FnMut(Expr) -> crate::Result<Expr>,
) -> crate::Result<Vec<Expr>> {
    v.into_iter().map(|e| e.rewrite(f)).collect()
}

/// An aggregate call in a grouped query.
#[derive(Clone, Debug)]
pub struct AggCall {
    pub func: AggregateFn,
    pub args: Vec<Expr>,
    pub distinct: bool,
    pub filter: Option<Expr>,
    /// `agg(x ORDER BY k)`: the order the rows reach the accumulator in
    /// (empty: input order).
    pub order_by: Vec<SortKey>,
}

/// A window frame bound.
#[derive(Clone, Debug)]
pub enum FrameBound {
    UnboundedPreceding,
    Preceding(Expr),
    CurrentRow,
    Following(Expr),
    UnboundedFollowing,
}

/// A window function call: `func(args) OVER (PARTITION BY .. ORDER BY .. frame)`.
#[derive(Clone, Debug)]
pub struct WindowCall {
    pub func: String,
    /// Set when `func` is an aggregate.
    pub agg: Option<AggregateFn>,
    pub args: Vec<Expr>,
    /// `FILTER (WHERE ...)` of an aggregate: rows where it is not true
    /// are left out of every frame's aggregate.
    pub filter: Option<Expr>,
    pub partition: Vec<Expr>,
    pub order: Vec<SortKey>,
    /// ROWS (true) or RANGE (false).
    pub rows: bool,
    pub start: FrameBound,
    pub end: FrameBound,
}

/// How a table scan finds its rows.
#[derive(Clone, Debug)]
pub enum Access {
    Full,
    /// Primary-key prefix equality plus an optional range on the next
    /// column (all pk columns equal: a single get).
    Primary {
        eq: Vec<Expr>,
        lower: Option<(Expr, bool)>,
        upper: Option<(Expr, bool)>,
    },
    /// A secondary index (by position in `TableDef::indexes`).
    Index {
        index: usize,
        eq: Vec<Expr>,
        lower: Option<(Expr, bool)>,
        upper: Option<(Expr, bool)>,
    },
}

/// A row lock taken by a scan (FOR UPDATE/SHARE, and DML targets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowLock {
    pub mode: shoal_txn::LockMode,
    pub wait: shoal_txn::WaitPolicy,
    /// Lock at most this many rows, in scan order (`LIMIT n FOR UPDATE`
    /// over a scan in key order): rows past the limit stay unlocked.
    pub budget: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOpKind {
    Union,
    Intersect,
    Except,
}

#[derive(Clone, Debug)]
pub struct SortKey {
    pub expr: Expr,
    pub desc: bool,
    pub nulls_first: bool,
}

impl SortKey {
    /// Ascending keys (NULLs last) over `exprs`: the order that groups
    /// equal values together.
    pub fn ascending(exprs: &[Expr]) -> Vec<SortKey> {
        exprs
            .iter()
            .map(|e| SortKey {
                expr: e.clone(),
                desc: false,
                nulls_first: false,
            })
            .collect()
    }
}

/// A CTE: its id, its plan, and for WITH RECURSIVE the step plan and
/// whether it is UNION ALL.
pub type CtePlan = (usize, Plan, Option<(Plan, bool)>);

/// A relational operator. Every node produces rows of a fixed width.
#[derive(Clone, Debug)]
pub enum Plan {
    /// Literal rows (VALUES; one empty row for SELECT without FROM).
    Values {
        rows: Vec<Vec<Expr>>,
    },
    /// A table's rows: every column, then the row's key as bytea.
    Scan {
        table: Arc<TableDef>,
        access: Access,
        filter: Option<Expr>,
        lock: Option<RowLock>,
    },
    /// A pg_catalog / information_schema table computed from the catalog.
    Virtual {
        name: String,
    },
    /// generate_series and other set-returning functions.
    Function {
        name: String,
        args: Vec<Expr>,
        /// Columns per row (jsonb_each has two; WITH ORDINALITY adds one).
        width: usize,
        /// WITH ORDINALITY: a last bigint column numbering the rows from 1.
        ordinality: bool,
    },
    Filter {
        input: Box<Plan>,
        predicate: Expr,
    },
    Project {
        input: Box<Plan>,
        exprs: Vec<Expr>,
    },
    Join {
        kind: JoinKind,
        left: Box<Plan>,
        right: Box<Plan>,
        /// Equality keys (left expr over left rows, right expr over right rows).
        equi: Vec<(Expr, Expr)>,
        /// The rest of the condition, over the joined row.
        on: Option<Expr>,
        left_width: usize,
        right_width: usize,
    },
    Aggregate {
        input: Box<Plan>,
        group: Vec<Expr>,
        aggs: Vec<AggCall>,
    },
    Sort {
        input: Box<Plan>,
        keys: Vec<SortKey>,
    },
    Limit {
        input: Box<Plan>,
        limit: Option<Expr>,
        offset: Option<Expr>,
    },
    Distinct {
        input: Box<Plan>,
        on: Option<Vec<Expr>>,
    },
    SetOp {
        kind: SetOpKind,
        all: bool,
        left: Box<Plan>,
        right: Box<Plan>,
    },
    /// Window functions: the input row, then one value per call.
    Window {
        input: Box<Plan>,
        calls: Vec<WindowCall>,
    },
    /// A LATERAL subquery: the right side of a join, run once per left
    /// row with that row as its innermost outer row.
    Lateral {
        input: Box<Plan>,
    },
    /// Several set-returning functions of one select list run in
    /// lockstep (PostgreSQL's ROWS FROM): row i holds each function's
    /// i-th row, NULLs for those that ran out, as many rows as the
    /// longest gives.
    Zip {
        /// Function scans (each with the same outer rows as the Zip).
        inputs: Vec<Plan>,
        /// Columns of each input.
        widths: Vec<usize>,
    },
    /// The rows of CTE `id` (materialised by an enclosing `With`).
    CteRef {
        id: usize,
    },
    With {
        ctes: Vec<CtePlan>,
        input: Box<Plan>,
    },
}

impl Plan {
    /// The tables this plan scans, subquery slots of `slots` included.
    pub fn tables_read(&self, slots: &[SlotKind], out: &mut Vec<u32>) {
        match self {
            Plan::Scan { table, .. } => out.push(table.oid),
            Plan::Values { .. }
            | Plan::Virtual { .. }
            | Plan::Function { .. }
            | Plan::CteRef { .. } => {}
            Plan::Filter { input, .. }
            | Plan::Project { input, .. }
            | Plan::Aggregate { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::Distinct { input, .. }
            | Plan::Window { input, .. }
            | Plan::Lateral { input } => input.tables_read(slots, out),
            Plan::Zip { inputs, .. } => {
                for i in inputs {
                    i.tables_read(slots, out);
                }
            }
            Plan::Join { left, right, .. } | Plan::SetOp { left, right, .. } => {
                left.tables_read(slots, out);
                right.tables_read(slots, out);
            }
            Plan::With { ctes, input } => {
                for (_, base, step) in ctes {
                    base.tables_read(slots, out);
                    if let Some((s, _)) = step {
                        s.tables_read(slots, out);
                    }
                }
                input.tables_read(slots, out);
            }
        }
        for s in slots {
            if let SlotKind::Subquery { plan, .. } = s {
                let mut inner = Vec::new();
                plan.tables_read(&[], &mut inner);
                out.extend(inner);
            }
        }
    }
}
