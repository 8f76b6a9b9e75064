//! Binding the clauses inside an aggregate call: `agg(DISTINCT x ORDER BY
//! k DESC) FILTER (WHERE ...)`.

use sqlparser::ast;

use super::{Binder, Scope};
use crate::error::{Error, ErrorCode, Result};
use crate::planner::plan::SortKey;

/// The parts of an aggregate call besides its name and arguments.
pub(crate) struct AggSyntax<'a> {
    pub distinct: bool,
    pub filter: Option<&'a ast::Expr>,
    /// `ORDER BY` inside the parentheses.
    pub order_by: &'a [ast::OrderByExpr],
}

/// The `ORDER BY` clause inside a call's parentheses (empty when none).
pub(crate) fn aggregate_order_by(args: &ast::FunctionArguments) -> &[ast::OrderByExpr] {
    let ast::FunctionArguments::List(l) = args else {
        return &[];
    };
    l.clauses
        .iter()
        .find_map(|c| match c {
            ast::FunctionArgumentClause::OrderBy(o) => Some(o.as_slice()),
            _ => None,
        })
        .unwrap_or(&[])
}

impl Binder<'_> {
    /// Binds an aggregate's `ORDER BY` keys. With DISTINCT every key must
    /// be one of the arguments (PostgreSQL's 42P10), since duplicates are
    /// removed after sorting.
    pub(crate) fn aggregate_order(
        &mut self,
        args: &[ast::Expr],
        distinct: bool,
        order_by: &[ast::OrderByExpr],
        scope: &Scope,
    ) -> Result<Vec<SortKey>> {
        let mut keys = Vec::with_capacity(order_by.len());
        for o in order_by {
            if distinct && !args.contains(&o.expr) {
                return Err(Error::new(
                    ErrorCode::InvalidColumnReference,
                    "in an aggregate with DISTINCT, ORDER BY expressions must appear in argument list",
                ));
            }
            let (expr, _) = self.expr(&o.expr, scope)?;
            let desc = matches!(o.options.sort, Some(ast::OrderBySort::Desc));
            keys.push(SortKey {
                expr,
                desc,
                nulls_first: o.options.nulls_first.unwrap_or(desc),
            });
        }
        Ok(keys)
    }
}
