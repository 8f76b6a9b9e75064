//! PostgreSQL's binary send/receive formats for every type: big-endian
//! integers and IEEE floats, numeric in base-10000 digits, times as
//! microseconds from 2000-01-01, jsonb behind a version byte, arrays behind
//! PostgreSQL's array header. Bad input is a 22P03 error, never a panic.

use super::Numeric;

use crate::error::{Error, ErrorCode, Result};
use crate::types::{json, DataType, Interval, Value};

fn bad(what: &str) -> Error {
    Error::new(
        ErrorCode::InvalidBinaryRepresentation,
        format!("incorrect binary data format: {what}"),
    )
}

fn exact<const N: usize>(b: &[u8], ty: &str) -> Result<[u8; N]> {
    b.try_into()
        .map_err(|_| bad(&format!("{ty} needs {N} bytes, got {}", b.len())))
}

fn utf8(b: &[u8]) -> Result<String> {
    String::from_utf8(b.to_vec()).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        Error::new(
            ErrorCode::CharacterNotInRepertoire,
            format!(
                "invalid byte sequence for encoding \"UTF8\": 0x{:02x}",
                b.get(at).copied().unwrap_or(0)
            ),
        )
    })
}

/// Decodes PostgreSQL binary format for `ty` (typreceive).
pub fn decode(ty: &DataType, b: &[u8]) -> Result<Value> {
    Ok(match ty {
        DataType::Bool => match b {
            [v] => Value::Bool(*v != 0),
            _ => return Err(bad("boolean needs 1 byte")),
        },
        DataType::Int2 => Value::Int2(i16::from_be_bytes(exact(b, "smallint")?)),
        DataType::Int4 => Value::Int4(i32::from_be_bytes(exact(b, "integer")?)),
        DataType::Int8 => Value::Int8(i64::from_be_bytes(exact(b, "bigint")?)),
        DataType::Oid => Value::Oid(u32::from_be_bytes(exact(b, "oid")?)),
        DataType::Float4 => Value::Float4(f32::from_be_bytes(exact(b, "real")?)),
        DataType::Float8 => Value::Float8(f64::from_be_bytes(exact(b, "double precision")?)),
        DataType::Numeric(_) => decode_numeric(b)?,
        DataType::Text
        | DataType::Varchar(_)
        | DataType::Char(_)
        | DataType::Name
        | DataType::Unknown => {
            let s = utf8(b)?;
            if s.contains('\0') {
                return Err(Error::new(
                    ErrorCode::CharacterNotInRepertoire,
                    "invalid byte sequence for encoding \"UTF8\": 0x00",
                ));
            }
            Value::Text(s)
        }
        DataType::Bytea => Value::Bytea(b.to_vec()),
        DataType::Date => Value::Date(i32::from_be_bytes(exact(b, "date")?)),
        DataType::Time => {
            let t = i64::from_be_bytes(exact(b, "time")?);
            if !(0..=super::MICROS_PER_DAY).contains(&t) {
                return Err(Error::new(
                    ErrorCode::NumericValueOutOfRange,
                    "time out of range",
                ));
            }
            Value::Time(t)
        }
        DataType::Timestamp => Value::Timestamp(i64::from_be_bytes(exact(b, "timestamp")?)),
        DataType::Timestamptz => Value::Timestamptz(i64::from_be_bytes(exact(b, "timestamptz")?)),
        DataType::Interval => {
            let a: [u8; 16] = exact(b, "interval")?;
            let mut micros = [0u8; 8];
            micros.copy_from_slice(&a[..8]);
            Value::Interval(Interval {
                micros: i64::from_be_bytes(micros),
                days: i32::from_be_bytes([a[8], a[9], a[10], a[11]]),
                months: i32::from_be_bytes([a[12], a[13], a[14], a[15]]),
            })
        }
        DataType::Uuid => Value::Uuid(exact(b, "uuid")?),
        DataType::Json => {
            let s = utf8(b)?;
            json::validate(&s)?;
            Value::Json(s)
        }
        DataType::Jsonb => match b.split_first() {
            Some((1, rest)) => Value::Json(json::normalize_jsonb(&utf8(rest)?)?),
            Some((v, _)) => {
                return Err(bad(&format!("unsupported jsonb version number {v}")));
            }
            None => return Err(bad("jsonb needs a version byte")),
        },
        DataType::Array(elem) => decode_array(elem, b)?,
    })
}

/// Encodes `v` in PostgreSQL binary format (typsend); `None` for NULL.
/// `Value::Json` goes out as jsonb (what [`Value::data_type`] reports); use
/// [`encode_as`] when the column is `json`.
pub fn encode(v: &Value) -> Option<Vec<u8>> {
    encode_as(v, &v.data_type()?)
}

/// Encodes `v` for a column of type `ty`: tells `json` from `jsonb` and
/// gives arrays their declared element type.
pub fn encode_as(v: &Value, ty: &DataType) -> Option<Vec<u8>> {
    // A value whose own type differs from the column's (an int4 in a
    // bigint column) is converted first, so the bytes match the OID the
    // client was told; a value that will not convert goes out as it is.
    if let Some(own) = v.data_type() {
        if needs_conversion(&own, ty) {
            if let Ok(c) = super::cast::cast(
                v,
                ty,
                super::cast::CastKind::Explicit,
                &super::FormatOptions::default(),
            ) {
                if c.data_type().is_some_and(|t| !needs_conversion(&t, ty)) {
                    return encode_as(&c, ty);
                }
            }
        }
    }
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => vec![u8::from(*b)],
        Value::Int2(i) => i.to_be_bytes().to_vec(),
        Value::Int4(i) => i.to_be_bytes().to_vec(),
        Value::Int8(i) => i.to_be_bytes().to_vec(),
        Value::Oid(o) => o.to_be_bytes().to_vec(),
        Value::Float4(f) => f.to_be_bytes().to_vec(),
        Value::Float8(f) => f.to_be_bytes().to_vec(),
        Value::Numeric(d) => encode_numeric(Some(d)),
        Value::NumericNaN => encode_numeric(None),
        Value::Text(s) => s.as_bytes().to_vec(),
        Value::Json(s) => {
            if *ty == DataType::Json {
                s.as_bytes().to_vec()
            } else {
                let mut out = Vec::with_capacity(s.len() + 1);
                out.push(1);
                out.extend_from_slice(s.as_bytes());
                out
            }
        }
        Value::Bytea(b) => b.clone(),
        Value::Date(d) => d.to_be_bytes().to_vec(),
        Value::Time(t) | Value::Timestamp(t) | Value::Timestamptz(t) => t.to_be_bytes().to_vec(),
        Value::Interval(i) => {
            let mut out = Vec::with_capacity(16);
            out.extend_from_slice(&i.micros.to_be_bytes());
            out.extend_from_slice(&i.days.to_be_bytes());
            out.extend_from_slice(&i.months.to_be_bytes());
            out
        }
        Value::Uuid(u) => u.to_vec(),
        Value::Array(_) => encode_array(v, ty),
    })
}

/// Whether a value of type `own` must be converted to go out as `ty`:
/// the binary formats differ (modifiers, and the string types among
/// themselves, do not matter; `json` values report `jsonb`).
fn needs_conversion(own: &DataType, ty: &DataType) -> bool {
    match (own, ty) {
        (_, DataType::Unknown) => false,
        (a, b) if a.is_string() && b.is_string() => false,
        (DataType::Jsonb, DataType::Json) => false,
        (DataType::Numeric(_), DataType::Numeric(_)) => false,
        (DataType::Array(a), DataType::Array(b)) => needs_conversion(a, b),
        (a, b) => a != b,
    }
}

/// Numeric's sign words.
const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

/// numeric_send: ndigits, weight (of the first base-10000 digit), sign,
/// dscale (decimal digits after the point), then the digits; `None` is NaN.
fn encode_numeric(d: Option<&Numeric>) -> Vec<u8> {
    let header = |nd: i16, weight: i16, sign: u16, dscale: u16| {
        let mut out = Vec::with_capacity(8);
        out.extend_from_slice(&nd.to_be_bytes());
        out.extend_from_slice(&weight.to_be_bytes());
        out.extend_from_slice(&sign.to_be_bytes());
        out.extend_from_slice(&dscale.to_be_bytes());
        out
    };
    let d = match d {
        None => return header(0, 0, NUMERIC_NAN, 0),
        Some(Numeric::PosInf) => return header(0, 0, NUMERIC_PINF, 0),
        Some(Numeric::NegInf) => return header(0, 0, NUMERIC_NINF, 0),
        Some(d) => d,
    };
    let scale = d.scale();
    let Some((digits, exp)) = d.digits_and_exponent() else {
        return header(0, 0, NUMERIC_POS, scale as u16);
    };
    let sign = if d.is_negative() {
        NUMERIC_NEG
    } else {
        NUMERIC_POS
    };
    // value = 0.digits × 10^exp; the first group holds the digits down to
    // 10^(4·weight), so pad the front to align exp to a multiple of 4.
    let weight = (exp - 1).div_euclid(4);
    let lead = (4 * (weight + 1) - exp) as usize;
    let mut padded = "0".repeat(lead);
    padded.push_str(&digits);
    while padded.len() % 4 != 0 {
        padded.push('0');
    }
    let groups: Vec<i16> = padded
        .as_bytes()
        .chunks(4)
        .map(|c| c.iter().fold(0i16, |a, b| a * 10 + i16::from(b - b'0')))
        .collect();
    let mut out = header(groups.len() as i16, weight as i16, sign, scale as u16);
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
    out
}

fn decode_numeric(b: &[u8]) -> Result<Value> {
    if b.len() < 8 {
        return Err(bad("numeric header is 8 bytes"));
    }
    let word = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let ndigits = word(0) as i16;
    let weight = i64::from(word(2) as i16);
    let sign = word(4);
    let dscale = word(6);
    if ndigits < 0 || b.len() != 8 + 2 * ndigits as usize {
        return Err(bad("numeric length does not match its digit count"));
    }
    match sign {
        NUMERIC_NAN => return Ok(Value::NumericNaN),
        NUMERIC_PINF => return Ok(Value::Numeric(Numeric::PosInf)),
        NUMERIC_NINF => return Ok(Value::Numeric(Numeric::NegInf)),
        NUMERIC_POS | NUMERIC_NEG => {}
        _ => return Err(bad("invalid sign in external \"numeric\" value")),
    }
    if dscale & 0xC000 != 0 {
        return Err(bad("invalid scale in external \"numeric\" value"));
    }
    let mut digits = String::new();
    if sign == NUMERIC_NEG {
        digits.push('-');
    }
    for i in 0..ndigits as usize {
        let g = word(8 + 2 * i);
        if g >= 10_000 {
            return Err(bad("invalid digit in external \"numeric\" value"));
        }
        digits.push_str(&format!("{g:04}"));
    }
    if ndigits == 0 {
        digits.push('0');
    }
    // value = digits × 10^(4·(weight+1) − 4·ndigits)
    let scale = 4 * i64::from(ndigits) - 4 * (weight + 1);
    let m = digits
        .parse::<bigdecimal::num_bigint::BigInt>()
        .map_err(|_| bad("invalid digit in external \"numeric\" value"))?;
    // Round or pad to the declared display scale.
    let d = bigdecimal::BigDecimal::new(m, scale)
        .with_scale_round(i64::from(dscale), bigdecimal::RoundingMode::HalfUp);
    Ok(Value::Numeric(Numeric::finite(d)?))
}

/// The shape of a (possibly nested) array value: its dimensions and its
/// elements in row-major order.
fn flatten<'a>(v: &'a Value, dims: &mut Vec<usize>, out: &mut Vec<&'a Value>, depth: usize) {
    if let Value::Array(items) = v {
        if dims.len() == depth {
            dims.push(items.len());
        }
        for item in items {
            if matches!(item, Value::Array(_)) && depth < 6 {
                flatten(item, dims, out, depth + 1);
            } else {
                out.push(item);
            }
        }
    }
}

/// array_send: ndim, has-nulls flag, element type OID, (length, lower bound)
/// per dimension, then each element as length + bytes (-1 for NULL).
fn encode_array(v: &Value, ty: &DataType) -> Vec<u8> {
    let mut dims = Vec::new();
    let mut elems = Vec::new();
    flatten(v, &mut dims, &mut elems, 0);
    let elem_ty = match ty {
        DataType::Array(e) => (**e).clone(),
        _ => elems
            .iter()
            .find_map(|e| e.data_type())
            .unwrap_or(DataType::Text),
    };
    let mut out = Vec::new();
    let ndim = if elems.is_empty() {
        0
    } else {
        dims.len() as i32
    };
    out.extend_from_slice(&ndim.to_be_bytes());
    out.extend_from_slice(&i32::from(elems.iter().any(|e| e.is_null())).to_be_bytes());
    out.extend_from_slice(&elem_ty.oid().to_be_bytes());
    if ndim > 0 {
        for d in &dims {
            out.extend_from_slice(&(*d as i32).to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
        }
    }
    for e in elems {
        match encode_as(e, &elem_ty) {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(bytes) => {
                out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                out.extend_from_slice(&bytes);
            }
        }
    }
    out
}

struct Cursor<'a> {
    b: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn i32(&mut self) -> Result<i32> {
        let (head, rest) = self
            .b
            .split_first_chunk::<4>()
            .ok_or_else(|| bad("array data is truncated"))?;
        self.b = rest;
        Ok(i32::from_be_bytes(*head))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.b.len() < n {
            return Err(bad("array element is truncated"));
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }
}

fn decode_array(elem: &DataType, b: &[u8]) -> Result<Value> {
    let mut c = Cursor { b };
    let ndim = c.i32()?;
    if !(0..=6).contains(&ndim) {
        return Err(bad(&format!("invalid number of dimensions: {ndim}")));
    }
    let flags = c.i32()?;
    if flags != 0 && flags != 1 {
        return Err(bad("invalid array flags"));
    }
    let oid = c.i32()? as u32;
    let declared = DataType::from_oid(oid);
    let compatible = match &declared {
        Some(d) => d.oid() == elem.oid() || (d.is_string() && elem.is_string()),
        None => false,
    };
    if !compatible {
        return Err(Error::new(
            ErrorCode::DatatypeMismatch,
            format!(
                "binary data has array element type {oid} instead of expected {}",
                elem.oid()
            ),
        ));
    }
    let mut dims = Vec::with_capacity(ndim as usize);
    let mut total: usize = 1;
    for _ in 0..ndim {
        let len = c.i32()?;
        let _lower = c.i32()?;
        if len < 0 {
            return Err(bad("negative array dimension"));
        }
        total = total.saturating_mul(len as usize);
        dims.push(len as usize);
    }
    if ndim == 0 {
        total = 0;
    }
    // Each element takes at least its 4-byte length: bound the allocation.
    if total > c.b.len() / 4 {
        return Err(bad("array has more elements than data"));
    }
    let mut flat = Vec::with_capacity(total);
    for _ in 0..total {
        let len = c.i32()?;
        if len == -1 {
            flat.push(Value::Null);
        } else if len < 0 {
            return Err(bad("invalid array element length"));
        } else {
            flat.push(decode(elem, c.take(len as usize)?)?);
        }
    }
    if !c.b.is_empty() {
        return Err(bad("trailing bytes after array data"));
    }
    Ok(nest(&mut flat.into_iter(), &dims))
}

/// Rebuilds nested arrays from row-major elements.
fn nest(flat: &mut impl Iterator<Item = Value>, dims: &[usize]) -> Value {
    match dims {
        [] => Value::Array(Vec::new()),
        [n] => Value::Array(flat.take(*n).collect()),
        [n, rest @ ..] => Value::Array((0..*n).map(|_| nest(flat, rest)).collect()),
    }
}
