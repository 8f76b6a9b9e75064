//! Values on the wire: decoding Bind parameters (text or binary, per the
//! format codes) and encoding result rows (DataRow fields) and their
//! RowDescription.

use bytes::{BufMut, Bytes};
use pgwire::messages::data::{FieldDescription, RowDescription};
use shoal_sql::session::Column;
use shoal_sql::types::FormatOptions;
use shoal_sql::{DataType, Value};

use crate::error::{invalid_utf8, WireError};

pub const TEXT: i16 = 0;
pub const BINARY: i16 = 1;

/// Expands the format codes of a Bind message to one per item: none means
/// all text, one applies to all, otherwise one each. `what` names the items
/// for the error ("parameter formats" / "result formats").
fn expand(codes: &[i16], count: usize) -> Option<Vec<i16>> {
    match codes.len() {
        0 => Some(vec![TEXT; count]),
        1 => Some(vec![codes[0]; count]),
        n if n == count => Some(codes.to_vec()),
        _ => None,
    }
}

fn check_codes(codes: &[i16]) -> Result<(), WireError> {
    match codes.iter().find(|&&c| c != TEXT && c != BINARY) {
        Some(c) => Err(WireError::protocol(format!("unsupported format code: {c}"))),
        None => Ok(()),
    }
}

/// Result format codes of a Bind, one per result column.
pub fn result_formats(codes: &[i16], columns: usize) -> Result<Vec<i16>, WireError> {
    check_codes(codes)?;
    expand(codes, columns).ok_or_else(|| {
        WireError::protocol(format!(
            "bind message has {} result formats but query has {columns} columns",
            codes.len()
        ))
    })
}

/// Decodes the parameters of a Bind for the statement's parameter types.
pub fn decode_params(
    statement: &str,
    types: &[DataType],
    formats: &[i16],
    raw: &[Option<Bytes>],
    opts: &FormatOptions,
) -> Result<Vec<Value>, WireError> {
    if raw.len() != types.len() {
        return Err(WireError::protocol(format!(
            "bind message supplies {} parameters, but prepared statement \"{statement}\" requires {}",
            raw.len(),
            types.len()
        )));
    }
    check_codes(formats)?;
    let formats = expand(formats, raw.len()).ok_or_else(|| {
        WireError::protocol(format!(
            "bind message has {} parameter formats but {} parameters",
            formats.len(),
            raw.len()
        ))
    })?;
    let mut values = Vec::with_capacity(raw.len());
    for (i, ((ty, format), bytes)) in types.iter().zip(formats).zip(raw).enumerate() {
        let Some(bytes) = bytes else {
            values.push(Value::Null);
            continue;
        };
        let value = if format == BINARY {
            Value::from_binary(ty, bytes).map_err(|e| {
                let mut w = WireError::from(e);
                if w.code == "22P03" && w.detail.is_none() {
                    w.detail = Some(format!("In parameter ${}.", i + 1));
                }
                w
            })?
        } else {
            let text = std::str::from_utf8(bytes).map_err(|e| invalid_utf8(bytes, e))?;
            Value::from_text(ty, text, opts)?
        };
        values.push(value);
    }
    Ok(values)
}

/// RowDescription for `columns`, with `formats[i]` for column i (text
/// where `formats` is shorter).
pub fn row_description(columns: &[Column], formats: &[i16]) -> RowDescription {
    let fields = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            FieldDescription::new(
                c.name.clone(),
                c.table_oid as i32,
                c.column_id,
                c.data_type.oid(),
                c.data_type.type_len(),
                c.type_modifier,
                formats.get(i).copied().unwrap_or(TEXT),
            )
        })
        .collect();
    RowDescription::new(fields)
}

/// Appends the DataRow fields of `row` (length-prefixed, -1 for NULL) to
/// `out`, each in its column's format.
pub fn encode_row(
    row: &[Value],
    formats: &[i16],
    types: &[DataType],
    opts: &FormatOptions,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    for (i, value) in row.iter().enumerate() {
        if value.is_null() {
            out.put_i32(-1);
            continue;
        }
        let binary = formats.get(i).copied() == Some(BINARY);
        let encoded = if binary {
            match types.get(i) {
                Some(ty) => shoal_sql::types::binary::encode_as(value, ty),
                None => value.to_binary(),
            }
        } else {
            value.to_text(opts).map(String::into_bytes)
        };
        let Some(bytes) = encoded else {
            // Only NULL has no output; anything else is a missing
            // output function in the engine.
            return Err(WireError::new(
                "XX000",
                format!(
                    "no {} output for value {value:?}",
                    if binary { "binary" } else { "text" }
                ),
            ));
        };
        out.put_i32(bytes.len() as i32);
        out.put_slice(&bytes);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_codes_expand() {
        assert_eq!(result_formats(&[], 3).unwrap(), vec![0, 0, 0]);
        assert_eq!(result_formats(&[1], 2).unwrap(), vec![1, 1]);
        assert_eq!(result_formats(&[0, 1], 2).unwrap(), vec![0, 1]);
        let e = result_formats(&[0, 1], 3).unwrap_err();
        assert_eq!(e.code, "08P01");
        assert_eq!(
            e.message,
            "bind message has 2 result formats but query has 3 columns"
        );
        assert_eq!(
            result_formats(&[2], 1).unwrap_err().message,
            "unsupported format code: 2"
        );
    }

    #[test]
    fn parameter_count_must_match() {
        let e = decode_params(
            "",
            &[DataType::Int4, DataType::Int4],
            &[],
            &[Some(Bytes::from_static(b"1"))],
            &FormatOptions::default(),
        )
        .unwrap_err();
        assert_eq!(e.code, "08P01");
        assert_eq!(
            e.message,
            "bind message supplies 1 parameters, but prepared statement \"\" requires 2"
        );
    }

    #[test]
    fn parameter_formats_must_match() {
        let e = decode_params(
            "s",
            &[DataType::Text, DataType::Text, DataType::Text],
            &[0, 1],
            &[None, None, None],
            &FormatOptions::default(),
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "bind message has 2 parameter formats but 3 parameters"
        );
    }

    #[test]
    fn nulls_need_no_decoding() {
        let v = decode_params(
            "s",
            &[DataType::Int4, DataType::Text],
            &[1, 0],
            &[None, None],
            &FormatOptions::default(),
        )
        .unwrap();
        assert!(v.iter().all(Value::is_null));
    }

    #[test]
    fn invalid_utf8_text_parameter_is_22021() {
        let e = decode_params(
            "s",
            &[DataType::Text],
            &[0],
            &[Some(Bytes::from_static(b"a\xc3"))],
            &FormatOptions::default(),
        )
        .unwrap_err();
        assert_eq!(e.code, "22021");
    }

    #[test]
    fn null_fields_are_minus_one() {
        let mut out = Vec::new();
        encode_row(
            &[Value::Null, Value::Null],
            &[0, 1],
            &[],
            &FormatOptions::default(),
            &mut out,
        )
        .unwrap();
        assert_eq!(out, [255, 255, 255, 255, 255, 255, 255, 255]);
    }

    #[test]
    fn row_description_uses_column_metadata() {
        let cols = vec![Column {
            name: "id".into(),
            data_type: DataType::Int4,
            table_oid: 16384,
            column_id: 1,
            type_modifier: -1,
        }];
        let rd = row_description(&cols, &[1]);
        assert_eq!(rd.fields.len(), 1);
        let f = &rd.fields[0];
        assert_eq!(
            (
                f.name.as_str(),
                f.table_id,
                f.column_id,
                f.type_modifier,
                f.format_code
            ),
            ("id", 16384, 1, -1, 1)
        );
        assert_eq!(f.type_id, DataType::Int4.oid());
    }
}
