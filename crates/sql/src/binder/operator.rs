//! Binding the jsonb and array operators that PostgreSQL implements as
//! functions: `@>`, `<@`, `&&`, `?`, `?|`, `?&`, `#>`, `#>>`, `#-` and
//! jsonb `-`. Each becomes a call ([`Expr::Func`]) of the function
//! behind the operator in pg_operator (jsonb_contains, arraycontains...).

use sqlparser::ast::{self, BinaryOperator as B};

use super::{Binder, Scope};
use crate::error::Result;
use crate::func;
use crate::planner::plan::Expr;
use crate::types::DataType;

type Bound = (Expr, DataType);

fn text_array() -> DataType {
    DataType::Array(Box::new(DataType::Text))
}

/// Whether `op` is one this module binds.
pub(super) fn is_function_operator(op: &B) -> bool {
    matches!(
        op,
        B::AtArrow
            | B::ArrowAt
            | B::PGOverlap
            | B::Question
            | B::QuestionPipe
            | B::QuestionAnd
            | B::HashArrow
            | B::HashLongArrow
            | B::HashMinus
    )
}

impl Binder<'_> {
    /// Binds `l op r` for an operator [`is_function_operator`] accepts.
    pub(super) fn function_operator(
        &mut self,
        l: &ast::Expr,
        op: &B,
        r: &ast::Expr,
        scope: &Scope,
    ) -> Result<Bound> {
        let (a, at) = self.expr(l, scope)?;
        let (b, bt) = self.expr(r, scope)?;
        let symbol = op.to_string();
        let fail = |at: &DataType, bt: &DataType| func::operator_error(&symbol, at, bt);
        // An untyped side takes the other side's type (containment) or
        // the operator's right-hand type (text, text[]).
        let (a, at, b, bt) = match (at == DataType::Unknown, bt == DataType::Unknown) {
            (true, false) if matches!(op, B::AtArrow | B::ArrowAt | B::PGOverlap) => {
                (self.coerce(a, &at, &bt)?, bt.clone(), b, bt)
            }
            _ => (a, at, b, bt),
        };
        let right = match op {
            B::Question => Some(DataType::Text),
            B::QuestionPipe | B::QuestionAnd | B::HashArrow | B::HashLongArrow | B::HashMinus => {
                Some(text_array())
            }
            _ if bt == DataType::Unknown => Some(at.clone()),
            _ => None,
        };
        let (b, bt) = match right {
            Some(t) if bt == DataType::Unknown || func::is_string_type(&bt) => {
                (self.coerce(b, &bt, &t)?, t)
            }
            _ => (b, bt),
        };
        let name = match (op, &at, &bt) {
            (B::AtArrow, DataType::Jsonb, DataType::Jsonb) => "jsonb_contains",
            (B::ArrowAt, DataType::Jsonb, DataType::Jsonb) => "jsonb_contained",
            (B::AtArrow | B::ArrowAt | B::PGOverlap, DataType::Array(x), DataType::Array(y)) => {
                if !same_element(x, y) {
                    return Err(fail(&at, &bt));
                }
                match op {
                    B::AtArrow => "arraycontains",
                    B::ArrowAt => "arraycontained",
                    _ => "arrayoverlap",
                }
            }
            (B::Question, DataType::Jsonb, DataType::Text) => "jsonb_exists",
            (B::QuestionPipe, DataType::Jsonb, _) if bt == text_array() => "jsonb_exists_any",
            (B::QuestionAnd, DataType::Jsonb, _) if bt == text_array() => "jsonb_exists_all",
            (B::HashArrow, DataType::Jsonb, _) if bt == text_array() => "jsonb_extract_path",
            (B::HashArrow, DataType::Json, _) if bt == text_array() => "json_extract_path",
            (B::HashLongArrow, DataType::Jsonb, _) if bt == text_array() => {
                "jsonb_extract_path_text"
            }
            (B::HashLongArrow, DataType::Json, _) if bt == text_array() => "json_extract_path_text",
            (B::HashMinus, DataType::Jsonb, _) if bt == text_array() => "jsonb_delete_path",
            _ => return Err(fail(&at, &bt)),
        };
        let rt = func::function_type(name, &[at, bt])?;
        Ok((Expr::Func(name.to_string(), vec![a, b]), rt))
    }

    /// `jsonb - text`, `jsonb - int`, `jsonb - text[]` (jsonb_delete).
    pub(super) fn jsonb_minus(&mut self, a: Expr, b: Expr, bt: DataType) -> Result<Bound> {
        let (b, bt) = match &bt {
            DataType::Unknown => (self.coerce(b, &bt, &DataType::Text)?, DataType::Text),
            DataType::Int2 => (self.coerce(b, &bt, &DataType::Int4)?, DataType::Int4),
            t if func::is_string_type(t) => (b, DataType::Text),
            DataType::Int4 => (b, bt),
            DataType::Array(e) if func::is_string_type(e) => (b, text_array()),
            _ => return Err(func::operator_error("-", &DataType::Jsonb, &bt)),
        };
        let rt = func::function_type("jsonb_delete", &[DataType::Jsonb, bt])?;
        Ok((Expr::Func("jsonb_delete".into(), vec![a, b]), rt))
    }
}

/// Whether two array element types are the same for the array operators
/// (string types, and numerics of any typmod, count as one; a
/// multidimensional array has the type of its elements).
fn same_element(x: &DataType, y: &DataType) -> bool {
    match (x, y) {
        (DataType::Array(a), b) | (b, DataType::Array(a)) => same_element(a, b),
        (DataType::Numeric(_), DataType::Numeric(_)) => true,
        (a, b) if func::is_string_type(a) && func::is_string_type(b) => true,
        (a, b) => a == b,
    }
}
