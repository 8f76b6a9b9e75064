//! Date/time functions: date_trunc, date_part/extract, age, make_*,
//! to_timestamp(float8), justify_*, isfinite, now() and friends, and
//! timezone() (AT TIME ZONE).

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::datetime::{
    self as dt, civil_from_days, days_from_civil, days_in_month, is_infinite_ts, session_zone,
    ts_out_of_range, Tm, MICROS_PER_HOUR, UNIX_EPOCH_OFFSET_SECS,
};
use super::signature::{Registry, NUMERIC};
use super::{err, FunctionContext};
use crate::error::{ErrorCode, Result};
use crate::types::tz::Zone;
use crate::types::{DataType, Interval, Numeric, Value, MICROS_PER_DAY};

use DataType::{Bool, Date, Float8, Int4, Text, Time, Timestamp, Timestamptz};

const IV: DataType = DataType::Interval;

pub(super) fn register(r: &mut Registry) {
    r.add(&["date_trunc"], &[Text, Timestamp], Timestamp, |a, _| {
        trunc_ts(s(&a[0]), ts(&a[1]), "timestamp without time zone").map(Value::Timestamp)
    });
    r.add(
        &["date_trunc"],
        &[Text, Timestamptz],
        Timestamptz,
        |a, ctx| trunc_tstz(s(&a[0]), ts(&a[1]), &session_zone(ctx)).map(Value::Timestamptz),
    );
    r.add(
        &["date_trunc"],
        &[Text, Timestamptz, Text],
        Timestamptz,
        |a, _| trunc_tstz(s(&a[0]), ts(&a[1]), &zone(s(&a[2]))?).map(Value::Timestamptz),
    );
    r.add(&["date_trunc"], &[Text, IV], IV, |a, _| {
        trunc_interval(s(&a[0]), &ivl(&a[1])).map(Value::Interval)
    });
    for (name, ret) in [("date_part", Float8), ("extract", NUMERIC)] {
        let names: &[&'static str] = if name == "extract" {
            &["extract"]
        } else {
            &["date_part"]
        };
        let float = ret == Float8;
        for arg in [Timestamp, Timestamptz, Date, Time, IV] {
            let body: super::signature::Body = match (float, &arg) {
                (true, Date) => |a, ctx| {
                    // date_part(text, date) is date_part(text, timestamp).
                    let t = dt::date_to_ts(date(&a[1]))?;
                    to_float(part(s(&a[0]), &Value::Timestamp(t), ctx))
                },
                (true, _) => |a, ctx| to_float(part(s(&a[0]), &a[1], ctx)),
                (false, _) => |a, ctx| {
                    part(s(&a[0]), &a[1], ctx).map(|d| Value::Numeric(Numeric::from_decimal(d)))
                },
            };
            r.add(names, &[Text, arg], ret.clone(), body);
        }
    }
    r.add(&["age"], &[Timestamp, Timestamp], IV, |a, _| {
        dt::age(ts(&a[0]), ts(&a[1])).map(Value::Interval)
    });
    r.add(&["age"], &[Timestamptz, Timestamptz], IV, |a, ctx| {
        let z = session_zone(ctx);
        dt::age(local(ts(&a[0]), &z), local(ts(&a[1]), &z)).map(Value::Interval)
    });
    r.add(&["age"], &[Timestamp], IV, |a, ctx| {
        dt::age(today(ctx), ts(&a[0])).map(Value::Interval)
    });
    r.add(&["age"], &[Timestamptz], IV, |a, ctx| {
        let z = session_zone(ctx);
        dt::age(today(ctx), local(ts(&a[0]), &z)).map(Value::Interval)
    });
    r.add(&["make_date"], &[Int4, Int4, Int4], Date, |a, _| {
        let d = make_date(int(&a[0]), int(&a[1]), int(&a[2]))?;
        Ok(Value::Date(d as i32))
    });
    r.add(&["make_time"], &[Int4, Int4, Float8], Time, |a, _| {
        make_time(int(&a[0]), int(&a[1]), flt(&a[2])).map(Value::Time)
    });
    r.add(
        &["make_timestamp"],
        &[Int4, Int4, Int4, Int4, Int4, Float8],
        Timestamp,
        |a, _| make_timestamp(a).map(Value::Timestamp),
    );
    r.add(
        &["make_timestamptz"],
        &[Int4, Int4, Int4, Int4, Int4, Float8],
        Timestamptz,
        |a, ctx| {
            let t = make_timestamp(a)?;
            Ok(Value::Timestamptz(dt::check_ts(
                session_zone(ctx).local_to_utc(t),
            )?))
        },
    );
    r.add(
        &["make_timestamptz"],
        &[Int4, Int4, Int4, Int4, Int4, Float8, Text],
        Timestamptz,
        |a, _| {
            let t = make_timestamp(a)?;
            Ok(Value::Timestamptz(dt::check_ts(
                zone(s(&a[6]))?.local_to_utc(t),
            )?))
        },
    );
    for n in 0..=7 {
        let mut params = vec![Int4; n.min(6)];
        if n == 7 {
            params.push(Float8);
        }
        r.add(&["make_interval"], &params, IV, make_interval);
    }
    r.add(&["to_timestamp"], &[Float8], Timestamptz, |a, _| {
        to_timestamp(flt(&a[0])).map(Value::Timestamptz)
    });
    r.add(&["justify_days"], &[IV], IV, |a, _| {
        dt::justify_days(&ivl(&a[0])).map(Value::Interval)
    });
    r.add(&["justify_hours"], &[IV], IV, |a, _| {
        dt::justify_hours(&ivl(&a[0])).map(Value::Interval)
    });
    r.add(&["justify_interval"], &[IV], IV, |a, _| {
        dt::justify_interval(&ivl(&a[0])).map(Value::Interval)
    });
    r.add(&["isfinite"], &[Date], Bool, |a, _| {
        Ok(Value::Bool(!dt::is_infinite_date(date(&a[0]))))
    });
    r.add(&["isfinite"], &[Timestamp], Bool, |a, _| {
        Ok(Value::Bool(!is_infinite_ts(ts(&a[0]))))
    });
    r.add(&["isfinite"], &[Timestamptz], Bool, |a, _| {
        Ok(Value::Bool(!is_infinite_ts(ts(&a[0]))))
    });
    r.add(&["isfinite"], &[IV], Bool, |_, _| Ok(Value::Bool(true)));
    r.add(
        &["now", "current_timestamp", "transaction_timestamp"],
        &[],
        Timestamptz,
        |_, ctx| Ok(Value::Timestamptz(ctx.transaction_start)),
    );
    r.add(&["statement_timestamp"], &[], Timestamptz, |_, ctx| {
        Ok(Value::Timestamptz(ctx.statement_start))
    });
    r.add(&["clock_timestamp"], &[], Timestamptz, |_, _| {
        Ok(Value::Timestamptz(clock_now()))
    });
    r.add(&["timezone"], &[Text, Timestamptz], Timestamp, |a, _| {
        at_zone_name(s(&a[0])).map(|z| Value::Timestamp(local(ts(&a[1]), &z)))
    });
    r.add(&["timezone"], &[Text, Timestamp], Timestamptz, |a, _| {
        let t = ts(&a[1]);
        let z = at_zone_name(s(&a[0]))?;
        Ok(Value::Timestamptz(if is_infinite_ts(t) {
            t
        } else {
            dt::check_ts(z.local_to_utc(t))?
        }))
    });
    r.add(&["timezone"], &[IV, Timestamptz], Timestamp, |a, _| {
        let off = ivl(&a[0]).micros / 1_000_000;
        let z = Zone::Fixed(off as i32);
        Ok(Value::Timestamp(local(ts(&a[1]), &z)))
    });
    r.add(&["timezone"], &[IV, Timestamp], Timestamptz, |a, _| {
        let off = ivl(&a[0]).micros / 1_000_000;
        let z = Zone::Fixed(off as i32);
        Ok(Value::Timestamptz(z.local_to_utc(ts(&a[1]))))
    });
}

fn s(v: &Value) -> &str {
    match v {
        Value::Text(s) => s,
        _ => "",
    }
}

fn ts(v: &Value) -> i64 {
    match v {
        Value::Timestamp(t) | Value::Timestamptz(t) => *t,
        _ => 0,
    }
}

fn date(v: &Value) -> i32 {
    match v {
        Value::Date(d) => *d,
        _ => 0,
    }
}

fn ivl(v: &Value) -> Interval {
    match v {
        Value::Interval(i) => *i,
        _ => Interval {
            months: 0,
            days: 0,
            micros: 0,
        },
    }
}

fn int(v: &Value) -> i64 {
    super::num::as_i64(v).unwrap_or(0)
}

fn flt(v: &Value) -> f64 {
    super::num::as_f64(v).unwrap_or(f64::NAN)
}

fn local(t: i64, z: &Zone) -> i64 {
    if is_infinite_ts(t) {
        t
    } else {
        z.utc_to_local(t)
    }
}

/// The session's current date at midnight (local), for one-argument age().
fn today(ctx: &FunctionContext) -> i64 {
    let l = session_zone(ctx).utc_to_local(ctx.transaction_start);
    l.div_euclid(MICROS_PER_DAY) * MICROS_PER_DAY
}

fn clock_now() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    now - UNIX_EPOCH_OFFSET_SECS * 1_000_000
}

fn zone(name: &str) -> Result<Zone> {
    Zone::parse(name).map_err(|_| {
        err(
            ErrorCode::InvalidParameterValue,
            format!("time zone \"{name}\" not recognized"),
        )
    })
}

/// The zone of AT TIME ZONE: a bare numeric offset is POSIX-style there
/// (`'+02'` is two hours *west*), unlike `SET TIME ZONE 2`.
fn at_zone_name(name: &str) -> Result<Zone> {
    let t = name.trim();
    if t.starts_with(['+', '-']) || t.starts_with(|c: char| c.is_ascii_digit()) {
        if let Some(west) = crate::types::tz::parse_offset(t) {
            return Ok(Zone::Fixed(-west));
        }
    }
    zone(name)
}

fn to_float(d: Result<Decimal>) -> Result<Value> {
    Ok(Value::Float8(d?.to_f64().unwrap_or(f64::NAN)))
}

/// The units date_trunc and extract know.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Unit {
    Micro,
    Milli,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
    Decade,
    Century,
    Millennium,
    Epoch,
    Dow,
    IsoDow,
    Doy,
    Julian,
    IsoYear,
    Timezone,
    TimezoneHour,
    TimezoneMinute,
}

fn unit(name: &str) -> Option<Unit> {
    use Unit::*;
    Some(match name.trim().to_lowercase().as_str() {
        "microsecond" | "microseconds" | "us" | "usec" | "usecs" | "microsecon" => Micro,
        "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" | "millisecon" => Milli,
        "second" | "seconds" | "s" | "sec" | "secs" => Second,
        "minute" | "minutes" | "m" | "min" | "mins" => Minute,
        "hour" | "hours" | "h" | "hr" | "hrs" => Hour,
        "day" | "days" | "d" => Day,
        "week" | "weeks" | "w" => Week,
        "month" | "months" | "mon" | "mons" => Month,
        "quarter" | "qtr" => Quarter,
        "year" | "years" | "y" | "yr" | "yrs" => Year,
        "decade" | "decades" | "dec" | "decs" => Decade,
        "century" | "centuries" | "c" | "cent" => Century,
        "millennium" | "millennia" | "millenniums" | "mil" | "mils" => Millennium,
        "epoch" => Epoch,
        "dow" => Dow,
        "isodow" => IsoDow,
        "doy" => Doy,
        "julian" | "j" => Julian,
        "isoyear" => IsoYear,
        "timezone" => Timezone,
        "timezone_h" | "timezone_hour" => TimezoneHour,
        "timezone_m" | "timezone_minute" => TimezoneMinute,
        _ => return None,
    })
}

fn unit_for(name: &str, ty: &str) -> Result<Unit> {
    unit(name).ok_or_else(|| {
        err(
            ErrorCode::InvalidParameterValue,
            format!("unit \"{name}\" not recognized for type {ty}"),
        )
    })
}

fn not_supported(name: &str, ty: &str) -> crate::error::Error {
    err(
        ErrorCode::FeatureNotSupported,
        format!("unit \"{name}\" not supported for type {ty}"),
    )
}

/// The first year of the decade, century or millennium holding `y`
/// (astronomical years, as PostgreSQL's date_trunc computes them).
fn trunc_year(u: Unit, y: i64) -> i64 {
    match u {
        Unit::Millennium if y > 0 => ((y + 999) / 1000) * 1000 - 999,
        Unit::Millennium => -((999 - (y - 1)) / 1000) * 1000 + 1,
        Unit::Century if y > 0 => ((y + 99) / 100) * 100 - 99,
        Unit::Century => -((99 - (y - 1)) / 100) * 100 + 1,
        Unit::Decade if y > 0 => (y / 10) * 10,
        Unit::Decade => -((8 - (y - 1)) / 10) * 10,
        _ => y,
    }
}

fn trunc_ts(name: &str, t: i64, ty: &str) -> Result<i64> {
    let u = unit_for(name, ty)?;
    if is_infinite_ts(t) {
        return Ok(t);
    }
    let mut tm = Tm::from_ts(t);
    let time = tm.time;
    use Unit::*;
    match u {
        Millennium | Century | Decade | Year => {
            tm.year = trunc_year(u, tm.year);
            tm.mon = 1;
            tm.mday = 1;
            tm.time = 0;
        }
        Quarter => {
            tm.mon = 3 * ((tm.mon - 1) / 3) + 1;
            tm.mday = 1;
            tm.time = 0;
        }
        Month => {
            tm.mday = 1;
            tm.time = 0;
        }
        Week => {
            // Back to Monday.
            let days = tm.days();
            let back = (days + 5).rem_euclid(7);
            return (Tm::from_ts((days - back) * MICROS_PER_DAY)).to_ts();
        }
        Day => tm.time = 0,
        Hour => tm.time = time - time % MICROS_PER_HOUR,
        Minute => tm.time = time - time % 60_000_000,
        Second => tm.time = time - time % 1_000_000,
        Milli => tm.time = time - time % 1000,
        Micro => {}
        _ => return Err(not_supported(name, ty)),
    }
    tm.to_ts()
}

fn trunc_tstz(name: &str, t: i64, z: &Zone) -> Result<i64> {
    if is_infinite_ts(t) {
        unit_for(name, "timestamp with time zone")?;
        return Ok(t);
    }
    let l = trunc_ts(name, z.utc_to_local(t), "timestamp with time zone")?;
    // Units below a day keep the original offset (no DST re-resolution).
    match unit(name) {
        Some(Unit::Hour | Unit::Minute | Unit::Second | Unit::Milli | Unit::Micro) => {
            Ok(t - (z.utc_to_local(t) - l))
        }
        _ => Ok(z.local_to_utc(l)),
    }
}

fn trunc_interval(name: &str, iv: &Interval) -> Result<Interval> {
    let ty = "interval";
    let u = unit_for(name, ty)?;
    let (mut years, mut mons) = (iv.months / 12, iv.months % 12);
    let mut days = iv.days;
    let t = iv.micros;
    let mut micros = t;
    use Unit::*;
    match u {
        Millennium | Century | Decade | Year | Quarter => {
            years = match u {
                Millennium => years / 1000 * 1000,
                Century => years / 100 * 100,
                Decade => years / 10 * 10,
                _ => years,
            };
            mons = if u == Quarter { 3 * (mons / 3) } else { 0 };
            days = 0;
            micros = 0;
        }
        Month => {
            days = 0;
            micros = 0;
        }
        Day => micros = 0,
        Hour => micros = t - t % MICROS_PER_HOUR,
        Minute => micros = t - t % 60_000_000,
        Second => micros = t - t % 1_000_000,
        Milli => micros = t - t % 1000,
        Micro => {}
        Week => {
            return Err(not_supported(name, ty).with_detail("Months usually have fractional weeks."))
        }
        _ => return Err(not_supported(name, ty)),
    }
    Ok(Interval {
        months: years * 12 + mons,
        days,
        micros,
    })
}

/// ISO 8601 (year, week) of a day count.
fn iso_week(days: i64) -> (i64, i64) {
    let isodow = (days + 5).rem_euclid(7) + 1;
    let thursday = days + (4 - isodow);
    let (y, _, _) = civil_from_days(thursday);
    (y, (thursday - days_from_civil(y, 1, 1)) / 7 + 1)
}

fn bc(y: i64) -> i64 {
    if y > 0 {
        y
    } else {
        y - 1
    }
}

/// extract(field FROM value) as numeric, with PostgreSQL 14+'s scales
/// (seconds to 6 digits, milliseconds to 3; integers elsewhere).
fn part(name: &str, v: &Value, ctx: &FunctionContext) -> Result<Decimal> {
    use Unit::*;
    let int = |i: i64| Ok(Decimal::from(i));
    match v {
        Value::Timestamp(_) | Value::Timestamptz(_) | Value::Date(_) => {
            let (ty, t, offset) = match v {
                Value::Timestamp(t) => ("timestamp without time zone", *t, None),
                Value::Timestamptz(t) => {
                    let z = session_zone(ctx);
                    let off = if is_infinite_ts(*t) {
                        0
                    } else {
                        z.offset_at_utc(*t)
                    };
                    ("timestamp with time zone", local(*t, &z), Some(off))
                }
                _ => ("date", dt::date_to_ts(date(v))?, None),
            };
            let is_date = matches!(v, Value::Date(_));
            let u = unit_for(name, ty)?;
            if is_infinite_ts(t) {
                return Ok(Decimal::ZERO);
            }
            let tm = Tm::from_ts(t);
            let days = tm.days();
            let sec_us = tm.time % 60_000_000;
            if is_date
                && matches!(
                    u,
                    Micro
                        | Milli
                        | Second
                        | Minute
                        | Hour
                        | Timezone
                        | TimezoneHour
                        | TimezoneMinute
                )
            {
                return Err(not_supported(name, ty));
            }
            match u {
                Micro => int(sec_us),
                Milli => Ok(Decimal::new(sec_us, 3)),
                Second => Ok(Decimal::new(sec_us, 6)),
                Minute => int(tm.time / 60_000_000 % 60),
                Hour => int(tm.time / MICROS_PER_HOUR),
                Day => int(i64::from(tm.mday)),
                Month => int(i64::from(tm.mon)),
                Quarter => int(i64::from((tm.mon - 1) / 3 + 1)),
                Year => int(bc(tm.year)),
                Decade if tm.year >= 0 => int(tm.year / 10),
                Decade => int(-((8 - (tm.year - 1)) / 10)),
                Century if tm.year > 0 => int((tm.year + 99) / 100),
                Century => int(-((99 - (tm.year - 1)) / 100)),
                Millennium if tm.year > 0 => int((tm.year + 999) / 1000),
                Millennium => int(-((999 - (tm.year - 1)) / 1000)),
                Week => int(iso_week(days).1),
                IsoYear => int(bc(iso_week(days).0)),
                Dow => int((days + 6).rem_euclid(7)),
                IsoDow => int((days + 5).rem_euclid(7) + 1),
                Doy => int(days - days_from_civil(tm.year, 1, 1) + 1),
                Julian if is_date => int(days + dt::JULIAN_2000),
                Julian => {
                    let frac = super::num::numeric_div(
                        &Numeric::from(tm.time),
                        &Numeric::from(MICROS_PER_DAY),
                    )?
                    .and_then(|f| f.to_decimal())
                    .ok_or_else(super::numeric_overflow)?;
                    Ok(Decimal::from(days + dt::JULIAN_2000) + frac)
                }
                Epoch if is_date => int(days * 86_400 + UNIX_EPOCH_OFFSET_SECS),
                Epoch => {
                    let utc = match v {
                        Value::Timestamptz(u) => *u,
                        _ => t,
                    };
                    Ok(Decimal::new(utc + UNIX_EPOCH_OFFSET_SECS * 1_000_000, 6))
                }
                Timezone | TimezoneHour | TimezoneMinute => match offset {
                    None => Err(not_supported(name, ty)),
                    Some(off) => int(i64::from(match u {
                        Timezone => off,
                        TimezoneHour => off / 3600,
                        _ => off / 60 % 60,
                    })),
                },
            }
        }
        Value::Time(t) => {
            let ty = "time without time zone";
            let sec_us = t % 60_000_000;
            match unit_for(name, ty)? {
                Micro => int(sec_us),
                Milli => Ok(Decimal::new(sec_us, 3)),
                Second => Ok(Decimal::new(sec_us, 6)),
                Minute => int(t / 60_000_000 % 60),
                Hour => int(t / MICROS_PER_HOUR),
                Epoch => Ok(Decimal::new(*t, 6)),
                _ => Err(not_supported(name, ty)),
            }
        }
        Value::Interval(iv) => {
            let ty = "interval";
            let t = iv.micros;
            let sec_us = t % 60_000_000;
            let years = i64::from(iv.months / 12);
            match unit_for(name, ty)? {
                Micro => int(sec_us),
                Milli => Ok(Decimal::new(sec_us, 3)),
                Second => Ok(Decimal::new(sec_us, 6)),
                Minute => int(t / 60_000_000 % 60),
                Hour => int(t / MICROS_PER_HOUR),
                Day => int(i64::from(iv.days)),
                Month => int(i64::from(iv.months % 12)),
                Quarter => int(i64::from(iv.months % 12 / 3 + 1)),
                Year => int(years),
                Decade => int(years / 10),
                Century => int(years / 100),
                Millennium => int(years / 1000),
                Epoch => {
                    // A year is 365.25 days, a month 30, as PostgreSQL.
                    let micros = i128::from(years) * 31_557_600_000_000
                        + i128::from(iv.months % 12) * 30 * i128::from(MICROS_PER_DAY)
                        + i128::from(iv.days) * i128::from(MICROS_PER_DAY)
                        + i128::from(t);
                    Decimal::try_from_i128_with_scale(micros, 6)
                        .map_err(|_| super::numeric_overflow())
                }
                _ => Err(not_supported(name, ty)),
            }
        }
        _ => Err(super::no_function(
            "extract",
            &[Text, v.data_type().unwrap_or(DataType::Unknown)],
        )),
    }
}

/// Days since 2000-01-01 for a year (negative for BC), month and day,
/// with PostgreSQL's error for a date that does not exist.
fn make_date(y: i64, m: i64, d: i64) -> Result<i64> {
    let bad = || {
        err(
            ErrorCode::DatetimeFieldOverflow,
            format!("date field value out of range: {y}-{m:02}-{d:02}"),
        )
    };
    if y == 0 || !(1..=12).contains(&m) || d < 1 {
        return Err(bad());
    }
    let year = if y < 0 { y + 1 } else { y };
    if d > i64::from(days_in_month(year, m as u32)) {
        return Err(bad());
    }
    let days = days_from_civil(year, m as u32, d as u32);
    dt::date_plus_days(0, days).map_err(|_| {
        err(
            ErrorCode::DatetimeFieldOverflow,
            format!("date out of range: {y}-{m:02}-{d:02}"),
        )
    })?;
    Ok(days)
}

fn make_time(h: i64, m: i64, sec: f64) -> Result<i64> {
    let micros = (sec * 1e6).round_ties_even();
    let ok = (0..=23).contains(&h) && (0..=59).contains(&m) && (0.0..60e6).contains(&micros)
        || (h == 24 && m == 0 && micros == 0.0);
    if !ok {
        return Err(err(
            ErrorCode::DatetimeFieldOverflow,
            format!("time field value out of range: {h}:{m:02}:{sec:02}"),
        ));
    }
    Ok((h * 60 + m) * 60_000_000 + micros as i64)
}

fn make_timestamp(a: &[Value]) -> Result<i64> {
    let days = make_date(int(&a[0]), int(&a[1]), int(&a[2]))?;
    let time = make_time(int(&a[3]), int(&a[4]), flt(&a[5]))?;
    days.checked_mul(MICROS_PER_DAY)
        .and_then(|d| d.checked_add(time))
        .ok_or_else(ts_out_of_range)
        .and_then(dt::check_ts)
}

/// make_interval(years, months, weeks, days, hours, mins, secs), each
/// optional from the right.
fn make_interval(a: &[Value], _: &FunctionContext) -> Result<Value> {
    let get = |i: usize| a.get(i).map_or(0, int);
    let overflow = || err(ErrorCode::DatetimeFieldOverflow, "interval out of range");
    let months = get(0)
        .checked_mul(12)
        .and_then(|y| y.checked_add(get(1)))
        .and_then(|m| i32::try_from(m).ok())
        .ok_or_else(overflow)?;
    let days = get(2)
        .checked_mul(7)
        .and_then(|w| w.checked_add(get(3)))
        .and_then(|d| i32::try_from(d).ok())
        .ok_or_else(overflow)?;
    let secs = a.get(6).map_or(0.0, flt);
    let micros = (get(4) as f64 * 3600e6 + get(5) as f64 * 60e6 + secs * 1e6).round_ties_even();
    if !micros.is_finite() || micros.abs() > 9.2e18 {
        return Err(overflow());
    }
    Ok(Value::Interval(Interval {
        months,
        days,
        micros: micros as i64,
    }))
}

/// to_timestamp(seconds since 1970) as timestamptz.
fn to_timestamp(secs: f64) -> Result<i64> {
    if secs.is_nan() {
        return Err(err(
            ErrorCode::DatetimeFieldOverflow,
            "timestamp cannot be NaN",
        ));
    }
    if secs.is_infinite() {
        return Ok(if secs > 0.0 {
            dt::TS_INFINITY
        } else {
            dt::TS_NEG_INFINITY
        });
    }
    let micros = ((secs - UNIX_EPOCH_OFFSET_SECS as f64) * 1e6).round_ties_even();
    if micros.abs() > 9.2e18 {
        return Err(err(
            ErrorCode::DatetimeFieldOverflow,
            format!("timestamp out of range: \"{secs}\""),
        ));
    }
    dt::check_ts(micros as i64).map_err(|_| {
        err(
            ErrorCode::DatetimeFieldOverflow,
            format!("timestamp out of range: \"{secs}\""),
        )
    })
}
