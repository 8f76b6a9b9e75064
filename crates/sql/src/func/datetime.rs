//! Date and time arithmetic as PostgreSQL does it: calendar helpers,
//! `timestamp ± interval` with month-end clamping (months, then days,
//! then time), `timestamp - timestamp`, interval arithmetic and
//! justification, and the date/time operators' range checks.

use super::{division_by_zero, err, FunctionContext};
use crate::error::{ErrorCode, Result};
use crate::types::tz::Zone;
use crate::types::{Interval, Value, MICROS_PER_DAY};

/// `date` infinity and -infinity, as PostgreSQL stores them.
pub(super) const DATE_INFINITY: i32 = i32::MAX;
pub(super) const DATE_NEG_INFINITY: i32 = i32::MIN;
/// `timestamp[tz]` infinity and -infinity.
pub(super) const TS_INFINITY: i64 = i64::MAX;
pub(super) const TS_NEG_INFINITY: i64 = i64::MIN;
/// 4714-11-24 BC 00:00, the first timestamp PostgreSQL accepts.
const MIN_TIMESTAMP: i64 = -211_813_488_000_000_000;
/// 294277-01-01 00:00, the first timestamp past PostgreSQL's range.
const END_TIMESTAMP: i64 = 9_223_371_331_200_000_000;
/// Days from 2000-01-01 of the first and past-the-last valid dates.
const MIN_DATE: i64 = -2_451_545;
const END_DATE: i64 = 2_145_031_949;
pub(super) const MICROS_PER_HOUR: i64 = 3_600_000_000;
/// Seconds from 1970-01-01 to 2000-01-01.
pub(super) const UNIX_EPOCH_OFFSET_SECS: i64 = 946_684_800;
/// The Julian day number of 2000-01-01.
pub(super) const JULIAN_2000: i64 = 2_451_545;

pub(super) fn ts_out_of_range() -> crate::error::Error {
    err(ErrorCode::DatetimeFieldOverflow, "timestamp out of range")
}

fn date_out_of_range() -> crate::error::Error {
    err(ErrorCode::DatetimeFieldOverflow, "date out of range")
}

fn interval_out_of_range() -> crate::error::Error {
    err(ErrorCode::DatetimeFieldOverflow, "interval out of range")
}

/// Days since 2000-01-01 of a proleptic Gregorian date (astronomical
/// years: 0 is 1 BC).
pub(super) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 - 10_957
}

/// The date of a day count from 2000-01-01: (year, month, day).
pub(super) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 10_957 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

pub(super) fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

pub(super) fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A timestamp broken into calendar fields (astronomical year).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Tm {
    pub year: i64,
    pub mon: u32,
    pub mday: u32,
    /// Microseconds since midnight.
    pub time: i64,
}

impl Tm {
    pub(super) fn from_ts(ts: i64) -> Tm {
        let days = ts.div_euclid(MICROS_PER_DAY);
        let (year, mon, mday) = civil_from_days(days);
        Tm {
            year,
            mon,
            mday,
            time: ts.rem_euclid(MICROS_PER_DAY),
        }
    }

    pub(super) fn days(&self) -> i64 {
        days_from_civil(self.year, self.mon, self.mday)
    }

    pub(super) fn to_ts(self) -> Result<i64> {
        let ts = self
            .days()
            .checked_mul(MICROS_PER_DAY)
            .and_then(|t| t.checked_add(self.time))
            .ok_or_else(ts_out_of_range)?;
        check_ts(ts)
    }
}

/// Fails with PostgreSQL's error when `ts` is outside its range.
pub(super) fn check_ts(ts: i64) -> Result<i64> {
    if !(MIN_TIMESTAMP..END_TIMESTAMP).contains(&ts) {
        return Err(ts_out_of_range());
    }
    Ok(ts)
}

pub(super) fn is_infinite_ts(ts: i64) -> bool {
    ts == TS_INFINITY || ts == TS_NEG_INFINITY
}

pub(super) fn is_infinite_date(d: i32) -> bool {
    d == DATE_INFINITY || d == DATE_NEG_INFINITY
}

/// The session's time zone; a setting that does not parse counts as UTC
/// (SET already rejected it, so this only guards old state).
pub(super) fn session_zone(ctx: &FunctionContext) -> Zone {
    Zone::parse(&ctx.format.timezone).unwrap_or(Zone::Fixed(0))
}

pub(super) fn date_to_ts(d: i32) -> Result<i64> {
    Ok(match d {
        DATE_INFINITY => TS_INFINITY,
        DATE_NEG_INFINITY => TS_NEG_INFINITY,
        d => check_ts(i64::from(d) * MICROS_PER_DAY)?,
    })
}

/// `date::timestamptz`: local midnight in the session's zone.
pub(super) fn date_to_tstz(d: i32, ctx: &FunctionContext) -> Result<i64> {
    let ts = date_to_ts(d)?;
    if is_infinite_ts(ts) {
        return Ok(ts);
    }
    check_ts(session_zone(ctx).local_to_utc(ts))
}

pub(super) fn date_plus_days(d: i32, n: i64) -> Result<i32> {
    if is_infinite_date(d) {
        return Ok(d);
    }
    let r = i64::from(d) + n;
    if !(MIN_DATE..END_DATE).contains(&r) {
        return Err(date_out_of_range());
    }
    Ok(r as i32)
}

pub(super) fn date_minus_date(a: i32, b: i32) -> Result<i32> {
    if is_infinite_date(a) || is_infinite_date(b) {
        return Err(err(
            ErrorCode::DatetimeFieldOverflow,
            "cannot subtract infinite dates",
        ));
    }
    i32::try_from(i64::from(a) - i64::from(b))
        .map_err(|_| err(ErrorCode::NumericValueOutOfRange, "integer out of range"))
}

pub(super) fn date_plus_time(d: i32, t: i64) -> Result<i64> {
    let ts = date_to_ts(d)?;
    if is_infinite_ts(ts) {
        return Ok(ts);
    }
    check_ts(ts + t)
}

/// The interval `iv`, or its negation for subtraction.
fn signed(iv: &Interval, neg: bool) -> Result<Interval> {
    if neg {
        interval_neg(iv)
    } else {
        Ok(*iv)
    }
}

/// Adds `months` to local time `ts`, clamping the day to the new month's
/// length (2024-01-31 + 1 month = 2024-02-29).
fn add_months(ts: i64, months: i32) -> Result<i64> {
    if months == 0 {
        return Ok(ts);
    }
    let mut tm = Tm::from_ts(ts);
    let total = tm.year * 12 + i64::from(tm.mon) - 1 + i64::from(months);
    tm.year = total.div_euclid(12);
    tm.mon = (total.rem_euclid(12) + 1) as u32;
    tm.mday = tm.mday.min(days_in_month(tm.year, tm.mon));
    tm.to_ts()
}

fn add_days(ts: i64, days: i32) -> Result<i64> {
    ts.checked_add(i64::from(days) * MICROS_PER_DAY)
        .ok_or_else(ts_out_of_range)
        .and_then(check_ts)
}

/// `timestamp ± interval`: months first (clamping the day), then days,
/// then the time part, as timestamp_pl_interval.
pub(super) fn ts_plus_interval(ts: i64, iv: &Interval, neg: bool) -> Result<i64> {
    if is_infinite_ts(ts) {
        return Ok(ts);
    }
    let iv = signed(iv, neg)?;
    let ts = add_months(ts, iv.months)?;
    let ts = add_days(ts, iv.days)?;
    ts.checked_add(iv.micros)
        .ok_or_else(ts_out_of_range)
        .and_then(check_ts)
}

/// `timestamptz ± interval`: months and days move the local wall-clock
/// time in the session's zone (so a day across a DST change is 23 or 25
/// hours); the time part moves the instant.
pub(super) fn tstz_plus_interval(
    ts: i64,
    iv: &Interval,
    neg: bool,
    ctx: &FunctionContext,
) -> Result<i64> {
    if is_infinite_ts(ts) {
        return Ok(ts);
    }
    let iv = signed(iv, neg)?;
    let zone = session_zone(ctx);
    let mut t = ts;
    if iv.months != 0 {
        t = zone.local_to_utc(add_months(zone.utc_to_local(t), iv.months)?);
    }
    if iv.days != 0 {
        t = zone.local_to_utc(add_days(zone.utc_to_local(t), iv.days)?);
    }
    t.checked_add(iv.micros)
        .ok_or_else(ts_out_of_range)
        .and_then(check_ts)
}

/// `time ± interval` wraps around midnight; only the time part counts.
pub(super) fn time_plus_interval(t: i64, iv: &Interval, neg: bool) -> i64 {
    let d = iv.micros.rem_euclid(MICROS_PER_DAY);
    let d = if neg { -d } else { d };
    (t + d).rem_euclid(MICROS_PER_DAY)
}

/// The instant of a date, timestamp or timestamptz (dates at midnight),
/// for subtraction across those types.
pub(super) fn instant(v: &Value, ctx: &FunctionContext) -> Option<i64> {
    match v {
        Value::Timestamp(t) | Value::Timestamptz(t) => Some(*t),
        Value::Date(d) => {
            let _ = ctx;
            date_to_ts(*d).ok()
        }
        _ => None,
    }
}

/// `timestamp - timestamp`: days and time, never months (justify_hours).
pub(super) fn ts_minus_ts(a: i64, b: i64) -> Result<Interval> {
    if is_infinite_ts(a) || is_infinite_ts(b) {
        return Err(err(
            ErrorCode::DatetimeFieldOverflow,
            "cannot subtract infinite timestamps",
        ));
    }
    let micros = a.checked_sub(b).ok_or_else(interval_out_of_range)?;
    justify_hours(&Interval {
        months: 0,
        days: 0,
        micros,
    })
}

pub(super) fn interval_neg(iv: &Interval) -> Result<Interval> {
    Ok(Interval {
        months: iv.months.checked_neg().ok_or_else(interval_out_of_range)?,
        days: iv.days.checked_neg().ok_or_else(interval_out_of_range)?,
        micros: iv.micros.checked_neg().ok_or_else(interval_out_of_range)?,
    })
}

pub(super) fn interval_add(a: &Interval, b: &Interval, neg: bool) -> Result<Interval> {
    let b = signed(b, neg)?;
    Ok(Interval {
        months: a
            .months
            .checked_add(b.months)
            .ok_or_else(interval_out_of_range)?,
        days: a
            .days
            .checked_add(b.days)
            .ok_or_else(interval_out_of_range)?,
        micros: a
            .micros
            .checked_add(b.micros)
            .ok_or_else(interval_out_of_range)?,
    })
}

/// Rounds to whole microseconds, as PostgreSQL's TSROUND.
fn tsround(x: f64) -> f64 {
    (x * 1e6).round_ties_even() / 1e6
}

/// interval_mul / interval_div: each field scales, and the fractions of
/// months and days cascade down (a month is 30 days, a day 24 hours).
fn interval_scale(iv: &Interval, scale: impl Fn(f64) -> f64) -> Result<Interval> {
    let to_i32 = |x: f64| {
        if x.is_nan() || x < f64::from(i32::MIN) || x > f64::from(i32::MAX) {
            Err(interval_out_of_range())
        } else {
            Ok(x as i32)
        }
    };
    let month_f = scale(f64::from(iv.months));
    let day_f = scale(f64::from(iv.days));
    let months = to_i32(month_f)?;
    let mut days = to_i32(day_f)?;
    let month_remainder_days = tsround((month_f - f64::from(months)) * 30.0);
    let mut sec_remainder = tsround(
        (day_f - f64::from(days) + month_remainder_days - month_remainder_days.trunc()) * 86400.0,
    );
    if sec_remainder.abs() >= 86400.0 {
        let whole = (sec_remainder / 86400.0).trunc();
        days = days
            .checked_add(whole as i32)
            .ok_or_else(interval_out_of_range)?;
        sec_remainder -= whole * 86400.0;
    }
    days = days
        .checked_add(month_remainder_days.trunc() as i32)
        .ok_or_else(interval_out_of_range)?;
    let micros = (scale(iv.micros as f64) + sec_remainder * 1e6).round_ties_even();
    if !micros.is_finite() || micros.abs() >= 9.2e18 {
        return Err(interval_out_of_range());
    }
    Ok(Interval {
        months,
        days,
        micros: micros as i64,
    })
}

pub(super) fn interval_mul(iv: &Interval, f: f64) -> Result<Interval> {
    if f.is_nan() {
        return Err(interval_out_of_range());
    }
    interval_scale(iv, |x| x * f)
}

pub(super) fn interval_div(iv: &Interval, f: f64) -> Result<Interval> {
    if f == 0.0 {
        return Err(division_by_zero());
    }
    if f.is_nan() {
        return Err(interval_out_of_range());
    }
    interval_scale(iv, |x| x / f)
}

/// justify_hours: whole days out of the time part, signs made to agree.
pub(super) fn justify_hours(iv: &Interval) -> Result<Interval> {
    let mut days = i64::from(iv.days) + iv.micros / MICROS_PER_DAY;
    let mut micros = iv.micros % MICROS_PER_DAY;
    if days > 0 && micros < 0 {
        micros += MICROS_PER_DAY;
        days -= 1;
    } else if days < 0 && micros > 0 {
        micros -= MICROS_PER_DAY;
        days += 1;
    }
    Ok(Interval {
        months: iv.months,
        days: i32::try_from(days).map_err(|_| interval_out_of_range())?,
        micros,
    })
}

/// justify_days: whole 30-day months out of the days, signs made to agree.
pub(super) fn justify_days(iv: &Interval) -> Result<Interval> {
    let mut months = i64::from(iv.months) + i64::from(iv.days / 30);
    let mut days = iv.days % 30;
    if months > 0 && days < 0 {
        days += 30;
        months -= 1;
    } else if months < 0 && days > 0 {
        days -= 30;
        months += 1;
    }
    Ok(Interval {
        months: i32::try_from(months).map_err(|_| interval_out_of_range())?,
        days,
        micros: iv.micros,
    })
}

/// justify_interval: both, with the signs of all three parts agreeing.
pub(super) fn justify_interval(iv: &Interval) -> Result<Interval> {
    let mut months = i64::from(iv.months);
    let mut days = i64::from(iv.days) + iv.micros / MICROS_PER_DAY;
    let mut micros = iv.micros % MICROS_PER_DAY;
    months += days / 30;
    days %= 30;
    if months > 0 && (days < 0 || (days == 0 && micros < 0)) {
        days += 30;
        months -= 1;
    } else if months < 0 && (days > 0 || (days == 0 && micros > 0)) {
        days -= 30;
        months += 1;
    }
    if days > 0 && micros < 0 {
        micros += MICROS_PER_DAY;
        days -= 1;
    } else if days < 0 && micros > 0 {
        micros -= MICROS_PER_DAY;
        days += 1;
    }
    Ok(Interval {
        months: i32::try_from(months).map_err(|_| interval_out_of_range())?,
        days: i32::try_from(days).map_err(|_| interval_out_of_range())?,
        micros,
    })
}

/// age(a, b): the field-by-field difference, borrowing from the month
/// before when days go negative (the month of the earlier argument).
pub(super) fn age(a: i64, b: i64) -> Result<Interval> {
    if is_infinite_ts(a) || is_infinite_ts(b) {
        return Err(err(
            ErrorCode::DatetimeFieldOverflow,
            "cannot subtract infinite timestamps",
        ));
    }
    let (t1, t2) = (Tm::from_ts(a), Tm::from_ts(b));
    let sign = if a < b { -1 } else { 1 };
    let mut usec = sign * ((t1.time % 1_000_000) - (t2.time % 1_000_000));
    let mut sec = sign * ((t1.time / 1_000_000 % 60) - (t2.time / 1_000_000 % 60));
    let mut min = sign * ((t1.time / 60_000_000 % 60) - (t2.time / 60_000_000 % 60));
    let mut hour = sign * ((t1.time / MICROS_PER_HOUR) - (t2.time / MICROS_PER_HOUR));
    let mut mday = sign * (i64::from(t1.mday) - i64::from(t2.mday));
    let mut mon = sign * (i64::from(t1.mon) - i64::from(t2.mon));
    let mut year = sign * (t1.year - t2.year);
    while usec < 0 {
        usec += 1_000_000;
        sec -= 1;
    }
    while sec < 0 {
        sec += 60;
        min -= 1;
    }
    while min < 0 {
        min += 60;
        hour -= 1;
    }
    while hour < 0 {
        hour += 24;
        mday -= 1;
    }
    while mday < 0 {
        let t = if a < b { t1 } else { t2 };
        mday += i64::from(days_in_month(t.year, t.mon));
        mon -= 1;
    }
    while mon < 0 {
        mon += 12;
        year -= 1;
    }
    let months = sign * (year * 12 + mon);
    let days = sign * mday;
    let micros = sign * (((hour * 60 + min) * 60 + sec) * 1_000_000 + usec);
    Ok(Interval {
        months: i32::try_from(months).map_err(|_| interval_out_of_range())?,
        days: i32::try_from(days).map_err(|_| interval_out_of_range())?,
        micros,
    })
}
