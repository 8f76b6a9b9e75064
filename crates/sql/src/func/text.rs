//! String functions: length, case, substr, position, pad, trim, replace,
//! split_part, concat, md5, chr/ascii, format, quoting, translate,
//! string_to_array and the regexp_* functions (matching is in `pattern`).

use std::fmt::Write;

use super::pattern::{self, regex_is_match, regexp_match, regexp_replace, regexp_substring};
use super::signature::{Registry, ANY};
use super::SUBSTRING_ERROR;
use super::{err, text_of, FunctionContext};
use crate::error::{ErrorCode, Result};
use crate::types::{DataType, Value};

use DataType::{Bool, Bytea, Int4, Int8, Text};

pub(super) fn register(r: &mut Registry) {
    let text_arr = DataType::Array(Box::new(Text));
    r.add(&["like_escape"], &[Text, Text], Text, |a, _| {
        Ok(t(pattern::like_escape(s(&a[0]), s(&a[1]))?))
    });
    r.add(&["similar_to_escape"], &[Text], Text, |a, _| {
        Ok(t(pattern::similar_to_escape(s(&a[0]), None)?))
    });
    r.add(&["similar_to_escape"], &[Text, Text], Text, |a, _| {
        Ok(t(pattern::similar_to_escape(s(&a[0]), Some(s(&a[1])))?))
    });
    r.add(
        &["length", "char_length", "character_length"],
        &[Text],
        Int4,
        |a, _| Ok(Value::Int4(s(&a[0]).chars().count() as i32)),
    );
    r.add(&["length", "octet_length"], &[Bytea], Int4, |a, _| {
        Ok(Value::Int4(bytes(&a[0]).len() as i32))
    });
    r.add(&["octet_length"], &[Text], Int4, |a, _| {
        Ok(Value::Int4(s(&a[0]).len() as i32))
    });
    r.add(&["bit_length"], &[Text], Int4, |a, _| {
        Ok(Value::Int4(s(&a[0]).len() as i32 * 8))
    });
    r.add(&["lower"], &[Text], Text, |a, _| {
        Ok(t(s(&a[0]).to_lowercase()))
    });
    r.add(&["upper"], &[Text], Text, |a, _| {
        Ok(t(s(&a[0]).to_uppercase()))
    });
    r.add(&["initcap"], &[Text], Text, |a, _| Ok(t(initcap(s(&a[0])))));
    r.add(&["substr", "substring"], &[Text, Int4], Text, |a, _| {
        substr(s(&a[0]), int(&a[1]), None).map(t)
    });
    r.add(
        &["substr", "substring"],
        &[Text, Int4, Int4],
        Text,
        |a, _| substr(s(&a[0]), int(&a[1]), Some(int(&a[2]))).map(t),
    );
    r.add(&["substring"], &[Text, Text], Text, |a, _| {
        regexp_substring(s(&a[0]), s(&a[1]))
    });
    r.add(&["strpos", "position"], &[Text, Text], Int4, |a, _| {
        Ok(Value::Int4(strpos(s(&a[0]), s(&a[1]))))
    });
    r.add(&["left"], &[Text, Int4], Text, |a, _| {
        Ok(t(left_right(s(&a[0]), int(&a[1]), true)))
    });
    r.add(&["right"], &[Text, Int4], Text, |a, _| {
        Ok(t(left_right(s(&a[0]), int(&a[1]), false)))
    });
    r.add(&["lpad"], &[Text, Int4], Text, |a, _| {
        pad(s(&a[0]), int(&a[1]), " ", true).map(t)
    });
    r.add(&["lpad"], &[Text, Int4, Text], Text, |a, _| {
        pad(s(&a[0]), int(&a[1]), s(&a[2]), true).map(t)
    });
    r.add(&["rpad"], &[Text, Int4], Text, |a, _| {
        pad(s(&a[0]), int(&a[1]), " ", false).map(t)
    });
    r.add(&["rpad"], &[Text, Int4, Text], Text, |a, _| {
        pad(s(&a[0]), int(&a[1]), s(&a[2]), false).map(t)
    });
    r.add(&["ltrim"], &[Text], Text, |a, _| {
        Ok(t(trim(s(&a[0]), " ", true, false)))
    });
    r.add(&["rtrim"], &[Text], Text, |a, _| {
        Ok(t(trim(s(&a[0]), " ", false, true)))
    });
    r.add(&["btrim", "trim"], &[Text], Text, |a, _| {
        Ok(t(trim(s(&a[0]), " ", true, true)))
    });
    r.add(&["ltrim"], &[Text, Text], Text, |a, _| {
        Ok(t(trim(s(&a[0]), s(&a[1]), true, false)))
    });
    r.add(&["rtrim"], &[Text, Text], Text, |a, _| {
        Ok(t(trim(s(&a[0]), s(&a[1]), false, true)))
    });
    r.add(&["btrim", "trim"], &[Text, Text], Text, |a, _| {
        Ok(t(trim(s(&a[0]), s(&a[1]), true, true)))
    });
    r.add(&["replace"], &[Text, Text, Text], Text, |a, _| {
        let (x, from, to) = (s(&a[0]), s(&a[1]), s(&a[2]));
        Ok(t(if from.is_empty() {
            x.to_string()
        } else {
            x.replace(from, to)
        }))
    });
    r.add(&["repeat"], &[Text, Int4], Text, |a, _| {
        repeat(s(&a[0]), int(&a[1]))
    });
    r.add(&["reverse"], &[Text], Text, |a, _| {
        Ok(t(s(&a[0]).chars().rev().collect()))
    });
    r.add(&["split_part"], &[Text, Text, Int4], Text, |a, _| {
        split_part(s(&a[0]), s(&a[1]), int(&a[2])).map(t)
    });
    r.add_lax(&["concat"], &[ANY], true, Text, |a, ctx| {
        Ok(t(a
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| text_of(v, ctx))
            .collect()))
    });
    r.add_lax(&["concat_ws"], &[Text, ANY], true, Text, |a, ctx| {
        let Value::Text(sep) = &a[0] else {
            return Ok(Value::Null);
        };
        let parts: Vec<String> = a[1..]
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| text_of(v, ctx))
            .collect();
        Ok(t(parts.join(sep)))
    });
    r.add(&["md5"], &[Text], Text, |a, _| {
        Ok(t(md5_hex(s(&a[0]).as_bytes())))
    });
    r.add(&["md5"], &[Bytea], Text, |a, _| {
        Ok(t(md5_hex(bytes(&a[0]))))
    });
    r.add(&["chr"], &[Int4], Text, |a, _| chr(int(&a[0])));
    r.add(&["ascii"], &[Text], Int4, |a, _| {
        Ok(Value::Int4(s(&a[0]).chars().next().map_or(0, |c| c as i32)))
    });
    r.add(&["to_hex"], &[Int4], Text, |a, _| {
        Ok(t(format!("{:x}", int(&a[0]) as u32)))
    });
    r.add(&["to_hex"], &[Int8], Text, |a, _| {
        let Value::Int8(i) = a[0] else {
            return Ok(Value::Null);
        };
        Ok(t(format!("{:x}", i as u64)))
    });
    r.add_lax(&["format"], &[Text], false, Text, format);
    r.add_lax(&["format"], &[Text, ANY], true, Text, format);
    r.add(&["starts_with"], &[Text, Text], Bool, |a, _| {
        Ok(Value::Bool(s(&a[0]).starts_with(s(&a[1]))))
    });
    r.add(&["regexp_replace"], &[Text, Text, Text], Text, |a, _| {
        regexp_replace(s(&a[0]), s(&a[1]), s(&a[2]), "")
    });
    r.add(
        &["regexp_replace"],
        &[Text, Text, Text, Text],
        Text,
        |a, _| regexp_replace(s(&a[0]), s(&a[1]), s(&a[2]), s(&a[3])),
    );
    r.add(
        &["regexp_match"],
        &[Text, Text],
        text_arr.clone(),
        |a, _| regexp_match(s(&a[0]), s(&a[1]), ""),
    );
    r.add(
        &["regexp_match"],
        &[Text, Text, Text],
        text_arr.clone(),
        |a, _| regexp_match(s(&a[0]), s(&a[1]), s(&a[2])),
    );
    r.add(&["regexp_like"], &[Text, Text], Bool, |a, _| {
        Ok(Value::Bool(regex_is_match(s(&a[0]), s(&a[1]), false)?))
    });
    r.add(&["quote_ident"], &[Text], Text, |a, _| {
        Ok(t(quote_ident(s(&a[0]))))
    });
    r.add(&["quote_literal"], &[Text], Text, |a, _| {
        Ok(t(quote_literal(s(&a[0]))))
    });
    r.add(&["quote_literal"], &[ANY], Text, |a, ctx| {
        Ok(t(quote_literal(&text_of(&a[0], ctx))))
    });
    r.add_lax(&["quote_nullable"], &[ANY], false, Text, |a, ctx| {
        Ok(t(match &a[0] {
            Value::Null => "NULL".to_string(),
            v => quote_literal(&text_of(v, ctx)),
        }))
    });
    r.add(&["translate"], &[Text, Text, Text], Text, |a, _| {
        Ok(t(translate(s(&a[0]), s(&a[1]), s(&a[2]))))
    });
    r.add_lax(
        &["string_to_array"],
        &[Text, Text],
        false,
        text_arr.clone(),
        |a, _| Ok(string_to_array(&a[0], &a[1], None)),
    );
    r.add_lax(
        &["string_to_array"],
        &[Text, Text, Text],
        false,
        text_arr,
        |a, _| Ok(string_to_array(&a[0], &a[1], Some(&a[2]))),
    );
}

fn t(s: String) -> Value {
    Value::Text(s)
}

/// A text argument (coercion already made it text).
fn s(v: &Value) -> &str {
    match v {
        Value::Text(s) | Value::Json(s) => s,
        _ => "",
    }
}

fn bytes(v: &Value) -> &[u8] {
    match v {
        Value::Bytea(b) => b,
        Value::Text(s) => s.as_bytes(),
        _ => &[],
    }
}

fn int(v: &Value) -> i64 {
    super::num::as_i64(v).unwrap_or(0)
}

fn initcap(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    for c in s.chars() {
        if in_word {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        in_word = c.is_alphanumeric();
    }
    out
}

/// substr: positions count from 1; a start before 1 eats into the length.
fn substr(s: &str, start: i64, len: Option<i64>) -> Result<String> {
    let end = match len {
        Some(l) if l < 0 => {
            return Err(err(
                SUBSTRING_ERROR,
                "negative substring length not allowed",
            ))
        }
        Some(l) => start.saturating_add(l),
        None => i64::MAX,
    };
    let from = start.max(1);
    if end <= from {
        return Ok(String::new());
    }
    let skip = usize::try_from(from - 1).unwrap_or(usize::MAX);
    let take = usize::try_from(end - from).unwrap_or(usize::MAX);
    Ok(s.chars().skip(skip).take(take).collect())
}

fn strpos(s: &str, sub: &str) -> i32 {
    match s.find(sub) {
        Some(i) => s[..i].chars().count() as i32 + 1,
        None => 0,
    }
}

/// left/right: n characters, or all but |n| when n is negative.
fn left_right(s: &str, n: i64, left: bool) -> String {
    let len = s.chars().count() as i64;
    let keep = if n >= 0 { n.min(len) } else { (len + n).max(0) } as usize;
    if left {
        s.chars().take(keep).collect()
    } else {
        s.chars().skip(len as usize - keep).collect()
    }
}

fn pad(s: &str, len: i64, fill: &str, left: bool) -> Result<String> {
    // PostgreSQL refuses results over 1 GB; so do we, before allocating.
    if len > (1 << 30) / 4 {
        return Err(err(
            ErrorCode::InvalidParameterValue,
            "requested length too large",
        ));
    }
    let len = len.max(0) as usize;
    let n = s.chars().count();
    if n >= len {
        return Ok(s.chars().take(len).collect());
    }
    if fill.is_empty() {
        return Ok(s.to_string());
    }
    let padding: String = fill.chars().cycle().take(len - n).collect();
    Ok(if left {
        padding + s
    } else {
        s.to_string() + &padding
    })
}

fn trim(s: &str, chars: &str, start: bool, end: bool) -> String {
    let set = |c: char| chars.contains(c);
    let s = if start { s.trim_start_matches(set) } else { s };
    let s = if end { s.trim_end_matches(set) } else { s };
    s.to_string()
}

fn repeat(s: &str, n: i64) -> Result<Value> {
    let n = n.max(0) as usize;
    if s.len().saturating_mul(n) > (1 << 30) - 1 {
        return Err(err(
            ErrorCode::InvalidParameterValue,
            "requested length too large",
        ));
    }
    Ok(t(s.repeat(n)))
}

fn split_part(s: &str, delim: &str, n: i64) -> Result<String> {
    if n == 0 {
        return Err(err(
            ErrorCode::InvalidParameterValue,
            "field position must not be zero",
        ));
    }
    let parts: Vec<&str> = if delim.is_empty() {
        if s.is_empty() {
            vec![]
        } else {
            vec![s]
        }
    } else if s.is_empty() {
        vec![]
    } else {
        s.split(delim).collect()
    };
    let idx = if n > 0 { n - 1 } else { parts.len() as i64 + n };
    Ok(usize::try_from(idx)
        .ok()
        .and_then(|i| parts.get(i))
        .map_or(String::new(), |p| p.to_string()))
}

fn md5_hex(b: &[u8]) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(b);
    let mut out = String::with_capacity(32);
    for byte in digest {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn chr(code: i64) -> Result<Value> {
    if code == 0 {
        return Err(err(
            ErrorCode::InvalidParameterValue,
            "null character not permitted",
        ));
    }
    let c = u32::try_from(code)
        .ok()
        .and_then(char::from_u32)
        .ok_or_else(|| {
            err(
                ErrorCode::InvalidParameterValue,
                format!("requested character too large for encoding: {code}"),
            )
        })?;
    Ok(t(c.to_string()))
}

/// Words PostgreSQL would not accept bare as identifiers, so quote_ident
/// and format('%I') quote them.
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "current_catalog",
    "current_date",
    "current_role",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "grant",
    "group",
    "having",
    "in",
    "initially",
    "intersect",
    "into",
    "lateral",
    "leading",
    "limit",
    "localtime",
    "localtimestamp",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "placing",
    "primary",
    "references",
    "returning",
    "select",
    "session_user",
    "some",
    "symmetric",
    "table",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "when",
    "where",
    "window",
    "with",
];

pub(crate) fn quote_ident(s: &str) -> String {
    let safe = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !RESERVED.contains(&s);
    if safe {
        return s.to_string();
    }
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub(super) fn quote_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    if s.contains('\\') {
        out.push('E');
    }
    out.push('\'');
    for c in s.chars() {
        if c == '\'' || c == '\\' {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

fn translate(s: &str, from: &str, to: &str) -> String {
    let from: Vec<char> = from.chars().collect();
    let to: Vec<char> = to.chars().collect();
    s.chars()
        .filter_map(|c| match from.iter().position(|f| *f == c) {
            Some(i) => to.get(i).copied(),
            None => Some(c),
        })
        .collect()
}

fn string_to_array(s: &Value, delim: &Value, null: Option<&Value>) -> Value {
    let Value::Text(s) = s else {
        return Value::Null;
    };
    if s.is_empty() {
        return Value::Array(vec![]);
    }
    let parts: Vec<String> = match delim {
        Value::Null => s.chars().map(String::from).collect(),
        Value::Text(d) if d.is_empty() => vec![s.clone()],
        Value::Text(d) => s.split(d.as_str()).map(String::from).collect(),
        _ => vec![s.clone()],
    };
    let null = match null {
        Some(Value::Text(n)) => Some(n.as_str()),
        _ => None,
    };
    Value::Array(
        parts
            .into_iter()
            .map(|p| {
                if Some(p.as_str()) == null {
                    Value::Null
                } else {
                    Value::Text(p)
                }
            })
            .collect(),
    )
}

/// format(): `%s`, `%I`, `%L`, `%%`, with optional `n$` positions.
fn format(a: &[Value], ctx: &FunctionContext) -> Result<Value> {
    let Value::Text(fmt) = &a[0] else {
        return Ok(Value::Null);
    };
    let args = &a[1..];
    let mut out = String::with_capacity(fmt.len());
    let mut chars = fmt.chars().peekable();
    let mut next = 0usize;
    let too_few = || {
        err(
            ErrorCode::InvalidParameterValue,
            "too few arguments for format()",
        )
    };
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        // An optional argument position `n$`.
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        let index = if !digits.is_empty() && chars.peek() == Some(&'$') {
            chars.next();
            let n: usize = digits.parse().map_err(|_| too_few())?;
            if n == 0 {
                return Err(err(
                    ErrorCode::InvalidParameterValue,
                    "format specifies argument 0, but arguments are numbered from 1",
                ));
            }
            n - 1
        } else if digits.is_empty() {
            next
        } else {
            return Err(err(
                ErrorCode::InvalidParameterValue,
                "unterminated format() type specifier",
            ));
        };
        let conv = chars.next().ok_or_else(|| {
            err(
                ErrorCode::InvalidParameterValue,
                "unterminated format() type specifier",
            )
            .with_hint("For a single \"%\" use \"%%\".")
        })?;
        let arg = args.get(index).ok_or_else(too_few)?;
        next = index + 1;
        match conv {
            's' => {
                if !arg.is_null() {
                    out.push_str(&text_of(arg, ctx));
                }
            }
            'I' => {
                if arg.is_null() {
                    return Err(err(
                        ErrorCode::NullValueNotAllowed,
                        "null values cannot be formatted as an SQL identifier",
                    ));
                }
                out.push_str(&quote_ident(&text_of(arg, ctx)));
            }
            'L' => match arg {
                Value::Null => out.push_str("NULL"),
                v => out.push_str(&quote_literal(&text_of(v, ctx))),
            },
            other => {
                return Err(err(
                    ErrorCode::InvalidParameterValue,
                    format!("unrecognized format() type specifier \"{other}\""),
                )
                .with_hint("For a single \"%\" use \"%%\"."))
            }
        }
    }
    Ok(t(out))
}
