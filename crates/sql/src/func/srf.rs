//! Set-returning functions other than generate_series: unnest (of one
//! array or, in FROM, of several side by side), generate_subscripts
//! and the jsonb expansions
//! (jsonb_array_elements[_text], jsonb_each[_text], jsonb_object_keys).
//! [`columns`] gives their result columns for the binder; [`rows`]
//! computes the rows from the evaluated arguments.

use super::array_ops::flat;
use super::err;
use crate::error::{ErrorCode, Result};
use crate::types::json::{self, Json};
use crate::types::{DataType, Value};

/// Whether `name` is a set-returning function of this module.
pub fn is_srf(name: &str) -> bool {
    matches!(
        name,
        "unnest"
            | "generate_subscripts"
            | "jsonb_array_elements"
            | "jsonb_array_elements_text"
            | "jsonb_each"
            | "jsonb_each_text"
            | "jsonb_object_keys"
            | "pg_partition_ancestors"
    )
}

/// The result columns (name, type) of `name` over arguments of `types`;
/// `None` when the arguments do not fit. A function with one column
/// names it after itself, as PostgreSQL does, unless it has an OUT
/// parameter name (`value`).
pub fn columns(name: &str, types: &[DataType]) -> Option<Vec<(String, DataType)>> {
    let col = |n: &str, t: DataType| (n.to_string(), t);
    let jsonb_arg = matches!(types, [DataType::Jsonb | DataType::Unknown]);
    match name {
        "unnest" if !types.is_empty() => types
            .iter()
            .map(|t| match t {
                DataType::Array(e) => {
                    // A multidimensional array flattens to its elements.
                    let mut e = e.as_ref();
                    while let DataType::Array(inner) = e {
                        e = inner;
                    }
                    Some(col("unnest", e.clone()))
                }
                DataType::Unknown => Some(col("unnest", DataType::Text)),
                _ => None,
            })
            .collect(),
        "generate_subscripts" => match types {
            [DataType::Array(_), d] | [DataType::Array(_), d, DataType::Bool]
                if matches!(
                    d,
                    DataType::Int2 | DataType::Int4 | DataType::Int8 | DataType::Unknown
                ) =>
            {
                Some(vec![col("generate_subscripts", DataType::Int4)])
            }
            _ => None,
        },
        "jsonb_array_elements" if jsonb_arg => Some(vec![col("value", DataType::Jsonb)]),
        "jsonb_array_elements_text" if jsonb_arg => Some(vec![col("value", DataType::Text)]),
        "jsonb_each" if jsonb_arg => Some(vec![
            col("key", DataType::Text),
            col("value", DataType::Jsonb),
        ]),
        "jsonb_each_text" if jsonb_arg => Some(vec![
            col("key", DataType::Text),
            col("value", DataType::Text),
        ]),
        // Shoal has no partitions: a relation is its only ancestor.
        "pg_partition_ancestors" if matches!(types, [DataType::Oid | DataType::Unknown]) => {
            Some(vec![col("relid", DataType::Oid)])
        }
        "jsonb_object_keys" if jsonb_arg => Some(vec![col("jsonb_object_keys", DataType::Text)]),
        _ => None,
    }
}

/// The rows of `name` over evaluated arguments. A NULL argument gives no
/// rows (these functions are strict), except that unnest of several
/// arrays pads the shorter ones with NULLs.
pub fn rows(name: &str, args: &[Value]) -> Result<Vec<Vec<Value>>> {
    if name == "unnest" {
        return Ok(unnest(args));
    }
    if name == "generate_subscripts" {
        return Ok(subscripts(args));
    }
    if name == "pg_partition_ancestors" {
        return Ok(match args.first() {
            Some(Value::Oid(o)) => vec![vec![Value::Oid(*o)]],
            Some(Value::Text(s)) => s
                .parse()
                .map(|o| vec![vec![Value::Oid(o)]])
                .unwrap_or_default(),
            _ => Vec::new(),
        });
    }
    let Some(Value::Json(doc)) = args.first() else {
        return Ok(Vec::new());
    };
    let j = json::parse(doc, "jsonb")?;
    let jsonb = |v: &Json| {
        let mut s = String::new();
        json::write_jsonb(v, &mut s);
        Value::Json(s)
    };
    let text = |v: &Json| match v {
        Json::Null => Value::Null,
        Json::String(s) => Value::Text(s.clone()),
        other => {
            let mut s = String::new();
            json::write_jsonb(other, &mut s);
            Value::Text(s)
        }
    };
    let kind = |j: &Json| match j {
        Json::Object(_) => "an object",
        Json::Array(_) => "an array",
        _ => "a scalar",
    };
    match (name, &j) {
        ("jsonb_array_elements", Json::Array(items)) => {
            Ok(items.iter().map(|v| vec![jsonb(v)]).collect())
        }
        ("jsonb_array_elements_text", Json::Array(items)) => {
            Ok(items.iter().map(|v| vec![text(v)]).collect())
        }
        ("jsonb_array_elements" | "jsonb_array_elements_text", j) => Err(err(
            ErrorCode::InvalidParameterValue,
            format!("cannot extract elements from {}", kind(j)),
        )),
        ("jsonb_each", Json::Object(fields)) => Ok(fields
            .iter()
            .map(|(k, v)| vec![Value::Text(k.clone()), jsonb(v)])
            .collect()),
        ("jsonb_each_text", Json::Object(fields)) => Ok(fields
            .iter()
            .map(|(k, v)| vec![Value::Text(k.clone()), text(v)])
            .collect()),
        ("jsonb_each" | "jsonb_each_text", _) => Err(err(
            ErrorCode::InvalidParameterValue,
            format!("cannot call {name} on a non-object"),
        )),
        ("jsonb_object_keys", Json::Object(fields)) => Ok(fields
            .iter()
            .map(|(k, _)| vec![Value::Text(k.clone())])
            .collect()),
        ("jsonb_object_keys", j) => Err(err(
            ErrorCode::InvalidParameterValue,
            format!("cannot call jsonb_object_keys on {}", kind(j)),
        )),
        _ => Err(err(
            ErrorCode::UndefinedFunction,
            format!("function {name} does not exist"),
        )),
    }
}

/// generate_subscripts(array, dim [, reverse]): the subscripts of
/// dimension `dim` (arrays here start at 1); none for a dimension the
/// array does not have.
fn subscripts(args: &[Value]) -> Vec<Vec<Value>> {
    let (Some(Value::Array(top)), Some(dim)) = (args.first(), args.get(1)) else {
        return Vec::new();
    };
    let dim = super::num::as_i64(dim).unwrap_or(0);
    let mut level: &[Value] = top;
    let mut len = top.len();
    for _ in 1..dim {
        match level.first() {
            Some(Value::Array(inner)) => {
                len = inner.len();
                level = inner;
            }
            _ => return Vec::new(),
        }
    }
    if dim < 1 {
        return Vec::new();
    }
    let mut out: Vec<Vec<Value>> = (1..=len as i32).map(|i| vec![Value::Int4(i)]).collect();
    if matches!(args.get(2), Some(Value::Bool(true))) {
        out.reverse();
    }
    out
}

/// unnest(a, b, ...): the arrays' elements side by side (every dimension
/// flattened), as many rows as the longest has, NULL past the end of
/// the others.
fn unnest(args: &[Value]) -> Vec<Vec<Value>> {
    let cols: Vec<Vec<&Value>> = args.iter().map(flat).collect();
    let n = cols.iter().map(Vec::len).max().unwrap_or(0);
    (0..n)
        .map(|i| {
            cols.iter()
                .map(|c| c.get(i).map_or(Value::Null, |v| (*v).clone()))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> Vec<Value> {
        vec![Value::Json(s.into())]
    }

    // Expectations checked with PostgreSQL 15.
    #[test]
    fn jsonb_expansions() {
        let elems = rows(
            "jsonb_array_elements_text",
            &doc(r#"[1, "a", null, {"b": 2}]"#),
        )
        .expect("ok");
        let texts: Vec<Value> = elems.into_iter().flatten().collect();
        assert_eq!(texts.len(), 4);
        assert!(texts[2].is_null());
        assert_eq!(
            texts[3].to_text(&Default::default()).as_deref(),
            Some(r#"{"b": 2}"#)
        );
        let each = rows("jsonb_each", &doc(r#"{"b": [1], "a": "x"}"#)).expect("ok");
        assert_eq!(each.len(), 2);
        assert!(rows("jsonb_array_elements", &[Value::Null])
            .expect("ok")
            .is_empty());
        for (name, input, message) in [
            (
                "jsonb_array_elements",
                r#"{"a": 1}"#,
                "cannot extract elements from an object",
            ),
            (
                "jsonb_array_elements",
                "1",
                "cannot extract elements from a scalar",
            ),
            (
                "jsonb_each",
                "[1]",
                "cannot call jsonb_each on a non-object",
            ),
            (
                "jsonb_object_keys",
                "[1]",
                "cannot call jsonb_object_keys on an array",
            ),
            (
                "jsonb_object_keys",
                "1",
                "cannot call jsonb_object_keys on a scalar",
            ),
        ] {
            let e = rows(name, &doc(input)).expect_err("bad input");
            assert_eq!(e.message, message);
            assert_eq!(e.code, ErrorCode::InvalidParameterValue);
        }
    }

    #[test]
    fn unnest_pads_shorter_arrays_and_flattens() {
        let a = Value::Array(vec![Value::Int4(1), Value::Int4(2)]);
        let b = Value::Array(vec![Value::Text("a".into())]);
        let r = rows("unnest", &[a.clone(), b]).expect("ok");
        assert_eq!(r.len(), 2);
        assert!(r[1][1].is_null());
        let m = Value::Array(vec![a.clone(), a]);
        assert_eq!(rows("unnest", &[m]).expect("ok").len(), 4);
        assert_eq!(
            columns(
                "unnest",
                &[DataType::Array(Box::new(DataType::Array(Box::new(
                    DataType::Int4
                ))))]
            ),
            Some(vec![("unnest".to_string(), DataType::Int4)])
        );
        assert_eq!(columns("unnest", &[DataType::Int4]), None);
    }
}
