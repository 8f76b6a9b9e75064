//! Memcomparable key encoding: encoded keys sort, as bytes, in the order of
//! the values (NULL after everything, as in an ascending PostgreSQL index).
//!
//! Each value starts with a tag (0x01 present, 0x02 NULL). Integers of every
//! width encode as the same 8 bytes, so a lookup with an `int8` parameter
//! finds an `int4` key. Strings escape 0x00 as 0x00 0xFF and end with
//! 0x00 0x01, so a string sorts before its extensions. Numerics encode sign,
//! decimal exponent and normalised digits, so 1.5, 1.50 and 1.500 encode
//! alike and sort by value.

use bigdecimal::num_bigint::BigInt;
use bigdecimal::BigDecimal;

use crate::error::{Error, ErrorCode, Result};
use crate::types::{DataType, Interval, Numeric, Value};

const PRESENT: u8 = 0x01;
const NULL: u8 = 0x02;

/// Appends `v`'s key encoding to `out`.
pub fn encode_key(v: &Value, out: &mut Vec<u8>) {
    if v.is_null() {
        out.push(NULL);
        return;
    }
    out.push(PRESENT);
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push(u8::from(*b)),
        Value::Int2(i) => int(i64::from(*i), out),
        Value::Int4(i) => int(i64::from(*i), out),
        Value::Int8(i) => int(*i, out),
        Value::Oid(o) => int(i64::from(*o), out),
        Value::Float4(f) => float(f64::from(*f), out),
        Value::Float8(f) => float(*f, out),
        Value::Numeric(d) => numeric(Some(d), out),
        Value::NumericNaN => numeric(None, out),
        Value::Text(s) | Value::Json(s) => bytes(s.as_bytes(), out),
        Value::Bytea(b) => bytes(b, out),
        Value::Date(d) => out.extend_from_slice(&((*d as u32) ^ (1 << 31)).to_be_bytes()),
        Value::Time(t) | Value::Timestamp(t) | Value::Timestamptz(t) => int(*t, out),
        Value::Interval(i) => {
            let key = (i128::from(i.months) * 30 + i128::from(i.days))
                * i128::from(super::MICROS_PER_DAY)
                + i128::from(i.micros);
            out.extend_from_slice(&((key as u128) ^ (1 << 127)).to_be_bytes());
            out.extend_from_slice(&((i.months as u32) ^ (1 << 31)).to_be_bytes());
            out.extend_from_slice(&((i.days as u32) ^ (1 << 31)).to_be_bytes());
            int(i.micros, out);
        }
        Value::Uuid(u) => out.extend_from_slice(u),
        Value::Array(items) => {
            for item in items {
                encode_key(item, out);
            }
            out.push(0x00);
        }
    }
}

fn int(i: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(&((i as u64) ^ (1 << 63)).to_be_bytes());
}

fn float(f: f64, out: &mut Vec<u8>) {
    // -0 is 0, and every NaN is the one NaN, greater than everything.
    let f = if f == 0.0 {
        0.0
    } else if f.is_nan() {
        f64::NAN
    } else {
        f
    };
    let bits = f.to_bits();
    let key = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    out.extend_from_slice(&key.to_be_bytes());
}

fn bytes(b: &[u8], out: &mut Vec<u8>) {
    for &c in b {
        out.push(c);
        if c == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

/// Numerics: a class byte (negative 0x01, zero 0x02, positive 0x03, NaN
/// 0x04), then for non-zero values the decimal exponent (value = 0.d1d2... ×
/// 10^exp) and the digits as bytes 1..=10 ended by 0x00 — all inverted for
/// negatives, so larger magnitudes sort first there. The exponent is two
/// bytes (biased i16); 0xFFFF escapes to four more bytes for exponents of
/// 32767 and up, and 0xFFFF 0xFFFFFFFF with no digits is Infinity (inverted
/// under the negative class, -Infinity), so keys of numerics of at most 28
/// digits are as before.
fn numeric(d: Option<&Numeric>, out: &mut Vec<u8>) {
    let Some(d) = d else {
        out.push(0x04);
        return;
    };
    let mut body = Vec::new();
    match d.digits_and_exponent() {
        None if d.is_finite() => {
            out.push(0x02);
            return;
        }
        None => body.extend_from_slice(&[0xFF; 6]),
        Some((digits, exp)) => {
            if exp >= i64::from(EXP_ESCAPE) {
                body.extend_from_slice(&[0xFF, 0xFF]);
                body.extend_from_slice(&(exp as u32).to_be_bytes());
            } else {
                body.extend_from_slice(&((exp as i16 as u16) ^ (1 << 15)).to_be_bytes());
            }
            body.extend(digits.bytes().map(|c| c - b'0' + 1));
            body.push(0x00);
        }
    }
    if d.is_negative() {
        out.push(0x01);
        out.extend(body.iter().map(|b| !b));
    } else {
        out.push(0x03);
        out.extend_from_slice(&body);
    }
}

/// The smallest exponent written with the four-byte escape.
const EXP_ESCAPE: i16 = i16::MAX;

fn corrupt(what: &str) -> Error {
    Error::new(ErrorCode::IoError, format!("corrupt index key: {what}"))
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
    if input.len() < n {
        return Err(corrupt("truncated"));
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

fn take_u64(input: &mut &[u8]) -> Result<u64> {
    let b = take(input, 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(u64::from_be_bytes(a))
}

fn take_int(input: &mut &[u8]) -> Result<i64> {
    Ok((take_u64(input)? ^ (1 << 63)) as i64)
}

fn take_u32(input: &mut &[u8]) -> Result<u32> {
    let b = take(input, 4)?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn take_bytes(input: &mut &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let c = take(input, 1)?[0];
        if c != 0 {
            out.push(c);
            continue;
        }
        match take(input, 1)?[0] {
            0xFF => out.push(0),
            0x01 => return Ok(out),
            _ => return Err(corrupt("bad string escape")),
        }
    }
}

fn take_numeric(input: &mut &[u8]) -> Result<Value> {
    let class = take(input, 1)?[0];
    let negative = match class {
        0x02 => return Ok(Value::Numeric(Numeric::zero())),
        0x04 => return Ok(Value::NumericNaN),
        0x01 => true,
        0x03 => false,
        _ => return Err(corrupt("bad numeric class")),
    };
    let fix = |b: u8| if negative { !b } else { b };
    let e = take(input, 2)?;
    let short = u16::from_be_bytes([fix(e[0]), fix(e[1])]);
    let exp = if short == u16::MAX {
        let w = take(input, 4)?;
        let long = u32::from_be_bytes([fix(w[0]), fix(w[1]), fix(w[2]), fix(w[3])]);
        if long == u32::MAX {
            return Ok(Value::Numeric(if negative {
                Numeric::NegInf
            } else {
                Numeric::PosInf
            }));
        }
        i64::from(long)
    } else {
        i64::from((short ^ (1 << 15)) as i16)
    };
    let mut digits = String::new();
    if negative {
        digits.push('-');
    }
    loop {
        let b = fix(take(input, 1)?[0]);
        if b == 0 {
            break;
        }
        if !(1..=10).contains(&b) {
            return Err(corrupt("bad numeric digit"));
        }
        digits.push((b'0' + b - 1) as char);
    }
    let count = digits.trim_start_matches('-').len() as i64;
    let m: BigInt = digits.parse().map_err(|_| corrupt("bad numeric digits"))?;
    let d = Numeric::finite(BigDecimal::new(m, count - exp))
        .map_err(|_| corrupt("numeric out of range"))?;
    Ok(Value::Numeric(d))
}

/// Reads one value of type `ty` from the front of `input`, advancing it.
pub fn decode_key(ty: &DataType, input: &mut &[u8]) -> Result<Value> {
    match take(input, 1)?[0] {
        NULL => return Ok(Value::Null),
        PRESENT => {}
        _ => return Err(corrupt("bad tag")),
    }
    Ok(match ty {
        DataType::Bool => Value::Bool(take(input, 1)?[0] != 0),
        DataType::Int2 => Value::Int2(
            i16::try_from(take_int(input)?).map_err(|_| corrupt("smallint out of range"))?,
        ),
        DataType::Int4 => Value::Int4(
            i32::try_from(take_int(input)?).map_err(|_| corrupt("integer out of range"))?,
        ),
        DataType::Int8 => Value::Int8(take_int(input)?),
        DataType::Oid => {
            Value::Oid(u32::try_from(take_int(input)?).map_err(|_| corrupt("oid out of range"))?)
        }
        DataType::Float4 | DataType::Float8 => {
            let key = take_u64(input)?;
            let bits = if key >> 63 == 1 {
                key & !(1 << 63)
            } else {
                !key
            };
            let f = f64::from_bits(bits);
            if *ty == DataType::Float4 {
                Value::Float4(f as f32)
            } else {
                Value::Float8(f)
            }
        }
        DataType::Numeric(_) => take_numeric(input)?,
        DataType::Text
        | DataType::Varchar(_)
        | DataType::Char(_)
        | DataType::Name
        | DataType::Unknown => Value::Text(
            String::from_utf8(take_bytes(input)?).map_err(|_| corrupt("invalid UTF-8"))?,
        ),
        DataType::Json | DataType::Jsonb => Value::Json(
            String::from_utf8(take_bytes(input)?).map_err(|_| corrupt("invalid UTF-8"))?,
        ),
        DataType::Bytea => Value::Bytea(take_bytes(input)?),
        DataType::Date => Value::Date((take_u32(input)? ^ (1 << 31)) as i32),
        DataType::Time => Value::Time(take_int(input)?),
        DataType::Timestamp => Value::Timestamp(take_int(input)?),
        DataType::Timestamptz => Value::Timestamptz(take_int(input)?),
        DataType::Interval => {
            take(input, 16)?;
            let months = (take_u32(input)? ^ (1 << 31)) as i32;
            let days = (take_u32(input)? ^ (1 << 31)) as i32;
            let micros = take_int(input)?;
            Value::Interval(Interval {
                months,
                days,
                micros,
            })
        }
        DataType::Uuid => {
            let mut u = [0u8; 16];
            u.copy_from_slice(take(input, 16)?);
            Value::Uuid(u)
        }
        DataType::Array(elem) => {
            let mut items = Vec::new();
            while input.first().copied() != Some(0x00) {
                if input.is_empty() {
                    return Err(corrupt("unterminated array"));
                }
                items.push(decode_key(elem, input)?);
            }
            take(input, 1)?;
            Value::Array(items)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Ordering;

    fn key(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        encode_key(v, &mut out);
        out
    }

    fn roundtrip(ty: &DataType, v: &Value) -> Value {
        let k = key(v);
        let mut input = k.as_slice();
        let back = decode_key(ty, &mut input).expect("decode");
        assert!(input.is_empty(), "all bytes used");
        back
    }

    #[test]
    fn numerics_order_and_normalise() {
        let d = |s: &str| Value::Numeric(Numeric::parse(s).unwrap().unwrap());
        // m × 10^-scale, beyond what a literal's exponent may say.
        let e = |m: i64, scale: i64| {
            Value::Numeric(Numeric::finite(BigDecimal::new(BigInt::from(m), scale)).unwrap())
        };
        let values = [
            Value::Numeric(Numeric::NegInf),
            e(-1, -131071),
            e(-1, -40000),
            e(-1, -32766),
            d("-1000"),
            d("-1.5"),
            d("-1.05"),
            d("-0.001"),
            e(-1, 16383),
            d("0"),
            e(1, 16383),
            d("0.001"),
            d("1"),
            d("1.05"),
            d("1.5"),
            d("1.50001"),
            d("2"),
            d("1000"),
            d("123456789012345678901234567890.123"),
            e(1, -32766),
            e(1, -32767),
            e(15, -39999),
            e(1, -131071),
            Value::Numeric(Numeric::PosInf),
            Value::NumericNaN,
            Value::Null,
        ];
        for w in values.windows(2) {
            assert!(key(&w[0]) < key(&w[1]), "{:?} < {:?}", w[0], w[1]);
        }
        for v in &values {
            assert_eq!(&roundtrip(&DataType::Numeric(None), v), v);
        }
        assert_eq!(key(&d("1.5")), key(&d("1.500")));
        assert_eq!(
            roundtrip(&DataType::Numeric(None), &d("-123.45")),
            d("-123.45")
        );
        assert_eq!(roundtrip(&DataType::Numeric(None), &d("1200")), d("1200"));
    }

    #[test]
    fn strings_with_zero_bytes_and_prefixes() {
        let t = |s: &str| Value::Text(s.to_string());
        assert!(key(&t("ab")) < key(&t("ab\0")));
        assert!(key(&t("ab\0")) < key(&t("abc")));
        assert!(key(&t("")) < key(&t("a")));
        assert_eq!(roundtrip(&DataType::Text, &t("a\0b")), t("a\0b"));
    }

    #[test]
    fn ints_of_every_width_encode_alike() {
        assert_eq!(key(&Value::Int4(7)), key(&Value::Int8(7)));
        assert_eq!(
            roundtrip(&DataType::Int4, &Value::Int8(-7)),
            Value::Int4(-7)
        );
        let mut bad = key(&Value::Int8(i64::MAX));
        let mut input = bad.as_mut_slice() as &[u8];
        assert!(decode_key(&DataType::Int2, &mut input).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        for ty in [
            DataType::Int4,
            DataType::Numeric(None),
            DataType::Text,
            DataType::Interval,
            DataType::Array(Box::new(DataType::Int4)),
        ] {
            for bytes in [&[][..], &[1], &[1, 3, 0xff], &[1, 1, 0, 0], &[7, 7, 7]] {
                let mut input = bytes;
                let _ = decode_key(&ty, &mut input);
            }
        }
    }

    proptest! {
        #[test]
        fn int_order(a: i64, b: i64) {
            prop_assert_eq!(key(&Value::Int8(a)).cmp(&key(&Value::Int8(b))), a.cmp(&b));
        }

        #[test]
        fn float_order(a in proptest::num::f64::ANY, b in proptest::num::f64::ANY) {
            let (va, vb) = (Value::Float8(a), Value::Float8(b));
            prop_assert_eq!(key(&va).cmp(&key(&vb)), va.total_cmp(&vb));
        }

        #[test]
        fn numeric_order(a in -1_000_000_000i64..1_000_000_000, sa in 0u32..8, b in -1_000_000_000i64..1_000_000_000, sb in 0u32..8) {
            let (va, vb) = (Value::Numeric(Numeric::from_scaled(i128::from(a), sa)), Value::Numeric(Numeric::from_scaled(i128::from(b), sb)));
            prop_assert_eq!(key(&va).cmp(&key(&vb)), va.total_cmp(&vb));
            prop_assert_eq!(roundtrip(&DataType::Numeric(None), &va).total_cmp(&va), Ordering::Equal);
        }

        #[test]
        fn text_order(a: String, b: String) {
            let (va, vb) = (Value::Text(a.clone()), Value::Text(b.clone()));
            prop_assert_eq!(key(&va).cmp(&key(&vb)), a.as_bytes().cmp(b.as_bytes()));
            prop_assert_eq!(roundtrip(&DataType::Text, &va), va);
        }

        #[test]
        fn composite_order(a: (i32, String), b: (i32, String)) {
            let ka = [key(&Value::Int4(a.0)), key(&Value::Text(a.1.clone()))].concat();
            let kb = [key(&Value::Int4(b.0)), key(&Value::Text(b.1.clone()))].concat();
            let expected = a.0.cmp(&b.0).then(a.1.as_bytes().cmp(b.1.as_bytes()));
            prop_assert_eq!(ka.cmp(&kb), expected);
        }

        #[test]
        fn wide_numeric_order(a in -(1i128 << 95)..(1i128 << 95), sa in 0u32..=28, b in -(1i128 << 95)..(1i128 << 95), sb in 0u32..=28) {
            let d = Numeric::from_scaled;
            let (va, vb) = (Value::Numeric(d(a, sa)), Value::Numeric(d(b, sb)));
            prop_assert_eq!(key(&va).cmp(&key(&vb)), va.total_cmp(&vb));
            prop_assert_eq!(roundtrip(&DataType::Numeric(None), &va).total_cmp(&va), Ordering::Equal);
            prop_assert!(key(&va) < key(&Value::NumericNaN));
        }

        #[test]
        fn time_order(a: i64, b: i64, da: i32, db: i32) {
            for (va, vb, ty) in [
                (Value::Timestamp(a), Value::Timestamp(b), DataType::Timestamp),
                (Value::Timestamptz(a), Value::Timestamptz(b), DataType::Timestamptz),
                (Value::Time(a), Value::Time(b), DataType::Time),
                (Value::Date(da), Value::Date(db), DataType::Date),
            ] {
                prop_assert_eq!(key(&va).cmp(&key(&vb)), va.total_cmp(&vb));
                prop_assert_eq!(roundtrip(&ty, &va), va);
            }
        }

        #[test]
        fn interval_order(a: (i32, i32, i64), b: (i32, i32, i64)) {
            let iv = |(months, days, micros): (i32, i32, i64)| Value::Interval(Interval { months, days, micros });
            let (va, vb) = (iv(a), iv(b));
            // Equal spans (1 mon = 30 days) compare equal but keep their
            // fields apart in the key, so only strict order must agree.
            if va.total_cmp(&vb) != Ordering::Equal {
                prop_assert_eq!(key(&va).cmp(&key(&vb)), va.total_cmp(&vb));
            }
            prop_assert_eq!(format!("{:?}", roundtrip(&DataType::Interval, &va)), format!("{va:?}"));
        }

        #[test]
        fn float4_order(a in proptest::num::f32::ANY, b in proptest::num::f32::ANY) {
            let (va, vb) = (Value::Float4(a), Value::Float4(b));
            prop_assert_eq!(key(&va).cmp(&key(&vb)), va.total_cmp(&vb));
        }

        #[test]
        fn decoding_random_bytes_never_panics(bytes: Vec<u8>) {
            for ty in [DataType::Int4, DataType::Float8, DataType::Numeric(None), DataType::Text, DataType::Date, DataType::Interval, DataType::Uuid] {
                let mut input = bytes.as_slice();
                let _ = decode_key(&ty, &mut input);
            }
        }
    }
}
