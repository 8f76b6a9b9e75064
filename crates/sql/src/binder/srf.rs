//! Binding set-returning functions in FROM that have their own column
//! lists: unnest of one or more arrays (`UNNEST(a, b) AS u (x, y)`), the
//! jsonb expansions (jsonb_each gives `key` and `value`), and any of
//! them WITH ORDINALITY.

use sqlparser::ast;

use super::{ident, Binder, Scope, ScopeCol};
use crate::error::Result;
use crate::func::srf;
use crate::planner::plan::{Expr, Plan};
use crate::types::DataType;

/// A result column: its name and type.
type Column = (String, DataType);

impl Binder<'_> {
    /// A function scan; with a `left` scope (a later FROM item) its
    /// arguments may use the earlier items' columns, and it runs once per
    /// left row (implicit LATERAL).
    pub(super) fn function_scan(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        alias: Option<&ast::TableAlias>,
        left: Option<&Scope>,
        ordinality: bool,
    ) -> Result<(Plan, Scope)> {
        if let Some(l) = left {
            self.outer.push(l.clone());
            self.outer_used.push(false);
        }
        let empty = Scope::default();
        let bound: Result<Vec<(Expr, DataType)>> =
            args.iter().map(|a| self.expr(a, &empty)).collect();
        let lateral = match left {
            Some(_) => {
                self.outer.pop();
                self.outer_used.pop().unwrap_or(false)
            }
            None => false,
        };
        let (exprs, types): (Vec<Expr>, Vec<DataType>) = bound?.into_iter().unzip();
        let (exprs, cols) = if srf::is_srf(name) {
            self.srf_columns(name, exprs, types)?
        } else {
            let (exprs, t) = self.srf_args(name, exprs, types)?;
            (exprs, vec![(name.to_string(), t)])
        };
        // A function of one unnamed (scalar) column takes the alias as
        // that column's name; `value`, `key` and the columns of a
        // several-array unnest keep theirs.
        let scalar = cols.len() == 1 && cols[0].0 == name;
        let mut scope_cols: Vec<ScopeCol> =
            cols.into_iter().map(|(n, t)| ScopeCol::new(n, t)).collect();
        if ordinality {
            scope_cols.push(ScopeCol::new("ordinality", DataType::Int8));
        }
        for c in &mut scope_cols {
            c.qualifier = Some(name.to_string());
        }
        if let Some(a) = alias {
            super::query::apply_alias(&mut scope_cols, a);
            if a.columns.is_empty() && scalar {
                scope_cols[0].name = ident(&a.name);
            }
        }
        let plan = Plan::Function {
            name: name.to_string(),
            args: exprs,
            width: scope_cols.len(),
            ordinality,
        };
        let plan = if lateral {
            Plan::Lateral {
                input: Box::new(plan),
            }
        } else {
            plan
        };
        Ok((plan, Scope::new(scope_cols)))
    }

    /// Coerces untyped arguments (unnest takes text[], generate_subscripts
    /// a dimension, the jsonb functions jsonb) and gives the result columns; 42883 when the
    /// arguments do not fit.
    pub(super) fn srf_columns(
        &mut self,
        name: &str,
        exprs: Vec<Expr>,
        types: Vec<DataType>,
    ) -> Result<(Vec<Expr>, Vec<Column>)> {
        let Some(cols) = srf::columns(name, &types) else {
            return Err(super::expr::undefined_function(name, &types));
        };
        let target = |i: usize| match name {
            "unnest" => DataType::Array(Box::new(DataType::Text)),
            "generate_subscripts" if i == 1 => DataType::Int4,
            "generate_subscripts" => DataType::Bool,
            _ => DataType::Jsonb,
        };
        let mut out = Vec::with_capacity(exprs.len());
        for (i, (x, t)) in exprs.into_iter().zip(types).enumerate() {
            out.push(if t == DataType::Unknown {
                self.coerce(x, &t, &target(i))?
            } else {
                x
            });
        }
        Ok((out, cols))
    }
}

/// The plain positional arguments of a call (named and `*` arguments
/// left out).
pub(crate) fn plain_args(args: &[ast::FunctionArg]) -> Vec<ast::Expr> {
    args.iter()
        .filter_map(|a| match a {
            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Some(e.clone()),
            _ => None,
        })
        .collect()
}
