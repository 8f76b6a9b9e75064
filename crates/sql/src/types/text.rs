//! PostgreSQL's text input and output functions for every type. Numbers,
//! strings, bytea and uuid live here; arrays in `array`, dates and times
//! in `datetime`, intervals in `interval`, JSON in `json`.

use std::fmt::Write;

use super::Numeric;

use crate::error::{Error, ErrorCode, Result};
use crate::types::{array, datetime, interval, json, DataType, FormatOptions, Value};

/// Parses `s` as a value of `ty` (typinput).
pub fn parse(ty: &DataType, s: &str, opts: &FormatOptions) -> Result<Value> {
    Ok(match ty {
        DataType::Bool => Value::Bool(parse_bool(s)?),
        DataType::Int2 => Value::Int2(parse_int(s, "smallint")?),
        DataType::Int4 => Value::Int4(parse_int(s, "integer")?),
        DataType::Int8 => Value::Int8(parse_int(s, "bigint")?),
        DataType::Oid => Value::Oid(parse_oid(s)?),
        DataType::Float4 => Value::Float4(parse_float(s, "real")? as f32),
        DataType::Float8 => Value::Float8(parse_float(s, "double precision")?),
        DataType::Numeric(typmod) => match (parse_numeric(s)?, typmod) {
            // numeric_in applies the column's precision and scale.
            (Value::Numeric(d), Some((p, sc))) => {
                Value::Numeric(super::cast::apply_numeric_typmod(d, *p, *sc)?)
            }
            (v, _) => v,
        },
        DataType::Text | DataType::Unknown => Value::Text(check_text(s)?.to_string()),
        DataType::Name => Value::Text(truncate_name(check_text(s)?).to_string()),
        DataType::Varchar(n) => Value::Text(fit_length(check_text(s)?, *n, false, true)?),
        DataType::Char(n) => Value::Text(fit_length(check_text(s)?, *n, true, true)?),
        DataType::Bytea => Value::Bytea(parse_bytea(s)?),
        DataType::Date => Value::Date(datetime::parse_date(s, opts)?),
        DataType::Time => Value::Time(datetime::parse_time(s, opts)?),
        DataType::Timestamp => Value::Timestamp(datetime::parse_timestamp(s, opts)?),
        DataType::Timestamptz => Value::Timestamptz(datetime::parse_timestamptz(s, opts)?),
        DataType::Interval => Value::Interval(interval::parse_interval(s)?),
        DataType::Uuid => Value::Uuid(parse_uuid(s)?),
        DataType::Json => {
            json::validate(s)?;
            Value::Json(s.to_string())
        }
        DataType::Jsonb => Value::Json(json::normalize_jsonb(s)?),
        DataType::Array(elem) => array::parse_array(elem, s, opts)?,
    })
}

/// Formats `v` as PostgreSQL prints it (typoutput); `None` for NULL.
pub fn format(v: &Value, opts: &FormatOptions) -> Option<String> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => (if *b { "t" } else { "f" }).to_string(),
        Value::Int2(i) => i.to_string(),
        Value::Int4(i) => i.to_string(),
        Value::Int8(i) => i.to_string(),
        Value::Oid(o) => o.to_string(),
        Value::Float4(f) => format_float4(*f, opts.extra_float_digits),
        Value::Float8(f) => format_float8(*f, opts.extra_float_digits),
        Value::Numeric(d) => format_numeric(d),
        Value::NumericNaN => "NaN".to_string(),
        Value::Text(s) | Value::Json(s) => s.clone(),
        Value::Bytea(b) => format_bytea(b, opts.bytea_hex),
        Value::Date(d) => datetime::format_date_styled(*d, opts),
        Value::Time(t) => datetime::format_time(*t),
        Value::Timestamp(t) => datetime::format_timestamp_styled(*t, None, opts),
        Value::Timestamptz(t) => {
            datetime::format_timestamp_styled(*t, Some(&datetime::session_zone(opts)), opts)
        }
        Value::Interval(i) => interval::format_interval_styled(i, &opts.interval_style),
        Value::Uuid(u) => format_uuid(u),
        Value::Array(items) => {
            let mut out = String::new();
            array::format_array(items, opts, &mut out);
            out
        }
    })
}

fn invalid(ty: &str, s: &str) -> Error {
    Error::new(
        ErrorCode::InvalidTextRepresentation,
        format!("invalid input syntax for type {ty}: \"{s}\""),
    )
}

fn out_of_range(ty: &str, s: &str) -> Error {
    Error::new(
        ErrorCode::NumericValueOutOfRange,
        format!("value \"{s}\" is out of range for type {ty}"),
    )
}

/// boolin: `t`/`true`/`yes`/`on`/`1` and their opposites, any case, any
/// unambiguous prefix, surrounding blanks ignored.
pub fn parse_bool(s: &str) -> Result<bool> {
    let t = s.trim().to_ascii_lowercase();
    let prefix_of = |word: &str, min: usize| t.len() >= min && word.starts_with(t.as_str());
    if prefix_of("true", 1) || prefix_of("yes", 1) || prefix_of("on", 2) || t == "1" {
        Ok(true)
    } else if prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || t == "0" {
        Ok(false)
    } else {
        Err(invalid("boolean", s))
    }
}

/// int2in/int4in/int8in: blanks around, an optional sign, decimal digits.
pub fn parse_int<T: TryFrom<i128>>(s: &str, ty: &str) -> Result<T> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(invalid(ty, s));
    }
    // Anything longer than 40 digits is out of range for every width.
    let v: i128 = if digits.trim_start_matches('0').len() > 38 {
        return Err(out_of_range(ty, s));
    } else {
        t.parse().map_err(|_| invalid(ty, s))?
    };
    T::try_from(v).map_err(|_| out_of_range(ty, s))
}

/// oidin: like an integer; negative values that fit an int4 wrap (-1 is
/// 4294967295).
fn parse_oid(s: &str) -> Result<u32> {
    let v: i64 = parse_int(s, "oid").map_err(|e| {
        if e.code == ErrorCode::NumericValueOutOfRange {
            out_of_range("oid", s)
        } else {
            e
        }
    })?;
    // C's strtoul wraps negatives; PostgreSQL keeps those that fit an int4.
    if v < i64::from(i32::MIN) || v > i64::from(u32::MAX) {
        return Err(out_of_range("oid", s));
    }
    Ok(v as u32)
}

/// float4in/float8in: decimal or exponent notation, `NaN`, `Infinity`,
/// `inf`, any case; 0 or infinity from finite digits is out of range.
pub fn parse_float(s: &str, ty: &str) -> Result<f64> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let lower = t.to_ascii_lowercase();
    let unsigned = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
    let neg = lower.starts_with('-');
    match unsigned {
        "nan" if unsigned.len() == lower.len() => return Ok(f64::NAN),
        "inf" | "infinity" => {
            return Ok(if neg {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        _ => {}
    }
    let valid = {
        let b = unsigned.as_bytes();
        let mut i = 0;
        let mut digits = 0;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
                digits += 1;
            }
        }
        if digits > 0 && i < b.len() && b[i] == b'e' {
            i += 1;
            if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                i += 1;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            digits = if i > start { digits } else { 0 };
        }
        digits > 0 && i == b.len()
    };
    if !valid {
        return Err(invalid(ty, s));
    }
    let v: f64 = lower.parse().map_err(|_| invalid(ty, s))?;
    let nonzero_digits = unsigned
        .split('e')
        .next()
        .is_some_and(|m| m.bytes().any(|c| (b'1'..=b'9').contains(&c)));
    let overflow = if ty == "real" {
        (v as f32).is_infinite() || (nonzero_digits && v as f32 == 0.0)
    } else {
        v.is_infinite() || (nonzero_digits && v == 0.0)
    };
    if overflow {
        return Err(Error::new(
            ErrorCode::NumericValueOutOfRange,
            format!("\"{t}\" is out of range for type {ty}"),
        ));
    }
    Ok(v)
}

/// numeric_in: decimal or exponent notation (scale kept), `NaN`,
/// `Infinity`.
pub fn parse_numeric(s: &str) -> Result<Value> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    if t.eq_ignore_ascii_case("nan") {
        return Ok(Value::NumericNaN);
    }
    match Numeric::parse(t) {
        Some(n) => n.map(Value::Numeric),
        None => Err(invalid("numeric", s)),
    }
}

/// numeric_out: the digits with the value's scale; no negative zero.
pub fn format_numeric(d: &Numeric) -> String {
    d.to_string()
}

/// Significant digits and the decimal exponent of the first one, from a
/// number printed in plain or `e` notation (`1.5e-5` and `0.000015` are
/// both ("15", -5)).
fn sci_parts(e: &str) -> (bool, String, i32) {
    let (neg, e) = match e.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, e),
    };
    let (m, x) = e.split_once(['e', 'E']).unwrap_or((e, "0"));
    let x: i32 = x.parse().unwrap_or(0);
    let (int, frac) = m.split_once('.').unwrap_or((m, ""));
    let all = format!("{int}{frac}");
    let lead = all.bytes().take_while(|&c| c == b'0').count();
    let digits = all[lead..].trim_end_matches('0');
    if digits.is_empty() {
        return (neg, "0".to_string(), 0);
    }
    (
        neg,
        digits.to_string(),
        int.len() as i32 - 1 - lead as i32 + x,
    )
}

/// Digits and exponent laid out as PostgreSQL does: fixed notation when
/// `-4 <= exp < fixed_limit`, else `d.ddde+XX`.
fn layout(neg: bool, digits: &str, exp: i32, fixed_limit: i32) -> String {
    let mut out = String::with_capacity(digits.len() + 8);
    if neg {
        out.push('-');
    }
    if exp < -4 || exp >= fixed_limit {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    } else if exp < 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-exp - 1) as usize));
        out.push_str(digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(digits);
            out.push_str(&"0".repeat(int_len - digits.len()));
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

/// The shortest digits that read back as the float, as PostgreSQL's Ryu
/// finds them. Ryu proper (the `ryu` crate) also accepts a decimal lying
/// exactly halfway to a neighbour, which reads back only through
/// ties-to-even; PostgreSQL's copy does not, and prints more digits
/// (`18014398509481992` rather than `18014398509481990`). `reads_back`
/// says whether a decimal string parses to the float.
fn shortest(f: f64, ryu_text: &str, reads_back: impl Fn(&str) -> bool) -> (bool, String, i32) {
    let (neg, digits, exp) = sci_parts(ryu_text);
    let sign = if neg { "-" } else { "" };
    // A decimal exactly on the boundary stops reading back when nudged far
    // below its last digit, one way or the other.
    let on_boundary = |d: &str, e: i32| {
        let up = format!("{sign}0.{d}{}1e{}", "0".repeat(30), e + 1);
        let last = d.len() - 1;
        let lowered = d.as_bytes()[last] - 1;
        let down = format!(
            "{sign}0.{}{}{}e{}",
            &d[..last],
            lowered as char,
            "9".repeat(31),
            e + 1
        );
        !reads_back(&up) || !reads_back(&down)
    };
    if digits == "0" || !on_boundary(&digits, exp) {
        return (neg, digits, exp);
    }
    for p in digits.len() + 1..=17 {
        let (_, d, e) = sci_parts(&format!("{:.*e}", p - 1, f));
        if d != "0" && reads_back(&format!("{sign}0.{d}e{}", e + 1)) && !on_boundary(&d, e) {
            return (neg, d, e);
        }
    }
    (neg, digits, exp)
}

/// `%.{precision}g` as C prints it.
fn format_g(f: f64, precision: usize) -> String {
    let p = precision.max(1);
    let (neg, digits, exp) = sci_parts(&format!("{:.*e}", p - 1, f));
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    layout(neg, digits, exp, p as i32)
}

fn special_float(f: f64) -> Option<String> {
    if f.is_nan() {
        Some("NaN".into())
    } else if f.is_infinite() {
        Some(if f > 0.0 { "Infinity" } else { "-Infinity" }.into())
    } else {
        None
    }
}

/// float8out: shortest round-trip digits when extra_float_digits > 0
/// (PostgreSQL 12+), else `%.{15 + extra_float_digits}g`.
pub fn format_float8(f: f64, extra_float_digits: i32) -> String {
    if let Some(s) = special_float(f) {
        return s;
    }
    if extra_float_digits > 0 {
        let (neg, digits, exp) = shortest(f, ryu::Buffer::new().format_finite(f), |s| {
            s.parse::<f64>().ok() == Some(f)
        });
        return layout(neg, &digits, exp, 15);
    }
    format_g(f, (15 + extra_float_digits).max(1) as usize)
}

/// float4out: as float8out with 6 significant digits as the base.
pub fn format_float4(f: f32, extra_float_digits: i32) -> String {
    if let Some(s) = special_float(f64::from(f)) {
        return s;
    }
    if extra_float_digits > 0 {
        let (neg, digits, exp) = shortest(f64::from(f), ryu::Buffer::new().format_finite(f), |s| {
            s.parse::<f32>().ok() == Some(f)
        });
        return layout(neg, &digits, exp, 6);
    }
    format_g(f64::from(f), (6 + extra_float_digits).max(1) as usize)
}

/// PostgreSQL text cannot hold NUL bytes.
fn check_text(s: &str) -> Result<&str> {
    if s.contains('\0') {
        return Err(Error::new(
            ErrorCode::CharacterNotInRepertoire,
            "invalid byte sequence for encoding \"UTF8\": 0x00",
        ));
    }
    Ok(s)
}

/// `name` keeps at most 63 bytes (NAMEDATALEN - 1), cut on a character.
pub fn truncate_name(s: &str) -> &str {
    if s.len() <= 63 {
        return s;
    }
    let mut end = 63;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Applies a `varchar(n)`/`char(n)` length: trailing blanks beyond `n` are
/// cut; other characters beyond it are an error when `strict` (input and
/// assignment) and cut otherwise (explicit casts). `char(n)` pads to `n`.
pub fn fit_length(s: &str, n: Option<u32>, pad: bool, strict: bool) -> Result<String> {
    let Some(n) = n else {
        return Ok(s.to_string());
    };
    let n = n as usize;
    let len = s.chars().count();
    if len > n {
        let (cut, rest) = match s.char_indices().nth(n) {
            Some((i, _)) => (&s[..i], &s[i..]),
            None => (s, ""),
        };
        if strict && !rest.chars().all(|c| c == ' ') {
            return Err(Error::new(
                ErrorCode::StringDataRightTruncation,
                format!(
                    "value too long for type {}({n})",
                    if pad {
                        "character"
                    } else {
                        "character varying"
                    }
                ),
            ));
        }
        return Ok(cut.to_string());
    }
    let mut out = s.to_string();
    if pad {
        out.extend(std::iter::repeat_n(' ', n - len));
    }
    Ok(out)
}

/// byteain: `\x` hex (blanks allowed between byte pairs) or the escape
/// format (`\\`, `\ooo`, other bytes as they are).
pub fn parse_bytea(s: &str) -> Result<Vec<u8>> {
    if let Some(hex) = s.strip_prefix("\\x") {
        let mut out = Vec::with_capacity(hex.len() / 2);
        let b = hex.as_bytes();
        let mut i = 0;
        let val = |c: u8| (c as char).to_digit(16);
        while i < b.len() {
            if b[i].is_ascii_whitespace() {
                i += 1;
                continue;
            }
            let bad = |at: usize| {
                let ch = hex.get(at..).and_then(|r| r.chars().next()).unwrap_or('?');
                Error::new(
                    ErrorCode::InvalidTextRepresentation,
                    format!("invalid hexadecimal digit: \"{ch}\""),
                )
            };
            let hi = val(b[i]).ok_or_else(|| bad(i))?;
            let Some(&lo_c) = b.get(i + 1) else {
                return Err(Error::new(
                    ErrorCode::InvalidTextRepresentation,
                    "invalid hexadecimal data: odd number of digits",
                ));
            };
            let lo = val(lo_c).ok_or_else(|| bad(i + 1))?;
            i += 1;
            out.push((hi * 16 + lo) as u8);
            i += 1;
        }
        return Ok(out);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
        } else if b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if i + 3 < b.len()
            && (b'0'..=b'3').contains(&b[i + 1])
            && (b'0'..=b'7').contains(&b[i + 2])
            && (b'0'..=b'7').contains(&b[i + 3])
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            return Err(Error::new(
                ErrorCode::InvalidTextRepresentation,
                "invalid input syntax for type bytea",
            ));
        }
    }
    Ok(out)
}

/// byteaout: `\x0102` (hex) or the escape format.
pub fn format_bytea(b: &[u8], hex: bool) -> String {
    let mut out = String::with_capacity(2 + b.len() * 2);
    if hex {
        out.push_str("\\x");
        for c in b {
            let _ = write!(out, "{c:02x}");
        }
    } else {
        for &c in b {
            match c {
                b'\\' => out.push_str("\\\\"),
                0x20..=0x7e => out.push(c as char),
                _ => {
                    let _ = write!(out, "\\{c:03o}");
                }
            }
        }
    }
    out
}

/// uuid_in: 32 hex digits, a hyphen allowed after any group of four,
/// optionally in braces.
pub fn parse_uuid(s: &str) -> Result<[u8; 16]> {
    let bad = || invalid("uuid", s);
    let mut b = s.as_bytes();
    let braces = b.first() == Some(&b'{');
    if braces {
        b = &b[1..];
    }
    let mut out = [0u8; 16];
    let mut pos = 0;
    for (i, byte) in out.iter_mut().enumerate() {
        let pair = b.get(pos..pos + 2).ok_or_else(bad)?;
        let hi = (pair[0] as char).to_digit(16).ok_or_else(bad)?;
        let lo = (pair[1] as char).to_digit(16).ok_or_else(bad)?;
        *byte = (hi * 16 + lo) as u8;
        pos += 2;
        if b.get(pos) == Some(&b'-') && i % 2 == 1 && i < 15 {
            pos += 1;
        }
    }
    if braces {
        if b.get(pos) != Some(&b'}') {
            return Err(bad());
        }
        pos += 1;
    }
    if pos != b.len() {
        return Err(bad());
    }
    Ok(out)
}

pub fn format_uuid(u: &[u8; 16]) -> String {
    let mut out = String::with_capacity(36);
    for (i, c) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        let _ = write!(out, "{c:02x}");
    }
    out
}
