//! Dates, times and timestamps as text: PostgreSQL's ISO output and a
//! field-based reader for the input spellings people use (ISO 8601, `T`
//! separators, month names, `MM/DD/YYYY` per DateStyle, `BC`, `AM`/`PM`,
//! zones by offset, abbreviation or IANA name, `epoch`, `infinity`...).

use std::fmt::Write;

use crate::error::{Error, ErrorCode, Result};
use crate::types::tz::{self, Zone};
use crate::types::{FormatOptions, MICROS_PER_DAY};

/// `date` infinity and -infinity, as PostgreSQL stores them.
pub const DATE_INFINITY: i32 = i32::MAX;
pub const DATE_NEG_INFINITY: i32 = i32::MIN;
/// `timestamp[tz]` infinity and -infinity.
pub const TS_INFINITY: i64 = i64::MAX;
pub const TS_NEG_INFINITY: i64 = i64::MIN;

/// Days from 2000-01-01 to 4714-11-24 BC (Julian day 0) and to 5874898-01-01,
/// PostgreSQL's date range.
const MIN_DATE: i64 = -2_451_545;
const MAX_DATE: i64 = 2_145_031_948;
/// PostgreSQL's timestamp range: 4714-11-24 BC to 294277-01-01 (exclusive).
const MIN_TS: i64 = -211_813_488_000_000_000;
const MAX_TS: i64 = 9_223_371_331_200_000_000;

/// Days since 2000-01-01 of a proleptic Gregorian date (year 0 is 1 BC).
pub fn days_from_ymd(y: i64, m: u32, d: u32) -> i64 {
    // Howard Hinnant's days_from_civil, shifted to the 2000 epoch.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 - 10_957
}

/// The proleptic Gregorian date (year, month, day) of days since 2000-01-01.
pub fn ymd_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468 + 10_957;
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

pub fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 31,
    }
}

fn write_ymd(days: i64, out: &mut String) -> bool {
    let (y, m, d) = ymd_from_days(days);
    let bc = y <= 0;
    let year = if bc { 1 - y } else { y };
    let _ = write!(out, "{year:04}-{m:02}-{d:02}");
    bc
}

/// Appends `HH:MM:SS` and the fraction without trailing zeros.
fn write_hms(micros: i64, out: &mut String) {
    let secs = micros / 1_000_000;
    let frac = micros % 1_000_000;
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    write_fraction(frac, out);
}

/// `.123` for 123000 microseconds; nothing for 0.
pub fn write_fraction(frac: i64, out: &mut String) {
    if frac != 0 {
        let s = format!("{:06}", frac.abs());
        out.push('.');
        out.push_str(s.trim_end_matches('0'));
    }
}

pub fn format_date(days: i32) -> String {
    match days {
        DATE_INFINITY => "infinity".into(),
        DATE_NEG_INFINITY => "-infinity".into(),
        _ => {
            let mut out = String::with_capacity(10);
            if write_ymd(i64::from(days), &mut out) {
                out.push_str(" BC");
            }
            out
        }
    }
}

pub fn format_time(micros: i64) -> String {
    let mut out = String::with_capacity(8);
    write_hms(micros, &mut out);
    out
}

pub fn format_timestamp(micros: i64) -> String {
    match micros {
        TS_INFINITY => "infinity".into(),
        TS_NEG_INFINITY => "-infinity".into(),
        _ => {
            let mut out = String::with_capacity(26);
            let bc = write_ymd(micros.div_euclid(MICROS_PER_DAY), &mut out);
            out.push(' ');
            write_hms(micros.rem_euclid(MICROS_PER_DAY), &mut out);
            if bc {
                out.push_str(" BC");
            }
            out
        }
    }
}

/// A timestamptz in the session's zone, with its offset: `... 12:00:00+01`.
pub fn format_timestamptz(utc: i64, zone: &Zone) -> String {
    match utc {
        TS_INFINITY => "infinity".into(),
        TS_NEG_INFINITY => "-infinity".into(),
        _ => {
            let off = zone.offset_at_utc(utc);
            let local = utc.saturating_add(i64::from(off) * 1_000_000);
            let mut out = String::with_capacity(32);
            let bc = write_ymd(local.div_euclid(MICROS_PER_DAY), &mut out);
            out.push(' ');
            write_hms(local.rem_euclid(MICROS_PER_DAY), &mut out);
            tz::format_offset(off, &mut out);
            if bc {
                out.push_str(" BC");
            }
            out
        }
    }
}

/// DateStyle's output style and whether its order is day first.
fn date_style(opts: &FormatOptions) -> (&'static str, bool) {
    let up = opts.date_style.to_ascii_uppercase();
    let style = if up.starts_with("SQL") {
        "SQL"
    } else if up.starts_with("GERMAN") {
        "German"
    } else if up.starts_with("POSTGRES") {
        "Postgres"
    } else {
        "ISO"
    };
    (style, up.contains("DMY"))
}

/// Appends a date's day, month and year in a non-ISO style; true for BC.
fn write_dmy(days: i64, style: &str, dmy: bool, out: &mut String) -> bool {
    let (y, m, d) = ymd_from_days(days);
    let bc = y <= 0;
    let year = if bc { 1 - y } else { y };
    let _ = match (style, dmy) {
        ("German", _) => write!(out, "{d:02}.{m:02}.{year:04}"),
        ("Postgres", true) => write!(out, "{d:02}-{m:02}-{year:04}"),
        ("Postgres", false) => write!(out, "{m:02}-{d:02}-{year:04}"),
        (_, true) => write!(out, "{d:02}/{m:02}/{year:04}"),
        (_, false) => write!(out, "{m:02}/{d:02}/{year:04}"),
    };
    bc
}

/// A date in the session's DateStyle (`2024-02-29`, `02/29/2024`,
/// `29.02.2024`, `02-29-2024`).
pub fn format_date_styled(days: i32, opts: &FormatOptions) -> String {
    let (style, dmy) = date_style(opts);
    if style == "ISO" || days == DATE_INFINITY || days == DATE_NEG_INFINITY {
        return format_date(days);
    }
    let mut out = String::with_capacity(13);
    if write_dmy(i64::from(days), style, dmy, &mut out) {
        out.push_str(" BC");
    }
    out
}

/// A timestamp (with `zone`: a timestamptz, shown in that zone) in the
/// session's DateStyle. Outside ISO the zone is named by its
/// abbreviation (`CET`), or by its offset where it has none.
pub fn format_timestamp_styled(micros: i64, zone: Option<&Zone>, opts: &FormatOptions) -> String {
    let (style, dmy) = date_style(opts);
    if style == "ISO" || micros == TS_INFINITY || micros == TS_NEG_INFINITY {
        return match zone {
            Some(z) => format_timestamptz(micros, z),
            None => format_timestamp(micros),
        };
    }
    let off = zone.map_or(0, |z| z.offset_at_utc(micros));
    let local = micros.saturating_add(i64::from(off) * 1_000_000);
    let days = local.div_euclid(MICROS_PER_DAY);
    let mut out = String::with_capacity(32);
    let bc = if style == "Postgres" {
        // Thu Feb 29 13:45:00 2024 (DMY: Thu 29 Feb ...).
        const DOW: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        const MON: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let (y, m, d) = ymd_from_days(days);
        // 2000-01-01 (day 0) was a Saturday.
        let dow = DOW[(days + 6).rem_euclid(7) as usize];
        let mon = MON[(m as usize).saturating_sub(1).min(11)];
        let _ = if dmy {
            write!(out, "{dow} {d:02} {mon} ")
        } else {
            write!(out, "{dow} {mon} {d:02} ")
        };
        write_hms(local.rem_euclid(MICROS_PER_DAY), &mut out);
        let bc = y <= 0;
        let _ = write!(out, " {:04}", if bc { 1 - y } else { y });
        bc
    } else {
        let bc = write_dmy(days, style, dmy, &mut out);
        out.push(' ');
        write_hms(local.rem_euclid(MICROS_PER_DAY), &mut out);
        bc
    };
    if let Some(z) = zone {
        match z.abbreviation_at_utc(micros) {
            Some(a) => {
                out.push(' ');
                out.push_str(&a);
            }
            None => tz::format_offset(off, &mut out),
        }
    }
    if bc {
        out.push_str(" BC");
    }
    out
}

/// The session zone from the options; an unknown name falls back to UTC
/// (the session validates names when they are SET).
pub fn session_zone(opts: &FormatOptions) -> Zone {
    Zone::parse(&opts.timezone).unwrap_or(Zone::Fixed(0))
}

/// Which input function is reading, for error messages and for what the
/// literal must contain.
#[derive(Clone, Copy, PartialEq)]
enum Target {
    Date,
    Time,
    Timestamp,
    Timestamptz,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Date => "date",
            Target::Time => "time without time zone",
            Target::Timestamp => "timestamp",
            Target::Timestamptz => "timestamp with time zone",
        }
    }
}

/// What a literal said, field by field.
#[derive(Default)]
struct Fields {
    year: Option<i64>,
    /// Whether the year was written with at most two digits (`03` → 2003).
    short_year: bool,
    month: Option<u32>,
    day: Option<u32>,
    /// Microseconds since midnight.
    time: Option<i64>,
    /// Seconds east of UTC, or a named zone.
    zone: Option<Zone>,
    bc: bool,
    pm: Option<bool>,
    /// `epoch`, `infinity`, `today`...: days (or timestamp) already known.
    special: Option<Special>,
}

#[derive(Clone, Copy)]
enum Special {
    Epoch,
    Infinity,
    NegInfinity,
    Now,
    /// Midnight `n` days from today.
    Today(i64),
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const MONTH_NAMES: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 14] = [
    "sun",
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

fn month_of(word: &str) -> Option<u32> {
    let w = word;
    MONTHS
        .iter()
        .position(|m| *m == w)
        .or_else(|| MONTH_NAMES.iter().position(|m| *m == w))
        .or(if w == "sept" { Some(8) } else { None })
        .map(|i| i as u32 + 1)
}

struct Reader<'a> {
    input: &'a str,
    target: Target,
    opts: &'a FormatOptions,
    f: Fields,
}

impl Reader<'_> {
    fn syntax(&self) -> Error {
        let code = ErrorCode::InvalidDatetimeFormat;
        Error::new(
            code,
            format!(
                "invalid input syntax for type {}: \"{}\"",
                self.target.name(),
                self.input
            ),
        )
    }

    fn range(&self) -> Error {
        Error::new(
            ErrorCode::DatetimeFieldOverflow,
            format!("date/time field value out of range: \"{}\"", self.input),
        )
    }

    /// Splits the literal into fields and reads each.
    fn read(&mut self) -> Result<()> {
        // Every spelling is ASCII; rejecting the rest early keeps the byte
        // slicing below on character boundaries.
        if !self.input.is_ascii() {
            return Err(self.syntax());
        }
        let lower = self.input.trim().to_ascii_lowercase();
        let mut tokens: Vec<String> = Vec::new();
        for word in lower.split(|c: char| c.is_whitespace() || c == ',') {
            if word.is_empty() {
                continue;
            }
            // ISO 8601 `2024-01-31T10:00:00`: a T between a date and a time.
            match word.find('t') {
                Some(i)
                    if i > 0
                        && word.as_bytes()[i - 1].is_ascii_digit()
                        && word.as_bytes().get(i + 1).is_some_and(u8::is_ascii_digit) =>
                {
                    tokens.push(word[..i].to_string());
                    tokens.push(word[i + 1..].to_string());
                }
                _ => tokens.push(word.to_string()),
            }
        }
        if tokens.is_empty() {
            return Err(self.syntax());
        }
        let mut loose: Vec<String> = Vec::new();
        for tok in &tokens {
            self.token(tok, &mut loose)?;
        }
        self.loose_numbers(&loose)
    }

    fn token(&mut self, tok: &str, loose: &mut Vec<String>) -> Result<()> {
        let b = tok.as_bytes();
        // A zone offset after a time (or after a date in ISO form).
        if (b[0] == b'+' || b[0] == b'-')
            && b.len() > 1
            && b[1].is_ascii_digit()
            && (self.f.time.is_some() || self.f.day.is_some())
        {
            let off = tz::parse_offset(tok).ok_or_else(|| self.syntax())?;
            return self.set_zone(Zone::Fixed(off));
        }
        if tok.contains(':') {
            // A time, perhaps with its zone attached: 10:00:00+05:30, 10:00z.
            let split = tok[1..]
                .find(['+', '-'])
                .map(|i| i + 1)
                .or_else(|| tok.find(|c: char| c.is_ascii_alphabetic()));
            let (time, zone) = match split {
                Some(i) => (&tok[..i], Some(&tok[i..])),
                None => (tok, None),
            };
            self.time(time)?;
            if let Some(z) = zone {
                self.zone_word(z)?;
            }
            return Ok(());
        }
        if b[0].is_ascii_digit() && tok.contains(['-', '/', '.']) {
            let sep = if tok.contains('-') {
                '-'
            } else if tok.contains('/') {
                '/'
            } else {
                '.'
            };
            let parts: Vec<&str> = tok.split(sep).collect();
            if parts.len() == 3 && self.f.day.is_none() {
                return self.date_parts(&parts);
            }
            if sep == '.' && parts.len() == 2 && self.f.day.is_some() && self.f.time.is_none() {
                // `20240131.1030`-style is rare; treat a decimal after a
                // date as an error rather than guess.
                return Err(self.syntax());
            }
            // `2024-01-31-08` style zone after a date is not PostgreSQL's.
            return Err(self.syntax());
        }
        if b[0].is_ascii_alphabetic() && tok.contains('-') {
            // 31-jan-2024 is caught above; jan-31-2024 here.
            let parts: Vec<&str> = tok.split('-').collect();
            if parts.len() == 3 && self.f.day.is_none() {
                return self.date_parts(&parts);
            }
        }
        if b.iter().all(u8::is_ascii_digit) {
            if b.len() == 8 && self.f.day.is_none() && self.f.month.is_none() {
                // YYYYMMDD
                let y = tok[..4].parse().map_err(|_| self.syntax())?;
                let m = tok[4..6].parse().map_err(|_| self.syntax())?;
                let d = tok[6..].parse().map_err(|_| self.syntax())?;
                return self.set_date(y, m, d, false);
            }
            if b.len() == 6
                && self.f.time.is_none()
                && (self.f.day.is_some() || self.target == Target::Time)
            {
                // HHMMSS after a date.
                return self.time(&format!("{}:{}:{}", &tok[..2], &tok[2..4], &tok[4..]));
            }
            loose.push(tok.to_string());
            return Ok(());
        }
        self.word(tok)
    }

    fn word(&mut self, w: &str) -> Result<()> {
        let special = |s| Ok(Some(s));
        let sp: Result<Option<Special>> = match w {
            "epoch" => special(Special::Epoch),
            "infinity" | "+infinity" => special(Special::Infinity),
            "-infinity" => special(Special::NegInfinity),
            "now" => special(Special::Now),
            "today" => special(Special::Today(0)),
            "tomorrow" => special(Special::Today(1)),
            "yesterday" => special(Special::Today(-1)),
            _ => Ok(None),
        };
        if let Some(s) = sp? {
            if self.f.special.is_some() {
                return Err(self.syntax());
            }
            self.f.special = Some(s);
            return Ok(());
        }
        match w {
            "allballs" => {
                self.f.time = Some(0);
                self.f.zone = Some(Zone::Fixed(0));
            }
            "bc" | "b.c." => self.f.bc = true,
            "ad" | "a.d." => {}
            "am" | "a.m." => self.f.pm = Some(false),
            "pm" | "p.m." => self.f.pm = Some(true),
            "at" | "on" => {}
            _ if WEEKDAYS.contains(&w.trim_end_matches('.')) => {}
            _ => {
                if let Some(m) = month_of(w) {
                    if self.f.month.is_some() {
                        return Err(self.syntax());
                    }
                    self.f.month = Some(m);
                } else {
                    self.zone_word(w)?;
                }
            }
        }
        Ok(())
    }

    /// A zone written in the literal: `z`, `utc`, `est`, `+05:30`,
    /// `america/new_york`.
    fn zone_word(&mut self, w: &str) -> Result<()> {
        if let Some(off) = tz::abbreviation(w) {
            return self.set_zone(Zone::Fixed(off));
        }
        if w.starts_with(['+', '-']) {
            let off = tz::parse_offset(w).ok_or_else(|| self.syntax())?;
            return self.set_zone(Zone::Fixed(off));
        }
        match Zone::parse(w) {
            Ok(z) if w.contains('/') || w.bytes().all(|c| c.is_ascii_alphabetic()) => {
                self.set_zone(z)
            }
            _ => Err(self.syntax()),
        }
    }

    fn set_zone(&mut self, z: Zone) -> Result<()> {
        if self.f.zone.is_some() {
            return Err(self.syntax());
        }
        self.f.zone = Some(z);
        Ok(())
    }

    /// `HH:MM[:SS[.frac]]`.
    fn time(&mut self, s: &str) -> Result<()> {
        if self.f.time.is_some() {
            return Err(self.syntax());
        }
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() < 2 || parts.len() > 3 {
            return Err(self.syntax());
        }
        let int = |p: &str| -> Result<i64> {
            if p.is_empty() || p.len() > 9 || !p.bytes().all(|c| c.is_ascii_digit()) {
                return Err(self.syntax());
            }
            p.parse().map_err(|_| self.syntax())
        };
        let h = int(parts[0])?;
        let m = int(parts[1])?;
        let (sec, micros) = match parts.get(2) {
            None => (0, 0),
            Some(p) => {
                let (whole, frac) = p.split_once('.').unwrap_or((p, ""));
                (
                    int(whole)?,
                    fraction_micros(frac).ok_or_else(|| self.syntax())?,
                )
            }
        };
        if h > 24 || m > 59 || sec > 60 {
            return Err(self.range());
        }
        let t = ((h * 60 + m) * 60 + sec) * 1_000_000 + micros;
        if t > MICROS_PER_DAY {
            return Err(self.range());
        }
        self.f.time = Some(t);
        Ok(())
    }

    /// Three date parts separated by `-`, `/` or `.`, any of which may be a
    /// month name; order by what they look like, else by DateStyle.
    fn date_parts(&mut self, parts: &[&str]) -> Result<()> {
        let month_at = parts.iter().position(|p| month_of(p).is_some());
        let num = |p: &str| -> Result<i64> {
            if p.is_empty() || p.len() > 9 || !p.bytes().all(|c| c.is_ascii_digit()) {
                return Err(self.syntax());
            }
            p.parse().map_err(|_| self.syntax())
        };
        let short = |p: &str| p.len() <= 2;
        if let Some(mi) = month_at {
            let m = month_of(parts[mi]).unwrap_or(1);
            let others: Vec<&str> = (0..3).filter(|&i| i != mi).map(|i| parts[i]).collect();
            // The year is the part with more than two digits, else the last.
            let (yp, dp) = if others[0].len() > 2 {
                (others[0], others[1])
            } else {
                (others[1], others[0])
            };
            return self.set_date(num(yp)?, m as i64, num(dp)?, short(yp));
        }
        let dmy = self.opts.date_style.to_ascii_uppercase().contains("DMY");
        let (y, m, d, yp) = if parts[0].len() > 2 {
            (num(parts[0])?, num(parts[1])?, num(parts[2])?, parts[0])
        } else if dmy {
            (num(parts[2])?, num(parts[1])?, num(parts[0])?, parts[2])
        } else if self.opts.date_style.to_ascii_uppercase().contains("YMD") {
            (num(parts[0])?, num(parts[1])?, num(parts[2])?, parts[0])
        } else {
            (num(parts[2])?, num(parts[0])?, num(parts[1])?, parts[2])
        };
        self.set_date(y, m, d, short(yp))
    }

    fn set_date(&mut self, y: i64, m: i64, d: i64, short_year: bool) -> Result<()> {
        if self.f.day.is_some() || (self.f.month.is_some() && self.f.year.is_some()) {
            return Err(self.syntax());
        }
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return Err(self.range());
        }
        self.f.year = Some(y);
        self.f.short_year = short_year;
        self.f.month = Some(m as u32);
        self.f.day = Some(d as u32);
        Ok(())
    }

    /// Numbers standing alone: the day and year around a month name
    /// (`Jan 31 2024`, `31 January 2024`).
    fn loose_numbers(&mut self, loose: &[String]) -> Result<()> {
        for n in loose {
            let v: i64 = n.parse().map_err(|_| self.syntax())?;
            if self.f.month.is_none() || (self.f.day.is_some() && self.f.year.is_some()) {
                return Err(self.syntax());
            }
            if self.f.day.is_none() && n.len() <= 2 && (1..=31).contains(&v) {
                self.f.day = Some(v as u32);
            } else if self.f.year.is_none() {
                self.f.year = Some(v);
                self.f.short_year = n.len() <= 2;
            } else {
                return Err(self.syntax());
            }
        }
        Ok(())
    }

    /// The days the date fields name, checked.
    fn days(&self) -> Result<i64> {
        let (Some(mut y), Some(m), Some(d)) = (self.f.year, self.f.month, self.f.day) else {
            return Err(self.syntax());
        };
        if self.f.short_year && !self.f.bc {
            y += if y < 70 { 2000 } else { 1900 };
        }
        if self.f.bc {
            if y <= 0 {
                return Err(self.range());
            }
            y = 1 - y;
        } else if y == 0 {
            return Err(self.range());
        }
        if d > days_in_month(y, m) {
            return Err(self.range());
        }
        let days = days_from_ymd(y, m, d);
        let (min, max, what) = if self.target == Target::Date {
            (MIN_DATE, MAX_DATE, "date")
        } else {
            (
                MIN_TS / MICROS_PER_DAY,
                MAX_TS / MICROS_PER_DAY,
                "timestamp",
            )
        };
        if !(min..=max).contains(&days) {
            return Err(Error::new(
                ErrorCode::DatetimeFieldOverflow,
                format!("{what} out of range: \"{}\"", self.input),
            ));
        }
        Ok(days)
    }

    /// The time of day with AM/PM applied.
    fn time_of_day(&self) -> Result<i64> {
        let t = self.f.time.unwrap_or(0);
        match self.f.pm {
            None => Ok(t),
            Some(pm) => {
                let hours = t / 3_600_000_000;
                if hours > 12 {
                    return Err(self.range());
                }
                let t = if hours == 12 {
                    t - 12 * 3_600_000_000
                } else {
                    t
                };
                Ok(if pm { t + 12 * 3_600_000_000 } else { t })
            }
        }
    }
}

/// `123` → 123000 microseconds; more than six digits round.
fn fraction_micros(frac: &str) -> Option<i64> {
    if frac.is_empty() {
        return Some(0);
    }
    if !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut digits: Vec<u8> = frac.bytes().map(|c| c - b'0').collect();
    let round_up = digits.get(6).is_some_and(|&d| d >= 5);
    digits.resize(6, 0);
    let v = digits.iter().fold(0i64, |a, &d| a * 10 + i64::from(d));
    Some(v + i64::from(round_up))
}

/// Now, in microseconds since 2000-01-01 UTC (for `now`/`today` literals).
fn now_micros() -> i64 {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    unix - 946_684_800_000_000
}

fn reader<'a>(s: &'a str, target: Target, opts: &'a FormatOptions) -> Result<Reader<'a>> {
    let mut r = Reader {
        input: s,
        target,
        opts,
        f: Fields::default(),
    };
    r.read()?;
    Ok(r)
}

/// Reads a `date` literal.
pub fn parse_date(s: &str, opts: &FormatOptions) -> Result<i32> {
    let r = reader(s, Target::Date, opts)?;
    let zone = r.f.zone.unwrap_or_else(|| session_zone(opts));
    let days = match r.f.special {
        Some(Special::Infinity) => return Ok(DATE_INFINITY),
        Some(Special::NegInfinity) => return Ok(DATE_NEG_INFINITY),
        Some(Special::Epoch) => -10_957,
        Some(Special::Now) => zone.utc_to_local(now_micros()).div_euclid(MICROS_PER_DAY),
        Some(Special::Today(n)) => zone.utc_to_local(now_micros()).div_euclid(MICROS_PER_DAY) + n,
        None => {
            r.time_of_day()?;
            r.days()?
        }
    };
    i32::try_from(days).map_err(|_| r.range())
}

/// Reads a `time` literal (a date or zone in it is ignored, as PostgreSQL
/// does).
pub fn parse_time(s: &str, opts: &FormatOptions) -> Result<i64> {
    let r = reader(s, Target::Time, opts)?;
    match r.f.special {
        Some(Special::Now) => {
            let zone = session_zone(opts);
            return Ok(zone.utc_to_local(now_micros()).rem_euclid(MICROS_PER_DAY));
        }
        Some(_) => return Err(r.syntax()),
        None => {}
    }
    if r.f.time.is_none() {
        return Err(r.syntax());
    }
    if r.f.day.is_some() {
        r.days()?;
    }
    r.time_of_day()
}

/// Reads a `timestamp` literal; a zone in it is ignored, as PostgreSQL does.
pub fn parse_timestamp(s: &str, opts: &FormatOptions) -> Result<i64> {
    read_timestamp(s, Target::Timestamp, opts)
}

/// Reads a `timestamptz` literal: a zone in the literal wins, else the
/// session's TimeZone applies. Returns UTC microseconds.
pub fn parse_timestamptz(s: &str, opts: &FormatOptions) -> Result<i64> {
    read_timestamp(s, Target::Timestamptz, opts)
}

fn read_timestamp(s: &str, target: Target, opts: &FormatOptions) -> Result<i64> {
    let r = reader(s, target, opts)?;
    let zone = r.f.zone.unwrap_or_else(|| session_zone(opts));
    let with_zone = target == Target::Timestamptz;
    let local = match r.f.special {
        Some(Special::Infinity) => return Ok(TS_INFINITY),
        Some(Special::NegInfinity) => return Ok(TS_NEG_INFINITY),
        Some(Special::Epoch) => {
            // The epoch is 1970-01-01 00:00:00 UTC whatever the zone.
            return Ok(-946_684_800_000_000);
        }
        Some(Special::Now) => {
            let now = now_micros();
            return Ok(if with_zone {
                now
            } else {
                zone.utc_to_local(now)
            });
        }
        Some(Special::Today(n)) => {
            let today = zone.utc_to_local(now_micros()).div_euclid(MICROS_PER_DAY) + n;
            today * MICROS_PER_DAY + r.time_of_day()?
        }
        None => r
            .days()?
            .checked_mul(MICROS_PER_DAY)
            .and_then(|d| d.checked_add(r.time_of_day().ok()?))
            .ok_or_else(|| r.range())?,
    };
    r.time_of_day()?;
    let ts = if with_zone {
        zone.local_to_utc(local)
    } else {
        local
    };
    if !(MIN_TS..MAX_TS).contains(&ts) {
        return Err(Error::new(
            ErrorCode::DatetimeFieldOverflow,
            format!("timestamp out of range: \"{s}\""),
        ));
    }
    Ok(ts)
}
