//! JSON text: validation for `json` (kept verbatim) and normalisation for
//! `jsonb`, printed as PostgreSQL prints jsonb: object keys unique (last
//! wins) and sorted by (length, bytes), `": "` and `", "` spacing, numbers
//! as numeric prints them. A small parser of its own keeps number text
//! exact (no f64 round trip) and takes input of any size.

use std::cmp::Ordering;

use crate::error::{Error, ErrorCode, Result};

/// A parsed JSON value; numbers keep their normalised decimal text.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Json>),
    /// Sorted by jsonb key order, keys unique.
    Object(Vec<(String, Json)>),
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    depth: usize,
}

fn err(kind: &str, input: &str) -> Error {
    let mut e = Error::new(
        ErrorCode::InvalidTextRepresentation,
        format!("invalid input syntax for type {kind}"),
    );
    let shown: String = input.chars().take(60).collect();
    e.detail = Some(format!("Token \"{shown}\" is invalid."));
    e
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self
            .s
            .get(self.pos)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Option<Json> {
        self.ws();
        if self.depth > 6400 {
            return None;
        }
        let c = *self.s.get(self.pos)?;
        Some(match c {
            b'{' => {
                self.pos += 1;
                self.depth += 1;
                let mut members: Vec<(String, Json)> = Vec::new();
                self.ws();
                if self.s.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                } else {
                    loop {
                        self.ws();
                        if self.s.get(self.pos) != Some(&b'"') {
                            return None;
                        }
                        let k = self.string()?;
                        self.ws();
                        if self.s.get(self.pos) != Some(&b':') {
                            return None;
                        }
                        self.pos += 1;
                        let v = self.value()?;
                        members.push((k, v));
                        self.ws();
                        match self.s.get(self.pos)? {
                            b',' => self.pos += 1,
                            b'}' => {
                                self.pos += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                self.depth -= 1;
                Json::Object(normalise_object(members))
            }
            b'[' => {
                self.pos += 1;
                self.depth += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                } else {
                    loop {
                        items.push(self.value()?);
                        self.ws();
                        match self.s.get(self.pos)? {
                            b',' => self.pos += 1,
                            b']' => {
                                self.pos += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                self.depth -= 1;
                Json::Array(items)
            }
            b'"' => Json::String(self.string()?),
            b't' => self.word("true", Json::Bool(true))?,
            b'f' => self.word("false", Json::Bool(false))?,
            b'n' => self.word("null", Json::Null)?,
            b'-' | b'0'..=b'9' => Json::Number(self.number()?),
            _ => return None,
        })
    }

    fn word(&mut self, w: &str, v: Json) -> Option<Json> {
        if self.s[self.pos..].starts_with(w.as_bytes()) {
            self.pos += w.len();
            // `truex` is one bad token, not `true` then garbage.
            if self.s.get(self.pos).is_some_and(u8::is_ascii_alphanumeric) {
                return None;
            }
            Some(v)
        } else {
            None
        }
    }

    fn number(&mut self) -> Option<String> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let s = p.pos;
            while p.s.get(p.pos).is_some_and(u8::is_ascii_digit) {
                p.pos += 1;
            }
            p.pos > s
        };
        if self.s.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        if !digits(self) {
            return None;
        }
        // JSON forbids leading zeros.
        if self.s[int_start] == b'0' && self.pos - int_start > 1 {
            return None;
        }
        if self.s.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if !digits(self) {
                return None;
            }
        }
        if matches!(self.s.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.s.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        if self.s.get(self.pos).is_some_and(u8::is_ascii_alphanumeric) {
            return None;
        }
        let text = std::str::from_utf8(&self.s[start..self.pos]).ok()?;
        normalise_number(text)
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.pos..self.pos + 4)?;
        let v = u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
        self.pos += 4;
        Some(v)
    }

    fn string(&mut self) -> Option<String> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let c = *self.s.get(self.pos)?;
            self.pos += 1;
            match c {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let e = *self.s.get(self.pos)?;
                    self.pos += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&hi) {
                                if self.s.get(self.pos..self.pos + 2)? != b"\\u" {
                                    return None;
                                }
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return None;
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            // PostgreSQL's text cannot hold NUL.
                            if cp == 0 {
                                return None;
                            }
                            char::from_u32(cp)?
                        }
                        _ => return None,
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => return None,
                _ => out.push(c),
            }
        }
    }
}

/// jsonb's key order: shorter keys first, then bytewise; the last of
/// duplicate keys wins.
fn normalise_object(members: Vec<(String, Json)>) -> Vec<(String, Json)> {
    let mut m: Vec<(usize, (String, Json))> = members.into_iter().enumerate().collect();
    m.sort_by(|(ia, (a, _)), (ib, (b, _))| {
        a.len()
            .cmp(&b.len())
            .then_with(|| a.as_bytes().cmp(b.as_bytes()))
            .then(ib.cmp(ia))
    });
    m.dedup_by(|later, earlier| later.1 .0 == earlier.1 .0);
    m.into_iter().map(|(_, kv)| kv).collect()
}

/// A JSON number as PostgreSQL's numeric prints it: exponent applied, the
/// scale kept (`1.50` stays, `1e2` is `100`, `1.5e-3` is `0.0015`).
pub fn normalise_number(text: &str) -> Option<String> {
    let (neg, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (mant, exp) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    if exp.abs() > 1_000_000 {
        return None;
    }
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let mut digits: String = format!("{int}{frac}");
    // Position of the decimal point within `digits` after the exponent.
    let mut point = int.len() as i64 + exp;
    let scale = (frac.len() as i64 - exp).max(0);
    // numeric's own limits (131072 digits before the point, 16383 after)
    // also bound the text this builds.
    if point > 131_072 || scale > 16_383 {
        return None;
    }
    if point < 0 {
        digits = "0".repeat((-point) as usize) + &digits;
        point = 0;
    }
    let need = (point + scale) as usize;
    if digits.len() < need {
        digits.push_str(&"0".repeat(need - digits.len()));
    }
    digits.truncate(need);
    let (ip, fp) = digits.split_at(point as usize);
    let ip = ip.trim_start_matches('0');
    let ip = if ip.is_empty() { "0" } else { ip };
    let zero = ip == "0" && fp.bytes().all(|c| c == b'0');
    let mut out = String::new();
    if neg && !zero {
        out.push('-');
    }
    out.push_str(ip);
    if !fp.is_empty() {
        out.push('.');
        out.push_str(fp);
    }
    Some(out)
}

/// Parses JSON text; `kind` names the type in the error (`json`, `jsonb`).
pub fn parse(s: &str, kind: &str) -> Result<Json> {
    let mut p = Parser {
        s: s.as_bytes(),
        pos: 0,
        depth: 0,
    };
    let v = p.value().ok_or_else(|| err(kind, s))?;
    p.ws();
    if p.pos != p.s.len() {
        return Err(err(kind, s));
    }
    Ok(v)
}

/// Checks `json` input (which is then kept as written).
pub fn validate(s: &str) -> Result<()> {
    parse(s, "json").map(|_| ())
}

/// `jsonb` input: the normalised text PostgreSQL would print.
pub fn normalize_jsonb(s: &str) -> Result<String> {
    // PostgreSQL names `json` in jsonb's syntax errors too.
    let v = parse(s, "json")?;
    let mut out = String::with_capacity(s.len());
    write_jsonb(&v, &mut out);
    Ok(out)
}

/// A string as JSON, escaped as PostgreSQL's escape_json does.
pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Prints a value the way PostgreSQL prints jsonb.
pub fn write_jsonb(v: &Json, out: &mut String) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(n),
        Json::String(s) => write_string(s, out),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_jsonb(item, out);
            }
            out.push(']');
        }
        Json::Object(members) => {
            out.push('{');
            for (i, (k, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(k, out);
                out.push_str(": ");
                write_jsonb(item, out);
            }
            out.push('}');
        }
    }
}

/// Compares two plain decimal strings (as [`normalise_number`] writes
/// them) by value, without any range limit.
fn cmp_number(a: &str, b: &str) -> Ordering {
    let split = |s: &str| -> (bool, String, String) {
        let (neg, body) = match s.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, s),
        };
        let (i, f) = body.split_once('.').unwrap_or((body, ""));
        let i = i.trim_start_matches('0').to_string();
        let f = f.trim_end_matches('0').to_string();
        let zero = i.is_empty() && f.is_empty();
        (neg && !zero, i, f)
    };
    let (na, ia, fa) = split(a);
    let (nb, ib, fb) = split(b);
    let magnitude = ia
        .len()
        .cmp(&ib.len())
        .then_with(|| ia.cmp(&ib))
        .then_with(|| fa.cmp(&fb));
    match (na, nb) {
        (false, false) => magnitude,
        (true, true) => magnitude.reverse(),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
    }
}

/// The rank of a value's kind in jsonb's order: null < string < number <
/// boolean < array < object.
fn rank(v: &Json) -> u8 {
    match v {
        Json::Null => 0,
        Json::String(_) => 1,
        Json::Number(_) => 2,
        Json::Bool(_) => 3,
        Json::Array(_) => 4,
        Json::Object(_) => 5,
    }
}

fn cmp_nested(a: &Json, b: &Json) -> Ordering {
    match (a, b) {
        (Json::Null, Json::Null) => Ordering::Equal,
        (Json::String(x), Json::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Json::Number(x), Json::Number(y)) => cmp_number(x, y),
        (Json::Bool(x), Json::Bool(y)) => x.cmp(y),
        (Json::Array(x), Json::Array(y)) => cmp_items(x, y),
        (Json::Object(x), Json::Object(y)) => cmp_objects(x, y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Arrays: more elements is greater; then element by element.
fn cmp_items(x: &[Json], y: &[Json]) -> Ordering {
    x.len().cmp(&y.len()).then_with(|| {
        x.iter()
            .zip(y)
            .map(|(a, b)| cmp_nested(a, b))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    })
}

/// Objects: more pairs is greater; then pairs in storage order (keys by
/// length, then bytes), key before value.
fn cmp_objects(x: &[(String, Json)], y: &[(String, Json)]) -> Ordering {
    x.len().cmp(&y.len()).then_with(|| {
        x.iter()
            .zip(y)
            .map(|((ka, va), (kb, vb))| {
                ka.as_bytes()
                    .cmp(kb.as_bytes())
                    .then_with(|| cmp_nested(va, vb))
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    })
}

/// jsonb's total order (compareJsonbContainers). At the top level a scalar
/// is a one-element "raw scalar" array, which is how PostgreSQL comes to
/// sort `[]` before `null` and scalars before arrays of one element.
pub fn compare(a: &Json, b: &Json) -> Ordering {
    match (a, b) {
        (Json::Object(x), Json::Object(y)) => cmp_objects(x, y),
        (Json::Object(_), _) => Ordering::Greater,
        (_, Json::Object(_)) => Ordering::Less,
        (Json::Array(x), Json::Array(y)) => cmp_items(x, y),
        (Json::Array(x), _) => x.len().cmp(&1).then(Ordering::Greater),
        (_, Json::Array(y)) => 1.cmp(&y.len()).then(Ordering::Less),
        _ => cmp_nested(a, b),
    }
}

/// Compares two jsonb texts in jsonb order; text that does not parse (it
/// never should) compares by bytes after all that does.
pub fn compare_text(a: &str, b: &str) -> Ordering {
    match (parse(a, "jsonb"), parse(b, "jsonb")) {
        (Ok(x), Ok(y)) => compare(&x, &y),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// A form that is equal exactly when [`compare_text`] says equal (numbers
/// lose trailing fraction zeros), for hashing.
pub fn canonical_text(s: &str) -> String {
    fn strip(v: &mut Json) {
        match v {
            Json::Number(n) if n.contains('.') => {
                let t = n.trim_end_matches('0').trim_end_matches('.');
                *n = if t == "-0" { "0".into() } else { t.to_string() };
            }
            Json::Array(items) => items.iter_mut().for_each(strip),
            Json::Object(members) => members.iter_mut().for_each(|(_, v)| strip(v)),
            _ => {}
        }
    }
    match parse(s, "jsonb") {
        Ok(mut v) => {
            strip(&mut v);
            let mut out = String::with_capacity(s.len());
            write_jsonb(&v, &mut out);
            out
        }
        Err(_) => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonb_prints_like_postgres() {
        // Checked against PostgreSQL 15 (`select 'x'::jsonb`).
        for (input, pg) in [
            (r#"{"b": [1,2], "a":1}"#, r#"{"a": 1, "b": [1, 2]}"#),
            (
                r#"{"aa":1,"b":2,"a":3,"a":4}"#,
                r#"{"a": 4, "b": 2, "aa": 1}"#,
            ),
            (
                "[1.50, 1e2, -0, 1.5e-3, 1E+1]",
                "[1.50, 100, 0, 0.0015, 10]",
            ),
            (r#" "a\u00e9\n\/" "#, r#""aé\n/""#),
            ("  null ", "null"),
            ("[]", "[]"),
            ("{}", "{}"),
        ] {
            assert_eq!(normalize_jsonb(input).unwrap(), pg, "{input}");
        }
        for bad in [
            "",
            "{",
            "[1,]",
            "01",
            "tru",
            "truex",
            "{\"a\" 1}",
            "\"\\u0000\"",
            "1 2",
        ] {
            assert!(normalize_jsonb(bad).is_err(), "{bad}");
        }
    }
}
