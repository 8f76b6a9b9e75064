//! JSON functions: to_json/to_jsonb, json[b]_build_object/array,
//! jsonb_typeof, jsonb_array_length, jsonb_strip_nulls, jsonb_pretty,
//! jsonb_set and jsonb_insert.

use super::signature::{Registry, ANY};
use super::{err, text_of, FunctionContext};
use crate::error::{ErrorCode, Result};
use crate::types::json::{self, Json};
use crate::types::{DataType, Value};

use DataType::{Bool, Int4, Jsonb, Text};

pub(super) fn register(r: &mut Registry) {
    let path = DataType::Array(Box::new(Text));
    r.add(&["to_jsonb"], &[ANY], Jsonb, |a, ctx| {
        Ok(jsonb(&to_json(&a[0], ctx)?))
    });
    r.add(&["to_json"], &[ANY], DataType::Json, |a, ctx| {
        Ok(Value::Json(write_json(&to_json(&a[0], ctx)?)))
    });
    r.add_lax(&["jsonb_build_object"], &[], false, Jsonb, |_, _| {
        Ok(Value::Json("{}".into()))
    });
    r.add_lax(&["jsonb_build_object"], &[ANY], true, Jsonb, |a, ctx| {
        Ok(jsonb(&Json::Object(object(a, ctx, true)?)))
    });
    r.add_lax(
        &["json_build_object"],
        &[],
        false,
        DataType::Json,
        |_, _| Ok(Value::Json("{}".into())),
    );
    r.add_lax(
        &["json_build_object"],
        &[ANY],
        true,
        DataType::Json,
        |a, ctx| {
            Ok(Value::Json(write_json(&Json::Object(object(
                a, ctx, false,
            )?))))
        },
    );
    r.add_lax(&["jsonb_build_array"], &[ANY], true, Jsonb, |a, ctx| {
        Ok(jsonb(&Json::Array(
            a.iter().map(|v| to_json(v, ctx)).collect::<Result<_>>()?,
        )))
    });
    r.add_lax(
        &["json_build_array"],
        &[ANY],
        true,
        DataType::Json,
        |a, ctx| {
            Ok(Value::Json(write_json(&Json::Array(
                a.iter().map(|v| to_json(v, ctx)).collect::<Result<_>>()?,
            ))))
        },
    );
    // row_to_json(t) / to_json(t) of a whole row, bound by the binder
    // over (column name, value) pairs: `{"a":1,"b":"x"}`.
    r.add_lax(&["?row_to_json"], &[ANY], true, DataType::Json, |a, ctx| {
        row_to_json(a, ctx)
    });
    r.add(&["jsonb_typeof", "json_typeof"], &[Jsonb], Text, |a, _| {
        Ok(Value::Text(
            match parse(&a[0])? {
                Json::Null => "null",
                Json::Bool(_) => "boolean",
                Json::Number(_) => "number",
                Json::String(_) => "string",
                Json::Array(_) => "array",
                Json::Object(_) => "object",
            }
            .to_string(),
        ))
    });
    r.add(
        &["jsonb_array_length", "json_array_length"],
        &[Jsonb],
        Int4,
        |a, _| match parse(&a[0])? {
            Json::Array(items) => Ok(Value::Int4(items.len() as i32)),
            Json::Object(_) => Err(err(
                ErrorCode::InvalidParameterValue,
                "cannot get array length of a non-array",
            )),
            _ => Err(err(
                ErrorCode::InvalidParameterValue,
                "cannot get array length of a scalar",
            )),
        },
    );
    r.add(
        &["jsonb_strip_nulls", "json_strip_nulls"],
        &[Jsonb],
        Jsonb,
        |a, _| Ok(jsonb(&strip_nulls(parse(&a[0])?))),
    );
    r.add(&["jsonb_pretty"], &[Jsonb], Text, |a, _| {
        let mut out = String::new();
        pretty(&parse(&a[0])?, 0, &mut out);
        Ok(Value::Text(out))
    });
    r.add(
        &["jsonb_set"],
        &[Jsonb, path.clone(), Jsonb],
        Jsonb,
        |a, _| set(&a[0], &a[1], &a[2], true, None),
    );
    r.add(
        &["jsonb_set"],
        &[Jsonb, path.clone(), Jsonb, Bool],
        Jsonb,
        |a, _| set(&a[0], &a[1], &a[2], matches!(a[3], Value::Bool(true)), None),
    );
    r.add(
        &["jsonb_insert"],
        &[Jsonb, path.clone(), Jsonb],
        Jsonb,
        |a, _| set(&a[0], &a[1], &a[2], true, Some(false)),
    );
    r.add(
        &["jsonb_insert"],
        &[Jsonb, path, Jsonb, Bool],
        Jsonb,
        |a, _| {
            let after = matches!(a[3], Value::Bool(true));
            set(&a[0], &a[1], &a[2], true, Some(after))
        },
    );
}

/// A json/jsonb (or text) argument as a document; anything else is null.
pub(super) fn parse(v: &Value) -> Result<Json> {
    match v {
        Value::Json(s) | Value::Text(s) => json::parse(s, "jsonb"),
        _ => Ok(Json::Null),
    }
}

/// A document as a jsonb value, in jsonb's canonical text.
pub(super) fn jsonb(j: &Json) -> Value {
    let mut out = String::new();
    json::write_jsonb(j, &mut out);
    Value::Json(out)
}

/// json (not jsonb) text: keys in the order given, `" : "` after keys.
pub(super) fn write_json(j: &Json) -> String {
    fn go(j: &Json, out: &mut String) {
        match j {
            Json::Object(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    json::write_string(k, out);
                    out.push_str(" : ");
                    go(v, out);
                }
                out.push('}');
            }
            Json::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    go(v, out);
                }
                out.push(']');
            }
            other => json::write_jsonb(other, out),
        }
    }
    let mut out = String::new();
    go(j, &mut out);
    out
}

/// A SQL value as JSON: numbers and booleans as themselves, timestamps in
/// ISO 8601 with a `T`, arrays as arrays, json as parsed, text as strings.
pub(super) fn to_json(v: &Value, ctx: &FunctionContext) -> Result<Json> {
    Ok(match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int2(_) | Value::Int4(_) | Value::Int8(_) | Value::Numeric(_) | Value::Oid(_) => {
            Json::Number(text_of(v, ctx))
        }
        Value::Float4(_) | Value::Float8(_) => {
            let s = text_of(v, ctx);
            if s.contains(|c: char| c.is_ascii_alphabetic() && c != 'e') {
                Json::String(s)
            } else {
                Json::Number(s)
            }
        }
        Value::NumericNaN => Json::String("NaN".into()),
        Value::Json(s) => json::parse(s, "json")?,
        Value::Array(items) => Json::Array(
            items
                .iter()
                .map(|i| to_json(i, ctx))
                .collect::<Result<_>>()?,
        ),
        Value::Timestamp(_) | Value::Timestamptz(_) => {
            let s = text_of(v, ctx).replacen(' ', "T", 1);
            // The offset in full, as json's ISO 8601 wants: +00 -> +00:00.
            let b = s.as_bytes();
            let short_offset = matches!(v, Value::Timestamptz(_))
                && b.len() > 3
                && matches!(b[b.len() - 3], b'+' | b'-');
            Json::String(if short_offset { s + ":00" } else { s })
        }
        v => Json::String(text_of(v, ctx)),
    })
}

/// json[b]_build_object arguments as key/value pairs; jsonb sorts keys
/// and keeps the last of duplicates.
fn object(a: &[Value], ctx: &FunctionContext, sorted: bool) -> Result<Vec<(String, Json)>> {
    if a.len() % 2 != 0 {
        return Err(err(
            ErrorCode::InvalidParameterValue,
            "argument list must have even number of elements",
        )
        .with_hint(
            "The arguments of jsonb_build_object() must consist of alternating keys and values.",
        ));
    }
    let mut fields: Vec<(String, Json)> = Vec::with_capacity(a.len() / 2);
    for (i, pair) in a.chunks(2).enumerate() {
        if pair[0].is_null() {
            return Err(err(
                ErrorCode::NullValueNotAllowed,
                format!("argument {}: key must not be null", 2 * i + 1),
            ));
        }
        let key = text_of(&pair[0], ctx);
        let value = to_json(&pair[1], ctx)?;
        if sorted {
            if let Some(slot) = fields.iter_mut().find(|(k, _)| *k == key) {
                slot.1 = value;
                continue;
            }
        }
        fields.push((key, value));
    }
    if sorted {
        fields.sort_by(|p, q| p.0.len().cmp(&q.0.len()).then_with(|| p.0.cmp(&q.0)));
    }
    Ok(fields)
}

/// A row as row_to_json prints it: no spaces; json and jsonb values as
/// their text, arrays as compact JSON arrays.
fn row_to_json(a: &[Value], ctx: &FunctionContext) -> Result<Value> {
    fn value(v: &Value, ctx: &FunctionContext, out: &mut String) -> Result<()> {
        match v {
            Value::Json(s) => out.push_str(s),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    value(item, ctx, out)?;
                }
                out.push(']');
            }
            v => json::write_jsonb(&to_json(v, ctx)?, out),
        }
        Ok(())
    }
    let mut out = String::from("{");
    for (i, pair) in a.chunks(2).enumerate() {
        if i > 0 {
            out.push(',');
        }
        json::write_string(&text_of(&pair[0], ctx), &mut out);
        out.push(':');
        value(pair.get(1).unwrap_or(&Value::Null), ctx, &mut out)?;
    }
    out.push('}');
    Ok(Value::Json(out))
}

fn strip_nulls(j: Json) -> Json {
    match j {
        Json::Object(fields) => Json::Object(
            fields
                .into_iter()
                .filter(|(_, v)| *v != Json::Null)
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

/// jsonb_pretty: four-space indentation, one member per line.
fn pretty(j: &Json, depth: usize, out: &mut String) {
    let pad = |n: usize, out: &mut String| out.push_str(&"    ".repeat(n));
    match j {
        Json::Object(fields) if fields.is_empty() => {
            out.push_str("{\n");
            pad(depth, out);
            out.push('}');
        }
        Json::Array(items) if items.is_empty() => {
            out.push_str("[\n");
            pad(depth, out);
            out.push(']');
        }
        Json::Object(fields) => {
            out.push_str("{\n");
            for (i, (k, v)) in fields.iter().enumerate() {
                pad(depth + 1, out);
                json::write_string(k, out);
                out.push_str(": ");
                pretty(v, depth + 1, out);
                out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
            }
            pad(depth, out);
            out.push('}');
        }
        Json::Array(items) => {
            out.push_str("[\n");
            for (i, v) in items.iter().enumerate() {
                pad(depth + 1, out);
                pretty(v, depth + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            pad(depth, out);
            out.push(']');
        }
        other => json::write_jsonb(other, out),
    }
}

/// jsonb_set / jsonb_insert: replaces the element at `path`, or with
/// `insert` (`Some(after)`) inserts before or after it; a missing last
/// key is added when `create`.
fn set(
    doc: &Value,
    path: &Value,
    new: &Value,
    create: bool,
    insert: Option<bool>,
) -> Result<Value> {
    let mut j = parse(doc)?;
    let new = parse(new)?;
    let keys: Vec<String> = match path {
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::Text(s) => Ok(s.clone()),
                Value::Null => Err(err(
                    ErrorCode::NullValueNotAllowed,
                    "path element at position 1 is null",
                )),
                v => Ok(format!("{v:?}")),
            })
            .collect::<Result<_>>()?,
        _ => vec![],
    };
    if keys.is_empty() {
        return Ok(jsonb(&j));
    }
    set_at(&mut j, &keys, new, create, insert)?;
    let mut out = jsonb(&j);
    if let Value::Json(s) = &out {
        // Re-normalise: an inserted key must take its jsonb sort place.
        out = Value::Json(json::normalize_jsonb(s)?);
    }
    Ok(out)
}

fn set_at(
    j: &mut Json,
    keys: &[String],
    new: Json,
    create: bool,
    insert: Option<bool>,
) -> Result<()> {
    let (key, rest) = (&keys[0], &keys[1..]);
    match j {
        Json::Object(fields) => {
            let pos = fields.iter().position(|(k, _)| k == key);
            match (pos, rest.is_empty()) {
                (Some(i), true) => {
                    if insert.is_some() {
                        return Err(err(
                            ErrorCode::InvalidParameterValue,
                            "cannot replace existing key",
                        )
                        .with_hint("Try using the function jsonb_set to replace key value."));
                    }
                    fields[i].1 = new;
                }
                (Some(i), false) => set_at(&mut fields[i].1, rest, new, create, insert)?,
                (None, true) if create => fields.push((key.clone(), new)),
                (None, _) => {}
            }
        }
        Json::Array(items) => {
            let Ok(idx) = key.parse::<i64>() else {
                return Err(err(
                    ErrorCode::InvalidTextRepresentation,
                    format!("path element at position 1 is not an integer: \"{key}\""),
                ));
            };
            let len = items.len() as i64;
            let i = if idx < 0 { len + idx } else { idx };
            if rest.is_empty() {
                if let Some(after) = insert {
                    let at = (i + i64::from(after)).clamp(0, len) as usize;
                    items.insert(at, new);
                } else if (0..len).contains(&i) {
                    items[i as usize] = new;
                } else if create {
                    if i >= len {
                        items.push(new);
                    } else {
                        items.insert(0, new);
                    }
                }
            } else if (0..len).contains(&i) {
                set_at(&mut items[i as usize], rest, new, create, insert)?;
            }
        }
        _ => {}
    }
    Ok(())
}
