//! Casts between types: explicit (`::`, CAST), assignment (INSERT/UPDATE
//! into a column: length checks, numeric rounding, char padding) and the
//! implicit coercions PostgreSQL applies when resolving operators.

use super::numeric::{Numeric, MAX_PRECISION};

use crate::error::{Error, ErrorCode, Result};
use crate::types::datetime::{
    session_zone, DATE_INFINITY, DATE_NEG_INFINITY, TS_INFINITY, TS_NEG_INFINITY,
};
use crate::types::{json, text, DataType, FormatOptions, Value, MICROS_PER_DAY};

/// How strict a cast is, as in PostgreSQL's pg_cast.castcontext.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CastKind {
    Implicit,
    Assignment,
    Explicit,
}

/// Converts `v` to `to`. NULL casts to NULL. Errors are PostgreSQL's
/// (22P02 invalid input, 22003 out of range, 22001 too long for
/// varchar(n) under assignment, 42846 no such cast).
pub fn cast(v: &Value, to: &DataType, kind: CastKind, opts: &FormatOptions) -> Result<Value> {
    let from = v.data_type();
    cast_from(v, from.as_ref(), to, kind, opts)
}

/// As [`cast`], for a value whose static type is known to be `from`: a
/// `char(n)` value loses its padding when cast to another string type, as
/// in PostgreSQL (`'ab'::char(5)::text` is `ab`).
pub fn cast_typed(
    v: &Value,
    from: &DataType,
    to: &DataType,
    kind: CastKind,
    opts: &FormatOptions,
) -> Result<Value> {
    if let (DataType::Char(_), Value::Text(s)) = (from, v) {
        if to.is_string() && !matches!(to, DataType::Char(_)) {
            let trimmed = Value::Text(s.trim_end_matches(' ').to_string());
            return cast_from(&trimmed, Some(&DataType::Text), to, kind, opts);
        }
    }
    cast_from(v, Some(from), to, kind, opts)
}

fn no_cast(from: &DataType, to: &DataType) -> Error {
    Error::new(
        ErrorCode::CannotCoerce,
        format!(
            "cannot cast type {} to {}",
            from.display_name(),
            to.display_name()
        ),
    )
}

fn out_of_range(ty: &str) -> Error {
    Error::new(
        ErrorCode::NumericValueOutOfRange,
        format!("{ty} out of range"),
    )
}

fn cast_from(
    v: &Value,
    from: Option<&DataType>,
    to: &DataType,
    kind: CastKind,
    opts: &FormatOptions,
) -> Result<Value> {
    let Some(from) = from else {
        return Ok(Value::Null);
    };
    // Strings read through the target's input function (this also covers
    // unknown literals), except into other string types.
    if let Value::Text(s) = v {
        if !to.is_string() {
            return text::parse(to, s, opts);
        }
    }
    if let (Value::Json(s), DataType::Jsonb) = (v, from) {
        if let Some(scalar) = jsonb_scalar(s, to)? {
            return cast(&scalar, to, kind, opts);
        }
    }
    Ok(match to {
        DataType::Text | DataType::Unknown => Value::Text(to_string(v, opts)),
        DataType::Name => Value::Text(text::truncate_name(&to_string(v, opts)).to_string()),
        DataType::Varchar(n) => Value::Text(text::fit_length(
            &to_string(v, opts),
            *n,
            false,
            kind != CastKind::Explicit,
        )?),
        DataType::Char(n) => Value::Text(text::fit_length(
            &to_string(v, opts),
            *n,
            true,
            kind != CastKind::Explicit,
        )?),
        DataType::Bool => match v {
            Value::Bool(b) => Value::Bool(*b),
            Value::Int2(_) | Value::Int4(_) | Value::Int8(_) => {
                Value::Bool(as_i64(v).unwrap_or(0) != 0)
            }
            _ => return Err(no_cast(from, to)),
        },
        DataType::Int2 => Value::Int2(
            i16::try_from(to_int(v, "smallint", from, to)?)
                .map_err(|_| out_of_range("smallint"))?,
        ),
        DataType::Int4 => Value::Int4(
            i32::try_from(to_int(v, "integer", from, to)?).map_err(|_| out_of_range("integer"))?,
        ),
        DataType::Int8 => Value::Int8(to_int(v, "bigint", from, to)?),
        DataType::Oid => match v {
            Value::Oid(o) => Value::Oid(*o),
            // int4 → oid reinterprets the bits, as PostgreSQL does.
            Value::Int4(i) => Value::Oid(*i as u32),
            Value::Int2(i) => Value::Oid(i32::from(*i) as u32),
            Value::Int8(i) => Value::Oid(u32::try_from(*i).map_err(|_| out_of_range("OID"))?),
            _ => return Err(no_cast(from, to)),
        },
        DataType::Float4 => Value::Float4(match v {
            Value::Float4(f) => *f,
            Value::Float8(f) => float8_to_float4(*f)?,
            Value::Numeric(d) => float8_to_float4(decimal_to_f64(d))?,
            Value::NumericNaN => f32::NAN,
            _ => as_i64(v).ok_or_else(|| no_cast(from, to))? as f32,
        }),
        DataType::Float8 => Value::Float8(match v {
            Value::Float4(f) => f64::from(*f),
            Value::Float8(f) => *f,
            Value::Numeric(d) => decimal_to_f64(d),
            Value::NumericNaN => f64::NAN,
            _ => as_i64(v).ok_or_else(|| no_cast(from, to))? as f64,
        }),
        DataType::Numeric(typmod) => {
            let n = match v {
                Value::Numeric(d) => Value::Numeric(d.clone()),
                Value::NumericNaN => Value::NumericNaN,
                Value::Float4(f) => float_to_numeric(f64::from(*f), 6)?,
                Value::Float8(f) => float_to_numeric(*f, 15)?,
                _ => Value::Numeric(Numeric::from(as_i64(v).ok_or_else(|| no_cast(from, to))?)),
            };
            match (n, typmod) {
                (Value::Numeric(d), Some((p, s))) => {
                    Value::Numeric(apply_numeric_typmod(d, *p, *s)?)
                }
                (n, _) => n,
            }
        }
        DataType::Date => match v {
            Value::Date(d) => Value::Date(*d),
            Value::Timestamp(t) => Value::Date(ts_to_date(*t)?),
            Value::Timestamptz(t) => Value::Date(ts_to_date(match *t {
                TS_INFINITY | TS_NEG_INFINITY => *t,
                t => session_zone(opts).utc_to_local(t),
            })?),
            _ => return Err(no_cast(from, to)),
        },
        DataType::Timestamp => match v {
            Value::Timestamp(t) => Value::Timestamp(*t),
            Value::Date(d) => Value::Timestamp(date_to_ts(*d)?),
            Value::Timestamptz(t) => Value::Timestamp(match *t {
                TS_INFINITY | TS_NEG_INFINITY => *t,
                t => session_zone(opts).utc_to_local(t),
            }),
            _ => return Err(no_cast(from, to)),
        },
        DataType::Timestamptz => match v {
            Value::Timestamptz(t) => Value::Timestamptz(*t),
            Value::Date(d) => Value::Timestamptz(match date_to_ts(*d)? {
                t @ (TS_INFINITY | TS_NEG_INFINITY) => t,
                t => session_zone(opts).local_to_utc(t),
            }),
            Value::Timestamp(t) => Value::Timestamptz(match *t {
                TS_INFINITY | TS_NEG_INFINITY => *t,
                t => session_zone(opts).local_to_utc(t),
            }),
            _ => return Err(no_cast(from, to)),
        },
        DataType::Time => match v {
            Value::Time(t) => Value::Time(*t),
            // An infinite timestamp has no time of day: NULL, as in PostgreSQL.
            Value::Timestamp(TS_INFINITY | TS_NEG_INFINITY)
            | Value::Timestamptz(TS_INFINITY | TS_NEG_INFINITY) => Value::Null,
            Value::Timestamp(t) => Value::Time(t.rem_euclid(MICROS_PER_DAY)),
            Value::Timestamptz(t) => Value::Time(
                session_zone(opts)
                    .utc_to_local(*t)
                    .rem_euclid(MICROS_PER_DAY),
            ),
            Value::Interval(i) => Value::Time(i.micros.rem_euclid(MICROS_PER_DAY)),
            _ => return Err(no_cast(from, to)),
        },
        DataType::Interval => match v {
            Value::Interval(i) => Value::Interval(*i),
            Value::Time(t) => Value::Interval(super::Interval {
                months: 0,
                days: 0,
                micros: *t,
            }),
            _ => return Err(no_cast(from, to)),
        },
        DataType::Json => match v {
            Value::Json(s) => Value::Json(s.clone()),
            _ => return Err(no_cast(from, to)),
        },
        DataType::Jsonb => match v {
            Value::Json(s) => Value::Json(json::normalize_jsonb(s)?),
            _ => return Err(no_cast(from, to)),
        },
        DataType::Bytea => match v {
            Value::Bytea(b) => Value::Bytea(b.clone()),
            _ => return Err(no_cast(from, to)),
        },
        DataType::Uuid => match v {
            Value::Uuid(u) => Value::Uuid(*u),
            _ => return Err(no_cast(from, to)),
        },
        DataType::Array(elem) => match v {
            Value::Array(items) => {
                let from_elem = match from {
                    DataType::Array(e) => Some(e.as_ref()),
                    _ => None,
                };
                Value::Array(
                    items
                        .iter()
                        .map(|item| cast_elem(item, from_elem, elem, kind, opts))
                        .collect::<Result<_>>()?,
                )
            }
            _ => return Err(no_cast(from, to)),
        },
    })
}

/// jsonb to a number or boolean type: the scalar inside, as a value the
/// ordinary cast then converts (`'5'::jsonb::int`, `'1.5'::jsonb::int` is
/// 2); 22023 "cannot cast jsonb string to type integer" for the wrong
/// kind of value. `None` for other targets.
fn jsonb_scalar(s: &str, to: &DataType) -> Result<Option<Value>> {
    let number = matches!(
        to,
        DataType::Int2
            | DataType::Int4
            | DataType::Int8
            | DataType::Float4
            | DataType::Float8
            | DataType::Numeric(_)
    );
    if !number && *to != DataType::Bool {
        return Ok(None);
    }
    let j = json::parse(s, "jsonb")?;
    let kind = match (&j, number) {
        (json::Json::Number(n), true) => {
            return Ok(Some(match to {
                DataType::Float4 | DataType::Float8 => {
                    Value::Float8(n.parse().map_err(|_| out_of_range("double precision"))?)
                }
                _ => text::parse_numeric(n)?,
            }))
        }
        (json::Json::Bool(b), false) => return Ok(Some(Value::Bool(*b))),
        (json::Json::Null, _) => "null",
        (json::Json::Bool(_), _) => "boolean",
        (json::Json::Number(_), _) => "numeric",
        (json::Json::String(_), _) => "string",
        (json::Json::Array(_), _) => "array",
        (json::Json::Object(_), _) => "object",
    };
    Err(Error::new(
        ErrorCode::InvalidParameterValue,
        format!(
            "cannot cast jsonb {kind} to type {}",
            base(to).display_name()
        ),
    ))
}

fn cast_elem(
    item: &Value,
    from: Option<&DataType>,
    to: &DataType,
    kind: CastKind,
    opts: &FormatOptions,
) -> Result<Value> {
    match item {
        Value::Null => Ok(Value::Null),
        // Sub-arrays of a multidimensional array keep the element type.
        Value::Array(inner) => Ok(Value::Array(
            inner
                .iter()
                .map(|i| cast_elem(i, from, to, kind, opts))
                .collect::<Result<_>>()?,
        )),
        v => match from {
            Some(f) => cast_typed(v, f, to, kind, opts),
            None => cast(v, to, kind, opts),
        },
    }
}

/// A value as text for a cast to a string type: the output function,
/// except booleans, which cast to `true`/`false`.
fn to_string(v: &Value, opts: &FormatOptions) -> String {
    match v {
        Value::Bool(b) => (if *b { "true" } else { "false" }).to_string(),
        v => text::format(v, opts).unwrap_or_default(),
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    Some(match v {
        Value::Int2(i) => i64::from(*i),
        Value::Int4(i) => i64::from(*i),
        Value::Int8(i) => *i,
        Value::Oid(o) => i64::from(*o),
        _ => return None,
    })
}

/// Any number to an integer: numerics round half away from zero, floats
/// to nearest even (rint), as PostgreSQL does.
fn to_int(v: &Value, name: &str, from: &DataType, to: &DataType) -> Result<i64> {
    match v {
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Numeric(d) if !d.is_finite() => Err(Error::new(
            ErrorCode::FeatureNotSupported,
            format!("cannot convert infinity to {name}"),
        )),
        Value::Numeric(d) => d.to_i64().ok_or_else(|| out_of_range(name)),
        Value::NumericNaN => Err(Error::new(
            ErrorCode::FeatureNotSupported,
            format!("cannot convert NaN to {name}"),
        )),
        Value::Float4(f) => float_to_int(f64::from(*f), name),
        Value::Float8(f) => float_to_int(*f, name),
        // int4 → oid → int4 keeps the bits: oid 4294967295 is -1.
        Value::Oid(o) if name == "integer" => Ok(i64::from(*o as i32)),
        _ => as_i64(v).ok_or_else(|| no_cast(from, to)),
    }
}

fn float_to_int(f: f64, name: &str) -> Result<i64> {
    let r = f.round_ties_even();
    // i64::MAX as f64 rounds up to 2^63, which does not fit.
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&r) {
        return Err(out_of_range(name));
    }
    Ok(r as i64)
}

fn float8_to_float4(f: f64) -> Result<f32> {
    let g = f as f32;
    if g.is_infinite() && f.is_finite() {
        return Err(Error::new(
            ErrorCode::NumericValueOutOfRange,
            "value out of range: overflow",
        ));
    }
    if g == 0.0 && f != 0.0 {
        return Err(Error::new(
            ErrorCode::NumericValueOutOfRange,
            "value out of range: underflow",
        ));
    }
    Ok(g)
}

/// A numeric as the nearest double (through its decimal text, which is
/// exactly what PostgreSQL's numeric_float8 does).
pub fn decimal_to_f64(d: &Numeric) -> f64 {
    d.to_f64()
}

/// float → numeric keeps `digits` significant digits (15 for float8, 6 for
/// float4), as PostgreSQL prints them with `%.*g`.
fn float_to_numeric(f: f64, digits: usize) -> Result<Value> {
    if f.is_nan() {
        return Ok(Value::NumericNaN);
    }
    if f.is_infinite() {
        return Ok(Value::Numeric(if f > 0.0 {
            Numeric::PosInf
        } else {
            Numeric::NegInf
        }));
    }
    let s = format!("{:.*e}", digits - 1, f);
    let n = match Numeric::parse(&s) {
        Some(n) => n?,
        None => return Err(out_of_range("numeric")),
    };
    // Trailing zeros of the fraction are not significant here (%g drops them).
    Ok(Value::Numeric(n.normalized()))
}

/// Rounds to `numeric(p, s)`: scale `s` (half away from zero), and at most
/// `p - s` integer digits, else 22003 "numeric field overflow".
pub fn apply_numeric_typmod(d: Numeric, p: u32, s: u32) -> Result<Numeric> {
    let field_overflow = |detail: String| {
        let mut e = Error::new(ErrorCode::NumericValueOutOfRange, "numeric field overflow");
        e.detail = Some(detail);
        e
    };
    if !d.is_finite() {
        return Err(field_overflow(format!(
            "A field with precision {p}, scale {s} cannot hold an infinite value."
        )));
    }
    let (p, s) = (p.min(MAX_PRECISION), s.min(p.min(MAX_PRECISION)));
    let r = d.set_scale(s);
    let int_digits = r.digits_and_exponent().map_or(0, |(_, exp)| exp.max(0)) as u32;
    if int_digits > p - s {
        return Err(field_overflow(if p == s {
            format!(
                "A field with precision {p}, scale {s} must round to an absolute value less than 1."
            )
        } else {
            format!(
                "A field with precision {p}, scale {s} must round to an absolute value less than 10^{}.",
                p - s
            )
        }));
    }
    Ok(r)
}

fn date_to_ts(d: i32) -> Result<i64> {
    Ok(match d {
        DATE_INFINITY => TS_INFINITY,
        DATE_NEG_INFINITY => TS_NEG_INFINITY,
        d => i64::from(d)
            .checked_mul(MICROS_PER_DAY)
            .filter(|t| *t < 9_223_371_331_200_000_000)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::DatetimeFieldOverflow,
                    "date out of range for timestamp",
                )
            })?,
    })
}

fn ts_to_date(t: i64) -> Result<i32> {
    Ok(match t {
        TS_INFINITY => DATE_INFINITY,
        TS_NEG_INFINITY => DATE_NEG_INFINITY,
        t => i32::try_from(t.div_euclid(MICROS_PER_DAY))
            .map_err(|_| Error::new(ErrorCode::DatetimeFieldOverflow, "date out of range"))?,
    })
}

/// PostgreSQL's type categories (pg_type.typcategory), which decide what
/// may mix in a common type.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Category {
    Bool,
    Numeric,
    String,
    DateTime,
    Timespan,
    User,
    Array,
    Unknown,
}

fn category(t: &DataType) -> Category {
    match t {
        DataType::Bool => Category::Bool,
        DataType::Int2
        | DataType::Int4
        | DataType::Int8
        | DataType::Float4
        | DataType::Float8
        | DataType::Numeric(_)
        | DataType::Oid => Category::Numeric,
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Name => {
            Category::String
        }
        DataType::Date | DataType::Time | DataType::Timestamp | DataType::Timestamptz => {
            Category::DateTime
        }
        DataType::Interval => Category::Timespan,
        DataType::Bytea | DataType::Uuid | DataType::Json | DataType::Jsonb => Category::User,
        DataType::Array(_) => Category::Array,
        DataType::Unknown => Category::Unknown,
    }
}

/// typispreferred: the type a category resolves to when in doubt.
fn preferred(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Float8
            | DataType::Oid
            | DataType::Text
            | DataType::Timestamptz
            | DataType::Interval
    )
}

/// The type without its modifier (`varchar(5)` → `varchar`).
fn base(t: &DataType) -> DataType {
    match t {
        DataType::Varchar(_) => DataType::Varchar(None),
        DataType::Char(_) => DataType::Char(None),
        DataType::Numeric(_) => DataType::Numeric(None),
        DataType::Array(e) => DataType::Array(Box::new(base(e))),
        t => t.clone(),
    }
}

/// The rank of a number type in the implicit-cast tower.
fn numeric_rank(t: &DataType) -> Option<u8> {
    Some(match t {
        DataType::Int2 => 0,
        DataType::Int4 => 1,
        DataType::Int8 => 2,
        DataType::Numeric(_) => 3,
        DataType::Float4 => 4,
        DataType::Float8 => 5,
        _ => return None,
    })
}

fn datetime_rank(t: &DataType) -> Option<u8> {
    Some(match t {
        DataType::Date => 0,
        DataType::Timestamp => 1,
        DataType::Timestamptz => 2,
        _ => return None,
    })
}

/// Whether PostgreSQL would cast `from` to `to` in `kind` context.
pub fn can_cast(from: &DataType, to: &DataType, kind: CastKind) -> bool {
    use DataType as T;
    let (f, t) = (base(from), base(to));
    if f == t || f == T::Unknown {
        return true;
    }
    // Implicit casts (pg_cast 'i'); assignment and explicit allow them too.
    let implicit = match (&f, &t) {
        _ if numeric_rank(&f)
            .zip(numeric_rank(&t))
            .is_some_and(|(a, b)| a < b) =>
        {
            true
        }
        (T::Int2 | T::Int4 | T::Int8, T::Oid) => true,
        _ if datetime_rank(&f)
            .zip(datetime_rank(&t))
            .is_some_and(|(a, b)| a < b) =>
        {
            true
        }
        (T::Time, T::Interval) => true,
        // Among the string types everything is implicit but name → char.
        (a, b) if a.is_string() && b.is_string() => true,
        (T::Array(a), T::Array(b)) => can_cast(a, b, CastKind::Implicit),
        _ => false,
    };
    if implicit {
        return true;
    }
    if kind == CastKind::Implicit {
        return false;
    }
    // Assignment casts (pg_cast 'a'), and I/O conversion to string types.
    let assignment = match (&f, &t) {
        _ if numeric_rank(&f).is_some() && numeric_rank(&t).is_some() => true,
        (T::Oid, T::Int4 | T::Int8) => true,
        _ if datetime_rank(&f).is_some() && datetime_rank(&t).is_some() => true,
        (T::Timestamp | T::Timestamptz | T::Interval, T::Time) => true,
        (T::Json, T::Jsonb) | (T::Jsonb, T::Json) => true,
        (_, b) if b.is_string() => true,
        (T::Array(a), T::Array(b)) => can_cast(a, b, CastKind::Assignment),
        _ => false,
    };
    if assignment {
        return true;
    }
    if kind == CastKind::Assignment {
        return false;
    }
    match (&f, &t) {
        (T::Int4 | T::Int2 | T::Int8, T::Bool) | (T::Bool, T::Int4) => true,
        (T::Jsonb, T::Bool | T::Int2 | T::Int4 | T::Int8 | T::Float4 | T::Float8) => true,
        (T::Jsonb, T::Numeric(_)) => true,
        (a, _) if a.is_string() => true,
        (T::Array(a), T::Array(b)) => can_cast(a, b, CastKind::Explicit),
        _ => false,
    }
}

/// The common type of a UNION column, CASE branches, an IN list,
/// COALESCE arguments (PostgreSQL's select_common_type); `Unknown` inputs
/// resolve to text when all are unknown. 42804 when there is none.
pub fn common_type(types: &[DataType]) -> Result<DataType> {
    common_type_in(types, "")
}

/// [`common_type`], naming the construct in the error as PostgreSQL does
/// (`CASE types text and integer cannot be matched`).
pub fn common_type_in(types: &[DataType], context: &str) -> Result<DataType> {
    let known: Vec<&DataType> = types.iter().filter(|t| **t != DataType::Unknown).collect();
    let Some(first) = known.first() else {
        return Ok(DataType::Text);
    };
    // All alike, modifiers included: keep them (select_common_typmod).
    if known.iter().all(|t| t == first) {
        return Ok((*first).clone());
    }
    let mut ptype = base(first);
    for t in &known[1..] {
        let n = base(t);
        if n == ptype {
            continue;
        }
        let (pc, nc) = (category(&ptype), category(&n));
        if pc != nc || (pc == Category::Array && !arrays_mix(&ptype, &n)) {
            return Err(Error::new(
                ErrorCode::DatatypeMismatch,
                format!(
                    "{context}{}types {} and {} cannot be matched",
                    if context.is_empty() { "" } else { " " },
                    ptype.display_name(),
                    n.display_name()
                ),
            ));
        }
        if !preferred(&ptype)
            && can_cast(&ptype, &n, CastKind::Implicit)
            && !can_cast(&n, &ptype, CastKind::Implicit)
        {
            ptype = n;
        }
    }
    Ok(ptype)
}

fn arrays_mix(a: &DataType, b: &DataType) -> bool {
    match (a, b) {
        (DataType::Array(x), DataType::Array(y)) => {
            common_type(&[(**x).clone(), (**y).clone()]).is_ok()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::pg_cases::sql_type;

    fn run(
        input: &str,
        from: &str,
        to: &str,
        kind: CastKind,
    ) -> std::result::Result<String, String> {
        let opts = FormatOptions::default();
        let ft = sql_type(from);
        let v = Value::from_text(&ft, input, &opts).expect("input");
        cast_typed(&v, &ft, &sql_type(to), kind, &opts)
            .map(|v| v.to_text(&opts).unwrap_or_else(|| "NULL".into()))
            .map_err(|e| e.message)
    }

    #[test]
    fn explicit_casts_match_postgres() {
        // Each checked against PostgreSQL 15 (`select 'x'::from::to`).
        for (input, from, to, pg) in [
            ("2.5", "numeric", "integer", Ok("3")),
            ("-2.5", "numeric", "integer", Ok("-3")),
            ("2.5", "double precision", "integer", Ok("2")),
            ("3.5", "double precision", "integer", Ok("4")),
            ("0.1", "double precision", "numeric", Ok("0.1")),
            (
                "1e20",
                "double precision",
                "numeric",
                Ok("100000000000000000000"),
            ),
            ("1.1", "real", "numeric", Ok("1.1")),
            (
                "12345678901234567",
                "double precision",
                "numeric",
                Ok("12345678901234600"),
            ),
            ("123.456", "numeric", "numeric(5,2)", Ok("123.46")),
            ("t", "boolean", "text", Ok("true")),
            ("abc", "character(5)", "text", Ok("abc")),
            ("abcdef", "text", "character varying(3)", Ok("abc")),
            ("ab", "text", "character(4)", Ok("ab  ")),
            (
                "1000.0",
                "numeric",
                "numeric(5,2)",
                Err("numeric field overflow"),
            ),
            (
                "99999.995",
                "numeric",
                "numeric(7,2)",
                Err("numeric field overflow"),
            ),
            (
                "NaN",
                "numeric",
                "integer",
                Err("cannot convert NaN to integer"),
            ),
            (
                "1e40",
                "double precision",
                "real",
                Err("value out of range: overflow"),
            ),
            (
                "1e-50",
                "double precision",
                "real",
                Err("value out of range: underflow"),
            ),
            (
                "3e9",
                "double precision",
                "integer",
                Err("integer out of range"),
            ),
            ("70000", "integer", "smallint", Err("smallint out of range")),
            ("NaN", "double precision", "numeric", Ok("NaN")),
            ("NaN", "numeric", "double precision", Ok("NaN")),
            ("1 day 25:00", "interval", "time", Ok("01:00:00")),
            (
                "2024-01-31",
                "date",
                "timestamp with time zone",
                Ok("2024-01-31 00:00:00+00"),
            ),
            ("2024-01-31 10:00", "timestamp", "date", Ok("2024-01-31")),
            ("5000000000", "bigint", "oid", Err("OID out of range")),
            ("-1", "integer", "oid", Ok("4294967295")),
            ("5", "integer", "boolean", Ok("t")),
            ("f", "boolean", "integer", Ok("0")),
            ("42", "text", "integer", Ok("42")),
            (
                "x",
                "text",
                "integer",
                Err("invalid input syntax for type integer: \"x\""),
            ),
            ("{1,2}", "integer[]", "text[]", Ok("{1,2}")),
            ("{1.5,2.5}", "numeric[]", "integer[]", Ok("{2,3}")),
            (
                r#"{"b":1,"a":2}"#,
                "json",
                "jsonb",
                Ok(r#"{"a": 2, "b": 1}"#),
            ),
            ("1.5", "real", "double precision", Ok("1.5")),
            ("123", "bigint", "numeric(5,1)", Ok("123.0")),
        ] {
            let got = run(input, from, to, CastKind::Explicit);
            assert_eq!(
                got,
                pg.map(str::to_string).map_err(str::to_string),
                "{input}::{from}::{to}"
            );
        }
    }

    #[test]
    fn assignment_checks_lengths() {
        assert_eq!(
            run(
                "abcdef",
                "text",
                "character varying(3)",
                CastKind::Assignment
            ),
            Err("value too long for type character varying(3)".into())
        );
        assert_eq!(
            run(
                "abc   ",
                "text",
                "character varying(3)",
                CastKind::Assignment
            ),
            Ok("abc".into())
        );
        assert_eq!(
            run("abcd", "text", "character(3)", CastKind::Assignment),
            Err("value too long for type character(3)".into())
        );
    }

    #[test]
    fn cast_contexts() {
        use DataType as T;
        assert!(can_cast(&T::Int4, &T::Int8, CastKind::Implicit));
        assert!(!can_cast(&T::Int8, &T::Int4, CastKind::Implicit));
        assert!(can_cast(&T::Int8, &T::Int4, CastKind::Assignment));
        assert!(can_cast(&T::Int4, &T::Text, CastKind::Assignment));
        assert!(!can_cast(&T::Text, &T::Int4, CastKind::Assignment));
        assert!(can_cast(&T::Text, &T::Int4, CastKind::Explicit));
        assert!(can_cast(&T::Unknown, &T::Date, CastKind::Implicit));
        assert!(!can_cast(&T::Bool, &T::Int8, CastKind::Explicit));
        assert!(can_cast(&T::Date, &T::Timestamptz, CastKind::Implicit));
        assert!(!can_cast(&T::Uuid, &T::Bytea, CastKind::Explicit));
    }

    #[test]
    fn common_types_match_postgres() {
        use DataType as T;
        let ct = |ts: &[T]| common_type(ts).map(|t| t.display_name());
        // Checked against PostgreSQL 15 with pg_typeof(coalesce(...)).
        assert_eq!(
            ct(&[T::Int4, T::Int8, T::Numeric(None)]).unwrap(),
            "numeric"
        );
        assert_eq!(ct(&[T::Float4, T::Numeric(None)]).unwrap(), "real");
        assert_eq!(
            ct(&[T::Date, T::Timestamp]).unwrap(),
            "timestamp without time zone"
        );
        assert_eq!(ct(&[T::Char(Some(3)), T::Varchar(None)]).unwrap(), "bpchar");
        assert_eq!(
            ct(&[T::Varchar(None), T::Text]).unwrap(),
            "character varying"
        );
        assert_eq!(ct(&[T::Text, T::Varchar(None)]).unwrap(), "text");
        assert_eq!(ct(&[T::Unknown, T::Unknown]).unwrap(), "text");
        assert_eq!(ct(&[T::Unknown, T::Int4]).unwrap(), "integer");
        assert_eq!(
            ct(&[T::Varchar(Some(5)), T::Varchar(Some(5))]).unwrap(),
            "character varying(5)"
        );
        assert_eq!(
            ct(&[T::Int4, T::Text]).unwrap_err().message,
            "types integer and text cannot be matched"
        );
    }
}
