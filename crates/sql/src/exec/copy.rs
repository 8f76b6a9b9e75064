//! COPY's data formats: PostgreSQL's text format (tab-separated, `\N`
//! for NULL, backslash escapes) and CSV (quotes, HEADER, DELIMITER, NULL).

use crate::error::{Error, ErrorCode, Result};
use crate::session::CopyFormat;

/// COPY options.
#[derive(Clone, Debug)]
pub struct CopyOptions {
    pub format: CopyFormat,
    pub delimiter: char,
    pub null: String,
    pub header: bool,
    pub quote: char,
    pub escape: char,
}

impl CopyOptions {
    pub fn new(format: CopyFormat) -> CopyOptions {
        let csv = format == CopyFormat::Csv;
        CopyOptions {
            format,
            delimiter: if csv { ',' } else { '\t' },
            null: if csv { String::new() } else { "\\N".into() },
            header: false,
            quote: '"',
            escape: '"',
        }
    }
}

fn bad(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::BadCopyFileFormat, msg)
}

/// Splits COPY data into rows of fields (`None` = NULL).
pub fn parse(data: &[u8], o: &CopyOptions) -> Result<Vec<Vec<Option<String>>>> {
    let text = std::str::from_utf8(data).map_err(|_| {
        Error::new(
            ErrorCode::CharacterNotInRepertoire,
            "invalid byte sequence for encoding \"UTF8\"",
        )
    })?;
    match o.format {
        CopyFormat::Text => parse_text(text, o),
        CopyFormat::Csv => parse_csv(text, o),
        CopyFormat::Binary => Err(Error::unsupported("COPY BINARY")),
    }
}

fn parse_text(text: &str, o: &CopyOptions) -> Result<Vec<Vec<Option<String>>>> {
    let mut rows = Vec::new();
    let mut first = true;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line == "\\." {
            break;
        }
        if line.is_empty() && first && text.is_empty() {
            continue;
        }
        if first && o.header {
            first = false;
            continue;
        }
        first = false;
        if line.is_empty() {
            continue;
        }
        let mut fields = Vec::new();
        for raw in line.split(o.delimiter) {
            if raw == o.null {
                fields.push(None);
                continue;
            }
            let mut s = String::with_capacity(raw.len());
            let mut chars = raw.chars().peekable();
            while let Some(c) = chars.next() {
                if c != '\\' {
                    s.push(c);
                    continue;
                }
                match chars.next() {
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some('r') => s.push('\r'),
                    Some('b') => s.push('\u{8}'),
                    Some('f') => s.push('\u{c}'),
                    Some('v') => s.push('\u{b}'),
                    Some('\\') => s.push('\\'),
                    Some(d) if d.is_digit(8) => {
                        let mut n = d.to_digit(8).unwrap_or(0);
                        for _ in 0..2 {
                            match chars.peek().and_then(|c| c.to_digit(8)) {
                                Some(x) => {
                                    n = n * 8 + x;
                                    chars.next();
                                }
                                None => break,
                            }
                        }
                        s.push(char::from_u32(n).unwrap_or('?'));
                    }
                    Some(other) => s.push(other),
                    None => {}
                }
            }
            fields.push(Some(s));
        }
        rows.push(fields);
    }
    Ok(rows)
}

fn parse_csv(text: &str, o: &CopyOptions) -> Result<Vec<Vec<Option<String>>>> {
    let mut rows = Vec::new();
    let mut chars = text.chars().peekable();
    let mut row: Vec<Option<String>> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut any = false;
    let mut skip_header = o.header;
    loop {
        let c = chars.next();
        match c {
            Some(c) if c == o.quote && field.is_empty() && !quoted => {
                quoted = true;
                any = true;
                let mut closed = false;
                while let Some(q) = chars.next() {
                    if q == o.escape && chars.peek() == Some(&o.quote) && o.escape != o.quote {
                        chars.next();
                        field.push(o.quote);
                    } else if q == o.quote {
                        if chars.peek() == Some(&o.quote) {
                            chars.next();
                            field.push(o.quote);
                        } else {
                            closed = true;
                            break;
                        }
                    } else {
                        field.push(q);
                    }
                }
                if !closed {
                    return Err(bad("unterminated CSV quoted field"));
                }
            }
            Some(c) if c == o.delimiter => {
                row.push(finish(&field, quoted, o));
                field.clear();
                quoted = false;
                any = true;
            }
            Some('\r') => {}
            Some('\n') | None => {
                if any || !field.is_empty() {
                    row.push(finish(&field, quoted, o));
                    if row.len() == 1 && row[0].as_deref() == Some("\\.") && !quoted {
                        break;
                    }
                    if skip_header {
                        skip_header = false;
                    } else {
                        rows.push(std::mem::take(&mut row));
                    }
                    row.clear();
                }
                field.clear();
                quoted = false;
                any = false;
                if c.is_none() {
                    break;
                }
            }
            Some(c) => {
                field.push(c);
                any = true;
            }
        }
    }
    Ok(rows)
}

fn finish(field: &str, quoted: bool, o: &CopyOptions) -> Option<String> {
    if !quoted && field == o.null {
        None
    } else {
        Some(field.to_string())
    }
}

/// Formats one row for COPY TO.
pub fn format_row(fields: &[Option<String>], o: &CopyOptions) -> Vec<u8> {
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(o.delimiter);
        }
        match f {
            None => out.push_str(&o.null),
            Some(s) => match o.format {
                CopyFormat::Csv => {
                    let needs = s.is_empty()
                        || s.contains(o.delimiter)
                        || s.contains(o.quote)
                        || s.contains('\n')
                        || s.contains('\r')
                        || *s == o.null;
                    if needs {
                        out.push(o.quote);
                        for c in s.chars() {
                            if c == o.quote {
                                out.push(o.escape);
                            }
                            out.push(c);
                        }
                        out.push(o.quote);
                    } else {
                        out.push_str(s);
                    }
                }
                _ => {
                    for c in s.chars() {
                        match c {
                            '\\' => out.push_str("\\\\"),
                            '\n' => out.push_str("\\n"),
                            '\r' => out.push_str("\\r"),
                            '\t' => out.push_str("\\t"),
                            c if c == o.delimiter => {
                                out.push('\\');
                                out.push(c);
                            }
                            c => out.push(c),
                        }
                    }
                }
            },
        }
    }
    out.push('\n');
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip() {
        let o = CopyOptions::new(CopyFormat::Text);
        let rows = parse(b"1\ta\\tb\n2\t\\N\n\\.\n", &o).expect("parse");
        assert_eq!(
            rows,
            vec![
                vec![Some("1".into()), Some("a\tb".into())],
                vec![Some("2".into()), None]
            ]
        );
        assert_eq!(format_row(&rows[0], &o), b"1\ta\\tb\n".to_vec());
    }

    #[test]
    fn csv_quotes_and_header() {
        let mut o = CopyOptions::new(CopyFormat::Csv);
        o.header = true;
        let rows = parse(b"id,name\n1,\"x,\"\"y\"\"\"\n2,\n", &o).expect("parse");
        assert_eq!(
            rows,
            vec![
                vec![Some("1".into()), Some("x,\"y\"".into())],
                vec![Some("2".into()), None]
            ]
        );
    }
}
