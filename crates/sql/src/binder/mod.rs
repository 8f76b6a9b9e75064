//! The binder: resolves the names of a parsed statement against the
//! catalog (search_path, aliases, CTEs, outer queries) and types every
//! expression, producing a [`Plan`] with bound [`Expr`]s.
//!
//! - [`expr`]: expressions (operators, functions, casts, subqueries, `$n`).
//! - [`query`]: SELECT, set operations, VALUES, FROM and joins, GROUP BY,
//!   ORDER BY, LIMIT, WITH.
//! - `aggregate`: DISTINCT, FILTER and ORDER BY inside aggregate calls.
//! - `operator`: the jsonb and array operators bound as functions.
//! - `array`: ARRAY constructors, ARRAY(SELECT ...), subscripts, slices.
//! - `srf`: set-returning functions in FROM, WITH ORDINALITY.
//! - `whole_row`: row_to_json(t) and friends over a FROM item.

mod aggregate;
mod array;
pub mod expr;
mod operator;
pub mod query;
pub use query::is_dml;
mod srf;
mod whole_row;
pub mod window;

use crate::catalog::Catalog;
use crate::error::{Error, ErrorCode, Result};
use crate::planner::plan::{AggCall, SlotKind};
use crate::types::{DataType, FormatOptions};

/// One column visible to expressions.
#[derive(Clone, Debug)]
pub struct ScopeCol {
    /// The table name or alias that qualifies it.
    pub qualifier: Option<String>,
    pub name: String,
    pub ty: DataType,
    /// Not found by `*` nor by unqualified names (row keys, dropped
    /// columns, the right copy of a USING column).
    pub hidden: bool,
    /// Reachable only by qualified name.
    pub qualified_only: bool,
    pub table_oid: u32,
    pub column_id: i16,
}

impl ScopeCol {
    pub fn new(name: impl Into<String>, ty: DataType) -> ScopeCol {
        ScopeCol {
            qualifier: None,
            name: name.into(),
            ty,
            hidden: false,
            qualified_only: false,
            table_oid: 0,
            column_id: 0,
        }
    }
}

/// The columns of the row an expression is evaluated over.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub cols: Vec<ScopeCol>,
}

impl Scope {
    pub fn new(cols: Vec<ScopeCol>) -> Scope {
        Scope { cols }
    }

    /// Finds `[qualifier.]name`; 42702 when ambiguous.
    pub fn find(&self, qualifier: Option<&str>, name: &str) -> Result<Option<usize>> {
        let mut found = None;
        for (i, c) in self.cols.iter().enumerate() {
            let hit = match qualifier {
                Some(q) => c.qualifier.as_deref() == Some(q) && c.name == name && !c.is_dropped(),
                None => !c.hidden && !c.qualified_only && c.name == name,
            };
            if hit {
                if found.is_some() {
                    let full = match qualifier {
                        Some(q) => format!("{q}.{name}"),
                        None => name.to_string(),
                    };
                    return Err(Error::new(
                        ErrorCode::AmbiguousColumn,
                        format!("column reference \"{full}\" is ambiguous"),
                    ));
                }
                found = Some(i);
            }
        }
        Ok(found)
    }

    /// Whether any column has this qualifier.
    pub fn has_qualifier(&self, q: &str) -> bool {
        self.cols.iter().any(|c| c.qualifier.as_deref() == Some(q))
    }
}

impl ScopeCol {
    fn is_dropped(&self) -> bool {
        self.hidden && self.name.starts_with("........")
    }
}

/// A CTE visible to the query being bound.
#[derive(Clone, Debug)]
pub struct CteName {
    pub name: String,
    pub id: usize,
    pub cols: Vec<ScopeCol>,
}

/// Binds one statement.
pub struct Binder<'a> {
    pub catalog: &'a Catalog,
    pub search_path: &'a [String],
    pub format: &'a FormatOptions,
    /// `$n` types: given by the client, or inferred while binding.
    pub params: Vec<Option<DataType>>,
    /// Values computed before the expressions that use them.
    pub slots: Vec<SlotKind>,
    /// Scopes of enclosing queries, innermost last.
    outer: Vec<Scope>,
    /// Per enclosing scope: whether something inside referenced it.
    outer_used: Vec<bool>,
    /// Aggregates of the grouped query being bound (None: not allowed).
    aggs: Option<Vec<AggCall>>,
    /// Where aggregates are not allowed, for the error message.
    agg_forbidden: &'static str,
    /// Window calls of the select list being bound (None: not allowed).
    windows: Option<Vec<crate::planner::plan::WindowCall>>,
    /// The windows collected by the last `end_aggs`.
    collected_windows: Vec<crate::planner::plan::WindowCall>,
    /// WINDOW clause definitions of the SELECT being bound.
    named_windows: Vec<(String, sqlparser::ast::WindowSpec)>,
    ctes: Vec<CteName>,
    next_cte: usize,
    /// Data-modifying CTEs (`WITH x AS (DELETE ... RETURNING ...)`), run
    /// before the statement: their names, RETURNING rows and columns.
    pub dml_ctes: Vec<(String, Vec<Vec<crate::types::Value>>, Vec<ScopeCol>)>,
    /// Set while binding a leaf SELECT of a set operation: its untyped
    /// literal columns stay `unknown` for the set operation to resolve
    /// (`SELECT 1 UNION SELECT '2'` is integer).
    set_leaf: bool,
    /// Tables a statement's FROM reads (for views' recursion guard).
    depth: usize,
}

impl<'a> Binder<'a> {
    pub fn new(
        catalog: &'a Catalog,
        search_path: &'a [String],
        format: &'a FormatOptions,
        params: Vec<Option<DataType>>,
    ) -> Binder<'a> {
        Binder {
            catalog,
            search_path,
            format,
            params,
            slots: Vec::new(),
            outer: Vec::new(),
            outer_used: Vec::new(),
            aggs: None,
            agg_forbidden: "WHERE",
            set_leaf: false,
            dml_ctes: Vec::new(),
            windows: None,
            collected_windows: Vec::new(),
            named_windows: Vec::new(),
            ctes: Vec::new(),
            next_cte: 0,
            depth: 0,
        }
    }

    /// The parameter types, unknown ones defaulting to text.
    pub fn param_types(&self) -> Vec<DataType> {
        self.params
            .iter()
            .map(|t| match t {
                Some(DataType::Unknown) | None => DataType::Text,
                Some(t) => t.clone(),
            })
            .collect()
    }

    pub(crate) fn add_slot(&mut self, s: SlotKind) -> usize {
        self.slots.push(s);
        self.slots.len() - 1
    }
}

/// An identifier as PostgreSQL folds it (unquoted: lower case).
pub fn ident(i: &sqlparser::ast::Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

/// `[schema.]name` of an object name.
pub fn object_name(n: &sqlparser::ast::ObjectName) -> Result<(Option<String>, String)> {
    let parts: Vec<String> =
        n.0.iter()
            .map(|p| {
                p.as_ident()
                    .map(ident)
                    .ok_or_else(|| Error::syntax(format!("syntax error at or near \"{n}\"")))
            })
            .collect::<Result<_>>()?;
    match parts.as_slice() {
        [name] => Ok((None, name.clone())),
        [schema, name] => Ok((Some(schema.clone()), name.clone())),
        [_db, schema, name] => Ok((Some(schema.clone()), name.clone())),
        _ => Err(Error::syntax(format!(
            "improper qualified name (too many dotted names): {n}"
        ))),
    }
}
