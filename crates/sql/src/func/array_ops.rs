//! Array operators and subscripts: `@>` (arraycontains), `<@`
//! (arraycontained), `&&` (arrayoverlap), and `a[i]`, `a[i:j]` over the
//! nested [`Value::Array`] form of (multidimensional) arrays.

use super::signature::{Registry, ANY};
use super::{err, FunctionContext};
use crate::error::{Error, ErrorCode, Result};
use crate::types::{DataType, Value};

pub(super) fn register(r: &mut Registry) {
    // The binder's forms of ARRAY[[...], [...]], a[i][j] and a[l:u]; their
    // result types come from the binder (ANY here).
    r.add_lax(&["array_nested"], &[ANY], true, ANY, |a, _| nested(a));
    r.add_lax(&["array_subscript"], &[ANY], true, ANY, |a, _| {
        let subs: Vec<Subscript> = a[1..].iter().cloned().map(Subscript::Index).collect();
        Ok(subscript(&a[0], &subs))
    });
    r.add_lax(
        &["array_assign_subscript"],
        &[ANY, ANY, ANY],
        false,
        ANY,
        |a, ctx| assign_subscript(&a[0], &a[1], &a[2], ctx),
    );
    r.add_lax(&["array_slice"], &[ANY], true, ANY, |a, _| {
        let Some(Value::Text(spec)) = a.get(1) else {
            return Err(Error::internal("array_slice without its subscript spec"));
        };
        Ok(subscript(&a[0], &slice_spec(spec, &a[2..])?))
    });
    r.add(&["arraycontains"], &[ANY, ANY], DataType::Bool, |a, _| {
        Ok(Value::Bool(contains(&a[0], &a[1])))
    });
    r.add(&["arraycontained"], &[ANY, ANY], DataType::Bool, |a, _| {
        Ok(Value::Bool(contains(&a[1], &a[0])))
    });
    r.add(&["arrayoverlap"], &[ANY, ANY], DataType::Bool, |a, _| {
        let x = flat(&a[0]);
        Ok(Value::Bool(flat(&a[1]).iter().any(|b| has(&x, b))))
    });
}

/// The elements of an array in storage order, every dimension flattened.
pub fn flat(v: &Value) -> Vec<&Value> {
    fn walk<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            v => out.push(v),
        }
    }
    let mut out = Vec::new();
    if let Value::Array(items) = v {
        items.iter().for_each(|i| walk(i, &mut out));
    }
    out
}

/// Whether a non-NULL `b` equals an element of `x` (NULL equals nothing).
fn has(x: &[&Value], b: &Value) -> bool {
    !b.is_null()
        && x.iter()
            .any(|a| a.compare(b) == Some(std::cmp::Ordering::Equal))
}

/// Every element of `b` is in `a`, dimensions ignored (a NULL element of
/// `b` makes it false, as in PostgreSQL).
fn contains(a: &Value, b: &Value) -> bool {
    let x = flat(a);
    flat(b).iter().all(|e| has(&x, e))
}

/// One subscript of `a[...]`: an index, or a slice with optional bounds.
#[derive(Clone, Debug)]
pub enum Subscript {
    Index(Value),
    Slice(Option<Value>, Option<Value>),
}

fn int(v: &Value) -> Option<i64> {
    super::num::as_i64(v)
}

/// `a[s1][s2]...`: with any slice every subscript is a slice (an index
/// `i` is `1:i`, as PostgreSQL reads it) and the result is an array;
/// otherwise it is the element. Out of range or a NULL subscript is NULL.
pub fn subscript(a: &Value, subs: &[Subscript]) -> Value {
    if !matches!(a, Value::Array(_)) {
        return Value::Null;
    }
    if subs.iter().any(|s| matches!(s, Subscript::Slice(..))) {
        return slice(a, subs).unwrap_or(Value::Null);
    }
    let mut cur = a;
    for s in subs {
        let Subscript::Index(i) = s else {
            return Value::Null;
        };
        let (Value::Array(items), Some(i)) = (cur, int(i)) else {
            return Value::Null;
        };
        match usize::try_from(i - 1).ok().and_then(|i| items.get(i)) {
            Some(v) => cur = v,
            None => return Value::Null,
        }
    }
    if matches!(cur, Value::Array(_)) {
        // Fewer subscripts than dimensions: PostgreSQL gives NULL.
        return Value::Null;
    }
    cur.clone()
}

/// `a[l:u]...`; `None` is a NULL bound. An empty selection is `{}`.
fn slice(a: &Value, subs: &[Subscript]) -> Option<Value> {
    fn go(v: &Value, subs: &[Subscript]) -> Option<Option<Value>> {
        let Some((s, rest)) = subs.split_first() else {
            return Some(Some(v.clone()));
        };
        let Value::Array(items) = v else {
            // More subscripts than dimensions: nothing is selected.
            return Some(None);
        };
        let len = items.len() as i64;
        let bound = |b: &Option<Value>, default: i64| -> Option<i64> {
            match b {
                None => Some(default),
                Some(v) => int(v),
            }
        };
        let (lo, hi) = match s {
            Subscript::Index(i) => (1, int(i)?),
            Subscript::Slice(l, u) => (bound(l, 1)?, bound(u, len)?),
        };
        let (lo, hi) = (lo.max(1), hi.min(len));
        let mut out = Vec::new();
        for i in lo..=hi {
            if let Some(x) = go(&items[(i - 1) as usize], rest)? {
                out.push(x);
            }
        }
        // A sub-array whose slice is empty drops out entirely.
        Some(
            if out.is_empty()
                || out
                    .iter()
                    .any(|x| matches!(x, Value::Array(v) if v.is_empty()))
            {
                None
            } else {
                Some(Value::Array(out))
            },
        )
    }
    // Slice bounds given as `[:u]` / `[l:]` without a value are "open";
    // a NULL bound value makes the whole result NULL.
    for s in subs {
        match s {
            Subscript::Index(i) if i.is_null() => return None,
            Subscript::Slice(Some(l), _) if l.is_null() => return None,
            Subscript::Slice(_, Some(u)) if u.is_null() => return None,
            _ => {}
        }
    }
    Some(go(a, subs)?.unwrap_or(Value::Array(Vec::new())))
}

/// `UPDATE ... SET a[i] = v`: sets element `i` (1-based) of a
/// one-dimensional array, padding with NULLs past its end; a NULL or
/// empty array becomes `{v}` for `i` = 1. Subscripts that would need
/// another lower bound are not supported (arrays here always start at 1).
fn assign_subscript(a: &Value, i: &Value, v: &Value, ctx: &FunctionContext) -> Result<Value> {
    if i.is_null() {
        return Err(err(
            ErrorCode::NullValueNotAllowed,
            "array subscript in assignment must not be null",
        ));
    }
    let unsupported = || {
        Error::unsupported("array assignment that changes the lower bound (subscripts start at 1)")
    };
    if !matches!(a, Value::Array(_) | Value::Null) {
        return Err(Error::unsupported(
            "subscripted assignment to a value that is not an array",
        ));
    }
    let i = int(i).ok_or_else(|| Error::internal("array subscript is not an integer"))?;
    let mut items = match a {
        Value::Array(items) => items.clone(),
        _ => Vec::new(),
    };
    if items.iter().any(|x| matches!(x, Value::Array(_))) {
        return Err(Error::unsupported(
            "assignment to one subscript of a multidimensional array",
        ));
    }
    // An untyped literal takes the type of the elements already there.
    let v = match (v, items.iter().find_map(Value::data_type)) {
        (Value::Text(s), Some(t)) if !t.is_string() => Value::from_text(&t, s, &ctx.format)?,
        (v, _) => v.clone(),
    };
    let at = usize::try_from(i - 1).map_err(|_| unsupported())?;
    if items.is_empty() && at > 0 {
        return Err(unsupported());
    }
    if at >= items.len() {
        items.resize(at + 1, Value::Null);
    }
    items[at] = v;
    Ok(Value::Array(items))
}

/// The dimensions of a (possibly nested) array value: the length of each
/// level, following first elements.
fn dims(v: &Value) -> Vec<usize> {
    let mut out = Vec::new();
    let mut cur = v;
    while let Value::Array(items) = cur {
        out.push(items.len());
        match items.first() {
            Some(first) => cur = first,
            None => break,
        }
    }
    out
}

/// `ARRAY[sub, sub, ...]` of sub-arrays: every one must have the same
/// dimensions (2202E otherwise; a NULL one too, as in PostgreSQL). Only
/// empty sub-arrays make an empty array.
fn nested(items: &[Value]) -> Result<Value> {
    if items
        .iter()
        .all(|v| matches!(v, Value::Array(a) if a.is_empty()))
    {
        return Ok(Value::Array(Vec::new()));
    }
    let want = items.first().map(dims);
    for s in items {
        if !matches!(s, Value::Array(a) if !a.is_empty())
            || Some(dims(s)) != want
            || !rectangular(s)
        {
            return Err(err(
                ErrorCode::ArraySubscriptError,
                "multidimensional arrays must have array expressions with matching dimensions",
            ));
        }
    }
    Ok(Value::Array(items.to_vec()))
}

/// Whether every sub-array at each level has the same length.
fn rectangular(v: &Value) -> bool {
    let Value::Array(items) = v else {
        return true;
    };
    let first = items.first().map(dims);
    items
        .iter()
        .all(|i| Some(dims(i)) == first && rectangular(i))
}

/// Reads `array_slice`'s spec (`i,slu,sl,su,s,` one entry per subscript:
/// `i` an index, `s` a slice with its lower and/or upper bound present)
/// against the bound values that follow it.
fn slice_spec(spec: &str, mut vals: &[Value]) -> Result<Vec<Subscript>> {
    let mut next = || -> Result<Value> {
        let (v, rest) = vals
            .split_first()
            .ok_or_else(|| Error::internal("array_slice: too few bounds"))?;
        vals = rest;
        Ok(v.clone())
    };
    let mut out = Vec::new();
    for part in spec.split(',').filter(|p| !p.is_empty()) {
        out.push(match part {
            "i" => Subscript::Index(next()?),
            p => {
                let lo = if p.contains('l') { Some(next()?) } else { None };
                let hi = if p.contains('u') { Some(next()?) } else { None };
                Subscript::Slice(lo, hi)
            }
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arr(items: &[i32]) -> Value {
        Value::Array(items.iter().map(|i| Value::Int4(*i)).collect())
    }

    fn idx(i: i32) -> Subscript {
        Subscript::Index(Value::Int4(i))
    }

    fn range(l: Option<i32>, u: Option<i32>) -> Subscript {
        Subscript::Slice(l.map(Value::Int4), u.map(Value::Int4))
    }

    fn show(v: &Value) -> String {
        v.to_text(&Default::default())
            .unwrap_or_else(|| "NULL".into())
    }

    // Expectations checked with PostgreSQL 15.
    #[test]
    fn subscripts_and_slices() {
        let a = arr(&[10, 20, 30, 40]);
        let m = Value::Array(vec![arr(&[1, 2]), arr(&[3, 4])]);
        assert_eq!(show(&subscript(&a, &[idx(1)])), "10");
        assert_eq!(show(&subscript(&a, &[idx(0)])), "NULL");
        assert_eq!(show(&subscript(&a, &[idx(5)])), "NULL");
        assert_eq!(
            show(&subscript(&a, &[Subscript::Index(Value::Null)])),
            "NULL"
        );
        assert_eq!(show(&subscript(&a, &[range(Some(2), Some(3))])), "{20,30}");
        assert_eq!(show(&subscript(&a, &[range(None, Some(2))])), "{10,20}");
        assert_eq!(show(&subscript(&a, &[range(Some(3), None)])), "{30,40}");
        assert_eq!(show(&subscript(&a, &[range(Some(3), Some(2))])), "{}");
        assert_eq!(show(&subscript(&a, &[range(Some(-5), Some(2))])), "{10,20}");
        assert_eq!(show(&subscript(&m, &[idx(2), idx(1)])), "3");
        assert_eq!(show(&subscript(&m, &[idx(1)])), "NULL");
        assert_eq!(
            show(&subscript(&m, &[range(Some(1), Some(2)), idx(2)])),
            "{{1,2},{3,4}}"
        );
        assert_eq!(
            show(&subscript(
                &m,
                &[range(Some(2), Some(2)), range(Some(2), Some(2))]
            )),
            "{{4}}"
        );
    }

    #[test]
    fn containment_ignores_dimensions_and_nulls() {
        let m = Value::Array(vec![arr(&[1, 2]), arr(&[3, 4])]);
        assert!(contains(&m, &arr(&[4, 1])));
        let with_null = Value::Array(vec![Value::Int4(1), Value::Null]);
        assert!(!contains(&with_null, &Value::Array(vec![Value::Null])));
        assert!(contains(&arr(&[]), &arr(&[])));
    }

    #[test]
    fn nested_constructors_need_matching_dimensions() {
        assert_eq!(
            show(&nested(&[arr(&[1]), arr(&[2])]).expect("ok")),
            "{{1},{2}}"
        );
        assert_eq!(show(&nested(&[arr(&[]), arr(&[])]).expect("ok")), "{}");
        for bad in [
            vec![arr(&[1]), arr(&[2, 3])],
            vec![arr(&[1]), arr(&[])],
            vec![arr(&[1]), Value::Null],
        ] {
            let e = nested(&bad).expect_err("mismatch");
            assert_eq!(e.code, ErrorCode::ArraySubscriptError);
        }
    }

    #[test]
    fn assignment_pads_with_nulls() {
        let ctx = FunctionContext::default();
        let v = assign_subscript(&arr(&[1]), &Value::Int4(4), &Value::Int4(7), &ctx).expect("ok");
        assert_eq!(show(&v), "{1,NULL,NULL,7}");
        let v = assign_subscript(&Value::Null, &Value::Int4(1), &Value::Int4(7), &ctx).expect("ok");
        assert_eq!(show(&v), "{7}");
        let e =
            assign_subscript(&arr(&[1]), &Value::Null, &Value::Int4(7), &ctx).expect_err("null");
        assert_eq!(e.message, "array subscript in assignment must not be null");
    }
}
