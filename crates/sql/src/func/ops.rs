//! Operator resolution (the result type of `l op r` as PostgreSQL's
//! pg_operator would pick it) and evaluation over values.

use super::num::{self, NumType};
use super::{
    datetime, is_string, no_operator, pattern, text_of, BinaryOp, FunctionContext, UnaryOp,
};
use crate::error::{Error, Result};
use crate::types::json::{self, Json};
use crate::types::{DataType, Value};

/// Type categories for comparison: two types compare when they share one.
#[derive(PartialEq, Eq)]
enum Category {
    Bool,
    Number,
    String,
    Bytea,
    /// date, timestamp and timestamptz compare with each other.
    DateTime,
    Time,
    Interval,
    Uuid,
    Jsonb,
    /// json has no comparison operators at all.
    Json,
    Array,
    Unknown,
}

fn category(t: &DataType) -> Category {
    match t {
        DataType::Bool => Category::Bool,
        t if NumType::of(t).is_some() => Category::Number,
        t if is_string(t) => Category::String,
        DataType::Bytea => Category::Bytea,
        DataType::Date | DataType::Timestamp | DataType::Timestamptz => Category::DateTime,
        DataType::Time => Category::Time,
        DataType::Interval => Category::Interval,
        DataType::Uuid => Category::Uuid,
        DataType::Jsonb => Category::Jsonb,
        DataType::Json => Category::Json,
        DataType::Array(_) => Category::Array,
        _ => Category::Unknown,
    }
}

fn comparable(l: &DataType, r: &DataType) -> bool {
    match (l, r) {
        (DataType::Array(a), DataType::Array(b)) => comparable(a, b),
        _ => {
            let c = category(l);
            c == category(r) && !matches!(c, Category::Json | Category::Unknown)
        }
    }
}

fn is_comparison(op: BinaryOp) -> bool {
    use BinaryOp::*;
    matches!(op, Eq | NotEq | Lt | LtEq | Gt | GtEq)
}

fn is_ts(t: &DataType) -> bool {
    matches!(t, DataType::Timestamp | DataType::Timestamptz)
}

fn is_small_int(t: &DataType) -> bool {
    matches!(t, DataType::Int2 | DataType::Int4)
}

pub(super) fn unknown_operand_type(op: BinaryOp, other: &DataType) -> Option<DataType> {
    use BinaryOp::*;
    match op {
        Add if is_ts(other) || *other == DataType::Time => Some(DataType::Interval),
        Sub if *other == DataType::Time => None,
        Mul | Div if *other == DataType::Interval => Some(DataType::Float8),
        Concat | Like | NotLike | ILike | NotILike | RegexMatch | RegexIMatch | NotRegexMatch
        | NotRegexIMatch | JsonGet | JsonGetText => match other {
            DataType::Array(e) if op == Concat => Some(DataType::Array(e.clone())),
            DataType::Bytea | DataType::Jsonb if op == Concat => Some(other.clone()),
            _ => Some(DataType::Text),
        },
        _ => None,
    }
}

pub(super) fn binary_type(op: BinaryOp, l: &DataType, r: &DataType) -> Result<DataType> {
    let (l, r) = match (l, r) {
        (DataType::Unknown, DataType::Unknown) => (DataType::Text, DataType::Text),
        (DataType::Unknown, r) => (
            unknown_operand_type(op, r).unwrap_or_else(|| r.clone()),
            r.clone(),
        ),
        (l, DataType::Unknown) => (
            l.clone(),
            unknown_operand_type(op, l).unwrap_or_else(|| l.clone()),
        ),
        (l, r) => (l.clone(), r.clone()),
    };
    resolve(op, &l, &r).ok_or_else(|| no_operator(op.symbol(), Some(&l), &r))
}

fn resolve(op: BinaryOp, l: &DataType, r: &DataType) -> Option<DataType> {
    use BinaryOp::*;
    use DataType as T;
    let (ln, rn) = (NumType::of(l), NumType::of(r));
    if is_comparison(op) {
        return comparable(l, r).then_some(T::Bool);
    }
    match op {
        Add | Sub | Mul | Div | Mod => {
            if let (Some(a), Some(b)) = (ln, rn) {
                let t = NumType::promote(a, b);
                if op == Mod && t >= NumType::Float4 {
                    return None;
                }
                return Some(t.data_type());
            }
            match (op, l, r) {
                (Add, T::Date, b) | (Add, b, T::Date) if is_small_int(b) => Some(T::Date),
                (Sub, T::Date, b) if is_small_int(b) => Some(T::Date),
                (Sub, T::Date, T::Date) => Some(T::Int4),
                (Add, T::Date, T::Interval) | (Add, T::Interval, T::Date) => Some(T::Timestamp),
                (Sub, T::Date, T::Interval) => Some(T::Timestamp),
                (Add, T::Date, T::Time) | (Add, T::Time, T::Date) => Some(T::Timestamp),
                (Add, t, T::Interval) | (Add, T::Interval, t) | (Sub, t, T::Interval)
                    if is_ts(t) || *t == T::Time =>
                {
                    Some(t.clone())
                }
                (Sub, a, b) if (is_ts(a) || *a == T::Date) && (is_ts(b) || *b == T::Date) => {
                    Some(T::Interval)
                }
                (Sub, T::Time, T::Time) => Some(T::Interval),
                (Add | Sub, T::Interval, T::Interval) => Some(T::Interval),
                (Mul, T::Interval, _) if rn.is_some() => Some(T::Interval),
                (Mul, _, T::Interval) if ln.is_some() => Some(T::Interval),
                (Div, T::Interval, _) if rn.is_some() => Some(T::Interval),
                _ => None,
            }
        }
        Pow => match (ln, rn) {
            (Some(a), Some(b)) => Some(num::pow_type(a, b).data_type()),
            _ => None,
        },
        Concat => match (l, r) {
            (T::Array(a), T::Array(b)) if a == b => Some(l.clone()),
            (T::Array(a), b) | (b, T::Array(a)) if a.as_ref() == b => Some(T::Array(a.clone())),
            (T::Bytea, T::Bytea) => Some(T::Bytea),
            (T::Jsonb, T::Jsonb) => Some(T::Jsonb),
            (a, b) if is_string(a) && is_string(b) => Some(T::Text),
            // anynonarray || text and text || anynonarray.
            (a, b)
                if (is_string(a) || is_string(b))
                    && !matches!(a, T::Array(_))
                    && !matches!(b, T::Array(_)) =>
            {
                Some(T::Text)
            }
            _ => None,
        },
        Like | NotLike | ILike | NotILike | RegexMatch | RegexIMatch | NotRegexMatch
        | NotRegexIMatch => (is_string(l) && is_string(r)).then_some(T::Bool),
        BitAnd | BitOr | BitXor => match (ln, rn) {
            (Some(a), Some(b)) if a.is_int() && b.is_int() => {
                Some(NumType::promote(a, b).data_type())
            }
            _ => None,
        },
        ShiftLeft | ShiftRight => match (ln, rn) {
            (Some(a), Some(_)) if a.is_int() && is_small_int(r) => Some(a.data_type()),
            _ => None,
        },
        JsonGet | JsonGetText => {
            let key_ok = is_string(r) || is_small_int(r);
            match l {
                T::Jsonb | T::Json if key_ok => Some(if op == JsonGetText {
                    T::Text
                } else {
                    l.clone()
                }),
                _ => None,
            }
        }
        _ => None,
    }
}

pub(super) fn binary(op: BinaryOp, l: &Value, r: &Value, ctx: &FunctionContext) -> Result<Value> {
    use BinaryOp::*;
    if l.is_null() || r.is_null() {
        // array || NULL is the array (array_cat with a NULL array).
        return Ok(match (op, l, r) {
            (Concat, Value::Array(_), Value::Null) => l.clone(),
            (Concat, Value::Null, Value::Array(_)) => r.clone(),
            _ => Value::Null,
        });
    }
    match op {
        Eq | NotEq | Lt | LtEq | Gt | GtEq => {
            let Some(o) = l.compare(r) else {
                return Err(mismatch(op, l, r));
            };
            use std::cmp::Ordering::*;
            Ok(Value::Bool(match op {
                Eq => o == Equal,
                NotEq => o != Equal,
                Lt => o == Less,
                LtEq => o != Greater,
                Gt => o == Greater,
                _ => o != Less,
            }))
        }
        Add | Sub | Mul | Div | Mod => arith(op, l, r, ctx),
        Pow => {
            if NumType::of_value(l).is_none() || NumType::of_value(r).is_none() {
                return Err(mismatch(op, l, r));
            }
            num::pow(l, r)
        }
        Concat => concat(l, r, ctx),
        Like | NotLike | ILike | NotILike => {
            let (Value::Text(s), Value::Text(p)) = (l, r) else {
                return Err(mismatch(op, l, r));
            };
            let m = pattern::like(s, p, matches!(op, ILike | NotILike))?;
            Ok(Value::Bool(m == matches!(op, Like | ILike)))
        }
        RegexMatch | RegexIMatch | NotRegexMatch | NotRegexIMatch => {
            let (Value::Text(s), Value::Text(p)) = (l, r) else {
                return Err(mismatch(op, l, r));
            };
            let m = pattern::regex_is_match(s, p, matches!(op, RegexIMatch | NotRegexIMatch))?;
            Ok(Value::Bool(m == matches!(op, RegexMatch | RegexIMatch)))
        }
        BitAnd | BitOr | BitXor | ShiftLeft | ShiftRight => {
            if num::as_i64(l).is_none() || num::as_i64(r).is_none() {
                return Err(mismatch(op, l, r));
            }
            num::bit_op(op, l, r)
        }
        JsonGet | JsonGetText => json_get(op == JsonGetText, l, r),
    }
}

/// A runtime operand pair no operator accepts: the binder should have
/// rejected it, so say which operator PostgreSQL would have looked for.
fn mismatch(op: BinaryOp, l: &Value, r: &Value) -> Error {
    let t = |v: &Value| v.data_type().unwrap_or(DataType::Unknown);
    no_operator(op.symbol(), Some(&t(l)), &t(r))
}

fn arith(op: BinaryOp, l: &Value, r: &Value, ctx: &FunctionContext) -> Result<Value> {
    use BinaryOp::*;
    use Value as V;
    if NumType::of_value(l).is_some() && NumType::of_value(r).is_some() {
        return num::arith(op, l, r);
    }
    let int = num::as_i64;
    Ok(match (op, l, r) {
        (Add, V::Date(d), n) | (Add, n, V::Date(d)) if int(n).is_some() => {
            V::Date(datetime::date_plus_days(*d, int(n).unwrap_or(0))?)
        }
        (Sub, V::Date(d), n) if int(n).is_some() => {
            V::Date(datetime::date_plus_days(*d, -int(n).unwrap_or(0))?)
        }
        (Sub, V::Date(a), V::Date(b)) => V::Int4(datetime::date_minus_date(*a, *b)?),
        (Add, V::Date(d), V::Interval(iv)) | (Add, V::Interval(iv), V::Date(d)) => V::Timestamp(
            datetime::ts_plus_interval(datetime::date_to_ts(*d)?, iv, false)?,
        ),
        (Sub, V::Date(d), V::Interval(iv)) => V::Timestamp(datetime::ts_plus_interval(
            datetime::date_to_ts(*d)?,
            iv,
            true,
        )?),
        (Add, V::Date(d), V::Time(t)) | (Add, V::Time(t), V::Date(d)) => {
            V::Timestamp(datetime::date_plus_time(*d, *t)?)
        }
        (Add, V::Timestamp(ts), V::Interval(iv)) | (Add, V::Interval(iv), V::Timestamp(ts)) => {
            V::Timestamp(datetime::ts_plus_interval(*ts, iv, false)?)
        }
        (Sub, V::Timestamp(ts), V::Interval(iv)) => {
            V::Timestamp(datetime::ts_plus_interval(*ts, iv, true)?)
        }
        (Add, V::Timestamptz(ts), V::Interval(iv)) | (Add, V::Interval(iv), V::Timestamptz(ts)) => {
            V::Timestamptz(datetime::tstz_plus_interval(*ts, iv, false, ctx)?)
        }
        (Sub, V::Timestamptz(ts), V::Interval(iv)) => {
            V::Timestamptz(datetime::tstz_plus_interval(*ts, iv, true, ctx)?)
        }
        (Add, V::Time(t), V::Interval(iv)) | (Add, V::Interval(iv), V::Time(t)) => {
            V::Time(datetime::time_plus_interval(*t, iv, false))
        }
        (Sub, V::Time(t), V::Interval(iv)) => V::Time(datetime::time_plus_interval(*t, iv, true)),
        (Sub, V::Time(a), V::Time(b)) => V::Interval(crate::types::Interval {
            months: 0,
            days: 0,
            micros: a - b,
        }),
        (Add, V::Interval(a), V::Interval(b)) => V::Interval(datetime::interval_add(a, b, false)?),
        (Sub, V::Interval(a), V::Interval(b)) => V::Interval(datetime::interval_add(a, b, true)?),
        (Mul, V::Interval(iv), n) | (Mul, n, V::Interval(iv)) if num::as_f64(n).is_some() => {
            V::Interval(datetime::interval_mul(iv, num::as_f64(n).unwrap_or(0.0))?)
        }
        (Div, V::Interval(iv), n) if num::as_f64(n).is_some() => {
            V::Interval(datetime::interval_div(iv, num::as_f64(n).unwrap_or(0.0))?)
        }
        (Sub, a, b) => match (datetime::instant(a, ctx), datetime::instant(b, ctx)) {
            (Some(a), Some(b)) => V::Interval(datetime::ts_minus_ts(a, b)?),
            _ => return Err(mismatch(op, l, r)),
        },
        _ => return Err(mismatch(op, l, r)),
    })
}

fn concat(l: &Value, r: &Value, ctx: &FunctionContext) -> Result<Value> {
    Ok(match (l, r) {
        (Value::Array(a), Value::Array(b)) => {
            // Appending a whole array of one more dimension is not concat.
            let mut out = a.clone();
            out.extend(b.iter().cloned());
            Value::Array(out)
        }
        (Value::Array(a), v) => {
            let mut out = a.clone();
            out.push(v.clone());
            Value::Array(out)
        }
        (v, Value::Array(b)) => {
            let mut out = Vec::with_capacity(b.len() + 1);
            out.push(v.clone());
            out.extend(b.iter().cloned());
            Value::Array(out)
        }
        (Value::Bytea(a), Value::Bytea(b)) => {
            let mut out = a.clone();
            out.extend_from_slice(b);
            Value::Bytea(out)
        }
        (Value::Json(a), Value::Json(b)) => Value::Json(jsonb_concat(a, b)?),
        (a, b) => {
            let mut s = text_of(a, ctx);
            s.push_str(&text_of(b, ctx));
            Value::Text(s)
        }
    })
}

/// jsonb `||`: objects merge (right wins), anything else concatenates as
/// arrays, a scalar counting as a one-element array.
fn jsonb_concat(a: &str, b: &str) -> Result<String> {
    let (a, b) = (json::parse(a, "jsonb")?, json::parse(b, "jsonb")?);
    let v = match (a, b) {
        (Json::Object(mut x), Json::Object(y)) => {
            for (k, v) in y {
                match x.iter_mut().find(|(xk, _)| *xk == k) {
                    Some(slot) => slot.1 = v,
                    None => x.push((k, v)),
                }
            }
            x.sort_by(|p, q| p.0.len().cmp(&q.0.len()).then_with(|| p.0.cmp(&q.0)));
            Json::Object(x)
        }
        (x, y) => {
            let items = |j: Json| match j {
                Json::Array(v) => v,
                other => vec![other],
            };
            let mut out = items(x);
            out.extend(items(y));
            Json::Array(out)
        }
    };
    let mut s = String::new();
    json::write_jsonb(&v, &mut s);
    Ok(s)
}

/// `->` and `->>`: an object field by key, an array element by index
/// (negative counts from the end); NULL when there is none.
fn json_get(as_text: bool, l: &Value, r: &Value) -> Result<Value> {
    let Value::Json(doc) = l else {
        return Err(mismatch(BinaryOp::JsonGet, l, r));
    };
    let j = json::parse(doc, "jsonb")?;
    let found = match (&j, r) {
        (Json::Object(fields), Value::Text(k)) => {
            fields.iter().find(|(fk, _)| fk == k).map(|(_, v)| v)
        }
        (Json::Array(items), k) => match num::as_i64(k) {
            Some(i) => {
                let idx = if i < 0 { items.len() as i64 + i } else { i };
                usize::try_from(idx).ok().and_then(|i| items.get(i))
            }
            None => None,
        },
        _ => None,
    };
    Ok(match found {
        None => Value::Null,
        Some(Json::Null) if as_text => Value::Null,
        Some(Json::String(s)) if as_text => Value::Text(s.clone()),
        Some(v) => {
            let mut s = String::new();
            json::write_jsonb(v, &mut s);
            if as_text {
                Value::Text(s)
            } else {
                Value::Json(s)
            }
        }
    })
}

pub(super) fn unary_type(op: UnaryOp, t: &DataType) -> Result<DataType> {
    let n = NumType::of(t).filter(|_| *t != DataType::Oid);
    let ok = match op {
        UnaryOp::Neg | UnaryOp::Plus => n.is_some() || *t == DataType::Interval,
        UnaryOp::Not => *t == DataType::Bool,
        UnaryOp::BitNot => n.is_some_and(NumType::is_int),
    };
    if ok {
        return Ok(t.clone());
    }
    let sym = match op {
        UnaryOp::Neg => "-",
        UnaryOp::Plus => "+",
        UnaryOp::Not => "NOT",
        UnaryOp::BitNot => "~",
    };
    if op == UnaryOp::Not {
        return Err(Error::new(
            crate::ErrorCode::DatatypeMismatch,
            format!(
                "argument of NOT must be type boolean, not type {}",
                t.display_name()
            ),
        ));
    }
    Err(no_operator(sym, None, t))
}

pub(super) fn unary(op: UnaryOp, v: &Value) -> Result<Value> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    match (op, v) {
        (UnaryOp::Plus, v) => Ok(v.clone()),
        (UnaryOp::Neg, Value::Interval(iv)) => Ok(Value::Interval(datetime::interval_neg(iv)?)),
        (UnaryOp::Neg, v) => num::negate(v),
        (UnaryOp::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
        (UnaryOp::BitNot, Value::Int2(i)) => Ok(Value::Int2(!i)),
        (UnaryOp::BitNot, Value::Int4(i)) => Ok(Value::Int4(!i)),
        (UnaryOp::BitNot, Value::Int8(i)) => Ok(Value::Int8(!i)),
        (op, v) => unary_type(op, &v.data_type().unwrap_or(DataType::Unknown))
            .and_then(|_| Err(Error::internal(format!("operator {op:?} on {v:?}")))),
    }
}
