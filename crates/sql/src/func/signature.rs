//! Function signatures and resolution: each module registers its
//! functions' parameter and result types, and a call picks the candidate
//! PostgreSQL would (exact matches first, then implicit casts towards the
//! preferred type of each category; untyped literals prefer text), then
//! coerces the arguments to it.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::num::NumType;
use super::{datetime, is_string, no_function, CatalogContext, FunctionContext};
use crate::error::{Error, Result};
use crate::types::{DataType, Value, MICROS_PER_DAY};

/// A function body: its arguments arrive coerced to the signature's
/// parameter types and, for strict functions, never NULL.
pub(super) type Body = fn(&[Value], &FunctionContext) -> Result<Value>;

/// The body of a function that reads the catalog (see `catalog`).
pub(super) type CatalogBody = fn(&[Value], &CatalogContext<'_>) -> Result<Value>;

#[derive(Clone, Copy)]
enum Imp {
    Plain(Body),
    Catalog(CatalogBody),
}

/// A parameter that accepts any type, passed through unchanged.
pub(super) const ANY: DataType = DataType::Unknown;
pub(super) const NUMERIC: DataType = DataType::Numeric(None);

pub(super) struct Sig {
    params: Vec<DataType>,
    /// The last parameter repeats (one or more times).
    variadic: bool,
    ret: DataType,
    /// NULL in any argument gives NULL without calling the body.
    strict: bool,
    body: Imp,
}

#[derive(Default)]
pub(super) struct Registry {
    map: HashMap<&'static str, Vec<Sig>>,
}

impl Registry {
    /// A strict function under each of `names`.
    pub(super) fn add(
        &mut self,
        names: &[&'static str],
        params: &[DataType],
        ret: DataType,
        body: Body,
    ) {
        self.push(names, params, false, ret, true, Imp::Plain(body));
    }

    /// A function that sees NULL arguments itself.
    pub(super) fn add_lax(
        &mut self,
        names: &[&'static str],
        params: &[DataType],
        variadic: bool,
        ret: DataType,
        body: Body,
    ) {
        self.push(names, params, variadic, ret, false, Imp::Plain(body));
    }

    /// A function that reads the catalog; `strict` as for [`Self::add`].
    pub(super) fn add_catalog(
        &mut self,
        names: &[&'static str],
        params: &[DataType],
        ret: DataType,
        strict: bool,
        body: CatalogBody,
    ) {
        self.push(names, params, false, ret, strict, Imp::Catalog(body));
    }

    fn push(
        &mut self,
        names: &[&'static str],
        params: &[DataType],
        variadic: bool,
        ret: DataType,
        strict: bool,
        body: Imp,
    ) {
        for name in names {
            self.map.entry(name).or_default().push(Sig {
                params: params.to_vec(),
                variadic,
                ret: ret.clone(),
                strict,
                body,
            });
        }
    }
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut r = Registry::default();
        super::math::register(&mut r);
        super::text::register(&mut r);
        super::datefn::register(&mut r);
        super::to_char::register(&mut r);
        super::misc::register(&mut r);
        super::json::register(&mut r);
        super::catalog::register(&mut r);
        super::describe::register(&mut r);
        super::json_ops::register(&mut r);
        super::array_ops::register(&mut r);
        r
    })
}

/// Every registered name with each signature's arity (for tests).
#[cfg(test)]
pub(super) fn all_signatures() -> Vec<(&'static str, usize)> {
    let mut out: Vec<(&'static str, usize)> = registry()
        .map
        .iter()
        .flat_map(|(n, sigs)| sigs.iter().map(move |s| (*n, s.params.len())))
        .collect();
    out.sort();
    out
}

pub(super) fn is_function(name: &str) -> bool {
    registry().map.contains_key(name) || matches!(name, "greatest" | "least")
}

/// Whether some signature of `name` reads the catalog (the caller must
/// then call [`call_in`] with a [`CatalogContext`]).
pub(super) fn reads_catalog(name: &str) -> bool {
    registry()
        .map
        .get(name)
        .is_some_and(|sigs| sigs.iter().any(|s| matches!(s.body, Imp::Catalog(_))))
}

/// Whether `from` is accepted where `to` is expected without a cast: the
/// same type (typmods and string kinds aside).
fn same_type(from: &DataType, to: &DataType) -> bool {
    match (from, to) {
        (DataType::Numeric(_), DataType::Numeric(_)) => true,
        (DataType::Array(a), DataType::Array(b)) => same_type(a, b),
        (DataType::Json, DataType::Jsonb) => false,
        (a, b) if is_string(a) && is_string(b) => true,
        (a, b) => a == b,
    }
}

/// PostgreSQL's implicit casts between the types functions take.
fn implicit(from: &DataType, to: &DataType) -> bool {
    if let (Some(a), Some(b)) = (NumType::of(from), NumType::of(to)) {
        // int -> wider int -> numeric -> float4 -> float8; oid is int8.
        return match (a, b) {
            (a, b) if a.is_int() && b.is_int() => a < b,
            (NumType::Float8, _) => false,
            (NumType::Float4, b) => b == NumType::Float8,
            (_, b) => b > a,
        };
    }
    matches!(
        (from, to),
        (DataType::Date, DataType::Timestamp | DataType::Timestamptz)
            | (DataType::Timestamp, DataType::Timestamptz)
            | (DataType::Time, DataType::Interval)
            | (DataType::Json, DataType::Jsonb)
    )
}

/// The preferred type of each category, which wins a tie between casts.
fn preferred(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Float8
            | DataType::Text
            | DataType::Timestamptz
            | DataType::Interval
            | DataType::Bool
            | DataType::Oid
    )
}

/// How well `args` fit `sig`: `None` when they do not; else (exact
/// matches, casts or unknowns landing on a preferred type).
fn fit(sig: &Sig, args: &[DataType]) -> Option<(usize, usize)> {
    let n = sig.params.len();
    if args.len() != n && !(sig.variadic && args.len() >= n) {
        return None;
    }
    let (mut exact, mut pref) = (0, 0);
    for (i, a) in args.iter().enumerate() {
        let p = &sig.params[i.min(n - 1)];
        if *p == ANY {
            exact += usize::from(*a != DataType::Unknown);
        } else if *a == DataType::Unknown {
            // An untyped literal fits anything, text (or another
            // category's preferred type) best.
            pref += usize::from(is_string(p) || preferred(p));
        } else if same_type(a, p) {
            exact += 1;
        } else if implicit(a, p) {
            pref += usize::from(preferred(p));
        } else {
            return None;
        }
    }
    Some((exact, pref))
}

fn select<'a>(name: &str, args: &[DataType]) -> Option<&'a Sig> {
    let sigs = registry().map.get(name)?;
    let mut best: Option<(&Sig, (usize, usize))> = None;
    for sig in sigs {
        if let Some(score) = fit(sig, args) {
            if best.is_none_or(|(_, b)| score > b) {
                best = Some((sig, score));
            }
        }
    }
    best.map(|(s, _)| s)
}

pub(super) fn function_type(name: &str, args: &[DataType]) -> Result<DataType> {
    if matches!(name, "greatest" | "least") {
        return common_type(args).ok_or_else(|| no_function(name, args));
    }
    match select(name, args) {
        // A polymorphic result: the array argument's type.
        Some(sig) if sig.ret == ANY => Ok(args
            .iter()
            .find(|t| matches!(t, DataType::Array(_)))
            .cloned()
            .or_else(|| {
                args.iter()
                    .find(|t| **t != DataType::Unknown)
                    .map(|t| DataType::Array(Box::new(t.clone())))
            })
            .unwrap_or(DataType::Array(Box::new(DataType::Text)))),
        Some(sig) => Ok(sig.ret.clone()),
        None => Err(no_function(name, args)),
    }
}

/// The common type of greatest/least arguments: numbers promote, strings
/// are text, anything else must agree; all unknown is text.
pub(super) fn common_type(args: &[DataType]) -> Option<DataType> {
    let known: Vec<&DataType> = args.iter().filter(|t| **t != DataType::Unknown).collect();
    let Some(first) = known.first() else {
        return (!args.is_empty()).then_some(DataType::Text);
    };
    if known.iter().all(|t| is_string(t)) {
        return Some(DataType::Text);
    }
    if let Some(mut n) = NumType::of(first) {
        for t in &known[1..] {
            n = NumType::promote(n, NumType::of(t)?);
        }
        return Some(n.data_type());
    }
    let mut out = (*first).clone();
    for t in &known[1..] {
        if same_type(t, &out) {
            continue;
        }
        if implicit(&out, t) {
            out = (*t).clone();
        } else if !implicit(t, &out) {
            return None;
        }
    }
    Some(out)
}

/// A value's type for resolution at run time; NULL is unknown.
fn value_type(v: &Value) -> DataType {
    v.data_type().unwrap_or(DataType::Unknown)
}

pub(super) fn call_in(
    name: &str,
    args: &[Value],
    ctx: &FunctionContext,
    catalog: Option<&CatalogContext<'_>>,
) -> Result<Value> {
    if matches!(name, "greatest" | "least") {
        return super::math::greatest_least(name == "greatest", args, ctx);
    }
    let types: Vec<DataType> = args.iter().map(value_type).collect();
    // Text values may be untyped literals the binder let through as
    // unknown: when the typed lookup fails, try them as unknown.
    let sig = select(name, &types).or_else(|| {
        let loose: Vec<DataType> = types
            .iter()
            .map(|t| {
                if *t == DataType::Text {
                    DataType::Unknown
                } else {
                    t.clone()
                }
            })
            .collect();
        select(name, &loose)
    });
    let Some(sig) = sig else {
        return Err(no_function(name, &types));
    };
    if sig.strict && args.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let n = sig.params.len();
    let mut coerced = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        coerced.push(coerce(a, &sig.params[i.min(n - 1)], ctx)?);
    }
    match (sig.body, catalog) {
        (Imp::Plain(body), _) => body(&coerced, ctx),
        (Imp::Catalog(body), Some(cat)) => body(&coerced, cat),
        (Imp::Catalog(_), None) => Err(Error::internal(format!(
            "{name} was called without the catalog"
        ))),
    }
}

/// Converts an argument to a parameter type along an implicit cast (or
/// from the text of an untyped literal).
pub(super) fn coerce(v: &Value, to: &DataType, ctx: &FunctionContext) -> Result<Value> {
    use super::num::{as_decimal, as_f64, as_i64};
    if v.is_null() || *to == ANY {
        return Ok(v.clone());
    }
    Ok(match (v, to) {
        (Value::Text(s), t) if !is_string(t) => Value::from_text(t, s, &ctx.format)?,
        (v, DataType::Int4) if matches!(v, Value::Int2(_)) => {
            Value::Int4(as_i64(v).unwrap_or(0) as i32)
        }
        (v, DataType::Int8) if matches!(v, Value::Int2(_) | Value::Int4(_) | Value::Oid(_)) => {
            Value::Int8(as_i64(v).unwrap_or(0))
        }
        (Value::NumericNaN, DataType::Float8) => Value::Float8(f64::NAN),
        (Value::NumericNaN, DataType::Float4) => Value::Float4(f32::NAN),
        (v, DataType::Numeric(_)) if !matches!(v, Value::Numeric(_) | Value::NumericNaN) => match v
        {
            Value::Float4(f) if f.is_nan() => Value::NumericNaN,
            Value::Float8(f) if f.is_nan() => Value::NumericNaN,
            v => as_decimal(v)
                .map(Value::Numeric)
                .unwrap_or(Value::NumericNaN),
        },
        (v, DataType::Float8) if !matches!(v, Value::Float8(_)) && as_f64(v).is_some() => {
            Value::Float8(as_f64(v).unwrap_or(0.0))
        }
        (v, DataType::Float4) if !matches!(v, Value::Float4(_)) && as_f64(v).is_some() => {
            Value::Float4(as_f64(v).unwrap_or(0.0) as f32)
        }
        (Value::Date(d), DataType::Timestamp) => Value::Timestamp(datetime::date_to_ts(*d)?),
        (Value::Date(d), DataType::Timestamptz) => {
            Value::Timestamptz(datetime::date_to_tstz(*d, ctx)?)
        }
        (Value::Timestamp(t), DataType::Timestamptz) => {
            Value::Timestamptz(if datetime::is_infinite_ts(*t) {
                *t
            } else {
                datetime::session_zone(ctx).local_to_utc(*t)
            })
        }
        (Value::Time(t), DataType::Interval) => Value::Interval(crate::types::Interval {
            months: 0,
            days: 0,
            micros: *t % MICROS_PER_DAY,
        }),
        (v, _) => v.clone(),
    })
}
