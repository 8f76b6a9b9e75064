//! Template formatting: to_char for timestamps, intervals and numbers,
//! and the reverse, to_date / to_timestamp(text, text) / to_number, with
//! PostgreSQL's common template patterns (YYYY MM DD HH24 MI SS MS US,
//! Mon Month Dy Day, AM/PM, FM, quoted text; 9 0 . , for numbers).

use crate::types::numeric::{Numeric, Rounding};

use super::datetime::{self as dt, days_from_civil, days_in_month, session_zone, Tm};
use super::err;
use super::signature::{Registry, NUMERIC};
use crate::error::{ErrorCode, Result};
use crate::types::{DataType, Interval, Value, MICROS_PER_DAY};

use DataType::{Date, Float8, Int4, Int8, Text, Timestamp, Timestamptz};

pub(super) fn register(r: &mut Registry) {
    r.add(&["to_char"], &[Timestamp, Text], Text, |a, _| {
        let Value::Timestamp(t) = a[0] else {
            return Ok(Value::Null);
        };
        Ok(format_ts(t, s(&a[1]), None))
    });
    r.add(&["to_char"], &[Timestamptz, Text], Text, |a, ctx| {
        let Value::Timestamptz(t) = a[0] else {
            return Ok(Value::Null);
        };
        if dt::is_infinite_ts(t) {
            return Ok(Value::Null);
        }
        let z = session_zone(ctx);
        Ok(format_ts(
            z.utc_to_local(t),
            s(&a[1]),
            Some(z.offset_at_utc(t)),
        ))
    });
    r.add(&["to_char"], &[DataType::Interval, Text], Text, |a, _| {
        let Value::Interval(iv) = a[0] else {
            return Ok(Value::Null);
        };
        Ok(Value::Text(format_interval(&iv, s(&a[1]))))
    });
    for t in [Int4, Int8, NUMERIC, Float8] {
        r.add(&["to_char"], &[t, Text], Text, |a, _| {
            format_number(&a[0], s(&a[1])).map(Value::Text)
        });
    }
    r.add(&["to_number"], &[Text, Text], NUMERIC, |a, _| {
        to_number(s(&a[0]))
    });
    r.add(&["to_date"], &[Text, Text], Date, |a, _| {
        let t = parse(s(&a[0]), s(&a[1]))?;
        Ok(Value::Date(t.div_euclid(MICROS_PER_DAY) as i32))
    });
    r.add(&["to_timestamp"], &[Text, Text], Timestamptz, |a, ctx| {
        let t = parse(s(&a[0]), s(&a[1]))?;
        Ok(Value::Timestamptz(dt::check_ts(
            session_zone(ctx).local_to_utc(t),
        )?))
    });
}

fn s(v: &Value) -> &str {
    match v {
        Value::Text(s) => s,
        _ => "",
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Template patterns, longest first so that `HH24` wins over `HH`.
const PATTERNS: &[&str] = &[
    "HH24", "HH12", "HH", "MI", "SSSS", "SS", "MS", "US", "A.M.", "P.M.", "a.m.", "p.m.", "AM",
    "PM", "am", "pm", "YYYY", "YYY", "YY", "Y", "IYYY", "MONTH", "Month", "month", "MON", "Mon",
    "mon", "MM", "DAY", "Day", "day", "DY", "Dy", "dy", "DDD", "DD", "D", "IDDD", "ID", "IW", "WW",
    "W", "Q", "J", "CC", "TZ", "tz", "OF",
];

/// A template split into patterns (with their FM flag) and literal text.
enum Piece {
    Pattern(&'static str, bool),
    Literal(String),
}

fn pieces(fmt: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = fmt;
    let mut lit = String::new();
    let flush = |lit: &mut String, out: &mut Vec<Piece>| {
        if !lit.is_empty() {
            out.push(Piece::Literal(std::mem::take(lit)));
        }
    };
    while !rest.is_empty() {
        let (fm, body) = match rest.strip_prefix("FM").or_else(|| rest.strip_prefix("fm")) {
            Some(b) => (true, b),
            None => (false, rest),
        };
        if let Some(p) = PATTERNS.iter().find(|p| body.starts_with(**p)) {
            flush(&mut lit, &mut out);
            out.push(Piece::Pattern(p, fm));
            rest = &body[p.len()..];
            continue;
        }
        let mut chars = rest.chars();
        let Some(c) = chars.next() else { break };
        match c {
            '"' => {
                // Quoted text is copied; \" inside it is a quote.
                let mut it = chars.clone();
                let mut consumed = 1;
                while let Some(q) = it.next() {
                    consumed += q.len_utf8();
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(e) = it.next() {
                                consumed += e.len_utf8();
                                lit.push(e);
                            }
                        }
                        q => lit.push(q),
                    }
                }
                rest = &rest[consumed.min(rest.len())..];
            }
            '\\' => {
                if let Some(e) = chars.next() {
                    lit.push(e);
                    rest = &rest[1 + e.len_utf8()..];
                } else {
                    lit.push('\\');
                    rest = "";
                }
            }
            c => {
                lit.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    flush(&mut lit, &mut out);
    out
}

fn num(n: i64, width: usize, fm: bool) -> String {
    if fm {
        n.to_string()
    } else if n < 0 {
        format!("-{:0width$}", -n, width = width.saturating_sub(1))
    } else {
        format!("{n:0width$}")
    }
}

/// A name, blank-padded to 9 characters unless FM, in the pattern's case.
fn name(full: &str, pattern: &str, abbreviate: bool, fm: bool) -> String {
    let base: String = if abbreviate {
        full.chars().take(3).collect()
    } else {
        full.to_string()
    };
    let cased = if pattern.chars().all(|c| c.is_ascii_uppercase()) {
        base.to_uppercase()
    } else if pattern.chars().all(|c| c.is_ascii_lowercase()) {
        base.to_lowercase()
    } else {
        base
    };
    if fm || abbreviate {
        cased
    } else {
        format!("{cased:<9}")
    }
}

fn format_ts(t: i64, fmt: &str, offset: Option<i32>) -> Value {
    if dt::is_infinite_ts(t) {
        return Value::Null;
    }
    let tm = Tm::from_ts(t);
    let days = tm.days();
    let hour = tm.time / 3_600_000_000;
    let year = if tm.year > 0 { tm.year } else { tm.year - 1 };
    let doy = days - days_from_civil(tm.year, 1, 1) + 1;
    let dow = (days + 6).rem_euclid(7);
    let mut out = String::new();
    for p in pieces(fmt) {
        let (pat, fm) = match p {
            Piece::Literal(l) => {
                out.push_str(&l);
                continue;
            }
            Piece::Pattern(p, fm) => (p, fm),
        };
        let piece = match pat {
            "HH24" => num(hour, 2, fm),
            "HH12" | "HH" => num(if hour % 12 == 0 { 12 } else { hour % 12 }, 2, fm),
            "MI" => num(tm.time / 60_000_000 % 60, 2, fm),
            "SS" => num(tm.time / 1_000_000 % 60, 2, fm),
            "SSSS" => num(tm.time / 1_000_000, 1, fm),
            "MS" => num(tm.time / 1000 % 1000, 3, fm),
            "US" => num(tm.time % 1_000_000, 6, fm),
            "AM" | "PM" => (if hour < 12 { "AM" } else { "PM" }).to_string(),
            "am" | "pm" => (if hour < 12 { "am" } else { "pm" }).to_string(),
            "A.M." | "P.M." => (if hour < 12 { "A.M." } else { "P.M." }).to_string(),
            "a.m." | "p.m." => (if hour < 12 { "a.m." } else { "p.m." }).to_string(),
            "YYYY" | "IYYY" => num(year, 4, fm),
            "YYY" => num(year % 1000, 3, fm),
            "YY" => num(year % 100, 2, fm),
            "Y" => num(year % 10, 1, fm),
            "MONTH" | "Month" | "month" => name(MONTHS[tm.mon as usize - 1], pat, false, fm),
            "MON" | "Mon" | "mon" => name(MONTHS[tm.mon as usize - 1], pat, true, fm),
            "MM" => num(i64::from(tm.mon), 2, fm),
            "DAY" | "Day" | "day" => name(DAYS[dow as usize], pat, false, fm),
            "DY" | "Dy" | "dy" => name(DAYS[dow as usize], pat, true, fm),
            "DDD" | "IDDD" => num(doy, 3, fm),
            "DD" => num(i64::from(tm.mday), 2, fm),
            "D" => num(dow + 1, 1, fm),
            "ID" => num(if dow == 0 { 7 } else { dow }, 1, fm),
            "IW" => {
                let isodow = (days + 5).rem_euclid(7) + 1;
                let thursday = days + (4 - isodow);
                let (y, _, _) = dt::civil_from_days(thursday);
                num((thursday - days_from_civil(y, 1, 1)) / 7 + 1, 2, fm)
            }
            "WW" => num((doy - 1) / 7 + 1, 2, fm),
            "W" => num((i64::from(tm.mday) - 1) / 7 + 1, 1, fm),
            "Q" => num(i64::from((tm.mon - 1) / 3 + 1), 1, fm),
            "J" => num(days + dt::JULIAN_2000, 1, fm),
            "CC" => num(
                if year > 0 {
                    (year + 99) / 100
                } else {
                    -((99 - year) / 100)
                },
                2,
                fm,
            ),
            "TZ" | "tz" | "OF" => match offset {
                None => String::new(),
                Some(off) => {
                    let mut o = String::new();
                    crate::types::tz::format_offset(off, &mut o);
                    if pat == "OF" {
                        o
                    } else if off == 0 {
                        if pat == "TZ" { "UTC" } else { "utc" }.to_string()
                    } else {
                        o
                    }
                }
            },
            _ => String::new(),
        };
        out.push_str(&piece);
    }
    Value::Text(out)
}

fn format_interval(iv: &Interval, fmt: &str) -> String {
    let hours = iv.micros / 3_600_000_000;
    let mut out = String::new();
    for p in pieces(fmt) {
        let (pat, fm) = match p {
            Piece::Literal(l) => {
                out.push_str(&l);
                continue;
            }
            Piece::Pattern(p, fm) => (p, fm),
        };
        out.push_str(&match pat {
            "HH24" => num(hours, 2, fm),
            "HH12" | "HH" => num(if hours % 12 == 0 { 12 } else { hours % 12 }, 2, fm),
            "MI" => num(iv.micros / 60_000_000 % 60, 2, fm),
            "SS" => num(iv.micros / 1_000_000 % 60, 2, fm),
            "MS" => num(iv.micros / 1000 % 1000, 3, fm),
            "US" => num(iv.micros % 1_000_000, 6, fm),
            "DD" => num(i64::from(iv.days), 2, fm),
            "DDD" => num(i64::from(iv.days), 3, fm),
            "MM" => num(i64::from(iv.months % 12), 2, fm),
            "YYYY" => num(i64::from(iv.months / 12), 4, fm),
            _ => String::new(),
        });
    }
    out
}

/// to_char for numbers: `9` a digit or blank, `0` a digit, `.`/`D` the
/// point, `,`/`G` a separator, `FM` no padding; a leading sign slot.
fn format_number(v: &Value, fmt: &str) -> Result<String> {
    let fm = fmt.contains("FM") || fmt.contains("fm");
    let body: String = fmt.replace("FM", "").replace("fm", "");
    let point = body.find(['.', 'D']);
    let (int_fmt, frac_fmt) = match point {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body.as_str(), ""),
    };
    let frac_digits = frac_fmt.chars().filter(|c| matches!(c, '9' | '0')).count();
    let int_slots = int_fmt.chars().filter(|c| matches!(c, '9' | '0')).count();
    let d = match super::num::as_decimal(v) {
        Some(d) if d.is_finite() => d,
        _ => return Ok(format!(" {}", "#".repeat(int_slots + frac_digits + 1))),
    };
    let rounded = d.round_to(frac_digits as i64, Rounding::HalfAwayFromZero);
    let neg = rounded.is_negative();
    let abs = rounded.abs();
    let int_part = abs.trunc().to_string();
    let frac_part: String = {
        let f = super::num::set_scale(abs.fract(), frac_digits as u32).to_string();
        f.split_once('.')
            .map(|(_, x)| x.to_string())
            .unwrap_or_default()
    };
    if int_part.len() > int_slots && !(int_part == "0" && int_slots == 0) {
        let hashes: String = body
            .chars()
            .map(|c| if matches!(c, '9' | '0') { '#' } else { c })
            .collect();
        return Ok(format!(" {hashes}"));
    }
    // Fill the integer slots from the right; slots from the leftmost `0`
    // onwards print zeros where there are no more digits.
    let digits: Vec<char> = if int_part == "0" {
        vec![]
    } else {
        int_part.chars().collect()
    };
    let fmt_chars: Vec<char> = int_fmt.chars().collect();
    let zero_from = fmt_chars.iter().position(|c| *c == '0');
    let mut slots: Vec<char> = Vec::with_capacity(fmt_chars.len());
    let mut di = digits.len();
    for (pos, c) in fmt_chars.iter().enumerate().rev() {
        let zero_fill = zero_from.is_some_and(|z| pos >= z);
        match c {
            '9' | '0' => {
                if di > 0 {
                    di -= 1;
                    slots.push(digits[di]);
                } else {
                    slots.push(if zero_fill { '0' } else { ' ' });
                }
            }
            ',' | 'G' => slots.push(if di > 0 || zero_fill { ',' } else { ' ' }),
            other => slots.push(*other),
        }
    }
    slots.reverse();
    let int_s: String = slots.into_iter().collect();
    // The sign slot sits just left of the first printed character.
    let first = int_s.find(|c: char| c != ' ').unwrap_or(int_s.len());
    let mut out = format!(
        "{}{}{}",
        &int_s[..first],
        if neg { '-' } else { ' ' },
        &int_s[first..]
    );
    if point.is_some() {
        out.push('.');
        let mut frac: Vec<char> = frac_part.chars().collect();
        if fm {
            // FM drops trailing zeros that only `9` slots asked for.
            let kinds: Vec<char> = frac_fmt
                .chars()
                .filter(|c| matches!(c, '9' | '0'))
                .collect();
            while frac.last() == Some(&'0') && kinds.get(frac.len() - 1) == Some(&'9') {
                frac.pop();
            }
        }
        out.extend(frac);
    }
    if fm {
        out = out.trim().to_string();
    }
    Ok(out)
}

fn to_number(s: &str) -> Result<Value> {
    let cleaned: String = s
        .chars()
        .filter(|c| c.is_ascii_digit() || matches!(c, '.' | '-'))
        .collect();
    let bad = || {
        err(
            ErrorCode::InvalidTextRepresentation,
            format!("invalid input syntax for type numeric: \"{s}\""),
        )
    };
    if cleaned.is_empty() || cleaned == "-" || cleaned == "." {
        return Err(bad());
    }
    match Numeric::parse(&cleaned) {
        Some(d) => Ok(Value::Numeric(d?)),
        None => Err(bad()),
    }
}

/// Reads fields from `input` as the template says; literal template
/// characters skip one input character, blanks are flexible.
fn parse(input: &str, fmt: &str) -> Result<i64> {
    let bad = |what: &str| {
        err(
            ErrorCode::InvalidDatetimeFormat,
            format!("invalid value \"{what}\" for \"{fmt}\""),
        )
    };
    let (mut year, mut mon, mut mday) = (1i64, 1i64, 1i64);
    let (mut hour, mut min, mut sec, mut micros) = (0i64, 0i64, 0i64, 0i64);
    let mut pm: Option<bool> = None;
    let mut rest = input;
    for p in pieces(fmt) {
        match p {
            Piece::Literal(l) => {
                for c in l.chars() {
                    if c == ' ' {
                        rest = rest.trim_start();
                    } else if let Some(ch) = rest.chars().next() {
                        if !ch.is_ascii_alphanumeric() || ch == c {
                            rest = &rest[ch.len_utf8()..];
                        }
                    }
                }
            }
            Piece::Pattern(pat, _) => {
                rest = rest.trim_start();
                let take_num = |rest: &mut &str, max: usize| -> Result<i64> {
                    let neg = rest.starts_with('-');
                    let start = usize::from(neg);
                    let len = rest[start..]
                        .chars()
                        .take(max)
                        .take_while(|c| c.is_ascii_digit())
                        .count();
                    if len == 0 {
                        return Err(bad(rest));
                    }
                    let n: i64 = rest[start..start + len].parse().map_err(|_| bad(rest))?;
                    *rest = &rest[start + len..];
                    Ok(if neg { -n } else { n })
                };
                match pat {
                    "YYYY" | "IYYY" => year = take_num(&mut rest, 9)?,
                    "YYY" => year = 2000 + take_num(&mut rest, 3)? % 1000,
                    "YY" => {
                        let y = take_num(&mut rest, 2)?;
                        year = if y < 70 { 2000 + y } else { 1900 + y };
                    }
                    "MM" => mon = take_num(&mut rest, 2)?,
                    "DD" => mday = take_num(&mut rest, 2)?,
                    "HH24" | "HH12" | "HH" => hour = take_num(&mut rest, 2)?,
                    "MI" => min = take_num(&mut rest, 2)?,
                    "SS" => sec = take_num(&mut rest, 2)?,
                    "MS" => micros = take_num(&mut rest, 3)? * 1000,
                    "US" => micros = take_num(&mut rest, 6)?,
                    "AM" | "PM" | "am" | "pm" | "A.M." | "P.M." | "a.m." | "p.m." => {
                        let up = rest.to_ascii_uppercase();
                        pm = Some(up.starts_with('P'));
                        rest = rest.get(pat.len()..).unwrap_or("");
                    }
                    "MONTH" | "Month" | "month" | "MON" | "Mon" | "mon" => {
                        let lower = rest.to_lowercase();
                        let full = !pat.eq_ignore_ascii_case("mon");
                        let found = MONTHS.iter().enumerate().find_map(|(i, m)| {
                            let m = m.to_lowercase();
                            let key = if full { m } else { m[..3].to_string() };
                            lower.starts_with(&key).then_some((i, key.len()))
                        });
                        let Some((i, len)) = found else {
                            return Err(bad(rest));
                        };
                        mon = i as i64 + 1;
                        rest = rest.get(len..).unwrap_or("");
                    }
                    "DAY" | "Day" | "day" | "DY" | "Dy" | "dy" => {
                        rest = rest.trim_start_matches(|c: char| c.is_alphabetic());
                    }
                    _ => {}
                }
            }
        }
    }
    if let Some(pm) = pm {
        if !(1..=12).contains(&hour) {
            return Err(err(
                ErrorCode::InvalidDatetimeFormat,
                format!("hour \"{hour}\" is invalid for the 12-hour clock"),
            ));
        }
        hour = hour % 12 + if pm { 12 } else { 0 };
    }
    let field = |_what: &str| {
        err(
            ErrorCode::DatetimeFieldOverflow,
            format!("date/time field value out of range: \"{input}\""),
        )
    };
    if !(1..=12).contains(&mon) {
        return Err(field("month"));
    }
    let y = if year <= 0 { year + 1 } else { year };
    if mday < 1 || mday > i64::from(days_in_month(y, mon as u32)) {
        return Err(field("day"));
    }
    if hour > 24 || min > 59 || sec > 60 {
        return Err(field("time"));
    }
    let days = days_from_civil(y, mon as u32, mday as u32);
    let t = days
        .checked_mul(MICROS_PER_DAY)
        .and_then(|d| d.checked_add(((hour * 60 + min) * 60 + sec) * 1_000_000 + micros))
        .ok_or_else(dt::ts_out_of_range)?;
    dt::check_ts(t)
}
