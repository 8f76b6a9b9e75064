//! Binding window function calls: `f(args) OVER (PARTITION BY ... ORDER
//! BY ... frame)` and named windows (`WINDOW w AS (...)`).

use sqlparser::ast;

use super::{ident, Binder, Scope};
use crate::error::{Error, ErrorCode, Result};
use crate::func::aggregate;
use crate::planner::plan::{Expr, FrameBound, SortKey, WindowCall};
use crate::types::DataType;

/// Functions that exist only as window functions.
pub fn is_window_only(name: &str) -> bool {
    matches!(
        name,
        "row_number"
            | "rank"
            | "dense_rank"
            | "percent_rank"
            | "cume_dist"
            | "ntile"
            | "lag"
            | "lead"
            | "first_value"
            | "last_value"
            | "nth_value"
    )
}

impl Binder<'_> {
    fn window_spec(&self, over: &ast::WindowType) -> Result<ast::WindowSpec> {
        let named = |name: &ast::Ident| -> Result<ast::WindowSpec> {
            let n = ident(name);
            self.named_windows
                .iter()
                .find(|(w, _)| *w == n)
                .map(|(_, s)| s.clone())
                .ok_or_else(|| {
                    Error::new(
                        ErrorCode::UndefinedObject,
                        format!("window \"{n}\" does not exist"),
                    )
                })
        };
        match over {
            ast::WindowType::NamedWindow(name) => named(name),
            ast::WindowType::WindowSpec(spec) => match &spec.window_name {
                Some(base) => {
                    let mut b = named(base)?;
                    if !spec.order_by.is_empty() {
                        b.order_by = spec.order_by.clone();
                    }
                    if spec.window_frame.is_some() {
                        b.window_frame = spec.window_frame.clone();
                    }
                    Ok(b)
                }
                None => Ok(spec.clone()),
            },
        }
    }

    /// Records the WINDOW clause of the SELECT being bound.
    pub(crate) fn set_named_windows(&mut self, defs: &[ast::NamedWindowDefinition]) -> Result<()> {
        let mut out: Vec<(String, ast::WindowSpec)> = Vec::new();
        for ast::NamedWindowDefinition(name, expr) in defs {
            let spec = match expr {
                ast::NamedWindowExpr::WindowSpec(s) => s.clone(),
                ast::NamedWindowExpr::NamedWindow(other) => {
                    let o = ident(other);
                    out.iter()
                        .find(|(n, _)| *n == o)
                        .map(|(_, s)| s.clone())
                        .ok_or_else(|| {
                            Error::new(
                                ErrorCode::UndefinedObject,
                                format!("window \"{o}\" does not exist"),
                            )
                        })?
                }
            };
            out.push((ident(name), spec));
        }
        self.named_windows = out;
        Ok(())
    }

    pub(crate) fn window_function(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        filter: Option<&ast::Expr>,
        over: &ast::WindowType,
        scope: &Scope,
    ) -> Result<(Expr, DataType)> {
        let Some(saved) = self.windows.take() else {
            return Err(Error::new(
                ErrorCode::GroupingError,
                format!("window functions are not allowed in {}", self.agg_forbidden),
            ));
        };
        let r = self.window_inner(name, args, filter, over, scope);
        let mut windows = saved;
        let (call, ty) = match r {
            Ok(x) => x,
            Err(e) => {
                self.windows = Some(windows);
                return Err(e);
            }
        };
        windows.push(call);
        let i = windows.len() - 1;
        self.windows = Some(windows);
        Ok((Expr::Window(i), ty))
    }

    fn window_inner(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        filter: Option<&ast::Expr>,
        over: &ast::WindowType,
        scope: &Scope,
    ) -> Result<(WindowCall, DataType)> {
        let spec = self.window_spec(over)?;
        let filter = match filter {
            Some(_) if !aggregate::is_aggregate(name) => {
                return Err(Error::new(
                    ErrorCode::WrongObjectType,
                    "FILTER is not implemented for non-aggregate window functions",
                ))
            }
            Some(f) => Some(self.condition(f, scope, "FILTER")?),
            None => None,
        };
        let mut bound = Vec::new();
        let mut types = Vec::new();
        for a in args {
            let (x, t) = self.expr(a, scope)?;
            let (x, t) = if t == DataType::Unknown {
                (self.coerce(x, &t, &DataType::Text)?, DataType::Text)
            } else {
                (x, t)
            };
            bound.push(x);
            types.push(t);
        }
        let mut partition = Vec::new();
        for p in &spec.partition_by {
            partition.push(self.expr(p, scope)?.0);
        }
        let mut order = Vec::new();
        for o in &spec.order_by {
            let (x, _) = self.expr(&o.expr, scope)?;
            let desc = matches!(o.options.sort, Some(ast::OrderBySort::Desc));
            order.push(SortKey {
                expr: x,
                desc,
                nulls_first: o.options.nulls_first.unwrap_or(desc),
            });
        }
        let (agg, ty) = if aggregate::is_aggregate(name) {
            let f = aggregate::resolve(name, &types)?;
            let t = f.return_type.clone();
            (Some(f), t)
        } else {
            let t = match name {
                "row_number" | "rank" | "dense_rank" => DataType::Int8,
                "ntile" => DataType::Int4,
                "percent_rank" | "cume_dist" => DataType::Float8,
                "lag" | "lead" | "first_value" | "last_value" | "nth_value" => {
                    types.first().cloned().unwrap_or(DataType::Text)
                }
                _ => return Err(super::expr::undefined_function(name, &types)),
            };
            (None, t)
        };
        let bound_of =
            |b: &ast::WindowFrameBound, this: &mut Self, start: bool| -> Result<FrameBound> {
                Ok(match b {
                    ast::WindowFrameBound::CurrentRow => FrameBound::CurrentRow,
                    ast::WindowFrameBound::Preceding(None) => FrameBound::UnboundedPreceding,
                    ast::WindowFrameBound::Following(None) => FrameBound::UnboundedFollowing,
                    ast::WindowFrameBound::Preceding(Some(e)) => {
                        FrameBound::Preceding(this.expr(e, &Scope::default())?.0)
                    }
                    ast::WindowFrameBound::Following(Some(e)) => {
                        let _ = start;
                        FrameBound::Following(this.expr(e, &Scope::default())?.0)
                    }
                })
            };
        let (rows, start, end) = match &spec.window_frame {
            None => (
                false,
                FrameBound::UnboundedPreceding,
                FrameBound::CurrentRow,
            ),
            Some(f) => {
                let rows = match f.units {
                    ast::WindowFrameUnits::Rows => true,
                    ast::WindowFrameUnits::Range => false,
                    ast::WindowFrameUnits::Groups => {
                        return Err(Error::unsupported("GROUPS frames"))
                    }
                };
                let start = bound_of(&f.start_bound, self, true)?;
                let end = match &f.end_bound {
                    Some(b) => bound_of(b, self, false)?,
                    None => FrameBound::CurrentRow,
                };
                if !rows
                    && order.len() != 1
                    && matches!(start, FrameBound::Preceding(_) | FrameBound::Following(_))
                {
                    return Err(Error::new(
                        ErrorCode::GroupingError,
                        "RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column",
                    ));
                }
                (rows, start, end)
            }
        };
        Ok((
            WindowCall {
                func: name.to_string(),
                agg,
                args: bound,
                filter,
                partition,
                order,
                rows,
                start,
                end,
            },
            ty,
        ))
    }
}
