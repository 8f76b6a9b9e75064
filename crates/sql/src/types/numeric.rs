//! PostgreSQL's arbitrary-precision `numeric`: a finite decimal (a
//! `bigdecimal::BigDecimal`, whose scale is the display scale) or ±Infinity.
//! NaN is kept apart as `Value::NumericNaN`; operations that can produce it
//! return `Option<Numeric>`, `None` meaning NaN.
//!
//! The limits are PostgreSQL's: up to 131072 digits before the point
//! (weight 32767 in base-10000 digits) and 16383 after it.

use std::cmp::Ordering;
use std::str::FromStr;

use bigdecimal::num_bigint::{BigInt, Sign};
use bigdecimal::{BigDecimal, RoundingMode, ToPrimitive, Zero};

use crate::error::{Error, ErrorCode, Result};

/// The most decimal digits after the point (NUMERIC_DSCALE_MAX).
pub const MAX_DSCALE: i64 = 16383;
/// The most decimal digits before the point ((NUMERIC_WEIGHT_MAX + 1) * 4).
pub const MAX_INT_DIGITS: i64 = 131072;
/// The most significant digits numeric(p, s) allows.
pub const MAX_PRECISION: u32 = 1000;

/// How `round_to` breaks ties: PostgreSQL's round (half away from zero) or
/// trunc (toward zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    HalfAwayFromZero,
    ToZero,
}

impl Rounding {
    fn mode(self) -> RoundingMode {
        match self {
            Rounding::HalfAwayFromZero => RoundingMode::HalfUp,
            Rounding::ToZero => RoundingMode::Down,
        }
    }
}

/// A numeric other than NaN. The derived order is PostgreSQL's:
/// -Infinity < every finite value < Infinity (NaN sorts above them all).
#[derive(Clone, Debug)]
pub enum Numeric {
    NegInf,
    Finite(BigDecimal),
    PosInf,
}

/// 22003 "value overflows numeric format".
pub fn overflow() -> Error {
    Error::new(
        ErrorCode::NumericValueOutOfRange,
        "value overflows numeric format",
    )
}

fn pow10(n: u64) -> BigInt {
    num_traits_pow(BigInt::from(10u8), n)
}

fn num_traits_pow(base: BigInt, n: u64) -> BigInt {
    let mut acc = BigInt::from(1u8);
    let mut b = base;
    let mut e = n;
    while e > 0 {
        if e & 1 == 1 {
            acc *= &b;
        }
        e >>= 1;
        if e > 0 {
            b = &b * &b;
        }
    }
    acc
}

/// 22012 "division by zero".
fn division_by_zero() -> Error {
    Error::new(ErrorCode::DivisionByZero, "division by zero")
}

/// `n / d` rounded half away from zero.
fn div_round(n: &BigInt, d: &BigInt) -> BigInt {
    let (q, r) = (n / d, n % d);
    let twice: BigInt = r.magnitude().clone().into();
    let twice = twice * 2u8;
    let dm: BigInt = d.magnitude().clone().into();
    if twice >= dm {
        let up = if (n.sign() == Sign::Minus) != (d.sign() == Sign::Minus) {
            -1
        } else {
            1
        };
        q + up
    } else {
        q
    }
}

impl Numeric {
    pub fn zero() -> Numeric {
        Numeric::Finite(BigDecimal::zero())
    }

    pub fn one() -> Numeric {
        Numeric::from(1i64)
    }

    /// `mantissa × 10^-scale`.
    pub fn from_scaled(mantissa: i128, scale: u32) -> Numeric {
        Numeric::Finite(BigDecimal::new(BigInt::from(mantissa), i64::from(scale)))
    }

    /// A finite value, range-checked: a negative scale becomes 0, more than
    /// 131072 integer digits or 16383 fraction digits overflow.
    pub fn finite(d: BigDecimal) -> Result<Numeric> {
        let d = if d.fractional_digit_count() < 0 {
            d.with_scale(0)
        } else {
            d
        };
        if d.fractional_digit_count() > MAX_DSCALE {
            return Err(overflow());
        }
        if !d.is_zero() && d.digits() as i64 - d.fractional_digit_count() > MAX_INT_DIGITS {
            return Err(overflow());
        }
        Ok(Numeric::Finite(d))
    }

    pub fn is_finite(&self) -> bool {
        matches!(self, Numeric::Finite(_))
    }

    /// The finite value, `None` for ±Infinity.
    pub fn as_finite(&self) -> Option<&BigDecimal> {
        match self {
            Numeric::Finite(d) => Some(d),
            _ => None,
        }
    }

    /// The display scale (0 for the infinities).
    pub fn scale(&self) -> u32 {
        match self {
            Numeric::Finite(d) => d.fractional_digit_count().max(0) as u32,
            _ => 0,
        }
    }

    pub fn is_zero(&self) -> bool {
        matches!(self, Numeric::Finite(d) if d.is_zero())
    }

    /// Below zero (zero itself is never negative: numeric has no -0).
    pub fn is_negative(&self) -> bool {
        match self {
            Numeric::NegInf => true,
            Numeric::Finite(d) => d.sign() == Sign::Minus,
            Numeric::PosInf => false,
        }
    }

    pub fn is_integer(&self) -> bool {
        match self {
            Numeric::Finite(d) => d.is_integer(),
            _ => false,
        }
    }

    pub fn abs(&self) -> Numeric {
        match self {
            Numeric::Finite(d) => Numeric::Finite(d.abs()),
            _ => Numeric::PosInf,
        }
    }

    pub fn neg(&self) -> Numeric {
        match self {
            Numeric::Finite(d) => Numeric::Finite(-d.clone()),
            Numeric::NegInf => Numeric::PosInf,
            Numeric::PosInf => Numeric::NegInf,
        }
    }

    /// -1, 0 or 1 as a numeric (sign()).
    pub fn signum(&self) -> Numeric {
        if self.is_zero() {
            Numeric::zero()
        } else if self.is_negative() {
            Numeric::from(-1i64)
        } else {
            Numeric::one()
        }
    }

    /// The mantissa and scale of a finite value.
    pub fn mantissa_scale(&self) -> Option<(BigInt, i64)> {
        self.as_finite().map(|d| d.as_bigint_and_exponent())
    }

    /// Rounds (or truncates) to `scale` digits after the point, or to a
    /// multiple of 10^-scale when negative; the display scale becomes
    /// `max(scale, 0)`, padded with zeros as PostgreSQL's round does.
    pub fn round_to(&self, scale: i64, how: Rounding) -> Numeric {
        let Numeric::Finite(d) = self else {
            return self.clone();
        };
        let scale = scale.clamp(-MAX_INT_DIGITS - 1, MAX_DSCALE);
        let r = d.with_scale_round(scale, how.mode());
        if scale < 0 {
            Numeric::Finite(r.with_scale(0))
        } else {
            Numeric::Finite(r)
        }
    }

    /// Rounds half away from zero to exactly `scale` fraction digits.
    pub fn set_scale(&self, scale: u32) -> Numeric {
        self.round_to(i64::from(scale), Rounding::HalfAwayFromZero)
    }

    /// The value with trailing fraction zeros dropped (for hashing).
    pub fn normalized(&self) -> Numeric {
        match self {
            Numeric::Finite(d) => {
                let n = d.normalized();
                Numeric::Finite(if n.fractional_digit_count() < 0 {
                    n.with_scale(0)
                } else {
                    n
                })
            }
            other => other.clone(),
        }
    }

    pub fn trunc(&self) -> Numeric {
        self.round_to(0, Rounding::ToZero)
    }

    pub fn fract(&self) -> Numeric {
        match self {
            Numeric::Finite(d) => Numeric::Finite(d - d.with_scale(0)),
            _ => Numeric::zero(),
        }
    }

    pub fn floor(&self) -> Numeric {
        match self {
            Numeric::Finite(d) => Numeric::Finite(d.with_scale_round(0, RoundingMode::Floor)),
            other => other.clone(),
        }
    }

    pub fn ceil(&self) -> Numeric {
        match self {
            Numeric::Finite(d) => Numeric::Finite(d.with_scale_round(0, RoundingMode::Ceiling)),
            other => other.clone(),
        }
    }

    /// The nearest double, through the decimal text as numeric_float8 does;
    /// values beyond double's range become ±infinity.
    pub fn to_f64(&self) -> f64 {
        match self {
            Numeric::NegInf => f64::NEG_INFINITY,
            Numeric::PosInf => f64::INFINITY,
            Numeric::Finite(d) => {
                let (m, s) = d.as_bigint_and_exponent();
                format!("{m}e{}", -s).parse().unwrap_or(f64::NAN)
            }
        }
    }

    /// The value rounded half away from zero to an integer, if it fits.
    pub fn to_i64(&self) -> Option<i64> {
        self.to_i128().and_then(|i| i64::try_from(i).ok())
    }

    pub fn to_i128(&self) -> Option<i128> {
        match self.round_to(0, Rounding::HalfAwayFromZero) {
            Numeric::Finite(d) => d.with_scale(0).as_bigint_and_exponent().0.to_i128(),
            _ => None,
        }
    }

    /// Decimal digits of |value| and the power of ten of the first one
    /// (value = 0.d1d2... × 10^exp), trailing zeros dropped; `None` for zero
    /// and the infinities.
    pub fn digits_and_exponent(&self) -> Option<(String, i64)> {
        let Numeric::Finite(d) = self else {
            return None;
        };
        if d.is_zero() {
            return None;
        }
        let d = d.normalized();
        let (m, s) = d.as_bigint_and_exponent();
        let digits = m.magnitude().to_string();
        let exp = digits.len() as i64 - s;
        Some((digits, exp))
    }

    /// PostgreSQL's weight (of the first base-10000 digit) and that digit,
    /// as NumericVar has them; (0, 0) for zero.
    pub fn weight_and_first_digit(&self) -> (i64, u32) {
        let Some((digits, exp)) = self.digits_and_exponent() else {
            return (0, 0);
        };
        // The first digit stands for 10^(exp - 1).
        let exp10 = exp - 1;
        let weight = exp10.div_euclid(4);
        let lead = (exp10 - 4 * weight + 1) as usize;
        let mut first = String::new();
        for i in 0..lead {
            first.push(digits.as_bytes().get(i).map_or('0', |b| *b as char));
        }
        (weight, first.parse().unwrap_or(0))
    }

    /// An approximation as rust_decimal's Decimal (28 significant digits),
    /// for the transcendental functions; `None` when out of its range.
    pub fn to_decimal(&self) -> Option<rust_decimal::Decimal> {
        let Numeric::Finite(d) = self else {
            return None;
        };
        if d.is_zero() {
            return Some(rust_decimal::Decimal::ZERO);
        }
        let (_, exp) = self.digits_and_exponent()?;
        if !(-27..=28).contains(&exp) {
            return None;
        }
        let keep = (28 - exp).clamp(0, 28);
        let r = d.with_scale_round(
            keep.min(d.fractional_digit_count().max(0)),
            RoundingMode::HalfUp,
        );
        let (m, s) = r.as_bigint_and_exponent();
        let m = m.to_i128()?;
        rust_decimal::Decimal::try_from_i128_with_scale(m, s.max(0) as u32).ok()
    }

    pub fn from_decimal(d: rust_decimal::Decimal) -> Numeric {
        Numeric::from_scaled(d.mantissa(), d.scale())
    }

    /// `a + b`; `None` is NaN (Infinity + -Infinity).
    pub fn add(&self, b: &Numeric) -> Result<Option<Numeric>> {
        use Numeric::*;
        Ok(Some(match (self, b) {
            (Finite(x), Finite(y)) => Numeric::finite(x + y)?,
            (PosInf, NegInf) | (NegInf, PosInf) => return Ok(None),
            (PosInf, _) | (_, PosInf) => PosInf,
            (NegInf, _) | (_, NegInf) => NegInf,
        }))
    }

    pub fn sub(&self, b: &Numeric) -> Result<Option<Numeric>> {
        self.add(&b.neg())
    }

    /// `a * b`; Infinity times zero is NaN. The scale is the sum of the
    /// scales, capped at 16383 digits.
    pub fn mul(&self, b: &Numeric) -> Result<Option<Numeric>> {
        Ok(Some(match (self, b) {
            (Numeric::Finite(x), Numeric::Finite(y)) => {
                let p = x * y;
                let p = if p.fractional_digit_count() > MAX_DSCALE {
                    p.with_scale_round(MAX_DSCALE, RoundingMode::HalfUp)
                } else {
                    p
                };
                Numeric::finite(p)?
            }
            (x, y) if x.is_zero() || y.is_zero() => return Ok(None),
            (x, y) => {
                if x.is_negative() != y.is_negative() {
                    Numeric::NegInf
                } else {
                    Numeric::PosInf
                }
            }
        }))
    }

    /// `a / b` rounded half away from zero to `scale` digits (PostgreSQL's
    /// div_var with round). The caller checks for a zero divisor.
    pub fn div_rounded(&self, b: &Numeric, scale: u32) -> Result<Option<Numeric>> {
        use Numeric::*;
        if b.is_zero() {
            return Err(division_by_zero());
        }
        Ok(Some(match (self, b) {
            (Finite(x), Finite(y)) => {
                let (ma, sa) = x.as_bigint_and_exponent();
                let (mb, sb) = y.as_bigint_and_exponent();
                let k = i64::from(scale) + sb - sa;
                let (n, d) = if k >= 0 {
                    (ma * pow10(k as u64), mb)
                } else {
                    (ma, mb * pow10((-k) as u64))
                };
                Numeric::finite(BigDecimal::new(div_round(&n, &d), i64::from(scale)))?
            }
            (Finite(_), _) => Numeric::zero(),
            (_, Finite(y)) => {
                if self.is_negative() != (y.sign() == Sign::Minus) {
                    NegInf
                } else {
                    PosInf
                }
            }
            _ => return Ok(None),
        }))
    }

    /// `a / b` truncated to an integer (div()).
    pub fn div_trunc(&self, b: &Numeric) -> Result<Option<Numeric>> {
        use Numeric::*;
        if b.is_zero() {
            return Err(division_by_zero());
        }
        Ok(Some(match (self, b) {
            (Finite(x), Finite(y)) => {
                let s = x.fractional_digit_count().max(y.fractional_digit_count());
                let (ma, _) = x.with_scale(s).as_bigint_and_exponent();
                let (mb, _) = y.with_scale(s).as_bigint_and_exponent();
                Numeric::finite(BigDecimal::new(ma / mb, 0))?
            }
            (Finite(_), _) => Numeric::zero(),
            _ => return self.div_rounded(b, 0),
        }))
    }

    /// `a % b` with the sign of `a` and the larger scale; Infinity % x is
    /// NaN, x % Infinity is x.
    pub fn rem(&self, b: &Numeric) -> Option<Numeric> {
        match (self, b) {
            (Numeric::Finite(x), Numeric::Finite(y)) if !y.is_zero() => {
                let s = x.fractional_digit_count().max(y.fractional_digit_count());
                let (ma, _) = x.with_scale(s).as_bigint_and_exponent();
                let (mb, _) = y.with_scale(s).as_bigint_and_exponent();
                Some(Numeric::Finite(BigDecimal::new(ma % mb, s)))
            }
            // x % 0 is the caller's error; NaN here keeps it from panicking.
            (Numeric::Finite(_), Numeric::Finite(_)) => None,
            (Numeric::Finite(_), _) => Some(self.clone()),
            _ => None,
        }
    }

    /// `self ^ n` for an integer `n`, to `scale` digits after the point.
    pub fn powi(&self, n: i64, scale: u32) -> Result<Numeric> {
        let Numeric::Finite(d) = self else {
            return Err(Error::internal("powi of infinity"));
        };
        if n == 0 {
            return Ok(Numeric::one().set_scale(scale));
        }
        if d.is_zero() {
            return Ok(Numeric::zero().set_scale(scale));
        }
        let (digits, exp) = self.digits_and_exponent().unwrap_or_default();
        // log10 |self| from its exponent and leading digits, then of the
        // result: enough to refuse an overflow before computing it.
        let head: f64 = digits[..digits.len().min(15)].parse().unwrap_or(1.0);
        let lg = (exp - 1) as f64 + (head.log10() - (digits.len().min(15) - 1) as f64);
        let est = lg * n as f64;
        if est > (MAX_INT_DIGITS + 1) as f64 {
            return Err(overflow());
        }
        if est < -((i64::from(scale) + 2) as f64) {
            return Ok(Numeric::zero().set_scale(scale));
        }
        let lo = est.floor() as i64;
        // Square and multiply, rounding intermediate results to some guard
        // digits past what the result keeps: fraction digits for a positive
        // power, significant digits for a negative one (its reciprocal's
        // scale is what counts).
        let guard = i64::from(scale) + 24;
        let sig = (i64::from(scale) + 1 + lo).max(1) + 24;
        let keep = |x: BigDecimal| {
            if n < 0 {
                if x.digits() as i64 > sig {
                    x.with_prec(sig as u64)
                } else {
                    x
                }
            } else if x.fractional_digit_count() > guard {
                x.with_scale_round(guard, RoundingMode::HalfUp)
            } else {
                x
            }
        };
        let mut acc = BigDecimal::from(1);
        let mut base = d.clone();
        let mut e = n.unsigned_abs();
        while e > 0 {
            if e & 1 == 1 {
                acc = keep(&acc * &base);
            }
            e >>= 1;
            if e > 0 {
                base = keep(base.square());
            }
        }
        let p = Numeric::finite(acc)?;
        if n < 0 {
            let q = Numeric::one().div_rounded(&p, scale)?;
            return q.ok_or_else(overflow);
        }
        let r = p.set_scale(scale);
        Numeric::finite(r.as_finite().cloned().unwrap_or_default())
    }

    /// sqrt of a non-negative value to `scale` digits, rounded half up:
    /// the integer square root of the mantissa shifted to one more digit.
    pub fn sqrt(&self, scale: u32) -> Result<Numeric> {
        match self {
            Numeric::Finite(d) => {
                let (m, sx) = d.as_bigint_and_exponent();
                if m.sign() == Sign::Minus {
                    return Err(overflow());
                }
                let shift = 2 * (i64::from(scale) + 1) - sx;
                let n = if shift >= 0 {
                    m * pow10(shift as u64)
                } else {
                    m / pow10((-shift) as u64)
                };
                let q = (n.sqrt() + 5u8) / 10u8;
                Numeric::finite(BigDecimal::new(q, i64::from(scale)))
            }
            other => Ok(other.clone()),
        }
    }

    /// Parses numeric_in's input: decimal or exponent notation (the scale
    /// is kept), `Infinity`/`inf` with an optional sign. NaN is the
    /// caller's. `None` for a syntax error.
    pub fn parse(s: &str) -> Option<Result<Numeric>> {
        let lower = s.to_ascii_lowercase();
        let (neg, body) = match lower.as_bytes().first() {
            Some(b'-') => (true, &lower[1..]),
            Some(b'+') => (false, &lower[1..]),
            _ => (false, lower.as_str()),
        };
        if matches!(body, "inf" | "infinity") {
            return Some(Ok(if neg {
                Numeric::NegInf
            } else {
                Numeric::PosInf
            }));
        }
        let (mant, exp) = match body.find('e') {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().all(|c| c.is_ascii_digit())
            || !frac.bytes().all(|c| c.is_ascii_digit())
        {
            return None;
        }
        let exp: i64 = match exp {
            None => 0,
            Some(e) => {
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                // Past these the value overflows whatever its digits.
                match e.parse::<i64>() {
                    Ok(x) if (-1_000_000..=1_000_000).contains(&x) => x,
                    _ => return Some(Err(overflow())),
                }
            }
        };
        let mut m = BigInt::from_str(&format!("{int}{frac}")).ok()?;
        if neg {
            m = -m;
        }
        let scale = frac.len() as i64 - exp;
        Some(Numeric::finite(BigDecimal::new(m, scale)))
    }
}

/// The numeric a double prints as (its shortest round-trip digits), so a
/// float and the numeric it equals hash alike; `None` for NaN.
pub fn from_f64_exact(f: f64) -> Option<Numeric> {
    if f.is_nan() {
        return None;
    }
    if f.is_infinite() {
        return Some(if f > 0.0 {
            Numeric::PosInf
        } else {
            Numeric::NegInf
        });
    }
    Numeric::parse(&format!("{f}"))?
        .ok()
        .map(|n| n.normalized())
}

impl From<i64> for Numeric {
    fn from(i: i64) -> Numeric {
        Numeric::Finite(BigDecimal::from(i))
    }
}

impl From<i128> for Numeric {
    fn from(i: i128) -> Numeric {
        Numeric::Finite(BigDecimal::from(i))
    }
}

impl PartialEq for Numeric {
    fn eq(&self, other: &Numeric) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Numeric {}

impl PartialOrd for Numeric {
    fn partial_cmp(&self, other: &Numeric) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Numeric {
    fn cmp(&self, other: &Numeric) -> Ordering {
        use Numeric::*;
        match (self, other) {
            (Finite(a), Finite(b)) => a.cmp(b),
            (NegInf, NegInf) | (PosInf, PosInf) => Ordering::Equal,
            (NegInf, _) | (_, PosInf) => Ordering::Less,
            (PosInf, _) | (_, NegInf) => Ordering::Greater,
        }
    }
}

impl std::hash::Hash for Numeric {
    /// Equal values hash alike whatever their scale (2.0 and 2).
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self.normalized() {
            Numeric::Finite(d) => {
                let (m, s) = d.as_bigint_and_exponent();
                m.hash(state);
                s.hash(state);
            }
            Numeric::NegInf => 1u8.hash(state),
            Numeric::PosInf => 2u8.hash(state),
        }
    }
}

impl std::fmt::Display for Numeric {
    /// numeric_out: plain notation with the display scale, no -0.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Numeric::NegInf => f.write_str("-Infinity"),
            Numeric::PosInf => f.write_str("Infinity"),
            Numeric::Finite(d) => {
                let (m, s) = d.as_bigint_and_exponent();
                let mut digits = m.magnitude().to_string();
                if s <= 0 {
                    digits.extend(std::iter::repeat_n('0', (-s) as usize));
                } else if digits.len() <= s as usize {
                    let pad = s as usize + 1 - digits.len();
                    digits.insert_str(0, &"0".repeat(pad));
                }
                if s > 0 {
                    digits.insert(digits.len() - s as usize, '.');
                }
                if m.sign() == Sign::Minus {
                    f.write_str("-")?;
                }
                f.write_str(&digits)
            }
        }
    }
}

/// Serialized as its text, as rust_decimal's serde support did.
impl serde::Serialize for Numeric {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Numeric {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Numeric, D::Error> {
        let s = String::deserialize(d)?;
        match Numeric::parse(&s) {
            Some(Ok(n)) => Ok(n),
            _ => Err(serde::de::Error::custom(format!("bad numeric {s:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Numeric {
        Numeric::parse(s).unwrap().unwrap()
    }

    #[test]
    fn parses_and_prints() {
        for (i, o) in [
            ("1.50", "1.50"),
            ("-0.000", "0.000"),
            ("1e3", "1000"),
            ("1.5e-3", "0.0015"),
            (".5", "0.5"),
            ("5.", "5"),
            ("-inf", "-Infinity"),
            (
                "123456789012345678901234567890.123",
                "123456789012345678901234567890.123",
            ),
        ] {
            assert_eq!(n(i).to_string(), o, "{i}");
        }
        assert!(Numeric::parse("1e").is_none());
        assert!(Numeric::parse("1e1001").unwrap().is_ok());
        assert!(Numeric::parse("1e131072").unwrap().is_err());
        assert!(Numeric::parse("1e-99999999999").unwrap().is_err());
        assert!(Numeric::parse("1.2.3").is_none());
    }

    #[test]
    fn arithmetic_keeps_every_digit() {
        let a = n("1.000000000000000000000000000001");
        let s = a.add(&Numeric::one()).unwrap().unwrap();
        assert_eq!(s.to_string(), "2.000000000000000000000000000001");
        let q = Numeric::one().div_rounded(&n("3"), 20).unwrap().unwrap();
        assert_eq!(q.to_string(), "0.33333333333333333333");
        let q = n("-2").div_rounded(&n("3"), 2).unwrap().unwrap();
        assert_eq!(q.to_string(), "-0.67");
        assert!(Numeric::PosInf.add(&Numeric::NegInf).unwrap().is_none());
        assert_eq!(n("7.5").rem(&n("-2")).unwrap().to_string(), "1.5");
        assert_eq!(n("2").powi(-2, 4).unwrap().to_string(), "0.2500");
    }

    #[test]
    fn rounding_and_weights() {
        assert_eq!(
            n("2.5").round_to(0, Rounding::HalfAwayFromZero).to_string(),
            "3"
        );
        assert_eq!(
            n("-2.5")
                .round_to(0, Rounding::HalfAwayFromZero)
                .to_string(),
            "-3"
        );
        assert_eq!(
            n("1234.5")
                .round_to(-2, Rounding::HalfAwayFromZero)
                .to_string(),
            "1200"
        );
        assert_eq!(n("12345.678").weight_and_first_digit(), (1, 1));
        assert_eq!(n("0.00012").weight_and_first_digit(), (-1, 1));
        assert_eq!(n("0.12").weight_and_first_digit(), (-1, 1200));
        assert!(Numeric::parse("1e1000").unwrap().is_ok());
        assert_eq!(n("2.0"), n("2"));
    }
}
