//! The row encoding: a self-describing, compact binary form of a row's
//! values (each value carries its type tag), so rows written before an
//! `ALTER TABLE ADD COLUMN` still decode (with fewer values).
//!
//! Format: a version byte, then per value a tag byte and its payload
//! (fixed-width little-endian numbers; variable-length data behind a
//! LEB128 length).

use bigdecimal::num_bigint::BigInt;
use bigdecimal::BigDecimal;

use crate::error::{Error, ErrorCode, Result};
use crate::types::{Interval, Numeric, Value};

const VERSION: u8 = 1;

mod tag {
    pub const NULL: u8 = 0;
    pub const FALSE: u8 = 1;
    pub const TRUE: u8 = 2;
    pub const INT2: u8 = 3;
    pub const INT4: u8 = 4;
    pub const INT8: u8 = 5;
    pub const FLOAT4: u8 = 6;
    pub const FLOAT8: u8 = 7;
    /// A numeric of at most 28 digits as rust_decimal's 16 bytes: written
    /// by older versions, still read.
    pub const NUMERIC: u8 = 8;
    pub const NUMERIC_NAN: u8 = 9;
    pub const TEXT: u8 = 10;
    pub const BYTEA: u8 = 11;
    pub const DATE: u8 = 12;
    pub const TIME: u8 = 13;
    pub const TIMESTAMP: u8 = 14;
    pub const TIMESTAMPTZ: u8 = 15;
    pub const INTERVAL: u8 = 16;
    pub const UUID: u8 = 17;
    pub const JSON: u8 = 18;
    pub const OID: u8 = 19;
    pub const ARRAY: u8 = 20;
    /// An arbitrary-precision numeric: the scale as a varint, then the
    /// mantissa's two's-complement little-endian bytes behind a length.
    pub const NUMERIC_BIG: u8 = 21;
    pub const NUMERIC_PINF: u8 = 22;
    pub const NUMERIC_NINF: u8 = 23;
}

/// Encodes a row.
pub fn encode_row(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + values.len() * 9);
    out.push(VERSION);
    for v in values {
        encode_value(v, &mut out);
    }
    out
}

fn varint(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn encode_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(tag::NULL),
        Value::Bool(false) => out.push(tag::FALSE),
        Value::Bool(true) => out.push(tag::TRUE),
        Value::Int2(i) => {
            out.push(tag::INT2);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Int4(i) => {
            out.push(tag::INT4);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Int8(i) => {
            out.push(tag::INT8);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Float4(f) => {
            out.push(tag::FLOAT4);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Float8(f) => {
            out.push(tag::FLOAT8);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Numeric(Numeric::PosInf) => out.push(tag::NUMERIC_PINF),
        Value::Numeric(Numeric::NegInf) => out.push(tag::NUMERIC_NINF),
        Value::Numeric(Numeric::Finite(d)) => {
            out.push(tag::NUMERIC_BIG);
            let (m, scale) = d.as_bigint_and_exponent();
            // Numeric keeps its scale in 0..=16383.
            varint(scale.max(0) as u64, out);
            let bytes = m.to_signed_bytes_le();
            varint(bytes.len() as u64, out);
            out.extend_from_slice(&bytes);
        }
        Value::NumericNaN => out.push(tag::NUMERIC_NAN),
        Value::Text(s) => {
            out.push(tag::TEXT);
            varint(s.len() as u64, out);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Json(s) => {
            out.push(tag::JSON);
            varint(s.len() as u64, out);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bytea(b) => {
            out.push(tag::BYTEA);
            varint(b.len() as u64, out);
            out.extend_from_slice(b);
        }
        Value::Date(d) => {
            out.push(tag::DATE);
            out.extend_from_slice(&d.to_le_bytes());
        }
        Value::Time(t) => {
            out.push(tag::TIME);
            out.extend_from_slice(&t.to_le_bytes());
        }
        Value::Timestamp(t) => {
            out.push(tag::TIMESTAMP);
            out.extend_from_slice(&t.to_le_bytes());
        }
        Value::Timestamptz(t) => {
            out.push(tag::TIMESTAMPTZ);
            out.extend_from_slice(&t.to_le_bytes());
        }
        Value::Interval(i) => {
            out.push(tag::INTERVAL);
            out.extend_from_slice(&i.months.to_le_bytes());
            out.extend_from_slice(&i.days.to_le_bytes());
            out.extend_from_slice(&i.micros.to_le_bytes());
        }
        Value::Uuid(u) => {
            out.push(tag::UUID);
            out.extend_from_slice(u);
        }
        Value::Oid(o) => {
            out.push(tag::OID);
            out.extend_from_slice(&o.to_le_bytes());
        }
        Value::Array(items) => {
            out.push(tag::ARRAY);
            varint(items.len() as u64, out);
            for item in items {
                encode_value(item, out);
            }
        }
    }
}

fn corrupt(what: &str) -> Error {
    Error::new(ErrorCode::IoError, format!("corrupt row: {what}"))
}

struct Reader<'a> {
    input: &'a [u8],
    depth: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.input.len() < n {
            return Err(corrupt("truncated value"));
        }
        let (head, rest) = self.input.split_at(n);
        self.input = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn varint(&mut self) -> Result<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.take(1)?[0];
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(corrupt("length too long"))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| corrupt("length too long"))?;
        self.take(n)
    }

    fn string(&mut self) -> Result<String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| corrupt("invalid UTF-8"))
    }

    fn value(&mut self) -> Result<Value> {
        Ok(match self.take(1)?[0] {
            tag::NULL => Value::Null,
            tag::FALSE => Value::Bool(false),
            tag::TRUE => Value::Bool(true),
            tag::INT2 => Value::Int2(i16::from_le_bytes(self.array()?)),
            tag::INT4 => Value::Int4(i32::from_le_bytes(self.array()?)),
            tag::INT8 => Value::Int8(i64::from_le_bytes(self.array()?)),
            tag::FLOAT4 => Value::Float4(f32::from_le_bytes(self.array()?)),
            tag::FLOAT8 => Value::Float8(f64::from_le_bytes(self.array()?)),
            tag::NUMERIC => {
                let raw: [u8; 16] = self.array()?;
                // Decimal::deserialize trusts its input; check the scale byte.
                if raw[2] > 28 {
                    return Err(corrupt("numeric scale"));
                }
                Value::Numeric(Numeric::from_decimal(rust_decimal::Decimal::deserialize(
                    raw,
                )))
            }
            tag::NUMERIC_BIG => {
                let scale = self.varint()?;
                let m = BigInt::from_signed_bytes_le(self.bytes()?);
                let scale = i64::try_from(scale).map_err(|_| corrupt("numeric scale"))?;
                Value::Numeric(
                    Numeric::finite(BigDecimal::new(m, scale))
                        .map_err(|_| corrupt("numeric out of range"))?,
                )
            }
            tag::NUMERIC_PINF => Value::Numeric(Numeric::PosInf),
            tag::NUMERIC_NINF => Value::Numeric(Numeric::NegInf),
            tag::NUMERIC_NAN => Value::NumericNaN,
            tag::TEXT => Value::Text(self.string()?),
            tag::JSON => Value::Json(self.string()?),
            tag::BYTEA => Value::Bytea(self.bytes()?.to_vec()),
            tag::DATE => Value::Date(i32::from_le_bytes(self.array()?)),
            tag::TIME => Value::Time(i64::from_le_bytes(self.array()?)),
            tag::TIMESTAMP => Value::Timestamp(i64::from_le_bytes(self.array()?)),
            tag::TIMESTAMPTZ => Value::Timestamptz(i64::from_le_bytes(self.array()?)),
            tag::INTERVAL => Value::Interval(Interval {
                months: i32::from_le_bytes(self.array()?),
                days: i32::from_le_bytes(self.array()?),
                micros: i64::from_le_bytes(self.array()?),
            }),
            tag::UUID => Value::Uuid(self.array()?),
            tag::OID => Value::Oid(u32::from_le_bytes(self.array()?)),
            tag::ARRAY => {
                if self.depth > 6 {
                    return Err(corrupt("arrays nested too deep"));
                }
                let n = self.varint()?;
                if n > self.input.len() as u64 {
                    return Err(corrupt("array longer than the row"));
                }
                self.depth += 1;
                let items = (0..n).map(|_| self.value()).collect::<Result<Vec<_>>>()?;
                self.depth -= 1;
                Value::Array(items)
            }
            t => return Err(corrupt(&format!("unknown tag {t}"))),
        })
    }
}

/// Decodes a row written by [`encode_row`]; a corrupt row is an error
/// naming what is wrong, never a panic.
pub fn decode_row(bytes: &[u8]) -> Result<Vec<Value>> {
    let Some((&version, rest)) = bytes.split_first() else {
        return Err(corrupt("empty"));
    };
    if version != VERSION {
        return Err(corrupt(&format!("unknown row format version {version}")));
    }
    let mut r = Reader {
        input: rest,
        depth: 0,
    };
    let mut values = Vec::new();
    while !r.input.is_empty() {
        values.push(r.value()?);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_kind_round_trips() {
        let row = vec![
            Value::Null,
            Value::Bool(true),
            Value::Bool(false),
            Value::Int2(-3),
            Value::Int4(1 << 30),
            Value::Int8(i64::MIN),
            Value::Float4(1.5),
            Value::Float8(-0.0),
            Value::Numeric(Numeric::from_scaled(-123456700, 4)),
            Value::Numeric(Numeric::parse("-1.5e-900").unwrap().unwrap()),
            Value::Numeric(Numeric::parse(&"9".repeat(2000)).unwrap().unwrap()),
            Value::Numeric(Numeric::PosInf),
            Value::Numeric(Numeric::NegInf),
            Value::NumericNaN,
            Value::Text("héllo\0".into()),
            Value::Bytea(vec![0, 255]),
            Value::Date(-1),
            Value::Time(86_399_999_999),
            Value::Timestamp(1),
            Value::Timestamptz(-1),
            Value::Interval(Interval {
                months: 1,
                days: -2,
                micros: 3,
            }),
            Value::Uuid([7; 16]),
            Value::Json("{\"a\": 1}".into()),
            Value::Oid(u32::MAX),
            Value::Array(vec![Value::Int4(1), Value::Null]),
        ];
        let back = decode_row(&encode_row(&row)).unwrap();
        assert_eq!(back.len(), row.len());
        for (a, b) in row.iter().zip(&back) {
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
    }

    /// Rows written before numeric went arbitrary-precision hold
    /// rust_decimal's 16 bytes under the old tag; they still decode.
    #[test]
    fn old_numeric_encoding_decodes() {
        let old = rust_decimal::Decimal::from_str_exact("-12345.6700").unwrap();
        let mut bytes = vec![VERSION, tag::NUMERIC];
        bytes.extend_from_slice(&old.serialize());
        let back = decode_row(&bytes).unwrap();
        assert_eq!(
            back,
            vec![Value::Numeric(Numeric::from_scaled(-123456700, 4))]
        );
        assert_eq!(back[0].to_text(&Default::default()).unwrap(), "-12345.6700");
        // The pinned bytes of the old format, so a change to it shows.
        assert_eq!(
            bytes,
            [VERSION, 8, 0, 0, 4, 128, 188, 204, 91, 7, 0, 0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn corrupt_rows_are_errors() {
        assert!(decode_row(&[]).is_err());
        assert!(decode_row(&[9]).is_err());
        assert!(decode_row(&[VERSION, tag::INT8, 1, 2]).is_err());
        assert!(decode_row(&[VERSION, tag::TEXT, 0xff, 0xff, 0xff, 0xff, 0x7f]).is_err());
        assert!(decode_row(&[VERSION, 200]).is_err());
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes: Vec<u8>) {
            let _ = decode_row(&bytes);
            let mut with_version = vec![VERSION];
            with_version.extend_from_slice(&bytes);
            let _ = decode_row(&with_version);
        }
    }
}
