//! Whole-row references as JSON: `row_to_json(t)`, `to_json(t)` and
//! `to_jsonb(t)` where `t` names a FROM item rather than a column. With
//! no record type, the call is bound over the item's columns by name.

use sqlparser::ast;

use super::{ident, Binder, Scope};
use crate::error::Result;
use crate::planner::plan::Expr;
use crate::types::{DataType, Value};

type Bound = (Expr, DataType);

impl Binder<'_> {
    /// `f(t)` for a FROM item `t` and f one of the JSON row functions:
    /// the call over (name, value) pairs of `t`'s visible columns;
    /// `None` when this is not such a call.
    pub(super) fn whole_row_json(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        scope: &Scope,
    ) -> Result<Option<Bound>> {
        if !matches!(name, "row_to_json" | "to_json" | "to_jsonb") {
            return Ok(None);
        }
        let [ast::Expr::Identifier(id)] = args else {
            return Ok(None);
        };
        let item = ident(id);
        if scope.find(None, &item)?.is_some() || !scope.has_qualifier(&item) {
            return Ok(None);
        }
        let mut pairs = Vec::new();
        for (i, c) in scope.cols.iter().enumerate() {
            if c.qualifier.as_deref() == Some(item.as_str()) && !c.hidden {
                pairs.push(Expr::Const(Value::Text(c.name.clone())));
                pairs.push(Expr::Column(i));
            }
        }
        Ok(Some(if name == "to_jsonb" {
            (
                Expr::Func("jsonb_build_object".into(), pairs),
                DataType::Jsonb,
            )
        } else {
            (Expr::Func("?row_to_json".into(), pairs), DataType::Json)
        }))
    }
}
