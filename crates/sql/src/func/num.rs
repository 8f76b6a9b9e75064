//! Integer, float and numeric arithmetic with PostgreSQL's result types,
//! overflow checks and numeric result scales (select_div_scale, power).

use rust_decimal::MathematicalOps;

use super::{
    division_by_zero, err, float_overflow, float_underflow, int_out_of_range, numeric_overflow,
    BinaryOp, INVALID_ARGUMENT_FOR_POWER,
};
use crate::error::Result;
use crate::types::numeric::from_f64_exact;
use crate::types::{DataType, Numeric, Value};

/// The numeric types in PostgreSQL's promotion order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum NumType {
    Int2,
    Int4,
    Int8,
    Numeric,
    Float4,
    Float8,
}

impl NumType {
    pub(super) fn of(t: &DataType) -> Option<NumType> {
        Some(match t {
            DataType::Int2 => NumType::Int2,
            DataType::Int4 => NumType::Int4,
            // oid has no arithmetic of its own; it casts implicitly to int8.
            DataType::Int8 | DataType::Oid => NumType::Int8,
            DataType::Numeric(_) => NumType::Numeric,
            DataType::Float4 => NumType::Float4,
            DataType::Float8 => NumType::Float8,
            _ => return None,
        })
    }

    pub(super) fn of_value(v: &Value) -> Option<NumType> {
        Some(match v {
            Value::Int2(_) => NumType::Int2,
            Value::Int4(_) => NumType::Int4,
            Value::Int8(_) | Value::Oid(_) => NumType::Int8,
            Value::Numeric(_) | Value::NumericNaN => NumType::Numeric,
            Value::Float4(_) => NumType::Float4,
            Value::Float8(_) => NumType::Float8,
            _ => return None,
        })
    }

    pub(super) fn data_type(self) -> DataType {
        match self {
            NumType::Int2 => DataType::Int2,
            NumType::Int4 => DataType::Int4,
            NumType::Int8 => DataType::Int8,
            NumType::Numeric => DataType::Numeric(None),
            NumType::Float4 => DataType::Float4,
            NumType::Float8 => DataType::Float8,
        }
    }

    pub(super) fn is_int(self) -> bool {
        self <= NumType::Int8
    }

    /// The type both operands are converted to: the wider integer;
    /// numeric over integers; float8 as soon as a float meets anything but
    /// another float4 (float8 is the numeric category's preferred type).
    pub(super) fn promote(a: NumType, b: NumType) -> NumType {
        match (a, b) {
            (NumType::Float4, NumType::Float4) => NumType::Float4,
            (NumType::Float4 | NumType::Float8, _) | (_, NumType::Float4 | NumType::Float8) => {
                NumType::Float8
            }
            _ => a.max(b),
        }
    }
}

pub(super) fn as_i64(v: &Value) -> Option<i64> {
    Some(match v {
        Value::Int2(i) => i64::from(*i),
        Value::Int4(i) => i64::from(*i),
        Value::Int8(i) => *i,
        Value::Oid(o) => i64::from(*o),
        _ => return None,
    })
}

/// The value as a decimal (`None` for NaN and non-numbers); floats convert
/// as PostgreSQL's float8 -> numeric cast would.
pub(super) fn as_decimal(v: &Value) -> Option<Numeric> {
    match v {
        Value::Numeric(d) => Some(d.clone()),
        Value::Float4(f) => from_f64_exact(f64::from(*f)),
        Value::Float8(f) => from_f64_exact(*f),
        v => as_i64(v).map(Numeric::from),
    }
}

/// A numeric result that may be NaN (`None`) as a value.
pub(super) fn nan_or(n: Option<Numeric>) -> Value {
    n.map_or(Value::NumericNaN, Value::Numeric)
}

pub(super) fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Float4(f) => Some(f64::from(*f)),
        Value::Float8(f) => Some(*f),
        Value::Numeric(d) => Some(d.to_f64()),
        Value::NumericNaN => Some(f64::NAN),
        v => as_i64(v).map(|i| i as f64),
    }
}

/// An integer result in the range of `t`.
pub(super) fn int_value(i: i64, t: NumType) -> Result<Value> {
    let dt = t.data_type();
    Ok(match t {
        NumType::Int2 => Value::Int2(i16::try_from(i).map_err(|_| int_out_of_range(&dt))?),
        NumType::Int4 => Value::Int4(i32::try_from(i).map_err(|_| int_out_of_range(&dt))?),
        _ => Value::Int8(i),
    })
}

/// `l op r` for + - * / % over numbers of any type.
pub(super) fn arith(op: BinaryOp, l: &Value, r: &Value) -> Result<Value> {
    let (Some(lt), Some(rt)) = (NumType::of_value(l), NumType::of_value(r)) else {
        return Err(crate::error::Error::internal("arithmetic on non-numbers"));
    };
    let t = NumType::promote(lt, rt);
    match t {
        NumType::Int2 | NumType::Int4 | NumType::Int8 => {
            let (a, b) = (as_i64(l).unwrap_or(0), as_i64(r).unwrap_or(0));
            let oor = || int_out_of_range(&t.data_type());
            let v = match op {
                BinaryOp::Add => a.checked_add(b).ok_or_else(oor)?,
                BinaryOp::Sub => a.checked_sub(b).ok_or_else(oor)?,
                BinaryOp::Mul => a.checked_mul(b).ok_or_else(oor)?,
                BinaryOp::Div => {
                    if b == 0 {
                        return Err(division_by_zero());
                    }
                    // Truncates toward zero; MIN / -1 overflows.
                    a.checked_div(b).ok_or_else(oor)?
                }
                BinaryOp::Mod => {
                    if b == 0 {
                        return Err(division_by_zero());
                    }
                    // The sign of the dividend; MIN % -1 is 0, not an error.
                    a.wrapping_rem(b)
                }
                _ => return Err(crate::error::Error::internal("not an arithmetic operator")),
            };
            int_value(v, t)
        }
        NumType::Numeric => {
            let (Some(a), Some(b)) = (as_decimal(l), as_decimal(r)) else {
                // NaN with anything is NaN (also NaN / 0), but x / NaN too.
                if matches!(op, BinaryOp::Div | BinaryOp::Mod)
                    && !matches!(l, Value::NumericNaN)
                    && as_decimal(r).is_some_and(|d| d.is_zero())
                {
                    return Err(division_by_zero());
                }
                return Ok(Value::NumericNaN);
            };
            numeric_arith(op, &a, &b)
        }
        NumType::Float4 => {
            let (a, b) = (
                as_f64(l).unwrap_or(0.0) as f32,
                as_f64(r).unwrap_or(0.0) as f32,
            );
            let v = match op {
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Div => {
                    if b == 0.0 && !a.is_nan() {
                        return Err(division_by_zero());
                    }
                    a / b
                }
                _ => return Err(crate::error::Error::internal("no float4 modulo")),
            };
            check_float(op, f64::from(a), f64::from(b), f64::from(v))?;
            Ok(Value::Float4(v))
        }
        NumType::Float8 => {
            let (a, b) = (as_f64(l).unwrap_or(0.0), as_f64(r).unwrap_or(0.0));
            let v = match op {
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Div => {
                    if b == 0.0 && !a.is_nan() {
                        return Err(division_by_zero());
                    }
                    a / b
                }
                _ => return Err(crate::error::Error::internal("no float8 modulo")),
            };
            check_float(op, a, b, v)?;
            Ok(Value::Float8(v))
        }
    }
}

/// PostgreSQL's float_overflow_error / float_underflow_error checks: an
/// infinite result from finite inputs, a zero product or quotient from
/// nonzero ones.
fn check_float(op: BinaryOp, a: f64, b: f64, v: f64) -> Result<()> {
    if v.is_infinite() && !a.is_infinite() && !b.is_infinite() {
        return Err(float_overflow());
    }
    let underflow = match op {
        BinaryOp::Mul => v == 0.0 && a != 0.0 && b != 0.0,
        BinaryOp::Div => v == 0.0 && a != 0.0 && !b.is_infinite(),
        _ => false,
    };
    if underflow {
        return Err(float_underflow());
    }
    Ok(())
}

/// `a op b` over numerics (NaN handled by the caller); the result may be
/// NaN, as Infinity - Infinity is.
pub(super) fn numeric_arith(op: BinaryOp, a: &Numeric, b: &Numeric) -> Result<Value> {
    Ok(nan_or(match op {
        BinaryOp::Add => a.add(b)?,
        BinaryOp::Sub => a.sub(b)?,
        BinaryOp::Mul => a.mul(b)?,
        BinaryOp::Div => return numeric_div(a, b).map(nan_or),
        BinaryOp::Mod => {
            if b.is_zero() {
                return Err(division_by_zero());
            }
            a.rem(b)
        }
        _ => return Err(crate::error::Error::internal("not a numeric operator")),
    }))
}

/// Rounds `d` half away from zero (as PostgreSQL's round_var) to `scale`
/// digits, padding with zeros, so the display scale matches PostgreSQL's.
pub(super) fn set_scale(d: Numeric, scale: u32) -> Numeric {
    d.set_scale(scale)
}

/// PostgreSQL's select_div_scale: at least 16 significant digits, and no
/// fewer digits after the point than either input has.
pub(super) fn div_scale(a: &Numeric, b: &Numeric) -> u32 {
    let (w1, f1) = a.weight_and_first_digit();
    let (w2, f2) = b.weight_and_first_digit();
    let mut qweight = w1 - w2;
    if f1 <= f2 {
        qweight -= 1;
    }
    let rscale = 16 - qweight * 4;
    rscale
        .max(i64::from(a.scale()))
        .max(i64::from(b.scale()))
        .clamp(0, 1000) as u32
}

/// `a / b` at select_div_scale's scale; `None` is NaN (Infinity / Infinity).
pub(super) fn numeric_div(a: &Numeric, b: &Numeric) -> Result<Option<Numeric>> {
    if b.is_zero() {
        return Err(division_by_zero());
    }
    let scale = div_scale(a, b);
    a.div_rounded(b, scale)
}

/// `a ^ b` over float8 with PostgreSQL's errors.
pub(super) fn float_pow(a: f64, b: f64) -> Result<f64> {
    if a == 0.0 && b < 0.0 {
        return Err(err(
            INVALID_ARGUMENT_FOR_POWER,
            "zero raised to a negative power is undefined",
        ));
    }
    if a < 0.0 && b.is_finite() && b.fract() != 0.0 {
        return Err(err(
            INVALID_ARGUMENT_FOR_POWER,
            "a negative number raised to a non-integer power yields a complex result",
        ));
    }
    let v = a.powf(b);
    if v.is_infinite() && a.is_finite() && b.is_finite() {
        return Err(float_overflow());
    }
    if v == 0.0 && a != 0.0 && a.is_finite() && b.is_finite() {
        return Err(float_underflow());
    }
    Ok(v)
}

/// `a ^ b` over numeric: integer exponents multiply exactly; others go
/// through exp/ln. The result keeps at least 16 significant digits.
pub(super) fn numeric_pow(a: &Value, b: &Value) -> Result<Value> {
    let (da, db) = (as_decimal(a), as_decimal(b));
    let (a, b) = match (da, db) {
        (Some(a), Some(b)) => (a, b),
        // NaN ^ 0 and 1 ^ NaN are 1, as in PostgreSQL.
        (None, Some(b)) if b.is_zero() => return Ok(Value::Numeric(Numeric::one())),
        (Some(a), None) if a == Numeric::one() => return Ok(Value::Numeric(Numeric::one())),
        _ => return Ok(Value::NumericNaN),
    };
    if a.is_zero() && b.is_negative() {
        return Err(err(
            INVALID_ARGUMENT_FOR_POWER,
            "zero raised to a negative power is undefined",
        ));
    }
    let integral = b.is_integer();
    if a.is_negative() && a.is_finite() && b.is_finite() && !integral {
        return Err(err(
            INVALID_ARGUMENT_FOR_POWER,
            "a negative number raised to a non-integer power yields a complex result",
        ));
    }
    if !a.is_finite() || !b.is_finite() {
        return Ok(infinite_pow(&a, &b));
    }
    if integral {
        let scale = 16u32.max(a.scale()).max(b.scale());
        let n = b.to_i64().ok_or_else(numeric_overflow)?;
        return Ok(Value::Numeric(a.powi(n, scale)?));
    }
    if a.is_zero() {
        return Ok(Value::Numeric(set_scale(
            Numeric::zero(),
            16.max(b.scale()),
        )));
    }
    // An estimate of log10(result) picks the scale, as PostgreSQL does.
    let log10 = a.to_f64().log10() * b.to_f64();
    if log10 > 28.5 {
        return Err(numeric_overflow());
    }
    let scale = (16 - log10.trunc() as i64)
        .max(i64::from(a.scale()))
        .max(i64::from(b.scale()))
        .clamp(0, 1000) as u32;
    let (Some(x), Some(y)) = (a.to_decimal(), b.to_decimal()) else {
        return Err(numeric_overflow());
    };
    let p = x.checked_powd(y).ok_or_else(numeric_overflow)?;
    Ok(Value::Numeric(set_scale(Numeric::from_decimal(p), scale)))
}

/// power() with an infinite operand, as PostgreSQL 14+ defines it.
fn infinite_pow(a: &Numeric, b: &Numeric) -> Value {
    let one = Numeric::one();
    let abs_a = a.abs();
    let v = if !b.is_finite() {
        // x ^ ±Infinity: by whether |x| is below, at or above 1.
        match (abs_a.cmp(&one), b.is_negative()) {
            (std::cmp::Ordering::Equal, _) => one,
            (std::cmp::Ordering::Less, false) | (std::cmp::Ordering::Greater, true) => {
                Numeric::zero()
            }
            _ => Numeric::PosInf,
        }
    } else if b.is_zero() {
        one
    } else if b.is_negative() {
        Numeric::zero()
    } else if a.is_negative() {
        // -Infinity ^ b: odd integers keep the sign.
        let odd = b.is_integer() && b.rem(&Numeric::from(2i64)).is_some_and(|r| !r.is_zero());
        if odd {
            Numeric::NegInf
        } else {
            Numeric::PosInf
        }
    } else {
        Numeric::PosInf
    };
    Value::Numeric(v)
}

/// `l ^ r`: numeric when either side is numeric and neither a float,
/// float8 otherwise.
pub(super) fn pow(l: &Value, r: &Value) -> Result<Value> {
    let lt = NumType::of_value(l).unwrap_or(NumType::Float8);
    let rt = NumType::of_value(r).unwrap_or(NumType::Float8);
    if pow_type(lt, rt) == NumType::Numeric {
        return numeric_pow(l, r);
    }
    let (a, b) = (as_f64(l).unwrap_or(0.0), as_f64(r).unwrap_or(0.0));
    float_pow(a, b).map(Value::Float8)
}

pub(super) fn pow_type(a: NumType, b: NumType) -> NumType {
    match NumType::promote(a, b) {
        NumType::Numeric => NumType::Numeric,
        _ => NumType::Float8,
    }
}

/// `-v` with the overflow of `-MIN` caught.
pub(super) fn negate(v: &Value) -> Result<Value> {
    Ok(match v {
        Value::Int2(i) => Value::Int2(
            i.checked_neg()
                .ok_or_else(|| int_out_of_range(&DataType::Int2))?,
        ),
        Value::Int4(i) => Value::Int4(
            i.checked_neg()
                .ok_or_else(|| int_out_of_range(&DataType::Int4))?,
        ),
        Value::Int8(i) => Value::Int8(
            i.checked_neg()
                .ok_or_else(|| int_out_of_range(&DataType::Int8))?,
        ),
        Value::Float4(f) => Value::Float4(-f),
        Value::Float8(f) => Value::Float8(-f),
        Value::Numeric(d) => Value::Numeric(d.neg()),
        Value::NumericNaN => Value::NumericNaN,
        _ => return Err(crate::error::Error::internal("negating a non-number")),
    })
}

/// `& | #` over integers of the promoted width; `<< >>` keep the left
/// operand's width and, as C on the hardware PostgreSQL runs on, use the
/// shift count modulo the width.
pub(super) fn bit_op(op: BinaryOp, l: &Value, r: &Value) -> Result<Value> {
    let (Some(lt), Some(rt)) = (NumType::of_value(l), NumType::of_value(r)) else {
        return Err(crate::error::Error::internal(
            "bit operator on non-integers",
        ));
    };
    let (a, b) = (as_i64(l).unwrap_or(0), as_i64(r).unwrap_or(0));
    match op {
        BinaryOp::ShiftLeft | BinaryOp::ShiftRight => {
            let n = b as u32;
            let left = op == BinaryOp::ShiftLeft;
            Ok(match lt {
                NumType::Int8 => Value::Int8(if left {
                    a.wrapping_shl(n)
                } else {
                    a.wrapping_shr(n)
                }),
                NumType::Int2 => {
                    let x = a as i32;
                    Value::Int2(if left {
                        x.wrapping_shl(n)
                    } else {
                        x.wrapping_shr(n)
                    } as i16)
                }
                _ => {
                    let x = a as i32;
                    Value::Int4(if left {
                        x.wrapping_shl(n)
                    } else {
                        x.wrapping_shr(n)
                    })
                }
            })
        }
        _ => {
            let v = match op {
                BinaryOp::BitAnd => a & b,
                BinaryOp::BitOr => a | b,
                _ => a ^ b,
            };
            // Both fit the promoted width, so the result does too.
            int_value(v, NumType::promote(lt, rt))
        }
    }
}
