//! Array functions (array_length, cardinality, array_append...),
//! bytea encoding (encode/decode, convert_from/convert_to),
//! gen_random_uuid and num_nulls/num_nonnulls.

use base64::Engine;

use super::signature::{Registry, ANY};
use super::{err, FunctionContext};
use crate::error::{ErrorCode, Result};
use crate::types::{DataType, Value};

use DataType::{Bytea, Int4, Text, Uuid};

pub(super) fn register(r: &mut Registry) {
    // ANY as a result type: the type of the array argument (see
    // signature::function_type).
    r.add(&["array_length"], &[ANY, Int4], Int4, |a, _| {
        Ok(dims(&a[0])
            .get(usize::try_from(int(&a[1]) - 1).unwrap_or(usize::MAX))
            .map_or(Value::Null, |n| Value::Int4(*n as i32)))
    });
    r.add(&["array_upper"], &[ANY, Int4], Int4, |a, _| {
        Ok(dims(&a[0])
            .get(usize::try_from(int(&a[1]) - 1).unwrap_or(usize::MAX))
            .map_or(Value::Null, |n| Value::Int4(*n as i32)))
    });
    r.add(&["array_lower"], &[ANY, Int4], Int4, |a, _| {
        let d = usize::try_from(int(&a[1]) - 1).unwrap_or(usize::MAX);
        Ok(if d < dims(&a[0]).len() {
            Value::Int4(1)
        } else {
            Value::Null
        })
    });
    r.add(&["array_ndims"], &[ANY], Int4, |a, _| {
        let n = dims(&a[0]).len();
        Ok(if n == 0 {
            Value::Null
        } else {
            Value::Int4(n as i32)
        })
    });
    r.add(&["cardinality"], &[ANY], Int4, |a, _| {
        let d = dims(&a[0]);
        Ok(Value::Int4(if d.is_empty() {
            0
        } else {
            d.iter().product::<usize>() as i32
        }))
    });
    r.add_lax(&["array_append"], &[ANY, ANY], false, ANY, |a, _| {
        let mut items = items(&a[0]);
        items.push(a[1].clone());
        Ok(Value::Array(items))
    });
    r.add_lax(&["array_prepend"], &[ANY, ANY], false, ANY, |a, _| {
        let mut items = vec![a[0].clone()];
        items.extend(self::items(&a[1]));
        Ok(Value::Array(items))
    });
    r.add_lax(&["array_cat"], &[ANY, ANY], false, ANY, |a, _| {
        if a[0].is_null() && a[1].is_null() {
            return Ok(Value::Null);
        }
        let mut items = items(&a[0]);
        items.extend(self::items(&a[1]));
        Ok(Value::Array(items))
    });
    r.add_lax(&["array_remove"], &[ANY, ANY], false, ANY, |a, _| {
        if a[0].is_null() {
            return Ok(Value::Null);
        }
        Ok(Value::Array(
            items(&a[0])
                .into_iter()
                .filter(|v| !same(v, &a[1]))
                .collect(),
        ))
    });
    r.add_lax(&["array_replace"], &[ANY, ANY, ANY], false, ANY, |a, _| {
        if a[0].is_null() {
            return Ok(Value::Null);
        }
        Ok(Value::Array(
            items(&a[0])
                .into_iter()
                .map(|v| if same(&v, &a[1]) { a[2].clone() } else { v })
                .collect(),
        ))
    });
    r.add_lax(&["array_position"], &[ANY, ANY], false, Int4, |a, _| {
        Ok(items(&a[0])
            .iter()
            .position(|v| same(v, &a[1]))
            .map_or(Value::Null, |i| Value::Int4(i as i32 + 1)))
    });
    r.add_lax(
        &["array_positions"],
        &[ANY, ANY],
        false,
        DataType::Array(Box::new(Int4)),
        |a, _| {
            if a[0].is_null() {
                return Ok(Value::Null);
            }
            Ok(Value::Array(
                items(&a[0])
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| same(v, &a[1]))
                    .map(|(i, _)| Value::Int4(i as i32 + 1))
                    .collect(),
            ))
        },
    );
    r.add(&["array_to_string"], &[ANY, Text], Text, |a, ctx| {
        Ok(array_to_string(&a[0], text(&a[1]), None, ctx))
    });
    r.add_lax(
        &["array_to_string"],
        &[ANY, Text, Text],
        false,
        Text,
        |a, ctx| {
            if a[0].is_null() || a[1].is_null() {
                return Ok(Value::Null);
            }
            let null = match &a[2] {
                Value::Text(s) => Some(s.as_str()),
                _ => None,
            };
            Ok(array_to_string(&a[0], text(&a[1]), null, ctx))
        },
    );
    r.add(
        &["gen_random_uuid", "uuid_generate_v4"],
        &[],
        Uuid,
        |_, _| random_uuid().map(Value::Uuid),
    );
    r.add(&["encode"], &[Bytea, Text], Text, |a, _| {
        encode(bytes(&a[0]), text(&a[1])).map(Value::Text)
    });
    r.add(&["decode"], &[Text, Text], Bytea, |a, _| {
        decode(text(&a[0]), text(&a[1])).map(Value::Bytea)
    });
    r.add(&["convert_from"], &[Bytea, Text], Text, |a, _| {
        check_encoding(text(&a[1]))?;
        String::from_utf8(bytes(&a[0]).to_vec())
            .map(Value::Text)
            .map_err(|_| {
                err(
                    ErrorCode::CharacterNotInRepertoire,
                    "invalid byte sequence for encoding \"UTF8\"",
                )
            })
    });
    r.add(&["convert_to"], &[Text, Text], Bytea, |a, _| {
        check_encoding(text(&a[1]))?;
        Ok(Value::Bytea(text(&a[0]).as_bytes().to_vec()))
    });
    r.add_lax(&["num_nulls"], &[ANY], true, Int4, |a, _| {
        Ok(Value::Int4(a.iter().filter(|v| v.is_null()).count() as i32))
    });
    r.add_lax(&["num_nonnulls"], &[ANY], true, Int4, |a, _| {
        Ok(Value::Int4(a.iter().filter(|v| !v.is_null()).count() as i32))
    });
}

fn int(v: &Value) -> i64 {
    super::num::as_i64(v).unwrap_or(0)
}

fn text(v: &Value) -> &str {
    match v {
        Value::Text(s) => s,
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

fn items(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.clone(),
        _ => vec![],
    }
}

/// IS NOT DISTINCT FROM, as the array search functions compare.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        (a, b) => a.compare(b) == Some(std::cmp::Ordering::Equal),
    }
}

/// The length of each dimension (nested arrays are further dimensions);
/// an empty array has none.
fn dims(v: &Value) -> Vec<usize> {
    let mut out = Vec::new();
    let mut cur = v;
    while let Value::Array(items) = cur {
        if items.is_empty() {
            break;
        }
        out.push(items.len());
        cur = &items[0];
    }
    out
}

fn array_to_string(v: &Value, sep: &str, null: Option<&str>, ctx: &FunctionContext) -> Value {
    fn walk(v: &Value, null: Option<&str>, ctx: &FunctionContext, out: &mut Vec<String>) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| walk(i, null, ctx, out)),
            Value::Null => {
                if let Some(n) = null {
                    out.push(n.to_string());
                }
            }
            v => out.push(super::text_of(v, ctx)),
        }
    }
    let mut parts = Vec::new();
    walk(v, null, ctx, &mut parts);
    Value::Text(parts.join(sep))
}

fn random_uuid() -> Result<[u8; 16]> {
    let mut u = [0u8; 16];
    getrandom::getrandom(&mut u).map_err(|e| {
        crate::error::Error::internal(format!("could not generate random values: {e}"))
    })?;
    // Version 4, RFC 4122 variant.
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    Ok(u)
}

fn check_encoding(name: &str) -> Result<()> {
    let n = name.to_ascii_lowercase().replace(['-', '_'], "");
    if matches!(n.as_str(), "utf8" | "unicode" | "sqlascii") {
        return Ok(());
    }
    Err(err(
        ErrorCode::InvalidParameterValue,
        format!("invalid encoding name \"{name}\""),
    ))
}

fn unknown_encoding(format: &str) -> crate::error::Error {
    err(
        ErrorCode::InvalidParameterValue,
        format!("unrecognized encoding: \"{format}\""),
    )
    .with_hint("Valid encodings are \"base64\", \"escape\", and \"hex\".")
}

/// encode(): hex, base64 (lines of 76 characters, as PostgreSQL) or
/// escape (bytea's escape output).
fn encode(b: &[u8], format: &str) -> Result<String> {
    match format.to_ascii_lowercase().as_str() {
        "hex" => Ok(b.iter().map(|c| format!("{c:02x}")).collect()),
        "base64" => {
            let s = base64::engine::general_purpose::STANDARD.encode(b);
            let lines: Vec<&str> = s
                .as_bytes()
                .chunks(76)
                .map(|c| std::str::from_utf8(c).unwrap_or(""))
                .collect();
            Ok(lines.join("\n"))
        }
        "escape" => {
            let mut out = String::new();
            for &c in b {
                match c {
                    b'\\' => out.push_str("\\\\"),
                    0 | 0x80..=0xff => out.push_str(&format!("\\{c:03o}")),
                    c => out.push(c as char),
                }
            }
            Ok(out)
        }
        _ => Err(unknown_encoding(format)),
    }
}

fn decode(s: &str, format: &str) -> Result<Vec<u8>> {
    match format.to_ascii_lowercase().as_str() {
        "hex" => {
            let digits: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
            if digits.len() % 2 != 0 {
                return Err(err(
                    ErrorCode::InvalidParameterValue,
                    "invalid hexadecimal data: odd number of digits",
                ));
            }
            digits
                .chunks(2)
                .map(|p| {
                    let hex = |c: u8| {
                        (c as char).to_digit(16).ok_or_else(|| {
                            err(
                                ErrorCode::InvalidParameterValue,
                                format!("invalid hexadecimal digit: \"{}\"", c as char),
                            )
                        })
                    };
                    Ok((hex(p[0])? * 16 + hex(p[1])?) as u8)
                })
                .collect()
        }
        "base64" => {
            let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(clean)
                .map_err(|_| {
                    err(
                        ErrorCode::InvalidParameterValue,
                        "invalid base64 end sequence",
                    )
                })
        }
        "escape" => crate::types::text::parse_bytea(s).map_err(|_| {
            err(
                ErrorCode::InvalidTextRepresentation,
                "invalid input syntax for type bytea",
            )
        }),
        _ => Err(unknown_encoding(format)),
    }
}
