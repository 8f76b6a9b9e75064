//! Arrays as text: PostgreSQL's array_out quoting (`{a,"b c",NULL}`) and
//! array_in's reader (nested braces, quoted and bare elements, `NULL`).

use crate::error::{Error, ErrorCode, Result};
use crate::types::{text, DataType, FormatOptions, Value};

/// array_out: `{1,2,3}`, elements quoted when empty, `NULL`-like, or
/// holding blanks, quotes, backslashes, commas or braces.
pub fn format_array(items: &[Value], opts: &FormatOptions, out: &mut String) {
    out.push('{');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match item {
            Value::Null => out.push_str("NULL"),
            Value::Array(inner) => format_array(inner, opts, out),
            v => {
                let s = text::format(v, opts).unwrap_or_default();
                let quote = s.is_empty()
                    || s.eq_ignore_ascii_case("null")
                    || s.bytes().any(|c| {
                        matches!(
                            c,
                            b'"' | b'\\'
                                | b'{'
                                | b'}'
                                | b','
                                | b' '
                                | b'\t'
                                | b'\n'
                                | b'\r'
                                | 0x0b
                                | 0x0c
                        )
                    });
                if quote {
                    out.push('"');
                    for c in s.chars() {
                        if c == '"' || c == '\\' {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                } else {
                    out.push_str(&s);
                }
            }
        }
    }
    out.push('}');
}

/// array_in: `{...}` with nested braces for more dimensions, quoted or
/// bare elements, unquoted `NULL`; a `[1:3]=` dimension prefix is skipped.
pub fn parse_array(elem: &DataType, s: &str, opts: &FormatOptions) -> Result<Value> {
    let malformed = |detail: &str| {
        let mut e = Error::new(
            ErrorCode::InvalidTextRepresentation,
            format!("malformed array literal: \"{s}\""),
        );
        e.detail = Some(detail.to_string());
        e
    };
    let mut t = s.trim_start();
    if t.starts_with('[') {
        match t.find('=') {
            Some(i) => t = t[i + 1..].trim_start(),
            None => return Err(malformed("Missing \"=\" after array dimensions.")),
        }
    }
    if !t.starts_with('{') {
        return Err(malformed(
            "Array value must start with \"{\" or dimension information.",
        ));
    }
    let chars: Vec<char> = t.chars().collect();
    let mut pos = 0;
    let v = array_level(elem, &chars, &mut pos, opts, 0, &malformed)?;
    if chars[pos..].iter().any(|c| !c.is_whitespace()) {
        return Err(malformed("Junk after closing right brace."));
    }
    Ok(v)
}

fn array_level(
    elem: &DataType,
    c: &[char],
    pos: &mut usize,
    opts: &FormatOptions,
    depth: usize,
    malformed: &dyn Fn(&str) -> Error,
) -> Result<Value> {
    if depth > 6 {
        return Err(Error::new(
            ErrorCode::NumericValueOutOfRange,
            "number of array dimensions (7) exceeds the maximum allowed (6)",
        ));
    }
    // c[*pos] is '{'.
    *pos += 1;
    let mut items = Vec::new();
    let skip_ws = |pos: &mut usize| {
        while c.get(*pos).is_some_and(|ch| ch.is_whitespace()) {
            *pos += 1;
        }
    };
    skip_ws(pos);
    if c.get(*pos) == Some(&'}') {
        *pos += 1;
        return Ok(Value::Array(items));
    }
    loop {
        skip_ws(pos);
        match c.get(*pos) {
            None => return Err(malformed("Unexpected end of input.")),
            Some('{') => items.push(array_level(elem, c, pos, opts, depth + 1, malformed)?),
            Some('"') => {
                *pos += 1;
                let mut text = String::new();
                loop {
                    match c.get(*pos) {
                        None => return Err(malformed("Unexpected end of input.")),
                        Some('\\') => {
                            let Some(&next) = c.get(*pos + 1) else {
                                return Err(malformed("Unexpected end of input."));
                            };
                            text.push(next);
                            *pos += 2;
                        }
                        Some('"') => {
                            *pos += 1;
                            break;
                        }
                        Some(&ch) => {
                            text.push(ch);
                            *pos += 1;
                        }
                    }
                }
                items.push(text::parse(elem, &text, opts)?);
            }
            Some(_) => {
                let mut text = String::new();
                // Blanks inside a bare element stay; trailing ones do not.
                let mut kept = 0;
                loop {
                    match c.get(*pos) {
                        None => return Err(malformed("Unexpected end of input.")),
                        Some(',') | Some('}') => break,
                        Some('{') | Some('"') => {
                            return Err(malformed("Unexpected array element."))
                        }
                        Some('\\') => {
                            let Some(&next) = c.get(*pos + 1) else {
                                return Err(malformed("Unexpected end of input."));
                            };
                            text.push(next);
                            kept = text.len();
                            *pos += 2;
                        }
                        Some(&ch) => {
                            text.push(ch);
                            if !ch.is_whitespace() {
                                kept = text.len();
                            }
                            *pos += 1;
                        }
                    }
                }
                text.truncate(kept);
                if text.is_empty() {
                    return Err(malformed("Unexpected \",\" character."));
                }
                if text.eq_ignore_ascii_case("null") {
                    items.push(Value::Null);
                } else {
                    items.push(text::parse(elem, &text, opts)?);
                }
            }
        }
        skip_ws(pos);
        match c.get(*pos) {
            Some(',') => *pos += 1,
            Some('}') => {
                *pos += 1;
                break;
            }
            _ => return Err(malformed("Unexpected array element.")),
        }
    }
    // Sub-arrays must all be arrays of one length (rectangular).
    let nested = items
        .iter()
        .filter(|v| matches!(v, Value::Array(_)))
        .count();
    if nested > 0 {
        let lens: Vec<usize> = items
            .iter()
            .map(|v| match v {
                Value::Array(a) => a.len(),
                _ => usize::MAX,
            })
            .collect();
        if nested != items.len() || lens.windows(2).any(|w| w[0] != w[1]) {
            return Err(malformed(
                "Multidimensional arrays must have sub-arrays with matching dimensions.",
            ));
        }
    }
    Ok(Value::Array(items))
}
