//! Time zones for `timestamptz`: the session's `TimeZone` setting and the
//! zones written inside timestamp literals (IANA names through chrono-tz,
//! fixed offsets, POSIX-style offsets and the common abbreviations).

use chrono::{LocalResult, NaiveDateTime, Offset, TimeZone};

use crate::error::{Error, ErrorCode, Result};

/// A time zone: a fixed offset or a named zone whose offset changes with
/// daylight saving time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Zone {
    /// Seconds east of UTC (ISO sign convention: India is +19800).
    Fixed(i32),
    Named(chrono_tz::Tz),
}

/// Seconds from 1970-01-01 (Unix) to 2000-01-01 (PostgreSQL's epoch).
const UNIX_TO_PG_SECS: i64 = 946_684_800;

/// The abbreviations PostgreSQL's `Default` set knows that people actually
/// write in literals, with their offsets in seconds east of UTC.
const ABBREVIATIONS: &[(&str, i32)] = &[
    ("utc", 0),
    ("gmt", 0),
    ("ut", 0),
    ("z", 0),
    ("zulu", 0),
    ("est", -5 * 3600),
    ("edt", -4 * 3600),
    ("cst", -6 * 3600),
    ("cdt", -5 * 3600),
    ("mst", -7 * 3600),
    ("mdt", -6 * 3600),
    ("pst", -8 * 3600),
    ("pdt", -7 * 3600),
    ("akst", -9 * 3600),
    ("akdt", -8 * 3600),
    ("hst", -10 * 3600),
    ("wet", 0),
    ("west", 3600),
    ("bst", 3600),
    ("cet", 3600),
    ("cest", 2 * 3600),
    ("met", 3600),
    ("mest", 2 * 3600),
    ("eet", 2 * 3600),
    ("eest", 3 * 3600),
    ("msk", 3 * 3600),
    ("jst", 9 * 3600),
    ("kst", 9 * 3600),
    ("hkt", 8 * 3600),
    ("awst", 8 * 3600),
    ("acst", 9 * 3600 + 1800),
    ("aest", 10 * 3600),
    ("aedt", 11 * 3600),
    ("nzst", 12 * 3600),
    ("nzdt", 13 * 3600),
];

/// The fixed offset of a time zone abbreviation (`EST`, `CEST`, `Z`...).
pub fn abbreviation(name: &str) -> Option<i32> {
    let lower = name.to_ascii_lowercase();
    ABBREVIATIONS
        .iter()
        .find(|(n, _)| *n == lower)
        .map(|(_, off)| *off)
}

/// An IANA zone name, matched case-insensitively as PostgreSQL does.
fn named(name: &str) -> Option<chrono_tz::Tz> {
    if let Ok(tz) = name.parse::<chrono_tz::Tz>() {
        return Some(tz);
    }
    chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().eq_ignore_ascii_case(name))
        .copied()
}

/// `[+-]HH[:MM[:SS]]` or `[+-]HHMM` as seconds, in the sign it is written.
pub fn parse_offset(s: &str) -> Option<i32> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => (1, s),
    };
    if rest.is_empty() || !rest.bytes().all(|c| c.is_ascii_digit() || c == b':') {
        return None;
    }
    let parts: Vec<&str> = rest.split(':').collect();
    let num = |p: &str| -> Option<i32> {
        if p.is_empty() || p.len() > 2 {
            None
        } else {
            p.parse().ok()
        }
    };
    let (h, m, sec) = match parts.as_slice() {
        [hhmm] if hhmm.len() == 4 => (num(&hhmm[..2])?, num(&hhmm[2..])?, 0),
        [hhmmss] if hhmmss.len() == 6 => {
            (num(&hhmmss[..2])?, num(&hhmmss[2..4])?, num(&hhmmss[4..])?)
        }
        [h] => (num(h)?, 0, 0),
        [h, m] => (num(h)?, num(m)?, 0),
        [h, m, s] => (num(h)?, num(m)?, num(s)?),
        _ => return None,
    };
    if h > 15 || m > 59 || sec > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60 + sec))
}

impl Zone {
    /// Parses a `TimeZone` setting as PostgreSQL does: an IANA name
    /// (`Europe/Berlin`, any case), `UTC`, an abbreviation, a bare number of
    /// hours east (`SET TIME ZONE 2`), or a POSIX spec (`+02:00`, `UTC+2`,
    /// `<+02>-02`) whose sign means hours *west*, as in POSIX.
    pub fn parse(name: &str) -> Result<Zone> {
        let s = name.trim();
        let invalid = || {
            Error::new(
                ErrorCode::InvalidParameterValue,
                format!("invalid value for parameter \"TimeZone\": \"{name}\""),
            )
        };
        if s.is_empty() {
            return Err(invalid());
        }
        if s.eq_ignore_ascii_case("utc") || s.eq_ignore_ascii_case("gmt") {
            return Ok(Zone::Fixed(0));
        }
        if let Some(tz) = named(s) {
            return Ok(Zone::Named(tz));
        }
        if let Some(off) = abbreviation(s) {
            return Ok(Zone::Fixed(off));
        }
        // A bare number: hours east of UTC (may be fractional).
        if let Ok(hours) = s.parse::<f64>() {
            if hours.is_finite() && hours.abs() < 15.0 * 24.0 {
                return Ok(Zone::Fixed((hours * 3600.0).round() as i32));
            }
            return Err(invalid());
        }
        // POSIX: an optional name (letters, or <...>), then an offset west.
        let rest = if let Some(r) = s.strip_prefix('<') {
            r.split_once('>').map(|(_, r)| r).ok_or_else(invalid)?
        } else {
            s.trim_start_matches(|c: char| c.is_ascii_alphabetic())
        };
        match parse_offset(rest) {
            Some(west) => Ok(Zone::Fixed(-west)),
            None => Err(invalid()),
        }
    }

    /// The zone's abbreviation at a UTC instant (`CET`, `EDT`; `UTC`), as
    /// non-ISO DateStyles print it; `None` where the zone has none.
    pub fn abbreviation_at_utc(&self, utc_micros: i64) -> Option<String> {
        use chrono_tz::OffsetName;
        match self {
            Zone::Fixed(0) => Some("UTC".into()),
            Zone::Fixed(_) => None,
            Zone::Named(tz) => {
                let ndt = naive(utc_micros + future_shift(tz, utc_micros));
                tz.offset_from_utc_datetime(&ndt)
                    .abbreviation()
                    .filter(|a| a.chars().all(|c| c.is_ascii_alphabetic()))
                    .map(str::to_string)
            }
        }
    }

    /// The zone's offset (seconds east of UTC) at a UTC instant given in
    /// microseconds since 2000-01-01.
    pub fn offset_at_utc(&self, utc_micros: i64) -> i32 {
        match self {
            Zone::Fixed(off) => *off,
            Zone::Named(tz) => {
                let ndt = naive(utc_micros + future_shift(tz, utc_micros));
                tz.offset_from_utc_datetime(&ndt).fix().local_minus_utc()
            }
        }
    }

    /// The offset to apply to a local wall-clock time (microseconds since
    /// 2000-01-01, local). As PostgreSQL: a time skipped by a spring-forward
    /// gap takes the offset from before the transition; a time repeated by
    /// a fall-back takes the offset from after it.
    pub fn offset_for_local(&self, local_micros: i64) -> i32 {
        match self {
            Zone::Fixed(off) => *off,
            Zone::Named(tz) => match tz
                .offset_from_local_datetime(&naive(local_micros + future_shift(tz, local_micros)))
            {
                LocalResult::Single(o) => o.fix().local_minus_utc(),
                LocalResult::Ambiguous(_, later) => later.fix().local_minus_utc(),
                LocalResult::None => {
                    self.offset_at_utc(local_micros.saturating_sub(86_400_000_000))
                }
            },
        }
    }

    /// Converts a local wall-clock time to UTC (both microseconds since
    /// 2000-01-01).
    pub fn local_to_utc(&self, local_micros: i64) -> i64 {
        let off = self.offset_for_local(local_micros);
        local_micros.saturating_sub(i64::from(off) * 1_000_000)
    }

    /// Converts a UTC instant to local wall-clock time.
    pub fn utc_to_local(&self, utc_micros: i64) -> i64 {
        let off = self.offset_at_utc(utc_micros);
        utc_micros.saturating_add(i64::from(off) * 1_000_000)
    }
}

/// The last year chrono-tz has transitions for.
const LAST_TABLE_YEAR: i64 = 2037;

/// How far to move an instant after 2037 so that it falls on the same
/// calendar (same leap-ness, same weekday of January 1) in 2010..=2037:
/// PostgreSQL applies a zone's current daylight-saving rule forever, and
/// the rule gives the same transitions in a year with the same calendar.
/// Zones that dropped daylight-saving time keep their last offset, which
/// chrono-tz already gives, so they need no shift.
fn future_shift(tz: &chrono_tz::Tz, micros: i64) -> i64 {
    use crate::types::datetime::{days_from_ymd, is_leap, ymd_from_days};
    const DAY: i64 = 86_400_000_000;
    let (y, _, _) = ymd_from_days(micros.div_euclid(DAY));
    if y <= LAST_TABLE_YEAR {
        return 0;
    }
    let offset_on = |m: u32| {
        let ndt = naive(days_from_ymd(LAST_TABLE_YEAR, m, 1) * DAY);
        tz.offset_from_utc_datetime(&ndt).fix().local_minus_utc()
    };
    if offset_on(1) == offset_on(7) {
        return 0;
    }
    let jan1 = days_from_ymd(y, 1, 1);
    let weekday = jan1.rem_euclid(7);
    (2010..=LAST_TABLE_YEAR)
        .rev()
        .map(|cand| (days_from_ymd(cand, 1, 1), cand))
        .find(|(d, cand)| d.rem_euclid(7) == weekday && is_leap(*cand) == is_leap(y))
        .map(|(d, _)| (d - jan1) * DAY)
        .unwrap_or(0)
}

/// A chrono date-time for PostgreSQL-epoch microseconds, clamped to what
/// chrono can represent (zone rules are constant that far out anyway).
fn naive(micros: i64) -> NaiveDateTime {
    // chrono handles years up to ±262143; clamp well inside that.
    const LIMIT: i64 = 200_000 * 366 * 86_400;
    let secs = (micros.div_euclid(1_000_000)).clamp(-LIMIT, LIMIT) + UNIX_TO_PG_SECS;
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.naive_utc())
        .unwrap_or_default()
}

/// Formats an offset as PostgreSQL prints it after a timestamptz: `+00`,
/// `+05:30`, `-04:56:02`.
pub fn format_offset(off: i32, out: &mut String) {
    use std::fmt::Write;
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.unsigned_abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    let _ = write!(out, "{sign}{h:02}");
    if m != 0 || s != 0 {
        let _ = write!(out, ":{m:02}");
    }
    if s != 0 {
        let _ = write!(out, ":{s:02}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_like_postgres() {
        assert_eq!(Zone::parse("UTC").unwrap(), Zone::Fixed(0));
        assert_eq!(Zone::parse("+02:00").unwrap(), Zone::Fixed(-7200));
        assert_eq!(Zone::parse("UTC+2").unwrap(), Zone::Fixed(-7200));
        assert_eq!(Zone::parse("<+02>-02").unwrap(), Zone::Fixed(7200));
        assert_eq!(Zone::parse("2").unwrap(), Zone::Fixed(7200));
        assert_eq!(Zone::parse("5.5").unwrap(), Zone::Fixed(19800));
        assert!(matches!(
            Zone::parse("america/new_york").unwrap(),
            Zone::Named(_)
        ));
        assert!(Zone::parse("Mars/Olympus").is_err());
    }

    #[test]
    fn offsets_format_like_postgres() {
        let f = |o| {
            let mut s = String::new();
            format_offset(o, &mut s);
            s
        };
        assert_eq!(f(0), "+00");
        assert_eq!(f(19800), "+05:30");
        assert_eq!(f(-(4 * 3600 + 56 * 60 + 2)), "-04:56:02");
    }
}
