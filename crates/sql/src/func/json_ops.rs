//! The jsonb operators beyond `->`/`->>`, as the functions PostgreSQL
//! implements them with: containment (`@>` jsonb_contains, `<@`
//! jsonb_contained), existence (`?`, `?|`, `?&`), deletion (`-`, `#-`)
//! and path extraction (`#>`, `#>>`). The binder turns each operator
//! into a call of the function.

use std::cmp::Ordering;

use super::err;
use super::json::{jsonb, parse};
use super::signature::{Registry, ANY};
use crate::error::{ErrorCode, Result};
use crate::types::json::{self, Json};
use crate::types::{DataType, Value};

use DataType::{Bool, Int4, Jsonb, Text};

pub(super) fn register(r: &mut Registry) {
    let texts = DataType::Array(Box::new(Text));
    r.add(&["jsonb_contains"], &[Jsonb, Jsonb], Bool, |a, _| {
        Ok(Value::Bool(contains_top(&parse(&a[0])?, &parse(&a[1])?)))
    });
    r.add(&["jsonb_contained"], &[Jsonb, Jsonb], Bool, |a, _| {
        Ok(Value::Bool(contains_top(&parse(&a[1])?, &parse(&a[0])?)))
    });
    r.add(&["jsonb_exists"], &[Jsonb, Text], Bool, |a, _| {
        Ok(Value::Bool(exists(&parse(&a[0])?, text(&a[1]))))
    });
    r.add(
        &["jsonb_exists_any"],
        &[Jsonb, texts.clone()],
        Bool,
        |a, _| {
            let j = parse(&a[0])?;
            Ok(Value::Bool(keys(&a[1]).any(|k| exists(&j, k))))
        },
    );
    r.add(
        &["jsonb_exists_all"],
        &[Jsonb, texts.clone()],
        Bool,
        |a, _| {
            let j = parse(&a[0])?;
            Ok(Value::Bool(keys(&a[1]).all(|k| exists(&j, k))))
        },
    );
    r.add(&["jsonb_delete"], &[Jsonb, Text], Jsonb, |a, _| {
        delete_keys(&a[0], &[text(&a[1])])
    });
    r.add(&["jsonb_delete"], &[Jsonb, texts.clone()], Jsonb, |a, _| {
        let ks: Vec<&str> = keys(&a[1]).collect();
        delete_keys(&a[0], &ks)
    });
    r.add(&["jsonb_delete"], &[Jsonb, Int4], Jsonb, |a, _| {
        delete_index(&a[0], &a[1])
    });
    r.add(
        &["jsonb_delete_path"],
        &[Jsonb, texts.clone()],
        Jsonb,
        |a, _| {
            let mut j = parse(&a[0])?;
            if !matches!(j, Json::Array(_) | Json::Object(_)) {
                return Err(err(
                    ErrorCode::InvalidParameterValue,
                    "cannot delete path in scalar",
                ));
            }
            let path = path(&a[1])?;
            if !path.is_empty() {
                delete_path(&mut j, &path, 1)?;
            }
            Ok(jsonb(&j))
        },
    );
    // `#>` and `#>>`: jsonb_extract_path[_text] with the path as an array
    // (the variadic form takes the elements one by one).
    r.add(
        &["jsonb_extract_path"],
        &[Jsonb, texts.clone()],
        Jsonb,
        |a, _| extract_array_path(&a[0], &a[1], false),
    );
    r.add_lax(
        &["jsonb_extract_path"],
        &[Jsonb, Text],
        true,
        Jsonb,
        |a, _| extract_variadic(a, false),
    );
    r.add(
        &["jsonb_extract_path_text"],
        &[Jsonb, texts.clone()],
        Text,
        |a, _| extract_array_path(&a[0], &a[1], true),
    );
    r.add_lax(
        &["jsonb_extract_path_text"],
        &[Jsonb, Text],
        true,
        Text,
        |a, _| extract_variadic(a, true),
    );
    // json (not jsonb) takes ANY so that its values are not cast to jsonb.
    r.add(
        &["json_extract_path"],
        &[ANY, texts.clone()],
        DataType::Json,
        |a, _| extract_array_path(&a[0], &a[1], false),
    );
    r.add(&["json_extract_path_text"], &[ANY, texts], Text, |a, _| {
        extract_array_path(&a[0], &a[1], true)
    });
}

fn text(v: &Value) -> &str {
    match v {
        Value::Text(s) => s,
        _ => "",
    }
}

/// The non-NULL text elements of a text[] (NULL keys match nothing).
fn keys(v: &Value) -> impl Iterator<Item = &str> {
    let items: &[Value] = match v {
        Value::Array(items) => items,
        _ => &[],
    };
    items.iter().filter_map(|i| match i {
        Value::Text(s) => Some(s.as_str()),
        _ => None,
    })
}

/// A text[] path; a NULL element is an error, as in PostgreSQL.
fn path(v: &Value) -> Result<Vec<String>> {
    let Value::Array(items) = v else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Text(s) => Ok(s.clone()),
            Value::Null => Err(err(
                ErrorCode::NullValueNotAllowed,
                format!("path element at position {} is null", i + 1),
            )),
            other => Err(err(
                ErrorCode::InvalidParameterValue,
                format!("path element at position {} is not text: {other:?}", i + 1),
            )),
        })
        .collect()
}

fn scalar(j: &Json) -> bool {
    !matches!(j, Json::Array(_) | Json::Object(_))
}

/// `a @> b` at the top level, where a scalar on the right is also found
/// as an element of an array on the left (a raw scalar is a one-element
/// array to PostgreSQL).
fn contains_top(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Array(items), b) if scalar(b) => items
            .iter()
            .any(|i| scalar(i) && json::compare(i, b) == Ordering::Equal),
        _ => contains(a, b),
    }
}

/// JsonbDeepContains: objects contain objects key by key, arrays contain
/// arrays element by element (in any order, duplicates ignored), scalars
/// only equal scalars.
fn contains(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Object(x), Json::Object(y)) => y.iter().all(|(k, bv)| {
            x.iter()
                .find(|(ak, _)| ak == k)
                .is_some_and(|(_, av)| contains(av, bv))
        }),
        (Json::Array(x), Json::Array(y)) => y.iter().all(|bv| {
            x.iter().any(|av| match (av, bv) {
                (Json::Array(_), Json::Array(_)) | (Json::Object(_), Json::Object(_)) => {
                    contains(av, bv)
                }
                (av, bv) if scalar(av) && scalar(bv) => json::compare(av, bv) == Ordering::Equal,
                _ => false,
            })
        }),
        (a, b) if scalar(a) && scalar(b) => json::compare(a, b) == Ordering::Equal,
        _ => false,
    }
}

/// `j ? key`: a top-level object key, or a string element of a top-level
/// array (or the string itself, for a scalar).
fn exists(j: &Json, key: &str) -> bool {
    match j {
        Json::Object(fields) => fields.iter().any(|(k, _)| k == key),
        Json::Array(items) => items
            .iter()
            .any(|i| matches!(i, Json::String(s) if s == key)),
        Json::String(s) => s == key,
        _ => false,
    }
}

/// `j - key` / `j - text[]`: removes object keys, or matching string
/// elements of an array.
fn delete_keys(doc: &Value, ks: &[&str]) -> Result<Value> {
    let j = parse(doc)?;
    Ok(jsonb(&match j {
        Json::Object(fields) => Json::Object(
            fields
                .into_iter()
                .filter(|(k, _)| !ks.contains(&k.as_str()))
                .collect(),
        ),
        Json::Array(items) => Json::Array(
            items
                .into_iter()
                .filter(|i| !matches!(i, Json::String(s) if ks.contains(&s.as_str())))
                .collect(),
        ),
        _ => {
            return Err(err(
                ErrorCode::InvalidParameterValue,
                "cannot delete from scalar",
            ))
        }
    }))
}

/// `j - n`: removes an array element (negative counts from the end).
fn delete_index(doc: &Value, idx: &Value) -> Result<Value> {
    let j = parse(doc)?;
    let Value::Int4(i) = idx else {
        return Ok(jsonb(&j));
    };
    match j {
        Json::Array(mut items) => {
            let len = items.len() as i64;
            let at = if *i < 0 {
                len + i64::from(*i)
            } else {
                i64::from(*i)
            };
            if (0..len).contains(&at) {
                items.remove(at as usize);
            }
            Ok(jsonb(&Json::Array(items)))
        }
        Json::Object(_) => Err(err(
            ErrorCode::InvalidParameterValue,
            "cannot delete from object using integer index",
        )),
        _ => Err(err(
            ErrorCode::InvalidParameterValue,
            "cannot delete from scalar",
        )),
    }
}

/// An array index from a path element, as jsonb path operators read it.
fn index(key: &str, len: usize) -> Option<usize> {
    let i: i64 = key.trim().parse().ok()?;
    let len = len as i64;
    let at = if i < 0 { len + i } else { i };
    (0..len).contains(&at).then_some(at as usize)
}

/// `j #- path`; `pos` is the 1-based position of `path[0]` for errors.
fn delete_path(j: &mut Json, path: &[String], pos: usize) -> Result<()> {
    let (key, rest) = (&path[0], &path[1..]);
    match j {
        Json::Object(fields) => {
            if let Some(i) = fields.iter().position(|(k, _)| k == key) {
                if rest.is_empty() {
                    fields.remove(i);
                } else {
                    delete_path(&mut fields[i].1, rest, pos + 1)?;
                }
            }
        }
        Json::Array(items) => {
            if key.trim().parse::<i64>().is_err() {
                return Err(err(
                    ErrorCode::InvalidTextRepresentation,
                    format!("path element at position {pos} is not an integer: \"{key}\""),
                ));
            }
            if let Some(i) = index(key, items.len()) {
                if rest.is_empty() {
                    items.remove(i);
                } else {
                    delete_path(&mut items[i], rest, pos + 1)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// `j #> path` (`as_text`: `#>>`): the element at `path`, NULL when any
/// step is missing.
fn extract(doc: &Value, path: &[String], as_text: bool) -> Result<Value> {
    let j = parse(doc)?;
    let mut at = &j;
    for key in path {
        let next = match at {
            Json::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Json::Array(items) => index(key, items.len()).map(|i| &items[i]),
            _ => None,
        };
        match next {
            Some(n) => at = n,
            None => return Ok(Value::Null),
        }
    }
    Ok(match at {
        Json::Null if as_text => Value::Null,
        Json::String(s) if as_text => Value::Text(s.clone()),
        other => {
            let mut s = String::new();
            json::write_jsonb(other, &mut s);
            if as_text {
                Value::Text(s)
            } else {
                Value::Json(s)
            }
        }
    })
}

/// `j #> path` with the path as a text[]: a NULL element finds nothing.
fn extract_array_path(doc: &Value, path: &Value, as_text: bool) -> Result<Value> {
    let Value::Array(items) = path else {
        return Ok(Value::Null);
    };
    if items.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    extract(doc, &self::path(path)?, as_text)
}

/// jsonb_extract_path(j, 'a', 'b'): NULL for a NULL document or element.
fn extract_variadic(a: &[Value], as_text: bool) -> Result<Value> {
    if a.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let path: Vec<String> = a[1..].iter().map(|v| text(v).to_string()).collect();
    extract(&a[0], &path, as_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(s: &str) -> Json {
        json::parse(s, "jsonb").expect("valid json")
    }

    fn doc(s: &str) -> Value {
        Value::Json(s.into())
    }

    fn text_path(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    // Expectations checked with PostgreSQL 15.
    #[test]
    fn containment_follows_jsonb_deep_contains() {
        assert!(contains_top(
            &j(r#"{"a": [1, {"b": 2}]}"#),
            &j(r#"{"a": [{"b": 2}]}"#)
        ));
        assert!(contains_top(&j(r#"["foo", "bar"]"#), &j(r#""foo""#)));
        assert!(contains_top(&j("[1, 2, 3]"), &j("[3, 1, 1]")));
        assert!(contains_top(&j("1.0"), &j("1")));
        assert!(!contains_top(&j("[1, [2, 3]]"), &j("[2]")));
        assert!(!contains_top(&j(r#"{"a": {"b": 1}}"#), &j(r#"{"b": 1}"#)));
        assert!(!contains_top(&j(r#"[[1]]"#), &j("1")));
    }

    #[test]
    fn existence_sees_keys_and_string_elements() {
        assert!(exists(&j(r#"{"a": 1}"#), "a"));
        assert!(exists(&j(r#"["a", 1]"#), "a"));
        assert!(!exists(&j(r#"[1, "2"]"#), "1"));
        assert!(exists(&j(r#""x""#), "x"));
    }

    #[test]
    fn deletion_and_paths() {
        let show = |v: Result<Value>| match v.expect("ok") {
            Value::Json(s) | Value::Text(s) => s,
            other => format!("{other:?}"),
        };
        assert_eq!(
            show(delete_keys(&doc(r#"["a", "b", "a"]"#), &["a"])),
            r#"["b"]"#
        );
        assert_eq!(
            show(delete_index(&doc("[1, 2, 3]"), &Value::Int4(-1))),
            "[1, 2]"
        );
        let e = delete_index(&doc(r#"{"a": 1}"#), &Value::Int4(0)).expect_err("object");
        assert_eq!(e.message, "cannot delete from object using integer index");
        let e = delete_keys(&doc("5"), &["a"]).expect_err("scalar");
        assert_eq!(e.message, "cannot delete from scalar");
        assert_eq!(
            show(extract(
                &doc("[1, [2, 3]]"),
                &text_path(&["1", "-1"]),
                false
            )),
            "3"
        );
        assert_eq!(
            show(extract(&doc(r#"{"a": "x"}"#), &text_path(&["a"]), true)),
            "x"
        );
        assert!(extract(&doc("[1]"), &text_path(&["x"]), false)
            .expect("ok")
            .is_null());
        let mut d = j(r#"{"a": [1, 2]}"#);
        delete_path(&mut d, &text_path(&["a", "0"]), 1).expect("ok");
        assert_eq!(d, j(r#"{"a": [2]}"#));
        let e = delete_path(&mut j("[1]"), &text_path(&["x"]), 1).expect_err("not an index");
        assert_eq!(
            e.message,
            "path element at position 1 is not an integer: \"x\""
        );
    }
}
