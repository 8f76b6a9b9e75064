//! JSON aggregates: json_agg, jsonb_agg, json_object_agg and
//! jsonb_object_agg. Over no rows each is NULL; SQL NULLs become JSON
//! nulls (a NULL key is an error).

use super::aggregate::Accumulator;
use super::json::{to_json, write_json};
use super::{err, text_of, FunctionContext};
use crate::error::{ErrorCode, Result};
use crate::types::json::{self, Json};
use crate::types::{DataType, Value};

/// The result type of JSON aggregate `name` over `args`, if it is one.
pub(super) fn resolve(name: &str, args: &[DataType]) -> Option<DataType> {
    match (name, args) {
        ("json_agg", [_]) | ("json_object_agg", [_, _]) => Some(DataType::Json),
        ("jsonb_agg", [_]) | ("jsonb_object_agg", [_, _]) => Some(DataType::Jsonb),
        _ => None,
    }
}

pub(super) const NAMES: &[&str] = &[
    "json_agg",
    "jsonb_agg",
    "json_object_agg",
    "jsonb_object_agg",
];

/// A fresh accumulator for JSON aggregate `name`.
pub(super) fn accumulator(name: &str, ctx: &FunctionContext) -> Box<dyn Accumulator> {
    Box::new(JsonAgg {
        object: name.ends_with("object_agg"),
        binary: name.starts_with("jsonb"),
        ctx: ctx.clone(),
        items: None,
    })
}

struct JsonAgg {
    object: bool,
    /// jsonb: keys sorted and unique, jsonb spacing.
    binary: bool,
    /// For the text of non-JSON values (timestamps in the session zone).
    ctx: FunctionContext,
    items: Option<Vec<(String, Json)>>,
}

impl Accumulator for JsonAgg {
    fn update(&mut self, args: &[Value]) -> Result<()> {
        let first = args.first().unwrap_or(&Value::Null);
        let (key, value) = if self.object {
            if first.is_null() {
                return Err(err(
                    ErrorCode::InvalidParameterValue,
                    "field name must not be null",
                ));
            }
            let v = args.get(1).unwrap_or(&Value::Null);
            (text_of(first, &self.ctx), to_json(v, &self.ctx)?)
        } else {
            (String::new(), to_json(first, &self.ctx)?)
        };
        self.items.get_or_insert_with(Vec::new).push((key, value));
        Ok(())
    }

    fn finish(&self) -> Result<Value> {
        let Some(items) = &self.items else {
            return Ok(Value::Null);
        };
        let items = items.clone();
        Ok(Value::Json(match (self.object, self.binary) {
            (false, true) => {
                let mut out = String::new();
                json::write_jsonb(
                    &Json::Array(items.into_iter().map(|(_, v)| v).collect()),
                    &mut out,
                );
                out
            }
            (false, false) => write_json(&Json::Array(items.into_iter().map(|(_, v)| v).collect())),
            (true, true) => {
                let mut out = String::new();
                json::write_jsonb(&Json::Object(items), &mut out);
                // Sorts the keys and keeps the last of duplicates.
                json::normalize_jsonb(&out)?
            }
            (true, false) => {
                // json_object_agg's own spacing: `{ "k" : v, "k2" : v2 }`.
                let mut out = String::from("{ ");
                for (i, (k, v)) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    json::write_string(k, &mut out);
                    out.push_str(" : ");
                    out.push_str(&write_json(v));
                }
                out.push_str(" }");
                out
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, rows: &[Vec<Value>]) -> Result<Value> {
        let mut acc = accumulator(name, &FunctionContext::default());
        for r in rows {
            acc.update(r)?;
        }
        acc.finish()
    }

    fn show(v: Result<Value>) -> String {
        match v.expect("ok") {
            Value::Json(s) => s,
            other => format!("{other:?}"),
        }
    }

    // Expectations checked with PostgreSQL 15.
    #[test]
    fn json_aggregates_print_as_postgres() {
        let ints = [vec![Value::Int4(1)], vec![Value::Null]];
        assert_eq!(show(run("json_agg", &ints)), "[1, null]");
        assert_eq!(show(run("jsonb_agg", &ints)), "[1, null]");
        let pairs = [
            vec![Value::Text("b".into()), Value::Int4(2)],
            vec![Value::Text("a".into()), Value::Null],
            vec![Value::Text("b".into()), Value::Int4(3)],
        ];
        assert_eq!(
            show(run("json_object_agg", &pairs)),
            r#"{ "b" : 2, "a" : null, "b" : 3 }"#
        );
        assert_eq!(
            show(run("jsonb_object_agg", &pairs)),
            r#"{"a": null, "b": 3}"#
        );
        assert!(run("jsonb_agg", &[]).expect("ok").is_null());
        let e =
            run("jsonb_object_agg", &[vec![Value::Null, Value::Int4(1)]]).expect_err("null key");
        assert_eq!(e.message, "field name must not be null");
    }
}
