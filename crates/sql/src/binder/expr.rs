//! Binding expressions: names to columns (of this query or an outer
//! one), literals and `$n` to typed values, operators and functions to
//! `func`, subqueries to slots.

use sqlparser::ast::{self, BinaryOperator as B, UnaryOperator as U};

use super::aggregate::{aggregate_order_by, AggSyntax};
use super::{ident, Binder, Scope};
use crate::error::{Error, ErrorCode, Result};
use crate::func::{self, aggregate, BinaryOp, UnaryOp};
use crate::planner::plan::{AggCall, Expr, SessionFn, SlotKind};
use crate::types::cast;
use crate::types::{DataType, Value};

type Bound = (Expr, DataType);

/// What `begin_aggs`/`forbid_aggs` set aside: collected aggregates, the
/// clause name for errors, collected window calls.
pub(crate) type SavedAggs = (
    Option<Vec<AggCall>>,
    &'static str,
    Option<Vec<crate::planner::plan::WindowCall>>,
);

impl Binder<'_> {
    /// Binds `e` over `scope`.
    pub fn expr(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Bound> {
        match e {
            ast::Expr::Identifier(i) => self.column(None, &ident(i), scope),
            ast::Expr::CompoundIdentifier(parts) => {
                let names: Vec<String> = parts.iter().map(ident).collect();
                match names.as_slice() {
                    [q, c] => self.column(Some(q), c, scope),
                    [s, q, c] => {
                        // schema.table.column: the column of that table
                        // (two FROM items may share the table name).
                        if let Ok(Some((_, crate::catalog::Relation::Table(t)))) =
                            self.catalog.lookup(Some(s), q, self.search_path)
                        {
                            let hit = scope.cols.iter().position(|x| {
                                x.table_oid == t.oid
                                    && x.qualifier.as_deref() == Some(q.as_str())
                                    && x.name == *c
                                    && !x.is_dropped()
                            });
                            if let Some(i) = hit {
                                return Ok((Expr::Column(i), scope.cols[i].ty.clone()));
                            }
                        }
                        self.column(Some(q), c, scope)
                    }
                    _ => Err(Error::unsupported(format!("column reference {e}"))),
                }
            }
            ast::Expr::Value(v) => self.literal(&v.value),
            ast::Expr::Nested(inner) => self.expr(inner, scope),
            ast::Expr::BinaryOp { left, op, right } => self.binary(left, op, right, scope),
            ast::Expr::UnaryOp { op, expr } => {
                // In PostgreSQL unary minus binds tighter than `^`:
                // -2 ^ 2 is (-2) ^ 2.
                if let (
                    U::Minus | U::Plus,
                    ast::Expr::BinaryOp {
                        left,
                        op: B::PGExp,
                        right,
                    },
                ) = (op, expr.as_ref())
                {
                    let e = ast::Expr::BinaryOp {
                        left: Box::new(ast::Expr::UnaryOp {
                            op: *op,
                            expr: left.clone(),
                        }),
                        op: B::PGExp,
                        right: right.clone(),
                    };
                    return self.expr(&e, scope);
                }
                // Fold -<number> so that -2147483648 is an int4.
                if let (U::Minus, ast::Expr::Value(v)) = (op, expr.as_ref()) {
                    if let ast::Value::Number(n, _) = &v.value {
                        return self.number(&format!("-{n}"));
                    }
                }
                let (x, t) = self.expr(expr, scope)?;
                match op {
                    U::Not => {
                        let x = self.coerce(x, &t, &DataType::Bool)?;
                        Ok((Expr::Not(Box::new(x)), DataType::Bool))
                    }
                    U::Minus | U::Plus | U::BitwiseNot => {
                        let op = match op {
                            U::Minus => UnaryOp::Neg,
                            U::Plus => UnaryOp::Plus,
                            _ => UnaryOp::BitNot,
                        };
                        let (x, t) = if t == DataType::Unknown {
                            (
                                self.coerce(x, &t, &DataType::Numeric(None))?,
                                DataType::Numeric(None),
                            )
                        } else {
                            (x, t)
                        };
                        let rt = func::unary_type(op, &t)?;
                        Ok((Expr::Unary(op, Box::new(x)), rt))
                    }
                    // @ x, |/ x, ||/ x: abs, sqrt and cbrt.
                    U::PGAbs | U::PGSquareRoot | U::PGCubeRoot => {
                        let f = match op {
                            U::PGAbs => "abs",
                            U::PGSquareRoot => "sqrt",
                            _ => "cbrt",
                        };
                        let (x, t) = if t == DataType::Unknown {
                            (
                                self.coerce(x, &t, &DataType::Numeric(None))?,
                                DataType::Numeric(None),
                            )
                        } else {
                            (x, t)
                        };
                        self.call_bound(f, vec![(x, t)], false, None, scope)
                    }
                    _ => Err(Error::unsupported(format!("operator {op}"))),
                }
            }
            ast::Expr::IsNull(x) => self.is_null(x, false, scope),
            ast::Expr::IsNotNull(x) => self.is_null(x, true, scope),
            ast::Expr::IsTrue(x) => self.is_bool(x, true, false, scope),
            ast::Expr::IsNotTrue(x) => self.is_bool(x, true, true, scope),
            ast::Expr::IsFalse(x) => self.is_bool(x, false, false, scope),
            ast::Expr::IsNotFalse(x) => self.is_bool(x, false, true, scope),
            ast::Expr::IsUnknown(x) => self.is_null(x, false, scope),
            ast::Expr::IsNotUnknown(x) => self.is_null(x, true, scope),
            ast::Expr::IsDistinctFrom(a, b) | ast::Expr::IsNotDistinctFrom(a, b) => {
                let (a, b, _) = self.pair(a, b, scope)?;
                let d = Expr::IsDistinct(Box::new(a), Box::new(b));
                let d = if matches!(e, ast::Expr::IsNotDistinctFrom(..)) {
                    Expr::Not(Box::new(d))
                } else {
                    d
                };
                Ok((d, DataType::Bool))
            }
            ast::Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                // BETWEEN SYMMETRIC (marked by the parser): either order
                // of the bounds.
                if let Some(low) = crate::parser::symmetric_low(low) {
                    let fwd = ast::Expr::Between {
                        expr: expr.clone(),
                        negated: false,
                        low: Box::new(low.clone()),
                        high: high.clone(),
                    };
                    let back = ast::Expr::Between {
                        expr: expr.clone(),
                        negated: false,
                        low: high.clone(),
                        high: Box::new(low.clone()),
                    };
                    let (a, _) = self.expr(&fwd, scope)?;
                    let (b, _) = self.expr(&back, scope)?;
                    let e = Expr::Or(Box::new(a), Box::new(b));
                    return Ok((negate(e, *negated), DataType::Bool));
                }
                let ge = self.compare(expr, BinaryOp::GtEq, low, scope)?;
                let le = self.compare(expr, BinaryOp::LtEq, high, scope)?;
                let b = Expr::And(Box::new(ge), Box::new(le));
                Ok((negate(b, *negated), DataType::Bool))
            }
            ast::Expr::In {
                expr,
                target: ast::InTarget::List(list),
                negated,
                ..
            } => {
                let (x, t) = self.expr(expr, scope)?;
                let mut items = Vec::new();
                let mut types = vec![t.clone()];
                for i in list {
                    let (b, bt) = self.expr(i, scope)?;
                    types.push(bt.clone());
                    items.push((b, bt));
                }
                let common = cast::common_type_in(&types, "IN")?;
                let x = self.coerce(x, &t, &common)?;
                let items = items
                    .into_iter()
                    .map(|(b, bt)| self.coerce(b, &bt, &common))
                    .collect::<Result<_>>()?;
                Ok((
                    negate(Expr::InList(Box::new(x), items), *negated),
                    DataType::Bool,
                ))
            }
            ast::Expr::In {
                expr,
                target: ast::InTarget::Subquery(subquery),
                negated,
                ..
            } => {
                if let ast::Expr::Tuple(items) = expr.as_ref() {
                    return self.row_in_subquery(items, subquery, *negated, scope);
                }
                let (x, t) = self.expr(expr, scope)?;
                let (slot, cols) = self.subquery(subquery, scope, false)?;
                if cols.len() != 1 {
                    return Err(Error::syntax("subquery has too many columns"));
                }
                let x = if t == DataType::Unknown {
                    self.coerce(x, &t, &cols[0].ty)?
                } else {
                    x
                };
                Ok((
                    negate(Expr::InSubquery(Box::new(x), slot), *negated),
                    DataType::Bool,
                ))
            }
            ast::Expr::Exists { subquery, negated } => {
                let (slot, _) = self.subquery(subquery, scope, false)?;
                Ok((negate(Expr::Exists(slot), *negated), DataType::Bool))
            }
            ast::Expr::Subquery(q) => {
                let (slot, cols) = self.subquery(q, scope, true)?;
                if cols.len() != 1 {
                    return Err(Error::syntax("subquery must return only one column"));
                }
                Ok((Expr::Slot(slot), cols[0].ty.clone()))
            }
            ast::Expr::Like {
                negated,
                expr,
                pattern,
                escape_char,
                ..
            }
            | ast::Expr::ILike {
                negated,
                expr,
                pattern,
                escape_char,
                ..
            } => {
                let op = match (matches!(e, ast::Expr::ILike { .. }), *negated) {
                    (false, false) => BinaryOp::Like,
                    (false, true) => BinaryOp::NotLike,
                    (true, false) => BinaryOp::ILike,
                    (true, true) => BinaryOp::NotILike,
                };
                let p = self.like_pattern(pattern, escape_char.as_deref(), scope)?;
                self.text_op(op, expr, p, scope)
            }
            ast::Expr::SimilarTo {
                negated,
                expr,
                pattern,
                escape_char,
            } => {
                let op = if *negated {
                    BinaryOp::NotRegexMatch
                } else {
                    BinaryOp::RegexMatch
                };
                let mut args = vec![self.expr(pattern, scope)?];
                if let Some(e) = escape_char {
                    args.push(self.expr(e, scope)?);
                }
                let p = self.call_bound("similar_to_escape", args, false, None, scope)?;
                self.text_op(op, expr, p, scope)
            }
            ast::Expr::Cast {
                expr, data_type, ..
            } => self.cast(expr, data_type, scope),
            ast::Expr::TypedString(ts) => {
                let ty = DataType::from_sql(&ts.data_type)?;
                let s = match &ts.value.value {
                    ast::Value::SingleQuotedString(s) => s.clone(),
                    other => other.to_string(),
                };
                let v = Value::from_text(&ty, &s, self.format)?;
                Ok((Expr::Const(v), ty))
            }
            ast::Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.case(
                operand.as_deref(),
                conditions,
                else_result.as_deref(),
                scope,
            ),
            ast::Expr::Function(f) => self.function(f, scope),
            ast::Expr::Extract { field, expr, .. } => {
                let (x, t) = self.expr(expr, scope)?;
                let field = field.to_string().to_lowercase();
                let args = vec![Expr::Const(Value::Text(field)), x];
                let rt = func::function_type("extract", &[DataType::Text, t])?;
                Ok((Expr::Func("extract".into(), args), rt))
            }
            ast::Expr::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![expr.as_ref().clone()];
                if let Some(f) = substring_from {
                    args.push(f.as_ref().clone());
                } else if substring_for.is_some() {
                    args.push(ast::Expr::value(ast::Value::Number("1".into(), false)));
                }
                if let Some(f) = substring_for {
                    args.push(f.as_ref().clone());
                }
                self.call("substring", &args, scope)
            }
            ast::Expr::Position { expr, r#in } => self.call(
                "strpos",
                &[r#in.as_ref().clone(), expr.as_ref().clone()],
                scope,
            ),
            ast::Expr::Trim {
                expr,
                trim_where,
                trim_what,
                ..
            } => {
                let name = match trim_where {
                    Some(ast::TrimWhereField::Leading) => "ltrim",
                    Some(ast::TrimWhereField::Trailing) => "rtrim",
                    _ => "btrim",
                };
                let mut args = vec![expr.as_ref().clone()];
                if let Some(w) = trim_what {
                    args.push(w.as_ref().clone());
                }
                self.call(name, &args, scope)
            }
            ast::Expr::Ceil { expr, .. } => self.call("ceil", &[expr.as_ref().clone()], scope),
            ast::Expr::Floor { expr, .. } => self.call("floor", &[expr.as_ref().clone()], scope),
            ast::Expr::AtTimeZone {
                timestamp,
                time_zone,
            } => self.call(
                "timezone",
                &[time_zone.as_ref().clone(), timestamp.as_ref().clone()],
                scope,
            ),
            ast::Expr::Interval(iv) => {
                let s = match iv.value.as_ref() {
                    ast::Expr::Value(v) => match &v.value {
                        ast::Value::SingleQuotedString(s) => s.clone(),
                        other => other.to_string(),
                    },
                    other => other.to_string(),
                };
                let s = match &iv.leading_field {
                    Some(f) => format!("{s} {f}"),
                    None => s,
                };
                let v = Value::from_text(&DataType::Interval, &s, self.format)?;
                Ok((Expr::Const(v), DataType::Interval))
            }
            ast::Expr::AnyOp {
                left,
                compare_op,
                right,
                ..
            } => {
                // x = ANY (subquery) is IN.
                if let (B::Eq, ast::Expr::Subquery(q)) = (compare_op, right.as_ref()) {
                    let (x, t) = self.expr(left, scope)?;
                    let (slot, cols) = self.subquery(q, scope, false)?;
                    let x = if t == DataType::Unknown && cols.len() == 1 {
                        self.coerce(x, &t, &cols[0].ty)?
                    } else {
                        x
                    };
                    return Ok((Expr::InSubquery(Box::new(x), slot), DataType::Bool));
                }
                self.quantified(left, compare_op, right, true, scope)
            }
            ast::Expr::AllOp {
                left,
                compare_op,
                right,
            } => self.quantified(left, compare_op, right, false, scope),
            ast::Expr::Array(a) => self.array_constructor(a, scope),
            ast::Expr::CompoundFieldAccess { root, access_chain }
                if super::array::is_subscript_chain(root, access_chain) =>
            {
                self.subscripts(root, access_chain, scope)
            }
            ast::Expr::Collate { expr, .. } => self.expr(expr, scope),
            _ => Err(Error::unsupported(format!("expression not supported: {e}"))),
        }
    }

    /// Binds `e` and coerces it to `ty` (assignment or WHERE contexts).
    pub fn expr_as(&mut self, e: &ast::Expr, scope: &Scope, ty: &DataType) -> Result<Expr> {
        let (x, t) = self.expr(e, scope)?;
        self.coerce(x, &t, ty)
    }

    /// A WHERE/ON/HAVING condition: must be boolean.
    pub fn condition(&mut self, e: &ast::Expr, scope: &Scope, clause: &str) -> Result<Expr> {
        let (x, t) = self.expr(e, scope)?;
        match t {
            DataType::Bool => Ok(x),
            DataType::Unknown => self.coerce(x, &t, &DataType::Bool),
            other => Err(Error::new(
                ErrorCode::DatatypeMismatch,
                format!(
                    "argument of {clause} must be type boolean, not type {}",
                    other.display_name()
                ),
            )),
        }
    }

    fn column(&mut self, q: Option<&str>, name: &str, scope: &Scope) -> Result<Bound> {
        if let Some(i) = scope.find(q, name)? {
            return Ok((Expr::Column(i), scope.cols[i].ty.clone()));
        }
        for depth in 1..=self.outer.len() {
            let s = &self.outer[self.outer.len() - depth];
            if let Some(i) = s.find(q, name)? {
                let ty = s.cols[i].ty.clone();
                let n = self.outer_used.len();
                for used in &mut self.outer_used[n - depth..] {
                    *used = true;
                }
                return Ok((Expr::Outer { depth, index: i }, ty));
            }
        }
        if q.is_none() {
            match name {
                "current_date" | "current_timestamp" | "localtimestamp" | "current_user"
                | "session_user" | "user" | "current_schema" | "current_catalog"
                | "current_role" => return self.call(name, &[], scope),
                _ => {}
            }
        }
        if let Some(q) = q {
            if !scope.has_qualifier(q) && !self.outer.iter().any(|s| s.has_qualifier(q)) {
                // The table is in FROM, under an alias.
                if let Ok(Some((_, crate::catalog::Relation::Table(t)))) =
                    self.catalog.lookup(None, q, self.search_path)
                {
                    let alias = std::iter::once(scope)
                        .chain(self.outer.iter())
                        .flat_map(|s| s.cols.iter())
                        .find(|c| c.table_oid == t.oid && c.qualifier.is_some())
                        .and_then(|c| c.qualifier.clone());
                    if let Some(alias) = alias {
                        return Err(Error::new(
                            ErrorCode::UndefinedTable,
                            format!("invalid reference to FROM-clause entry for table \"{q}\""),
                        )
                        .with_hint(format!(
                            "Perhaps you meant to reference the table alias \"{alias}\"."
                        )));
                    }
                }
                return Err(Error::new(
                    ErrorCode::UndefinedTable,
                    format!("missing FROM-clause entry for table \"{q}\""),
                ));
            }
            return Err(Error::new(
                ErrorCode::UndefinedColumn,
                format!("column {q}.{name} does not exist"),
            ));
        }
        Err(Error::new(
            ErrorCode::UndefinedColumn,
            format!("column \"{name}\" does not exist"),
        ))
    }

    fn literal(&mut self, v: &ast::Value) -> Result<Bound> {
        match v {
            ast::Value::Number(n, _) => self.number(n),
            ast::Value::SingleQuotedString(s)
            | ast::Value::EscapedStringLiteral(s)
            | ast::Value::UnicodeStringLiteral(s)
            | ast::Value::NationalStringLiteral(s) => {
                Ok((Expr::Const(Value::Text(s.clone())), DataType::Unknown))
            }
            ast::Value::DollarQuotedString(d) => {
                Ok((Expr::Const(Value::Text(d.value.clone())), DataType::Unknown))
            }
            ast::Value::HexStringLiteral(h) => {
                let v = Value::from_text(&DataType::Bytea, &format!("\\x{h}"), self.format)?;
                Ok((Expr::Const(v), DataType::Bytea))
            }
            ast::Value::Boolean(b) => Ok((Expr::Const(Value::Bool(*b)), DataType::Bool)),
            ast::Value::Null => Ok((Expr::Const(Value::Null), DataType::Unknown)),
            ast::Value::Placeholder(p) => {
                let n: usize = p
                    .trim_start_matches('$')
                    .parse()
                    .map_err(|_| Error::syntax(format!("syntax error at or near \"{p}\"")))?;
                if n == 0 {
                    return Err(Error::new(
                        ErrorCode::UndefinedParameter,
                        format!("there is no parameter ${n}"),
                    ));
                }
                if self.params.len() < n {
                    self.params.resize(n, None);
                }
                let ty = self.params[n - 1].clone().unwrap_or(DataType::Unknown);
                Ok((Expr::Param(n - 1), ty))
            }
            other => Err(Error::unsupported(format!("literal {other}"))),
        }
    }

    fn number(&mut self, n: &str) -> Result<Bound> {
        if !n.contains(['.', 'e', 'E']) {
            if let Ok(i) = n.parse::<i32>() {
                return Ok((Expr::Const(Value::Int4(i)), DataType::Int4));
            }
            if let Ok(i) = n.parse::<i64>() {
                return Ok((Expr::Const(Value::Int8(i)), DataType::Int8));
            }
        }
        let v = Value::from_text(&DataType::Numeric(None), n, self.format)?;
        Ok((Expr::Const(v), DataType::Numeric(None)))
    }

    /// Converts `x` of type `from` to `to`: folds unknown literals, infers
    /// unknown parameters, otherwise an implicit cast.
    pub fn coerce(&mut self, x: Expr, from: &DataType, to: &DataType) -> Result<Expr> {
        if from == to || *to == DataType::Unknown {
            return Ok(x);
        }
        match x {
            Expr::Const(ref v) if *from == DataType::Unknown => {
                if v.is_null() {
                    return Ok(Expr::Const(Value::Null));
                }
                let s = match v {
                    Value::Text(s) => s.clone(),
                    _ => return Ok(Expr::Cast(Box::new(x), to.clone())),
                };
                Ok(Expr::Const(Value::from_text(to, &s, self.format)?))
            }
            Expr::Param(n) if *from == DataType::Unknown => {
                if let Some(slot) = self.params.get_mut(n) {
                    if slot.is_none() || *slot == Some(DataType::Unknown) {
                        *slot = Some(to.clone());
                        return Ok(x);
                    }
                }
                Ok(Expr::Cast(Box::new(x), to.clone()))
            }
            _ => {
                if same_family(from, to) {
                    Ok(x)
                } else {
                    Ok(Expr::Cast(Box::new(x), to.clone()))
                }
            }
        }
    }

    fn pair(
        &mut self,
        a: &ast::Expr,
        b: &ast::Expr,
        scope: &Scope,
    ) -> Result<(Expr, Expr, DataType)> {
        let (a, at) = self.expr(a, scope)?;
        let (b, bt) = self.expr(b, scope)?;
        self.unify(a, at, b, bt)
    }

    /// Gives an unknown side the other side's type.
    fn unify(
        &mut self,
        a: Expr,
        at: DataType,
        b: Expr,
        bt: DataType,
    ) -> Result<(Expr, Expr, DataType)> {
        match (at == DataType::Unknown, bt == DataType::Unknown) {
            (true, false) => Ok((self.coerce(a, &at, &bt)?, b, bt)),
            (false, true) => Ok((a, self.coerce(b, &bt, &at)?, at)),
            (true, true) => {
                let a = self.coerce(a, &at, &DataType::Text)?;
                let b = self.coerce(b, &bt, &DataType::Text)?;
                Ok((a, b, DataType::Text))
            }
            (false, false) => Ok((a, b, at)),
        }
    }

    fn compare(
        &mut self,
        l: &ast::Expr,
        op: BinaryOp,
        r: &ast::Expr,
        scope: &Scope,
    ) -> Result<Expr> {
        let (a, b, _) = self.pair(l, r, scope)?;
        Ok(Expr::Binary(op, Box::new(a), Box::new(b)))
    }

    fn binary(&mut self, l: &ast::Expr, op: &B, r: &ast::Expr, scope: &Scope) -> Result<Bound> {
        if let (ast::Expr::Tuple(a), ast::Expr::Tuple(b)) = (l, r) {
            let e = row_comparison(a, op, b)?;
            return self.expr(&e, scope);
        }
        match op {
            B::And | B::Or => {
                let a = self.condition(l, scope, if *op == B::And { "AND" } else { "OR" })?;
                let b = self.condition(r, scope, if *op == B::And { "AND" } else { "OR" })?;
                let e = if *op == B::And {
                    Expr::And(Box::new(a), Box::new(b))
                } else {
                    Expr::Or(Box::new(a), Box::new(b))
                };
                return Ok((e, DataType::Bool));
            }
            _ => {}
        }
        let fop = match op {
            B::Plus => BinaryOp::Add,
            B::Minus => BinaryOp::Sub,
            B::Multiply => BinaryOp::Mul,
            B::Divide => BinaryOp::Div,
            B::Modulo => BinaryOp::Mod,
            B::PGExp => BinaryOp::Pow,
            B::Eq => BinaryOp::Eq,
            B::NotEq => BinaryOp::NotEq,
            B::Lt => BinaryOp::Lt,
            B::LtEq => BinaryOp::LtEq,
            B::Gt => BinaryOp::Gt,
            B::GtEq => BinaryOp::GtEq,
            B::StringConcat => BinaryOp::Concat,
            B::PGLikeMatch => BinaryOp::Like,
            B::PGNotLikeMatch => BinaryOp::NotLike,
            B::PGILikeMatch => BinaryOp::ILike,
            B::PGNotILikeMatch => BinaryOp::NotILike,
            B::PGRegexMatch => BinaryOp::RegexMatch,
            B::PGRegexIMatch => BinaryOp::RegexIMatch,
            B::PGRegexNotMatch => BinaryOp::NotRegexMatch,
            B::PGRegexNotIMatch => BinaryOp::NotRegexIMatch,
            B::BitwiseAnd => BinaryOp::BitAnd,
            B::BitwiseOr => BinaryOp::BitOr,
            B::PGBitwiseXor => BinaryOp::BitXor,
            B::PGBitwiseShiftLeft => BinaryOp::ShiftLeft,
            B::PGBitwiseShiftRight => BinaryOp::ShiftRight,
            B::Arrow => BinaryOp::JsonGet,
            B::LongArrow => BinaryOp::JsonGetText,
            other if super::operator::is_function_operator(other) => {
                return self.function_operator(l, other, r, scope);
            }
            // OPERATOR(pg_catalog.~) (psql writes its operators so) is
            // the operator itself: Shoal has only pg_catalog's.
            B::PGCustomBinaryOperator(parts) => {
                let plain = match parts.as_slice() {
                    [schema, sym] if schema.eq_ignore_ascii_case("pg_catalog") => {
                        plain_operator(sym)
                    }
                    [sym] => plain_operator(sym),
                    _ => None,
                };
                return match plain {
                    Some(op) => self.binary(l, &op, r, scope),
                    None => Err(Error::unsupported(format!("operator {op}"))),
                };
            }
            other => return Err(Error::unsupported(format!("operator {other}"))),
        };
        let (a, at) = self.expr(l, scope)?;
        let (b, bt) = self.expr(r, scope)?;
        let (a, b, at, bt) = if fop == BinaryOp::Concat {
            // char(n) || text is text || text: the padding goes.
            let (a, at) = match at {
                DataType::Char(_) => (Expr::Func("rtrim".into(), vec![a]), DataType::Text),
                t => (a, t),
            };
            let (b, bt) = match bt {
                DataType::Char(_) => (Expr::Func("rtrim".into(), vec![b]), DataType::Text),
                t => (b, t),
            };
            let a = if at == DataType::Unknown {
                self.coerce(a, &at, &DataType::Text)?
            } else {
                a
            };
            let b = if bt == DataType::Unknown {
                self.coerce(b, &bt, &DataType::Text)?
            } else {
                b
            };
            let at = if at == DataType::Unknown {
                DataType::Text
            } else {
                at
            };
            let bt = if bt == DataType::Unknown {
                DataType::Text
            } else {
                bt
            };
            (a, b, at, bt)
        } else if matches!(fop, BinaryOp::JsonGet | BinaryOp::JsonGetText) {
            (a, b, at, bt)
        } else if fop == BinaryOp::Sub && at == DataType::Jsonb {
            return self.jsonb_minus(a, b, bt);
        } else {
            let (a, b, _) = self.unify(a, at.clone(), b, bt.clone())?;
            let at2 = if at == DataType::Unknown {
                bt.clone()
            } else {
                at
            };
            let bt2 = if bt == DataType::Unknown {
                at2.clone()
            } else {
                bt
            };
            let (at2, bt2) = if at2 == DataType::Unknown {
                (DataType::Text, DataType::Text)
            } else {
                (at2, bt2)
            };
            (a, b, at2, bt2)
        };
        let rt = func::binary_type(fop, &at, &bt)?;
        Ok((Expr::Binary(fop, Box::new(a), Box::new(b)), rt))
    }

    /// The pattern of `LIKE pattern [ESCAPE e]`, rewritten by
    /// `like_escape` when an escape character is given.
    fn like_pattern(
        &mut self,
        pattern: &ast::Expr,
        escape: Option<&ast::Expr>,
        scope: &Scope,
    ) -> Result<Bound> {
        let p = self.expr(pattern, scope)?;
        match escape {
            None => Ok(p),
            Some(e) => {
                let e = self.expr(e, scope)?;
                self.call_bound("like_escape", vec![p, e], false, None, scope)
            }
        }
    }

    fn text_op(
        &mut self,
        op: BinaryOp,
        l: &ast::Expr,
        (b, bt): Bound,
        scope: &Scope,
    ) -> Result<Bound> {
        let (a, at) = self.expr(l, scope)?;
        let a = self.coerce(
            a,
            &at,
            &if at == DataType::Unknown {
                DataType::Text
            } else {
                at.clone()
            },
        )?;
        let b = self.coerce(b, &bt, &DataType::Text)?;
        Ok((Expr::Binary(op, Box::new(a), Box::new(b)), DataType::Bool))
    }

    /// `x op ANY (array)` / `x op ALL (array)`.
    fn quantified(
        &mut self,
        left: &ast::Expr,
        op: &B,
        right: &ast::Expr,
        any: bool,
        scope: &Scope,
    ) -> Result<Bound> {
        let (x, t) = self.expr(left, scope)?;
        let (arr, at) = match right {
            ast::Expr::Subquery(q) => self.array_subquery(q, scope)?,
            _ => self.expr(right, scope)?,
        };
        let elem = match &at {
            DataType::Array(e) => (**e).clone(),
            _ => t.clone(),
        };
        let x = if t == DataType::Unknown {
            self.coerce(x, &t, &elem)?
        } else {
            x
        };
        let want = DataType::Array(Box::new(if elem == DataType::Unknown {
            DataType::Text
        } else {
            elem
        }));
        let arr = if matches!(at, DataType::Array(_)) {
            arr
        } else {
            self.coerce(arr, &at, &want)?
        };
        let name = format!("{}_{}", if any { "any" } else { "all" }, op_name(op));
        Ok((Expr::Func(name, vec![x, arr]), DataType::Bool))
    }

    fn is_null(&mut self, x: &ast::Expr, negated: bool, scope: &Scope) -> Result<Bound> {
        let (x, _) = self.expr(x, scope)?;
        Ok((negate(Expr::IsNull(Box::new(x)), negated), DataType::Bool))
    }

    fn is_bool(&mut self, x: &ast::Expr, v: bool, negated: bool, scope: &Scope) -> Result<Bound> {
        let (x, t) = self.expr(x, scope)?;
        let x = self.coerce(x, &t, &DataType::Bool)?;
        Ok((
            negate(Expr::IsBool(Box::new(x), v), negated),
            DataType::Bool,
        ))
    }

    fn cast(&mut self, e: &ast::Expr, dt: &ast::DataType, scope: &Scope) -> Result<Bound> {
        if reg_type(dt) == Some(RegType::Type) {
            let (x, t) = self.expr(e, scope)?;
            return Ok(match &x {
                Expr::Const(Value::Text(s)) => (
                    Expr::Const(Value::Oid(crate::pg_catalog::types::type_oid(s)?)),
                    DataType::Oid,
                ),
                _ if t.is_string() => (Expr::Func("regtypein".into(), vec![x]), DataType::Oid),
                _ => (Expr::Cast(Box::new(x), DataType::Oid), DataType::Oid),
            });
        }
        if is_regproc(dt) {
            // Shoal has no pg_proc OIDs: a function named as regproc stays
            // its name, which is what pg_type.typinput and friends hold.
            let (x, t) = self.expr(e, scope)?;
            if let Expr::Const(Value::Text(s)) = &x {
                let name = s.strip_prefix("pg_catalog.").unwrap_or(s);
                return Ok((Expr::Const(Value::Text(name.to_string())), DataType::Text));
            }
            if t.is_string() {
                return Ok((x, DataType::Text));
            }
        }
        if reg_type(dt) == Some(RegType::Class) {
            let (x, t) = self.expr(e, scope)?;
            // An OID in digits is taken as it is, as regclassin does.
            if let Expr::Const(Value::Text(s)) = &x {
                if let Some(oid) = s.parse::<u32>().ok().filter(|_| !s.starts_with('+')) {
                    return Ok((Expr::Const(Value::Oid(oid)), DataType::Oid));
                }
            }
            if let Expr::Const(Value::Text(s)) = &x {
                let (schema, rel) = crate::catalog::split_qualified(s);
                return match self
                    .catalog
                    .lookup(schema.as_deref(), &rel, self.search_path)?
                {
                    Some((_, r)) => Ok((Expr::Const(Value::Oid(r.oid())), DataType::Oid)),
                    None => match crate::pg_catalog::virtual_oid(&rel) {
                        Some(oid) => Ok((Expr::Const(Value::Oid(oid)), DataType::Oid)),
                        None => Err(Error::new(
                            ErrorCode::UndefinedTable,
                            format!("relation \"{s}\" does not exist"),
                        )),
                    },
                };
            }
            // A name only known at run time resolves then.
            if t.is_string() {
                return Ok((Expr::Func("regclassin".into(), vec![x]), DataType::Oid));
            }
            return Ok((Expr::Cast(Box::new(x), DataType::Oid), DataType::Oid));
        }
        let ty = DataType::from_sql(dt)?;
        // regclass and regtype are OIDs that print as names.
        let reg = yields_reg(e).filter(|_| matches!(ty, DataType::Text | DataType::Varchar(_)));
        if let Some(reg) = reg {
            let (x, _) = self.expr(e, scope)?;
            let out = match reg {
                RegType::Class => "regclassout",
                RegType::Type => "regtypeout",
            };
            let name = Expr::Func(out.into(), vec![x]);
            return Ok(if ty == DataType::Text {
                (name, ty)
            } else {
                (Expr::Cast(Box::new(name), ty.clone()), ty)
            });
        }
        if let Some(b) = self.empty_array_cast(e, &ty) {
            return Ok(b);
        }
        let (x, t) = self.expr(e, scope)?;
        // json and jsonb values look alike at run time; only jsonb casts
        // to numbers and booleans.
        if t == DataType::Json && !cast::can_cast(&t, &ty, cast::CastKind::Explicit) {
            return Err(Error::new(
                ErrorCode::CannotCoerce,
                format!("cannot cast type json to {}", ty.display_name()),
            ));
        }
        if t == DataType::Unknown {
            if let Expr::Const(Value::Text(s)) = &x {
                // An explicit cast to varchar(n)/char(n) cuts the literal
                // instead of failing.
                let v = if matches!(ty, DataType::Varchar(_) | DataType::Char(_)) {
                    cast::cast(
                        &Value::Text(s.clone()),
                        &ty,
                        cast::CastKind::Explicit,
                        self.format,
                    )?
                } else {
                    Value::from_text(&ty, s, self.format)?
                };
                return Ok((Expr::Const(v), ty));
            }
            if let Expr::Param(_) = x {
                let x = self.coerce(x, &t, &ty)?;
                return Ok((x, ty));
            }
        }
        if t == ty {
            return Ok((x, ty));
        }
        Ok((Expr::Cast(Box::new(x), ty.clone()), ty))
    }

    fn case(
        &mut self,
        operand: Option<&ast::Expr>,
        conditions: &[ast::CaseWhen],
        else_result: Option<&ast::Expr>,
        scope: &Scope,
    ) -> Result<Bound> {
        let operand = match operand {
            Some(o) => Some(self.expr(o, scope)?),
            None => None,
        };
        let mut whens = Vec::new();
        let mut results = Vec::new();
        for c in conditions {
            let w = match &operand {
                Some((ox, ot)) => {
                    let (w, wt) = self.expr(&c.condition, scope)?;
                    let (a, b, _) = self.unify(ox.clone(), ot.clone(), w, wt)?;
                    Expr::Binary(BinaryOp::Eq, Box::new(a), Box::new(b))
                }
                None => self.condition(&c.condition, scope, "CASE")?,
            };
            whens.push(w);
            results.push(self.expr(&c.result, scope)?);
        }
        let else_ = match else_result {
            Some(e) => Some(self.expr(e, scope)?),
            None => None,
        };
        // PostgreSQL resolves the ELSE branch first.
        let mut types: Vec<DataType> = Vec::new();
        if let Some((_, t)) = &else_ {
            types.push(t.clone());
        }
        types.extend(results.iter().map(|r| r.1.clone()));
        let common = cast::common_type_in(&types, "CASE")?;
        let mut pairs = Vec::new();
        for (w, (r, rt)) in whens.into_iter().zip(results) {
            pairs.push((w, self.coerce(r, &rt, &common)?));
        }
        let else_ = match else_ {
            Some((e, t)) => Some(Box::new(self.coerce(e, &t, &common)?)),
            None => None,
        };
        let operand_expr = None;
        Ok((
            Expr::Case {
                operand: operand_expr,
                whens: pairs,
                else_,
            },
            common,
        ))
    }

    /// Binds a call by name over AST arguments.
    fn call(&mut self, name: &str, args: &[ast::Expr], scope: &Scope) -> Result<Bound> {
        let mut bound = Vec::new();
        for a in args {
            bound.push(self.expr(a, scope)?);
        }
        self.call_bound(name, bound, false, None, scope)
    }

    fn function(&mut self, f: &ast::Function, scope: &Scope) -> Result<Bound> {
        let name = f
            .name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(ident)
            .unwrap_or_default();
        let mut distinct = false;
        let mut args = Vec::new();
        match &f.args {
            ast::FunctionArguments::None => {}
            ast::FunctionArguments::Subquery(q) if name == "array" => {
                return self.array_subquery(q, scope);
            }
            ast::FunctionArguments::Subquery(_) => {
                return Err(Error::unsupported("function over a subquery"))
            }
            ast::FunctionArguments::List(l) => {
                distinct = matches!(
                    l.duplicate_treatment,
                    Some(ast::DuplicateTreatment::Distinct)
                );
                let mut named: Vec<(String, ast::Expr)> = Vec::new();
                for a in &l.args {
                    let ae = match a {
                        ast::FunctionArg::Unnamed(x) => {
                            if !named.is_empty() {
                                return Err(Error::syntax(
                                    "positional argument cannot follow named argument",
                                ));
                            }
                            x
                        }
                        ast::FunctionArg::Named { name: n, arg, .. } => {
                            if let ast::FunctionArgExpr::Expr(x) = arg {
                                named.push((ident(n), x.clone()));
                                continue;
                            }
                            arg
                        }
                        ast::FunctionArg::ExprNamed {
                            name: ast::Expr::Identifier(n),
                            arg: ast::FunctionArgExpr::Expr(x),
                            ..
                        } => {
                            named.push((ident(n), x.clone()));
                            continue;
                        }
                        ast::FunctionArg::ExprNamed { arg, .. } => arg,
                    };
                    match ae {
                        ast::FunctionArgExpr::Expr(x) => args.push(x.clone()),
                        // count(*): an aggregate without arguments.
                        ast::FunctionArgExpr::Wildcard => {}
                        _ => return Err(Error::unsupported(format!("argument {ae}"))),
                    }
                }
                if !named.is_empty() {
                    args = self.place_named_args(&name, args, named)?;
                }
            }
        }
        if let Some(over) = &f.over {
            if distinct {
                return Err(Error::new(
                    ErrorCode::FeatureNotSupported,
                    "DISTINCT is not implemented for window functions",
                ));
            }
            if !aggregate_order_by(&f.args).is_empty() {
                return Err(Error::new(
                    ErrorCode::FeatureNotSupported,
                    "aggregate ORDER BY is not implemented for window functions",
                ));
            }
            return self.window_function(&name, &args, f.filter.as_deref(), over, scope);
        }
        if super::window::is_window_only(&name) {
            return Err(Error::new(
                ErrorCode::WrongObjectType,
                format!("window function {name} requires an OVER clause"),
            ));
        }
        if aggregate::is_aggregate(&name) {
            let order = aggregate_order_by(&f.args);
            let call = AggSyntax {
                distinct,
                filter: f.filter.as_deref(),
                order_by: order,
            };
            return self.aggregate(&name, &args, call, scope);
        }
        if let Some(b) = self.whole_row_json(&name, &args, scope)? {
            return Ok(b);
        }
        let mut bound = Vec::new();
        for a in &args {
            bound.push(self.expr(a, scope)?);
        }
        self.call_bound(&name, bound, distinct, f.filter.as_deref(), scope)
    }

    /// Puts `name => value` arguments at their parameter's position,
    /// filling the parameters left out with their defaults, for the
    /// built-in functions that have parameter names.
    fn place_named_args(
        &mut self,
        name: &str,
        mut args: Vec<ast::Expr>,
        named: Vec<(String, ast::Expr)>,
    ) -> Result<Vec<ast::Expr>> {
        let zero = || ast::Expr::value(ast::Value::Number("0".into(), false));
        let params: &[&str] = match name {
            "make_interval" => &["years", "months", "weeks", "days", "hours", "mins", "secs"],
            _ => &[],
        };
        let mut slots: Vec<Option<ast::Expr>> = vec![None; params.len().max(args.len())];
        for (i, a) in args.drain(..).enumerate() {
            slots[i] = Some(a);
        }
        for (n, x) in named {
            let Some(i) = params.iter().position(|p| *p == n) else {
                return Err(Error::new(
                    ErrorCode::UndefinedFunction,
                    format!("function {name} has no parameter named \"{n}\""),
                ));
            };
            if slots[i].is_some() {
                return Err(Error::new(
                    ErrorCode::SyntaxError,
                    format!("argument name \"{n}\" used more than once"),
                ));
            }
            slots[i] = Some(x);
        }
        Ok(slots.into_iter().map(|s| s.unwrap_or_else(zero)).collect())
    }

    fn aggregate(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        call: AggSyntax<'_>,
        scope: &Scope,
    ) -> Result<Bound> {
        let AggSyntax {
            distinct,
            filter,
            order_by,
        } = call;
        let Some(saved) = self.aggs.take() else {
            if self.agg_forbidden == NESTED_AGGREGATE {
                return Err(Error::new(
                    ErrorCode::GroupingError,
                    "aggregate function calls cannot be nested",
                ));
            }
            return Err(Error::new(
                ErrorCode::GroupingError,
                format!(
                    "aggregate functions are not allowed in {}",
                    self.agg_forbidden
                ),
            ));
        };
        let forbidden = self.agg_forbidden;
        self.agg_forbidden = NESTED_AGGREGATE;
        let result = (|| {
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
            let func = aggregate::resolve(name, &types)?;
            let filter = match filter {
                Some(f) => Some(self.condition(f, scope, "FILTER")?),
                None => None,
            };
            let order = self.aggregate_order(args, distinct, order_by, scope)?;
            Ok((func, bound, filter, order))
        })();
        self.agg_forbidden = forbidden;
        let mut aggs = saved;
        let (func, bound, filter, order_by) = match result {
            Ok(x) => x,
            Err(e) => {
                self.aggs = Some(aggs);
                return Err(e);
            }
        };
        let rt = func.return_type.clone();
        aggs.push(AggCall {
            func,
            args: bound,
            distinct,
            filter,
            order_by,
        });
        let i = aggs.len() - 1;
        self.aggs = Some(aggs);
        Ok((Expr::Agg(i), rt))
    }

    fn call_bound(
        &mut self,
        name: &str,
        bound: Vec<Bound>,
        _distinct: bool,
        _filter: Option<&ast::Expr>,
        _scope: &Scope,
    ) -> Result<Bound> {
        let session =
            |f: SessionFn, ty: DataType, args: Vec<Expr>| Ok((Expr::Session(f, args), ty));
        let texts = |b: &mut Binder, bound: Vec<Bound>| -> Result<Vec<Expr>> {
            bound
                .into_iter()
                .map(|(x, t)| {
                    if t == DataType::Unknown {
                        b.coerce(x, &t, &DataType::Text)
                    } else {
                        Ok(x)
                    }
                })
                .collect()
        };
        match name {
            // The argument's static type, without modifiers, as PostgreSQL's
            // regtype output prints it.
            "pg_typeof" => {
                let [(_, t)] = <[Bound; 1]>::try_from(bound).map_err(|b| {
                    undefined_function(name, &b.iter().map(|x| x.1.clone()).collect::<Vec<_>>())
                })?;
                let shown = match t.unmodified() {
                    DataType::Char(_) => "character".to_string(),
                    t => t.display_name(),
                };
                Ok((Expr::Const(Value::Text(shown)), DataType::Text))
            }
            "coalesce" | "greatest" | "least" => {
                let types: Vec<DataType> = bound.iter().map(|b| b.1.clone()).collect();
                let common = cast::common_type_in(&types, &name.to_uppercase())?;
                let args = bound
                    .into_iter()
                    .map(|(x, t)| self.coerce(x, &t, &common))
                    .collect::<Result<Vec<_>>>()?;
                let e = match name {
                    "coalesce" => Expr::Coalesce(args),
                    "greatest" => Expr::MinMax(args, true),
                    _ => Expr::MinMax(args, false),
                };
                Ok((e, common))
            }
            "nullif" => {
                let mut it = bound.into_iter();
                let (Some((a, at)), Some((b, bt)), None) = (it.next(), it.next(), it.next()) else {
                    return Err(undefined_function(name, &[]));
                };
                let (a, b, t) = self.unify(a, at, b, bt)?;
                Ok((Expr::NullIf(Box::new(a), Box::new(b)), t))
            }
            "pg_sleep" => {
                let mut it = bound.into_iter();
                let (Some((x, t)), None) = (it.next(), it.next()) else {
                    return Err(undefined_function(name, &[]));
                };
                let x = self.coerce(x, &t, &DataType::Float8)?;
                Ok((
                    Expr::Slot(self.add_slot(SlotKind::Sleep(x))),
                    DataType::Text,
                ))
            }
            "nextval" => {
                let args = texts(self, bound)?;
                let arg = args
                    .into_iter()
                    .next()
                    .ok_or_else(|| undefined_function(name, &[]))?;
                Ok((
                    Expr::Slot(self.add_slot(SlotKind::NextVal(arg))),
                    DataType::Int8,
                ))
            }
            "setval" => {
                let args = texts(self, bound)?;
                Ok((
                    Expr::Slot(self.add_slot(SlotKind::SetVal(args))),
                    DataType::Int8,
                ))
            }
            "set_config" => {
                let args = texts(self, bound)?;
                Ok((
                    Expr::Slot(self.add_slot(SlotKind::SetConfig(args))),
                    DataType::Text,
                ))
            }
            "currval" => session(SessionFn::CurrVal, DataType::Int8, texts(self, bound)?),
            "lastval" => session(SessionFn::LastVal, DataType::Int8, vec![]),
            "current_setting" => session(
                SessionFn::CurrentSetting,
                DataType::Text,
                texts(self, bound)?,
            ),
            "version" => session(SessionFn::Version, DataType::Text, vec![]),
            "current_database" | "current_catalog" => {
                session(SessionFn::CurrentDatabase, DataType::Name, vec![])
            }
            "current_user" | "session_user" | "user" | "current_role" => {
                session(SessionFn::CurrentUser, DataType::Name, vec![])
            }
            "current_schema" => session(SessionFn::CurrentSchema, DataType::Name, vec![]),
            "current_schemas" => session(
                SessionFn::CurrentSchemas,
                DataType::Array(Box::new(DataType::Name)),
                texts(self, bound)?,
            ),
            "pg_backend_pid" => session(SessionFn::BackendPid, DataType::Int4, vec![]),
            "now" | "current_timestamp" | "transaction_timestamp" => {
                session(SessionFn::Now, DataType::Timestamptz, vec![])
            }
            "localtimestamp" => Ok((
                Expr::Cast(
                    Box::new(Expr::Session(SessionFn::Now, vec![])),
                    DataType::Timestamp,
                ),
                DataType::Timestamp,
            )),
            "statement_timestamp" => {
                session(SessionFn::StatementTimestamp, DataType::Timestamptz, vec![])
            }
            "clock_timestamp" => session(SessionFn::ClockTimestamp, DataType::Timestamptz, vec![]),
            "current_date" => session(SessionFn::CurrentDate, DataType::Date, vec![]),
            _ => {
                // char(n) reaches text parameters through PostgreSQL's
                // bpchar-to-text cast, which drops the padding; functions
                // of any type (and octet_length) see it padded.
                let keeps_padding = matches!(
                    name,
                    "format"
                        | "concat"
                        | "concat_ws"
                        | "octet_length"
                        | "quote_literal"
                        | "quote_nullable"
                        | "to_json"
                        | "to_jsonb"
                        | "json_build_object"
                        | "jsonb_build_object"
                        | "json_build_array"
                        | "jsonb_build_array"
                );
                let bound: Vec<Bound> = bound
                    .into_iter()
                    .map(|(x, t)| match t {
                        DataType::Char(_) if !keeps_padding => {
                            (Expr::Func("rtrim".into(), vec![x]), DataType::Text)
                        }
                        t => (x, t),
                    })
                    .collect();
                let types: Vec<DataType> = bound.iter().map(|b| b.1.clone()).collect();
                let rt = func::function_type(name, &types)?;
                let args = bound.into_iter().map(|b| b.0).collect();
                Ok((Expr::Func(name.to_string(), args), rt))
            }
        }
    }

    /// Binds a subquery into a slot; returns the slot and its columns.
    pub fn subquery(
        &mut self,
        q: &ast::Query,
        scope: &Scope,
        scalar: bool,
    ) -> Result<(usize, Vec<super::ScopeCol>)> {
        self.outer.push(scope.clone());
        self.outer_used.push(false);
        let aggs = self.aggs.take();
        let windows = self.windows.take();
        let named = std::mem::take(&mut self.named_windows);
        let forbidden = self.agg_forbidden;
        let set_leaf = std::mem::take(&mut self.set_leaf);
        let r = self.query(q);
        self.set_leaf = set_leaf;
        self.aggs = aggs;
        self.windows = windows;
        self.named_windows = named;
        self.agg_forbidden = forbidden;
        self.outer.pop();
        let correlated = self.outer_used.pop().unwrap_or(true);
        let (plan, cols) = r?;
        let slot = self.add_slot(SlotKind::Subquery {
            plan: Box::new(plan),
            correlated,
            scalar,
            array: false,
        });
        Ok((slot, cols))
    }

    /// `(a, b) [NOT] IN (SELECT x, y ...)`: the row's values travel as one
    /// array value that the executor compares column by column.
    fn row_in_subquery(
        &mut self,
        items: &[ast::Expr],
        q: &ast::Query,
        negated: bool,
        scope: &Scope,
    ) -> Result<Bound> {
        let mut bound = Vec::new();
        for i in items {
            bound.push(self.expr(i, scope)?);
        }
        let (slot, cols) = self.subquery(q, scope, false)?;
        if cols.len() != bound.len() {
            return Err(Error::syntax(if cols.len() > bound.len() {
                "subquery has too many columns"
            } else {
                "subquery has too few columns"
            }));
        }
        let mut row = Vec::new();
        for ((x, t), c) in bound.into_iter().zip(&cols) {
            let (x, _, _) = self.unify(x, t, Expr::Const(Value::Null), c.ty.clone())?;
            row.push(x);
        }
        Ok((
            negate(
                Expr::InSubquery(Box::new(Expr::Func("row".into(), row)), slot),
                negated,
            ),
            DataType::Bool,
        ))
    }

    /// `ARRAY(subquery)`: the subquery's single column as an array.
    pub fn array_subquery(&mut self, q: &ast::Query, scope: &Scope) -> Result<Bound> {
        let (slot, cols) = self.subquery(q, scope, false)?;
        if cols.len() != 1 {
            return Err(Error::syntax("subquery must return only one column"));
        }
        if let Some(SlotKind::Subquery { array, .. }) = self.slots.get_mut(slot) {
            *array = true;
        }
        let elem = match &cols[0].ty {
            DataType::Unknown => DataType::Text,
            t => t.clone(),
        };
        Ok((Expr::Slot(slot), DataType::Array(Box::new(elem))))
    }

    /// Starts collecting aggregates and window calls (a select list).
    pub(crate) fn begin_aggs(&mut self) -> SavedAggs {
        let saved = (self.aggs.take(), self.agg_forbidden, self.windows.take());
        self.aggs = Some(Vec::new());
        self.windows = Some(Vec::new());
        saved
    }

    pub(crate) fn end_aggs(&mut self, saved: SavedAggs) -> Vec<AggCall> {
        let aggs = self.aggs.take().unwrap_or_default();
        self.collected_windows = self.windows.take().unwrap_or_default();
        self.aggs = saved.0;
        self.agg_forbidden = saved.1;
        self.windows = saved.2;
        aggs
    }

    /// Forbids aggregates and window calls while binding `clause`.
    pub(crate) fn forbid_aggs(&mut self, clause: &'static str) -> SavedAggs {
        let saved = (self.aggs.take(), self.agg_forbidden, self.windows.take());
        self.agg_forbidden = clause;
        saved
    }

    pub(crate) fn restore_aggs(&mut self, saved: SavedAggs) {
        self.aggs = saved.0;
        self.agg_forbidden = saved.1;
        self.windows = saved.2;
    }
}

/// The OID alias types that print as names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RegType {
    Class,
    Type,
}

/// Whether `e` is a regclass or regtype value (a cast to one, or a call
/// of to_regclass / to_regtype): Shoal types them as oid, so their cast
/// to text is recognised here to print the name, as PostgreSQL's
/// regclassout and regtypeout do.
fn yields_reg(e: &ast::Expr) -> Option<RegType> {
    match e {
        ast::Expr::Cast { data_type, .. } => reg_type(data_type),
        ast::Expr::Nested(x) => yields_reg(x),
        ast::Expr::Function(f) => {
            let name = f.name.0.last().and_then(|p| p.as_ident()).map(ident);
            match name.as_deref() {
                Some("to_regclass") => Some(RegType::Class),
                Some("to_regtype") => Some(RegType::Type),
                _ => None,
            }
        }
        _ => None,
    }
}

/// `regproc`, optionally `pg_catalog.`-qualified.
fn is_regproc(dt: &ast::DataType) -> bool {
    let name = dt.to_string().to_lowercase();
    name.strip_prefix("pg_catalog.").unwrap_or(&name) == "regproc"
}

/// `regclass` / `regtype`, optionally `pg_catalog.`-qualified.
fn reg_type(dt: &ast::DataType) -> Option<RegType> {
    let name = dt.to_string().to_lowercase();
    match name.strip_prefix("pg_catalog.").unwrap_or(&name) {
        "regclass" => Some(RegType::Class),
        "regtype" => Some(RegType::Type),
        _ => None,
    }
}

fn negate(e: Expr, negated: bool) -> Expr {
    if negated {
        Expr::Not(Box::new(e))
    } else {
        e
    }
}

fn op_name(op: &B) -> &'static str {
    match op {
        B::Eq => "eq",
        B::NotEq => "ne",
        B::Lt => "lt",
        B::LtEq => "le",
        B::Gt => "gt",
        B::GtEq => "ge",
        _ => "op",
    }
}

/// Types between which values convert without a cast node (the
/// operators accept both).
fn same_family(a: &DataType, b: &DataType) -> bool {
    use DataType::*;
    let num = |t: &DataType| matches!(t, Int2 | Int4 | Int8 | Float4 | Float8 | Numeric(_) | Oid);
    let text = |t: &DataType| matches!(t, Text | Varchar(_) | Char(_) | Name);
    (num(a) && num(b) && !matches!(b, Numeric(Some(_))))
        || (text(a) && text(b) && matches!(b, Text | Name | Varchar(None)))
}

/// What `agg_forbidden` says inside an aggregate's arguments.
const NESTED_AGGREGATE: &str = "aggregate function calls";

/// A comparison of two row constructors, `(a, b) < (c, d)`, as the
/// element-wise comparisons PostgreSQL performs: `=` needs every pair
/// equal, `<>` any pair different, and the ordering operators decide at
/// the first pair that is not equal.
fn row_comparison(a: &[ast::Expr], op: &B, b: &[ast::Expr]) -> Result<ast::Expr> {
    if a.len() != b.len() {
        return Err(Error::syntax(
            "unequal number of entries in row expressions",
        ));
    }
    let bin = |l: &ast::Expr, op: B, r: &ast::Expr| ast::Expr::BinaryOp {
        left: Box::new(l.clone()),
        op,
        right: Box::new(r.clone()),
    };
    let join = |items: Vec<ast::Expr>, op: B| {
        items
            .into_iter()
            .reduce(|x, y| ast::Expr::BinaryOp {
                left: Box::new(x),
                op: op.clone(),
                right: Box::new(y),
            })
            .ok_or_else(|| Error::syntax("row expressions must not be empty"))
    };
    let pairs = a.iter().zip(b);
    match op {
        B::Eq => join(pairs.map(|(x, y)| bin(x, B::Eq, y)).collect(), B::And),
        B::NotEq => join(pairs.map(|(x, y)| bin(x, B::NotEq, y)).collect(), B::Or),
        B::Lt | B::LtEq | B::Gt | B::GtEq => {
            let strict = match op {
                B::LtEq => B::Lt,
                B::GtEq => B::Gt,
                o => o.clone(),
            };
            let n = a.len();
            // Built from the last pair backwards:
            // a1 < b1 OR (a1 = b1 AND (a2 < b2 OR (...))).
            let mut acc = bin(&a[n - 1], op.clone(), &b[n - 1]);
            for i in (0..n - 1).rev() {
                acc = ast::Expr::BinaryOp {
                    left: Box::new(bin(&a[i], strict.clone(), &b[i])),
                    op: B::Or,
                    right: Box::new(ast::Expr::Nested(Box::new(ast::Expr::BinaryOp {
                        left: Box::new(bin(&a[i], B::Eq, &b[i])),
                        op: B::And,
                        right: Box::new(ast::Expr::Nested(Box::new(acc))),
                    }))),
                };
            }
            Ok(acc)
        }
        B::Overlaps if a.len() == 2 => {
            // Each period runs from its earlier to its later end, half
            // open unless both ends are equal: they overlap when each
            // starts before the other ends, or both start together.
            let call = |f: &str, x: &ast::Expr, y: &ast::Expr| {
                ast::Expr::Function(ast::Function {
                    name: ast::ObjectName::from(vec![ast::Ident::new(f)]),
                    uses_odbc_syntax: false,
                    parameters: ast::FunctionArguments::None,
                    args: ast::FunctionArguments::List(ast::FunctionArgumentList {
                        duplicate_treatment: None,
                        args: vec![
                            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x.clone())),
                            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(y.clone())),
                        ],
                        clauses: vec![],
                    }),
                    filter: None,
                    null_treatment: None,
                    over: None,
                    within_group: vec![],
                })
            };
            let (s1, e1) = (call("least", &a[0], &a[1]), call("greatest", &a[0], &a[1]));
            let (s2, e2) = (call("least", &b[0], &b[1]), call("greatest", &b[0], &b[1]));
            let both = ast::Expr::Nested(Box::new(ast::Expr::BinaryOp {
                left: Box::new(bin(&s1, B::Lt, &e2)),
                op: B::And,
                right: Box::new(bin(&s2, B::Lt, &e1)),
            }));
            Ok(ast::Expr::BinaryOp {
                left: Box::new(both),
                op: B::Or,
                right: Box::new(bin(&s1, B::Eq, &s2)),
            })
        }
        other => Err(Error::new(
            ErrorCode::UndefinedFunction,
            format!("operator {other} is not supported for row expressions"),
        )),
    }
}

pub(crate) fn undefined_function(name: &str, args: &[DataType]) -> Error {
    let list: Vec<String> = args.iter().map(|t| t.display_name()).collect();
    Error::new(
        ErrorCode::UndefinedFunction,
        format!("function {name}({}) does not exist", list.join(", ")),
    )
    .with_hint("No function matches the given name and argument types. You might need to add explicit type casts.")
}

/// The binary operator that `sym` spells (`~`, `=`, `||`...), as
/// sqlparser reads it between two operands; `None` for a symbol it does
/// not know as one.
fn plain_operator(sym: &str) -> Option<B> {
    match crate::parser::parse_expr(&format!("a {sym} b")) {
        Ok(ast::Expr::BinaryOp { op, .. }) if !matches!(op, B::PGCustomBinaryOperator(_)) => {
            Some(op)
        }
        _ => None,
    }
}

/// `q` with its select list's regclass and regtype values (casts to
/// them) cast to text, so that a query's result shows them as names,
/// as PostgreSQL's output functions do (Shoal types them as oid, which
/// prints digits); `None` when there are none. Only the outermost
/// select list: elsewhere they must stay OIDs to compare with OIDs.
pub fn reg_outputs_named(q: &ast::Query) -> Option<ast::Query> {
    let ast::SetExpr::Select(sel) = q.body.as_ref() else {
        return None;
    };
    let is_reg = |e: &ast::Expr| matches!(e, ast::Expr::Cast { .. }) && yields_reg(e).is_some();
    let named = |e: &ast::Expr| ast::Expr::Cast {
        kind: ast::CastKind::DoubleColon,
        expr: Box::new(e.clone()),
        data_type: ast::DataType::Text,
        format: None,
    };
    let mut changed = false;
    let projection = sel
        .projection
        .iter()
        .map(|item| match item {
            ast::SelectItem::UnnamedExpr(e) if is_reg(e) => {
                changed = true;
                ast::SelectItem::ExprWithAlias {
                    expr: named(e),
                    alias: ast::Ident::with_quote('"', super::query::column_name(e)),
                }
            }
            ast::SelectItem::ExprWithAlias { expr, alias } if is_reg(expr) => {
                changed = true;
                ast::SelectItem::ExprWithAlias {
                    expr: named(expr),
                    alias: alias.clone(),
                }
            }
            other => other.clone(),
        })
        .collect();
    if !changed {
        return None;
    }
    let mut sel = sel.as_ref().clone();
    sel.projection = projection;
    let mut out = q.clone();
    out.body = Box::new(ast::SetExpr::Select(Box::new(sel)));
    Some(out)
}
