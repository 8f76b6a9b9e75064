//! Math functions: abs, rounding, roots, powers, logarithms, mod/div,
//! trigonometry, gcd/lcm, factorial, width_bucket, random and
//! greatest/least, over the integer, float and numeric types as
//! PostgreSQL overloads them.

use rust_decimal::MathematicalOps;

use super::num::{self, as_decimal, as_f64, as_i64, set_scale, NumType};
use super::signature::{coerce, common_type, Registry, NUMERIC};
use super::{
    err, float_overflow, int_out_of_range, numeric_overflow, BinaryOp, FunctionContext,
    INVALID_ARGUMENT_FOR_LOG, INVALID_ARGUMENT_FOR_POWER,
};
use crate::error::{ErrorCode, Result};
use crate::types::numeric::{Numeric, Rounding};
use crate::types::{DataType, Value};

use DataType::{Float4, Float8, Int2, Int4, Int8};

pub(super) fn register(r: &mut Registry) {
    r.add(&["abs"], &[Int2], Int2, |a, _| abs_int(&a[0]));
    r.add(&["abs"], &[Int4], Int4, |a, _| abs_int(&a[0]));
    r.add(&["abs"], &[Int8], Int8, |a, _| abs_int(&a[0]));
    r.add(&["abs"], &[Float4], Float4, |a, _| {
        Ok(Value::Float4(f(&a[0]).abs() as f32))
    });
    r.add(&["abs"], &[Float8], Float8, |a, _| {
        Ok(Value::Float8(f(&a[0]).abs()))
    });
    r.add(&["abs"], &[NUMERIC], NUMERIC, |a, _| {
        numeric1(&a[0], |d| Ok(d.abs()))
    });
    r.add(&["ceil", "ceiling"], &[Float8], Float8, |a, _| {
        Ok(Value::Float8(f(&a[0]).ceil()))
    });
    r.add(&["ceil", "ceiling"], &[NUMERIC], NUMERIC, |a, _| {
        numeric1(&a[0], |d| Ok(set_scale(d.ceil(), 0)))
    });
    r.add(&["floor"], &[Float8], Float8, |a, _| {
        Ok(Value::Float8(f(&a[0]).floor()))
    });
    r.add(&["floor"], &[NUMERIC], NUMERIC, |a, _| {
        numeric1(&a[0], |d| Ok(set_scale(d.floor(), 0)))
    });
    // float rounding is rint(): half to even.
    r.add(&["round"], &[Float8], Float8, |a, _| {
        Ok(Value::Float8(f(&a[0]).round_ties_even()))
    });
    r.add(&["round"], &[NUMERIC], NUMERIC, |a, _| {
        numeric1(&a[0], |d| round_numeric(d, 0, Rounding::HalfAwayFromZero))
    });
    r.add(&["round"], &[NUMERIC, Int4], NUMERIC, |a, _| {
        let s = as_i64(&a[1]).unwrap_or(0);
        numeric1(&a[0], |d| round_numeric(d, s, Rounding::HalfAwayFromZero))
    });
    r.add(&["trunc"], &[Float8], Float8, |a, _| {
        Ok(Value::Float8(f(&a[0]).trunc()))
    });
    r.add(&["trunc"], &[NUMERIC], NUMERIC, |a, _| {
        numeric1(&a[0], |d| round_numeric(d, 0, Rounding::ToZero))
    });
    r.add(&["trunc"], &[NUMERIC, Int4], NUMERIC, |a, _| {
        let s = as_i64(&a[1]).unwrap_or(0);
        numeric1(&a[0], |d| round_numeric(d, s, Rounding::ToZero))
    });
    r.add(&["sqrt"], &[Float8], Float8, |a, _| {
        let x = f(&a[0]);
        if x < 0.0 {
            return Err(negative_sqrt());
        }
        Ok(Value::Float8(x.sqrt()))
    });
    r.add(&["sqrt"], &[NUMERIC], NUMERIC, |a, _| {
        numeric1(&a[0], numeric_sqrt)
    });
    r.add(&["cbrt"], &[Float8], Float8, |a, _| {
        Ok(Value::Float8(f(&a[0]).cbrt()))
    });
    r.add(&["power", "pow"], &[Float8, Float8], Float8, |a, _| {
        num::float_pow(f(&a[0]), f(&a[1])).map(Value::Float8)
    });
    r.add(&["power", "pow"], &[NUMERIC, NUMERIC], NUMERIC, |a, _| {
        num::numeric_pow(&a[0], &a[1])
    });
    r.add(&["exp"], &[Float8], Float8, |a, _| {
        let x = f(&a[0]);
        let v = x.exp();
        if v.is_infinite() && x.is_finite() {
            return Err(float_overflow());
        }
        Ok(Value::Float8(v))
    });
    r.add(&["exp"], &[NUMERIC], NUMERIC, |a, _| {
        numeric1(&a[0], |d| {
            match d {
                Numeric::PosInf => return Ok(Numeric::PosInf),
                Numeric::NegInf => return Ok(Numeric::zero()),
                Numeric::Finite(_) => {}
            }
            numeric_exp(&d)
        })
    });
    r.add(&["ln"], &[Float8], Float8, |a, _| {
        float_log(f(&a[0]), f64::ln)
    });
    r.add(&["ln"], &[NUMERIC], NUMERIC, |a, _| {
        numeric1(&a[0], |d| {
            check_log(&d)?;
            if !d.is_finite() {
                return Ok(d);
            }
            let mut v = Numeric::from_decimal(ln_dec(&d)?);
            if d.as_finite().is_some_and(|b| b.digits() > 27) {
                // rust_decimal rounded the argument: estimate from all of it.
                v = ln_refined(&d, (d.scale() + 20).min(300))?;
            }
            let scale = sig_scale(&v, d.scale());
            // rust_decimal's 28 digits hold this many after the point.
            let int_digits = v.digits_and_exponent().map_or(0, |(_, e)| e.max(0));
            // (bigdecimal's exp grows slow past a few hundred digits.)
            if i64::from(scale) + int_digits > 26 && scale <= 300 {
                return ln_refined(&d, scale);
            }
            Ok(set_scale(v, scale))
        })
    });
    r.add(&["log", "log10"], &[Float8], Float8, |a, _| {
        float_log(f(&a[0]), f64::log10)
    });
    r.add(&["log", "log10"], &[NUMERIC], NUMERIC, |a, _| {
        numeric1(&a[0], |d| {
            check_log(&d)?;
            if !d.is_finite() {
                return Ok(d);
            }
            let v = Numeric::from_decimal(log10_dec(&d)?);
            let scale = sig_scale(&v, d.scale());
            Ok(set_scale(v, scale))
        })
    });
    r.add(&["log"], &[NUMERIC, NUMERIC], NUMERIC, |a, _| {
        numeric_log(&a[0], &a[1])
    });
    r.add(&["mod"], &[Int2, Int2], Int2, |a, _| {
        num::arith(BinaryOp::Mod, &a[0], &a[1])
    });
    r.add(&["mod"], &[Int4, Int4], Int4, |a, _| {
        num::arith(BinaryOp::Mod, &a[0], &a[1])
    });
    r.add(&["mod"], &[Int8, Int8], Int8, |a, _| {
        num::arith(BinaryOp::Mod, &a[0], &a[1])
    });
    r.add(&["mod"], &[NUMERIC, NUMERIC], NUMERIC, |a, _| {
        num::arith(BinaryOp::Mod, &a[0], &a[1])
    });
    r.add(&["div"], &[NUMERIC, NUMERIC], NUMERIC, |a, _| {
        match (as_decimal(&a[0]), as_decimal(&a[1])) {
            (Some(x), Some(y)) => {
                if y.is_zero() {
                    return Err(super::division_by_zero());
                }
                Ok(num::nan_or(x.div_trunc(&y)?))
            }
            _ => Ok(Value::NumericNaN),
        }
    });
    r.add(&["sign"], &[Float8], Float8, |a, _| {
        let x = f(&a[0]);
        Ok(Value::Float8(if x > 0.0 {
            1.0
        } else if x < 0.0 {
            -1.0
        } else {
            x
        }))
    });
    r.add(&["sign"], &[NUMERIC], NUMERIC, |a, _| {
        numeric1(&a[0], |d| Ok(d.signum()))
    });
    r.add(&["pi"], &[], Float8, |_, _| {
        Ok(Value::Float8(std::f64::consts::PI))
    });
    r.add(&["random"], &[], Float8, |_, _| {
        Ok(Value::Float8(random_f64()?))
    });
    r.add(&["degrees"], &[Float8], Float8, |a, _| {
        Ok(Value::Float8(f(&a[0]).to_degrees()))
    });
    r.add(&["radians"], &[Float8], Float8, |a, _| {
        Ok(Value::Float8(f(&a[0]).to_radians()))
    });
    r.add(&["sin"], &[Float8], Float8, |a, _| {
        Ok(Value::Float8(f(&a[0]).sin()))
    });
    r.add(&["cos"], &[Float8], Float8, |a, _| {
        Ok(Value::Float8(f(&a[0]).cos()))
    });
    r.add(&["tan"], &[Float8], Float8, |a, _| {
        Ok(Value::Float8(f(&a[0]).tan()))
    });
    r.add(&["cot"], &[Float8], Float8, |a, _| {
        Ok(Value::Float8(1.0 / f(&a[0]).tan()))
    });
    r.add(&["asin"], &[Float8], Float8, |a, _| {
        trig_domain(f(&a[0]), f64::asin)
    });
    r.add(&["acos"], &[Float8], Float8, |a, _| {
        trig_domain(f(&a[0]), f64::acos)
    });
    r.add(&["atan"], &[Float8], Float8, |a, _| {
        Ok(Value::Float8(f(&a[0]).atan()))
    });
    r.add(&["atan2"], &[Float8, Float8], Float8, |a, _| {
        Ok(Value::Float8(f(&a[0]).atan2(f(&a[1]))))
    });
    r.add(&["gcd"], &[Int4, Int4], Int4, |a, _| {
        gcd_lcm(&a[0], &a[1], false, NumType::Int4)
    });
    r.add(&["gcd"], &[Int8, Int8], Int8, |a, _| {
        gcd_lcm(&a[0], &a[1], false, NumType::Int8)
    });
    r.add(&["lcm"], &[Int4, Int4], Int4, |a, _| {
        gcd_lcm(&a[0], &a[1], true, NumType::Int4)
    });
    r.add(&["lcm"], &[Int8, Int8], Int8, |a, _| {
        gcd_lcm(&a[0], &a[1], true, NumType::Int8)
    });
    r.add(&["factorial"], &[Int8], NUMERIC, |a, _| {
        factorial(as_i64(&a[0]).unwrap_or(0))
    });
    r.add(
        &["width_bucket"],
        &[Float8, Float8, Float8, Int4],
        Int4,
        |a, _| width_bucket(f(&a[0]), f(&a[1]), f(&a[2]), as_i64(&a[3]).unwrap_or(0)),
    );
    r.add(&["scale"], &[NUMERIC], Int4, |a, _| {
        Ok(match &a[0] {
            Value::Numeric(d) if d.is_finite() => Value::Int4(d.scale() as i32),
            _ => Value::Null,
        })
    });
}

fn f(v: &Value) -> f64 {
    as_f64(v).unwrap_or(f64::NAN)
}

/// Applies `op` to a numeric argument; NaN stays NaN.
fn numeric1(v: &Value, op: impl Fn(Numeric) -> Result<Numeric>) -> Result<Value> {
    match as_decimal(v) {
        Some(d) if !matches!(v, Value::NumericNaN) => op(d).map(Value::Numeric),
        _ => Ok(Value::NumericNaN),
    }
}

fn abs_int(v: &Value) -> Result<Value> {
    let t = NumType::of_value(v).unwrap_or(NumType::Int8);
    let i = as_i64(v).unwrap_or(0);
    let a = i
        .checked_abs()
        .ok_or_else(|| int_out_of_range(&t.data_type()))?;
    num::int_value(a, t)
}

/// round/trunc to `s` digits after the point (before it when negative).
fn round_numeric(d: Numeric, s: i64, how: Rounding) -> Result<Numeric> {
    Ok(d.round_to(s.clamp(-200_000, 16383), how))
}

/// ln(10) to rust_decimal's 28 significant digits.
fn ln_10() -> rust_decimal::Decimal {
    rust_decimal::Decimal::from_i128_with_scale(2_302_585_092_994_045_684_017_991_455, 27)
}

/// `d` (positive) as `m × 10^e` with 1 <= m < 10, m to 28 digits.
fn split_exp10(d: &Numeric) -> Result<(rust_decimal::Decimal, i64)> {
    let (digits, exp) = d.digits_and_exponent().ok_or_else(numeric_overflow)?;
    let head = &digits[..digits.len().min(28)];
    let m = rust_decimal::Decimal::from_i128_with_scale(
        head.parse().map_err(|_| numeric_overflow())?,
        head.len() as u32 - 1,
    );
    Ok((m, exp - 1))
}

/// Whether `d` is within the magnitudes rust_decimal's ln takes as they
/// are without losing significant digits.
fn fits_decimal(d: &Numeric) -> bool {
    d.digits_and_exponent()
        .is_some_and(|(_, exp)| (-4..=28).contains(&exp))
}

/// ln of a positive value: directly where rust_decimal holds it, else as
/// ln(m) + e·ln(10).
fn ln_dec(d: &Numeric) -> Result<rust_decimal::Decimal> {
    if fits_decimal(d) {
        return to_dec(d)?.checked_ln().ok_or_else(numeric_overflow);
    }
    let (m, e) = split_exp10(d)?;
    let l = m.checked_ln().ok_or_else(numeric_overflow)?;
    l.checked_add(rust_decimal::Decimal::from(e) * ln_10())
        .ok_or_else(numeric_overflow)
}

/// ln(x) to `scale` digits: x = m × 10^e with 1 <= m < 10, and ln(m) and
/// ln(10) each refined from rust_decimal's estimate by Halley's iterations
/// on bigdecimal's exp (which is quick for such small arguments).
fn ln_refined(x: &Numeric, scale: u32) -> Result<Numeric> {
    let (Some(xb), Some((_, exp))) = (x.as_finite(), x.digits_and_exponent()) else {
        return Err(numeric_overflow());
    };
    let e = exp - 1;
    let work = scale + 12 + e.unsigned_abs().to_string().len() as u32;
    let m = xb * bigdecimal::BigDecimal::new(1.into(), e);
    let m_est = to_dec(&Numeric::Finite(m.clone()))?
        .checked_ln()
        .ok_or_else(numeric_overflow)?;
    let mut y = halley_ln(&m, m_est, work)?;
    if e != 0 {
        let ten = bigdecimal::BigDecimal::from(10);
        y += halley_ln(&ten, ln_10(), work)? * bigdecimal::BigDecimal::from(e);
    }
    Ok(set_scale(Numeric::finite(y)?, scale))
}

/// ln(x) for x in [1, 10] to `work` digits from the estimate `start`:
/// y += 2(x - e^y) / (x + e^y), which triples the correct digits each time.
fn halley_ln(
    x: &bigdecimal::BigDecimal,
    start: rust_decimal::Decimal,
    work: u32,
) -> Result<bigdecimal::BigDecimal> {
    let ctx = bigdecimal::Context::default()
        .with_prec(u64::from(work) + 10)
        .ok_or_else(numeric_overflow)?;
    let Numeric::Finite(mut y) = Numeric::from_decimal(start) else {
        return Err(numeric_overflow());
    };
    for _ in 0..8 {
        let e = y.exp_with_context(&ctx);
        let num = Numeric::Finite((x - &e) * 2);
        let den = Numeric::Finite(x + &e);
        let delta = num.div_rounded(&den, work)?.ok_or_else(numeric_overflow)?;
        let Some(step) = delta.as_finite() else {
            return Err(numeric_overflow());
        };
        y = (&y + step).with_scale_round(i64::from(work), bigdecimal::RoundingMode::HalfUp);
        if delta
            .digits_and_exponent()
            .is_none_or(|(_, d)| d < -(i64::from(work) - 4))
        {
            break;
        }
    }
    Ok(y)
}

/// log10 of a positive value, as [`ln_dec`]: log10(m) + e.
fn log10_dec(d: &Numeric) -> Result<rust_decimal::Decimal> {
    if fits_decimal(d) {
        return to_dec(d)?.checked_log10().ok_or_else(numeric_overflow);
    }
    let (m, e) = split_exp10(d)?;
    let l = m.checked_log10().ok_or_else(numeric_overflow)?;
    l.checked_add(rust_decimal::Decimal::from(e))
        .ok_or_else(numeric_overflow)
}

/// exp of a finite value with 16 significant digits (or the argument's
/// scale): through rust_decimal where it has room, else bigdecimal's exp
/// to every integer digit, as PostgreSQL prints them all.
fn numeric_exp(d: &Numeric) -> Result<Numeric> {
    if let Some(v) = to_dec(d).ok().and_then(|x| x.checked_exp()) {
        let v = Numeric::from_decimal(v);
        let scale = sig_scale(&v, d.scale());
        return Ok(set_scale(v, scale));
    }
    let x = d.to_f64();
    // exp(x) has about x / ln(10) digits: past numeric's 131072, overflow;
    // below its smallest scale, zero.
    let log10 = x / std::f64::consts::LN_10;
    if log10 > 131_072.0 {
        return Err(numeric_overflow());
    }
    let scale = (16 - log10.trunc() as i64)
        .max(i64::from(d.scale()))
        .clamp(0, 1000);
    if log10 < -(scale as f64) - 1.0 {
        return Ok(set_scale(Numeric::zero(), scale as u32));
    }
    let Some(b) = d.as_finite() else {
        return Err(numeric_overflow());
    };
    let prec = (log10.max(0.0) as i64 + scale + 10) as u64;
    let ctx = bigdecimal::Context::default()
        .with_prec(prec)
        .ok_or_else(numeric_overflow)?;
    let v = Numeric::finite(b.exp_with_context(&ctx))?;
    Ok(set_scale(v, scale as u32))
}

/// An approximation for the transcendental functions, which go through
/// rust_decimal's 28 digits (more than the 16 significant digits their
/// results keep); values beyond its range overflow.
fn to_dec(d: &Numeric) -> Result<rust_decimal::Decimal> {
    d.to_decimal().ok_or_else(numeric_overflow)
}

fn negative_sqrt() -> crate::error::Error {
    err(
        INVALID_ARGUMENT_FOR_POWER,
        "cannot take square root of a negative number",
    )
}

/// numeric sqrt: 16 significant digits or the argument's scale.
fn numeric_sqrt(d: Numeric) -> Result<Numeric> {
    if d.is_negative() {
        return Err(negative_sqrt());
    }
    if !d.is_finite() {
        return Ok(d);
    }
    // PostgreSQL: sweight = (weight + 1) * 4 / 2 - 1 in base-10000 digits.
    let (weight, _) = d.weight_and_first_digit();
    let sweight = (weight + 1) * 4 / 2 - 1;
    let scale = (16 - sweight).max(i64::from(d.scale())).clamp(0, 16383) as u32;
    d.sqrt(scale)
}

/// A result scale that keeps 16 significant digits of `v`; the decimal
/// weight is truncated toward zero, as PostgreSQL's `(int)` estimate.
fn sig_scale(v: &Numeric, min: u32) -> u32 {
    let x = v.abs().to_f64();
    let log10 = if x > 0.0 { x.log10() } else { 0.0 };
    (16 - log10.trunc() as i64)
        .max(i64::from(min))
        .clamp(0, 1000) as u32
}

fn check_log(d: &Numeric) -> Result<()> {
    if d.is_zero() {
        return Err(err(
            INVALID_ARGUMENT_FOR_LOG,
            "cannot take logarithm of zero",
        ));
    }
    if d.is_negative() {
        return Err(err(
            INVALID_ARGUMENT_FOR_LOG,
            "cannot take logarithm of a negative number",
        ));
    }
    Ok(())
}

fn float_log(x: f64, log: fn(f64) -> f64) -> Result<Value> {
    if x == 0.0 {
        return Err(err(
            INVALID_ARGUMENT_FOR_LOG,
            "cannot take logarithm of zero",
        ));
    }
    if x < 0.0 {
        return Err(err(
            INVALID_ARGUMENT_FOR_LOG,
            "cannot take logarithm of a negative number",
        ));
    }
    Ok(Value::Float8(log(x)))
}

/// log(b, x) = ln(x) / ln(b), scaled as a numeric division.
fn numeric_log(b: &Value, x: &Value) -> Result<Value> {
    let (Some(b), Some(x)) = (as_decimal(b), as_decimal(x)) else {
        return Ok(Value::NumericNaN);
    };
    check_log(&b)?;
    check_log(&x)?;
    if !b.is_finite() || !x.is_finite() {
        // log(Inf, Inf) is NaN; log(Inf, x) is 0; log(b, Inf) is Inf.
        return Ok(match (b.is_finite(), x.is_finite()) {
            (false, false) => Value::NumericNaN,
            (false, true) => Value::Numeric(Numeric::zero()),
            _ => Value::Numeric(Numeric::PosInf),
        });
    }
    let (lb, lx) = (ln_dec(&b)?, ln_dec(&x)?);
    if lb.is_zero() {
        return Err(super::division_by_zero());
    }
    let q = lx.checked_div(lb).ok_or_else(numeric_overflow)?;
    // Round away the last digits ln leaves inexact, so log(2, 8) is 3.
    let q = Numeric::from_decimal(q.round_dp(24));
    let scale = num::div_scale(
        &Numeric::from_decimal(lx.round_dp(16)),
        &Numeric::from_decimal(lb.round_dp(16)),
    )
    .max(b.scale())
    .max(x.scale());
    Ok(Value::Numeric(set_scale(q, scale)))
}

fn trig_domain(x: f64, op: fn(f64) -> f64) -> Result<Value> {
    if !(-1.0..=1.0).contains(&x) && !x.is_nan() {
        return Err(err(
            ErrorCode::NumericValueOutOfRange,
            "input is out of range",
        ));
    }
    Ok(Value::Float8(op(x)))
}

fn gcd_lcm(a: &Value, b: &Value, lcm: bool, t: NumType) -> Result<Value> {
    let (x, y) = (as_i64(a).unwrap_or(0), as_i64(b).unwrap_or(0));
    let (mut p, mut q) = (i128::from(x).abs(), i128::from(y).abs());
    while q != 0 {
        (p, q) = (q, p % q);
    }
    let v = if lcm {
        if x == 0 || y == 0 {
            0
        } else {
            (i128::from(x) / p * i128::from(y)).abs()
        }
    } else {
        p
    };
    let v = i64::try_from(v).map_err(|_| int_out_of_range(&t.data_type()))?;
    num::int_value(v, t)
}

fn factorial(n: i64) -> Result<Value> {
    if n < 0 {
        return Err(err(
            ErrorCode::InvalidParameterValue,
            "factorial of a negative number is undefined",
        ));
    }
    // 32178! has more digits than numeric holds.
    if n > 32177 {
        return Err(numeric_overflow());
    }
    let mut acc = Numeric::one();
    for i in 2..=n {
        acc = acc.mul(&Numeric::from(i))?.ok_or_else(numeric_overflow)?;
    }
    Ok(Value::Numeric(acc))
}

fn width_bucket(x: f64, lo: f64, hi: f64, n: i64) -> Result<Value> {
    if n <= 0 {
        return Err(err(
            ErrorCode::InvalidParameterValue,
            "count must be greater than zero",
        ));
    }
    if lo == hi || lo.is_nan() || hi.is_nan() || lo.is_infinite() || hi.is_infinite() {
        return Err(err(
            ErrorCode::InvalidParameterValue,
            if lo == hi {
                "lower bound cannot equal upper bound"
            } else {
                "lower and upper bounds must be finite"
            },
        ));
    }
    let nf = n as f64;
    let bucket = if lo < hi {
        if x < lo {
            0
        } else if x >= hi {
            n + 1
        } else {
            ((nf * (x - lo) / (hi - lo)) as i64 + 1).min(n)
        }
    } else if x > lo {
        0
    } else if x <= hi {
        n + 1
    } else {
        ((nf * (lo - x) / (lo - hi)) as i64 + 1).min(n)
    };
    i32::try_from(bucket)
        .map(Value::Int4)
        .map_err(|_| int_out_of_range(&DataType::Int4))
}

/// A uniform float in [0, 1) from the operating system's generator.
pub(super) fn random_f64() -> Result<f64> {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).map_err(|e| {
        crate::error::Error::internal(format!("could not generate random values: {e}"))
    })?;
    Ok((u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64)
}

/// greatest/least: NULLs ignored, the rest compared in their common type.
pub(super) fn greatest_least(
    greatest: bool,
    args: &[Value],
    ctx: &FunctionContext,
) -> Result<Value> {
    let types: Vec<DataType> = args
        .iter()
        .map(|v| v.data_type().unwrap_or(DataType::Unknown))
        .collect();
    let name = if greatest { "greatest" } else { "least" };
    let Some(common) = common_type(&types) else {
        return Err(super::no_function(name, &types));
    };
    let mut best: Option<Value> = None;
    for v in args.iter().filter(|v| !v.is_null()) {
        let v = coerce(v, &common, ctx)?;
        let better = match &best {
            None => true,
            Some(b) => {
                let o = v.total_cmp(b);
                if greatest {
                    o.is_gt()
                } else {
                    o.is_lt()
                }
            }
        };
        if better {
            best = Some(v);
        }
    }
    Ok(best.unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::FormatOptions;

    fn num(s: &str) -> Value {
        Value::from_text(&DataType::Numeric(None), s, &FormatOptions::default())
            .expect("valid numeric")
    }

    fn call(name: &str, args: &[Value]) -> String {
        match super::super::call(name, args, &FunctionContext::default()) {
            Ok(v) => v.to_text(&FormatOptions::default()).unwrap_or_default(),
            Err(e) => format!("ERROR {}", e.message),
        }
    }

    /// Values far outside 28 digits finish quickly and say what PostgreSQL
    /// 15 says (each checked with psql).
    #[test]
    fn extreme_numerics_are_quick_and_checked() {
        let started = std::time::Instant::now();
        assert_eq!(
            call("power", &[num("2"), num("1000000000")]),
            "ERROR value overflows numeric format"
        );
        assert_eq!(
            call("power", &[num("2"), num("-1000000000")]),
            "0.0000000000000000"
        );
        assert_eq!(
            call("power", &[num("0.5"), num("100000")]),
            "0.0000000000000000"
        );
        assert_eq!(
            call("power", &[num("1.000001"), num("-3")]),
            "0.9999970000060000"
        );
        assert_eq!(
            call("exp", &[num("400000")]),
            "ERROR value overflows numeric format"
        );
        assert_eq!(
            call("ln", &[num("1e-150")]),
            "-345.387763949106852602698718202654631140165223294315946404999185145135891451602872035399580763439744751295167606342937295011428819762421013499943105364817"
        );
        assert_eq!(
            call("ln", &[num("1.00000000000000000000000000000000000000001")]),
            "0.000000000000000000000000000000000000000010000000000000000"
        );
        assert_eq!(
            call("factorial", &[Value::Int8(40000)]),
            "ERROR value overflows numeric format"
        );
        assert_eq!(call("sqrt", &[num("1e131071")]).len(), 65536);
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }
}
