//! Pattern matching: LIKE/ILIKE with PostgreSQL's `%`, `_` and backslash
//! escapes, and POSIX regular expressions through the `regex` crate
//! (compiled once per pattern and cached per thread).

use std::cell::RefCell;
use std::collections::HashMap;

use super::{err, INVALID_ESCAPE_SEQUENCE, INVALID_REGULAR_EXPRESSION};
use crate::error::{ErrorCode, Result};
use crate::types::Value;

fn t(s: String) -> Value {
    Value::Text(s)
}

/// A LIKE pattern, parsed once: literals, `_` and `%`.
#[derive(Clone, Copy, PartialEq)]
enum Tok {
    Lit(char),
    One,
    Many,
}

fn like_tokens(pattern: &str, fold: bool) -> Result<Vec<Tok>> {
    let mut out = Vec::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '%' => Tok::Many,
            '_' => Tok::One,
            '\\' => match chars.next() {
                Some(e) => Tok::Lit(e),
                None => {
                    return Err(err(
                        INVALID_ESCAPE_SEQUENCE,
                        "LIKE pattern must not end with escape character",
                    ))
                }
            },
            c => Tok::Lit(c),
        });
    }
    if fold {
        for tok in &mut out {
            if let Tok::Lit(c) = tok {
                *c = fold_char(*c);
            }
        }
    }
    Ok(out)
}

fn fold_char(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

/// `s LIKE pattern` (ILIKE when `fold`): `%` any run, `_` one character,
/// backslash escapes. Backtracks only to the last `%`, so it runs in
/// O(len(s) * len(pattern)) at worst.
pub(super) fn like(s: &str, pattern: &str, fold: bool) -> Result<bool> {
    let p = like_tokens(pattern, fold)?;
    let s: Vec<char> = if fold {
        s.chars().map(fold_char).collect()
    } else {
        s.chars().collect()
    };
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match p.get(j) {
            Some(Tok::Many) => {
                star = Some((j, i));
                j += 1;
            }
            Some(Tok::One) => {
                i += 1;
                j += 1;
            }
            Some(Tok::Lit(c)) if *c == s[i] => {
                i += 1;
                j += 1;
            }
            _ => match star {
                Some((sj, si)) => {
                    j = sj + 1;
                    i = si + 1;
                    star = Some((sj, si + 1));
                }
                None => return Ok(false),
            },
        }
    }
    Ok(p[j..].iter().all(|t| *t == Tok::Many))
}

thread_local! {
    /// Compiled patterns by (pattern, flags): a query evaluates the same
    /// pattern once per row.
    static REGEX_CACHE: RefCell<HashMap<(String, String), regex::Regex>> =
        RefCell::new(HashMap::new());
}

/// Compiles `pattern` with PostgreSQL's flag letters (i, c, n, s, x, g;
/// `g` is the caller's business).
fn compile(pattern: &str, flags: &str) -> Result<regex::Regex> {
    let key = (pattern.to_string(), flags.to_string());
    if let Some(re) = REGEX_CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(re);
    }
    let mut b = regex::RegexBuilder::new(pattern);
    b.size_limit(1 << 22).dot_matches_new_line(true);
    for f in flags.chars() {
        match f {
            'i' => b.case_insensitive(true),
            'c' => b.case_insensitive(false),
            'n' | 'm' => b.multi_line(true).dot_matches_new_line(false),
            's' => b.multi_line(false).dot_matches_new_line(true),
            'x' => b.ignore_whitespace(true),
            'g' => &mut b,
            other => {
                return Err(err(
                    ErrorCode::InvalidParameterValue,
                    format!("invalid regular expression option: \"{other}\""),
                ))
            }
        };
    }
    let re = b.build().map_err(|e| {
        let msg = match e {
            regex::Error::Syntax(s) => s.lines().last().unwrap_or("syntax error").to_string(),
            regex::Error::CompiledTooBig(_) => "regular expression is too complex".to_string(),
            _ => "invalid regular expression".to_string(),
        };
        err(
            INVALID_REGULAR_EXPRESSION,
            format!("invalid regular expression: {msg}"),
        )
    })?;
    REGEX_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= 64 {
            c.clear();
        }
        c.insert(key, re.clone());
    });
    Ok(re)
}

pub(super) fn regex_is_match(s: &str, pattern: &str, fold: bool) -> Result<bool> {
    Ok(compile(pattern, if fold { "i" } else { "" })?.is_match(s))
}

/// substring(s FROM pattern): the first parenthesised group's match, or
/// the whole match when there is no group.
pub(super) fn regexp_substring(s: &str, pattern: &str) -> Result<Value> {
    let re = compile(pattern, "")?;
    Ok(match re.captures(s) {
        None => Value::Null,
        Some(c) => {
            let m = if c.len() > 1 { c.get(1) } else { c.get(0) };
            m.map_or(Value::Null, |m| t(m.as_str().to_string()))
        }
    })
}

pub(super) fn regexp_replace(s: &str, pattern: &str, repl: &str, flags: &str) -> Result<Value> {
    let re = compile(pattern, flags)?;
    let global = flags.contains('g');
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for caps in re.captures_iter(s) {
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&s[last..m.start()]);
        // \1..\9 are groups, \& the whole match, \\ a backslash.
        let mut chars = repl.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.peek().copied() {
                Some(d @ '1'..='9') => {
                    chars.next();
                    let g = d as usize - '0' as usize;
                    out.push_str(caps.get(g).map_or("", |m| m.as_str()));
                }
                Some('&') => {
                    chars.next();
                    out.push_str(m.as_str());
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            }
        }
        last = m.end();
        if !global {
            break;
        }
    }
    out.push_str(&s[last..]);
    Ok(t(out))
}

pub(super) fn regexp_match(s: &str, pattern: &str, flags: &str) -> Result<Value> {
    if flags.contains('g') {
        return Err(err(
            ErrorCode::InvalidParameterValue,
            "regexp_match() does not support the \"global\" option",
        )
        .with_hint("Use the regexp_matches function instead."));
    }
    let re = compile(pattern, flags)?;
    Ok(match re.captures(s) {
        None => Value::Null,
        Some(c) if c.len() == 1 => Value::Array(vec![t(c[0].to_string())]),
        Some(c) => Value::Array(
            c.iter()
                .skip(1)
                .map(|m| m.map_or(Value::Null, |m| t(m.as_str().to_string())))
                .collect(),
        ),
    })
}

/// The escape character of `LIKE ... ESCAPE e` / `SIMILAR TO ... ESCAPE e`:
/// `None` for the empty string (no escape at all).
fn escape_char(escape: &str) -> Result<Option<char>> {
    let mut it = escape.chars();
    match (it.next(), it.next()) {
        (None, _) => Ok(None),
        (Some(c), None) => Ok(Some(c)),
        _ => Err(err(
            INVALID_ESCAPE_SEQUENCE,
            "invalid escape string\nHINT: Escape string must be empty or one character.",
        )),
    }
}

/// `like_escape(pattern, escape)`: rewrites a LIKE pattern that escapes
/// with `escape` into one that escapes with backslash, as `LIKE ... ESCAPE`
/// does.
pub(super) fn like_escape(pattern: &str, escape: &str) -> Result<String> {
    let esc = escape_char(escape)?;
    if esc == Some('\\') {
        return Ok(pattern.to_string());
    }
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if Some(c) == esc {
            match chars.next() {
                Some(n) => {
                    if matches!(n, '%' | '_' | '\\') {
                        out.push('\\');
                    }
                    out.push(n);
                }
                None => {
                    return Err(err(
                        INVALID_ESCAPE_SEQUENCE,
                        "LIKE pattern must not end with escape character",
                    ))
                }
            }
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// `similar_to_escape(pattern [, escape])`: the POSIX regular expression
/// that `SIMILAR TO pattern` matches with (anchored at both ends; `%` and
/// `_` are SQL's wildcards, `.` is literal; the escape defaults to
/// backslash).
pub(super) fn similar_to_escape(pattern: &str, escape: Option<&str>) -> Result<String> {
    let esc = match escape {
        Some(e) => escape_char(e)?,
        None => Some('\\'),
    };
    let mut out = String::with_capacity(pattern.len() + 8);
    out.push_str("^(?:");
    let mut chars = pattern.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        if Some(c) == esc {
            match chars.next() {
                Some(n) => {
                    if n.is_alphanumeric() {
                        out.push(n);
                    } else {
                        out.push('\\');
                        out.push(n);
                    }
                }
                None => return Err(err(
                    INVALID_ESCAPE_SEQUENCE,
                    "invalid escape string\nHINT: Escape string must be empty or one character.",
                )),
            }
            continue;
        }
        if in_class {
            if c == ']' {
                in_class = false;
            }
            if c == '\\' {
                out.push('\\');
            }
            out.push(c);
            continue;
        }
        match c {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            '[' => {
                in_class = true;
                out.push('[');
            }
            '.' | '^' | '$' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push_str(")$");
    Ok(out)
}
