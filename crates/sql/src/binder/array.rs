//! Binding array expressions: `ARRAY[...]` constructors (an empty one
//! needs a cast, sub-arrays must match), `ARRAY(SELECT ...)`, and
//! subscripts `a[i]`, `a[i][j]`, slices `a[l:u]`; jsonb subscripts
//! `j['key'][0]` too.

use sqlparser::ast;

use super::{Binder, Scope};
use crate::error::{Error, ErrorCode, Result};
use crate::planner::plan::Expr;
use crate::types::{cast, DataType, Value};

type Bound = (Expr, DataType);

/// The element type under every array level (`int[][]` -> `int`).
fn base_element(t: &DataType) -> &DataType {
    match t {
        DataType::Array(e) => base_element(e),
        t => t,
    }
}

/// Whether `root` followed by `chain` is a subscripted value: only
/// subscripts, after any `.name` parts of a column reference (`t.a[1]`
/// parses as `t` then `.a` then `[1]`).
pub(super) fn is_subscript_chain(root: &ast::Expr, chain: &[ast::AccessExpr]) -> bool {
    let names = chain
        .iter()
        .take_while(|a| matches!(a, ast::AccessExpr::Dot(ast::Expr::Identifier(_))))
        .count();
    let rest = &chain[names..];
    !rest.is_empty()
        && (names == 0 || matches!(root, ast::Expr::Identifier(_)))
        && rest
            .iter()
            .all(|a| matches!(a, ast::AccessExpr::Subscript(_)))
}

/// Splits `t` `.a` `[1]` into the column reference `t.a` and its
/// subscripts.
fn column_and_subscripts<'a>(
    root: &ast::Expr,
    chain: &'a [ast::AccessExpr],
) -> (ast::Expr, &'a [ast::AccessExpr]) {
    let mut parts = Vec::new();
    if let ast::Expr::Identifier(id) = root {
        parts.push(id.clone());
    }
    let mut n = 0;
    for a in chain {
        match a {
            ast::AccessExpr::Dot(ast::Expr::Identifier(id)) => parts.push(id.clone()),
            _ => break,
        }
        n += 1;
    }
    if n == 0 {
        return (root.clone(), chain);
    }
    (ast::Expr::CompoundIdentifier(parts), &chain[n..])
}

impl Binder<'_> {
    /// `ARRAY[a, b, ...]`. Sub-arrays (`ARRAY[[1, 2], [3, 4]]`) make a
    /// multidimensional array, checked for matching dimensions when it
    /// is built.
    pub(super) fn array_constructor(&mut self, a: &ast::Array, scope: &Scope) -> Result<Bound> {
        if a.elem.is_empty() {
            return Err(Error::new(
                ErrorCode::IndeterminateDatatype,
                "cannot determine type of empty array",
            )
            .with_hint("Explicitly cast to the desired type, for example ARRAY[]::integer[]."));
        }
        let mut items = Vec::new();
        let mut types = Vec::new();
        for x in &a.elem {
            let (b, t) = self.expr(x, scope)?;
            types.push(t.clone());
            items.push((b, t));
        }
        let common = cast::common_type(&types)?;
        let items = items
            .into_iter()
            .map(|(b, t)| self.coerce(b, &t, &common))
            .collect::<Result<Vec<_>>>()?;
        let name = if matches!(common, DataType::Array(_)) {
            "array_nested"
        } else {
            "array"
        };
        Ok((
            Expr::Func(name.into(), items),
            DataType::Array(Box::new(common)),
        ))
    }

    /// `ARRAY[]::t[]`: an empty array of the cast's type (`None` when
    /// `e` is not an empty constructor).
    pub(super) fn empty_array_cast(&self, e: &ast::Expr, ty: &DataType) -> Option<Bound> {
        match e {
            ast::Expr::Array(a) if a.elem.is_empty() && matches!(ty, DataType::Array(_)) => {
                Some((Expr::Const(Value::Array(Vec::new())), ty.clone()))
            }
            _ => None,
        }
    }

    /// `a[i]...` or `a[l:u]...`. Index-only access gives the element type
    /// (NULL when out of range or short of dimensions); any slice gives
    /// an array of the same type.
    pub(super) fn subscripts(
        &mut self,
        root: &ast::Expr,
        chain: &[ast::AccessExpr],
        scope: &Scope,
    ) -> Result<Bound> {
        let (root, chain) = column_and_subscripts(root, chain);
        let (base, ty) = self.expr(&root, scope)?;
        if ty == DataType::Jsonb {
            return self.jsonb_subscripts(base, chain, scope);
        }
        if !matches!(ty, DataType::Array(_)) {
            return Err(Error::new(
                ErrorCode::DatatypeMismatch,
                format!(
                    "cannot subscript type {} because it does not support subscripting",
                    ty.display_name()
                ),
            ));
        }
        let mut args = vec![base];
        let mut spec = String::new();
        let mut slice = false;
        for a in chain {
            let ast::AccessExpr::Subscript(s) = a else {
                return Err(Error::unsupported(format!("field access {a}")));
            };
            match s {
                ast::Subscript::Index { index } => {
                    spec.push('i');
                    args.push(self.subscript_index(index, scope)?);
                }
                ast::Subscript::Slice {
                    lower_bound,
                    upper_bound,
                    stride,
                } => {
                    if stride.is_some() {
                        return Err(Error::syntax("syntax error at or near \":\""));
                    }
                    slice = true;
                    spec.push('s');
                    for (b, flag) in [(lower_bound, 'l'), (upper_bound, 'u')] {
                        if let Some(b) = b {
                            spec.push(flag);
                            args.push(self.subscript_index(b, scope)?);
                        }
                    }
                }
            }
            spec.push(',');
        }
        if slice {
            args.insert(1, Expr::Const(Value::Text(spec)));
            return Ok((Expr::Func("array_slice".into(), args), ty));
        }
        let elem = base_element(&ty).clone();
        Ok((Expr::Func("array_subscript".into(), args), elem))
    }

    /// `j['a'][0]` on jsonb: `jsonb_extract_path(j, ARRAY['a', '0'])`
    /// (keys for objects, indexes counted from 0 for arrays).
    fn jsonb_subscripts(
        &mut self,
        base: Expr,
        chain: &[ast::AccessExpr],
        scope: &Scope,
    ) -> Result<Bound> {
        let mut keys = Vec::new();
        for a in chain {
            let ast::AccessExpr::Subscript(ast::Subscript::Index { index }) = a else {
                return Err(Error::new(
                    ErrorCode::DatatypeMismatch,
                    "jsonb subscript does not support slices",
                ));
            };
            let (x, t) = self.expr(index, scope)?;
            keys.push(match t {
                DataType::Unknown => self.coerce(x, &t, &DataType::Text)?,
                t if t.is_string() => x,
                DataType::Int2 | DataType::Int4 | DataType::Int8 => {
                    Expr::Cast(Box::new(x), DataType::Text)
                }
                t => {
                    return Err(Error::new(
                        ErrorCode::DatatypeMismatch,
                        format!("subscript type {} is not supported", t.display_name()),
                    )
                    .with_hint("jsonb subscript must be coercible to either integer or text."))
                }
            });
        }
        let path = Expr::Func("array".into(), keys);
        Ok((
            Expr::Func("jsonb_extract_path".into(), vec![base, path]),
            DataType::Jsonb,
        ))
    }

    /// A subscript bound: an integer (42804 otherwise).
    fn subscript_index(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Expr> {
        let (x, t) = self.expr(e, scope)?;
        match t {
            DataType::Int4 => Ok(x),
            DataType::Unknown | DataType::Int2 | DataType::Int8 => {
                self.coerce(x, &t, &DataType::Int4)
            }
            DataType::Numeric(_) | DataType::Float4 | DataType::Float8 => {
                Ok(Expr::Cast(Box::new(x), DataType::Int4))
            }
            t => Err(Error::new(
                ErrorCode::DatatypeMismatch,
                "array subscript must have type integer",
            )
            .with_detail(format!("The subscript has type {}.", t.display_name()))),
        }
    }
}
