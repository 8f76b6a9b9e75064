//! pg_type, and type names as `format_type` prints them.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use super::{b, o, t};
use crate::catalog::PG_CATALOG;
use crate::error::{Error, ErrorCode, Result};
use crate::exec::Row;
use crate::types::{DataType, Value};

/// (oid, name, len, category, element oid, array oid).
pub(super) const TYPES: &[(u32, &str, i16, &str, u32, u32)] = &[
    (16, "bool", 1, "B", 0, 1000),
    (17, "bytea", -1, "U", 0, 1001),
    (18, "char", 1, "Z", 0, 1002),
    (19, "name", 64, "S", 0, 1003),
    (20, "int8", 8, "N", 0, 1016),
    (21, "int2", 2, "N", 0, 1005),
    (23, "int4", 4, "N", 0, 1007),
    (25, "text", -1, "S", 0, 1009),
    (26, "oid", 4, "N", 0, 1028),
    (114, "json", -1, "U", 0, 199),
    (700, "float4", 4, "N", 0, 1021),
    (701, "float8", 8, "N", 0, 1022),
    (705, "unknown", -2, "X", 0, 0),
    (1042, "bpchar", -1, "S", 0, 1014),
    (1043, "varchar", -1, "S", 0, 1015),
    (1082, "date", 4, "D", 0, 1182),
    (1083, "time", 8, "D", 0, 1183),
    (1114, "timestamp", 8, "D", 0, 1115),
    (1184, "timestamptz", 8, "D", 0, 1185),
    (1186, "interval", 16, "T", 0, 1187),
    (1700, "numeric", -1, "N", 0, 1231),
    (2205, "regclass", 4, "N", 0, 2210),
    (2206, "regtype", 4, "N", 0, 2211),
    (2950, "uuid", 16, "U", 0, 2951),
    (3802, "jsonb", -1, "U", 0, 3807),
    (1000, "_bool", -1, "A", 16, 0),
    (1001, "_bytea", -1, "A", 17, 0),
    (1003, "_name", -1, "A", 19, 0),
    (1005, "_int2", -1, "A", 21, 0),
    (1007, "_int4", -1, "A", 23, 0),
    (1009, "_text", -1, "A", 25, 0),
    (1014, "_bpchar", -1, "A", 1042, 0),
    (1015, "_varchar", -1, "A", 1043, 0),
    (1016, "_int8", -1, "A", 20, 0),
    (1021, "_float4", -1, "A", 700, 0),
    (1022, "_float8", -1, "A", 701, 0),
    (1028, "_oid", -1, "A", 26, 0),
    (1115, "_timestamp", -1, "A", 1114, 0),
    (1182, "_date", -1, "A", 1082, 0),
    (1183, "_time", -1, "A", 1083, 0),
    (1185, "_timestamptz", -1, "A", 1184, 0),
    (1187, "_interval", -1, "A", 1186, 0),
    (1231, "_numeric", -1, "A", 1700, 0),
    (199, "_json", -1, "A", 114, 0),
    (2951, "_uuid", -1, "A", 2950, 0),
    (3807, "_jsonb", -1, "A", 3802, 0),
];

/// The rows of pg_type.
pub(super) fn pg_type(out: &mut Vec<Row>) {
    for (oid, n, len, cat_, elem, arr) in TYPES {
        let byval = *len > 0 && *len <= 8;
        out.push(vec![
            o(*oid),
            t(n),
            o(PG_CATALOG),
            o(10),
            Value::Int2(*len),
            b(byval),
            t("b"),
            t(cat_),
            b(true),
            t(","),
            o(0),
            o(*elem),
            o(*arr),
            o(0),
            Value::Int4(-1),
            b(false),
            t(&io_function(n, *elem, "in")),
            t(&io_function(n, *elem, "out")),
            t(&io_function(n, *elem, "recv")),
            t(&io_function(n, *elem, "send")),
            o(collation(n)),
            Value::Null,
        ]);
    }
}

/// A type's input/output function as PostgreSQL names it (regproc prints
/// without schema): `array_in` for every array type (pgjdbc tells arrays
/// by `typinput = 'array_in'::regproc`), `date_in`-style names with an
/// underscore for the types whose C functions have one.
fn io_function(typname: &str, elem: u32, suffix: &str) -> String {
    let base = if elem != 0 { "array" } else { typname };
    let underscored = matches!(
        base,
        "array"
            | "date"
            | "time"
            | "timestamp"
            | "timestamptz"
            | "interval"
            | "numeric"
            | "uuid"
            | "json"
            | "jsonb"
    );
    if underscored {
        format!("{base}_{suffix}")
    } else {
        format!("{base}{suffix}")
    }
}

/// pg_type.typcollation: the default collation for the string types (and
/// arrays of them), "C" for name, none otherwise.
fn collation(typname: &str) -> u32 {
    match typname.trim_start_matches('_') {
        "text" | "varchar" | "bpchar" => super::reflection::DEFAULT_COLLATION,
        "name" => 950,
        _ => 0,
    }
}

/// The `typname` of a type OID ("" when unknown).
pub fn type_name(oid: u32) -> &'static str {
    TYPES.iter().find(|x| x.0 == oid).map_or("", |x| x.1)
}

/// The OID a type name stands for, as regtype input reads it: a pg_type
/// name (`int4`, `_text`, `"char"`) or SQL type syntax (`integer`,
/// `character varying(10)`, `text[]`); 42704 when there is none.
pub fn type_oid(name: &str) -> Result<u32> {
    let undefined = || {
        Error::new(
            ErrorCode::UndefinedObject,
            format!("type \"{name}\" does not exist"),
        )
    };
    let s = name.trim();
    let s = s.strip_prefix("pg_catalog.").unwrap_or(s);
    let typname = match s.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        Some(quoted) => quoted.to_string(),
        None => s.to_lowercase(),
    };
    if let Some(ty) = TYPES.iter().find(|x| x.1 == typname) {
        return Ok(ty.0);
    }
    let parsed = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(s)
        .and_then(|mut p| {
            let ty = p.parse_data_type()?;
            p.expect_token(&Token::EOF)?;
            Ok(ty)
        })
        .map_err(|_| undefined())?;
    let ty = DataType::from_sql(&parsed).map_err(|_| undefined())?;
    Ok(ty.oid())
}

/// How a type OID prints as regtype: its SQL name without modifier, `-`
/// for 0, the number when no type has it.
pub fn regtype_name(oid: u32) -> String {
    match oid {
        0 => "-".into(),
        oid if TYPES.iter().any(|x| x.0 == oid) => format_type(oid, None),
        oid => oid.to_string(),
    }
}

/// What `format_type(oid, typmod)` returns: the SQL name of the type
/// with its modifier (`character varying(40)`, `numeric(8,2)`,
/// `timestamp(3) with time zone`, `text[]`); `???` for an unknown OID.
/// `typmod` is `None` when the caller passed NULL, which PostgreSQL
/// treats apart from -1 only for bpchar.
pub fn format_type(oid: u32, typmod: Option<i32>) -> String {
    let Some(&(_, name, _, category, elem, _)) = TYPES.iter().find(|x| x.0 == oid) else {
        return "???".into();
    };
    if category == "A" {
        return format!("{}[]", format_type(elem, typmod));
    }
    // A modifier prints only when one was given and is not -1.
    let m = typmod.filter(|m| *m >= 0);
    let length = |m: i32| {
        if m > 4 {
            format!("({})", m - 4)
        } else {
            String::new()
        }
    };
    match (name, m) {
        ("bool", _) => "boolean".into(),
        ("int2", _) => "smallint".into(),
        ("int4", _) => "integer".into(),
        ("int8", _) => "bigint".into(),
        ("float4", _) => "real".into(),
        ("float8", _) => "double precision".into(),
        ("char", _) => "\"char\"".into(),
        ("bpchar", Some(m)) => format!("character{}", length(m)),
        // bpchar with typmod -1 is not CHARACTER (which means char(1)).
        ("bpchar", None) if typmod.is_some() => "bpchar".into(),
        ("bpchar", None) => "character".into(),
        ("varchar", m) => format!("character varying{}", m.map(length).unwrap_or_default()),
        ("numeric", Some(m)) if m >= 4 => {
            // The scale is a signed 11-bit field (PostgreSQL 15 allows
            // negative scales).
            let m = m - 4;
            format!(
                "numeric({},{})",
                (m >> 16) & 0xffff,
                ((m & 0x7ff) ^ 1024) - 1024
            )
        }
        ("time", m) => format!("time{} without time zone", precision(m)),
        ("timestamp", m) => format!("timestamp{} without time zone", precision(m)),
        ("timestamptz", m) => format!("timestamp{} with time zone", precision(m)),
        (name, _) => name.into(),
    }
}

/// `(p)` for a time type's precision modifier.
fn precision(m: Option<i32>) -> String {
    m.map(|p| format!("({p})")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{format_type, regtype_name, type_oid};

    #[test]
    fn regtype_input_and_output() {
        let cases: &[(&str, u32)] = &[
            ("int4", 23),
            ("integer", 23),
            ("INTEGER", 23),
            ("character varying(10)", 1043),
            ("_text", 1009),
            ("text[]", 1009),
            ("pg_catalog.int8", 20),
            ("\"char\"", 18),
            ("regclass", 2205),
            ("timestamp with time zone", 1184),
            ("double precision", 701),
        ];
        for (name, oid) in cases {
            assert_eq!(type_oid(name).ok(), Some(*oid), "{name}");
        }
        for bad in ["nope", "", "int4 int4", "integer)"] {
            assert!(type_oid(bad).is_err(), "{bad}");
        }
        assert_eq!(regtype_name(1042), "character");
        assert_eq!(regtype_name(1009), "text[]");
        assert_eq!(regtype_name(0), "-");
        assert_eq!(regtype_name(99999), "99999");
    }

    #[test]
    fn format_type_matches_postgres() {
        let cases: &[(u32, Option<i32>, &str)] = &[
            (1042, Some(-1), "bpchar"),
            (1042, None, "character"),
            (1042, Some(14), "character(10)"),
            (1042, Some(5), "character(1)"),
            (1043, Some(-1), "character varying"),
            (1043, Some(4), "character varying"),
            (1043, Some(44), "character varying(40)"),
            (1015, Some(44), "character varying(40)[]"),
            (1114, Some(3), "timestamp(3) without time zone"),
            (1184, Some(0), "timestamp(0) with time zone"),
            (1184, Some(-1), "timestamp with time zone"),
            (1083, Some(2), "time(2) without time zone"),
            (1700, Some(-1), "numeric"),
            (1700, Some(4), "numeric(0,0)"),
            (1700, Some(524294), "numeric(8,2)"),
            (1700, Some(i32::MAX), "numeric(32767,-5)"),
            (20, Some(3), "bigint"),
            (23, Some(5), "integer"),
            (18, None, "\"char\""),
            (1009, Some(-1), "text[]"),
            (2205, None, "regclass"),
            (705, None, "unknown"),
            (99999, None, "???"),
        ];
        for (oid, m, want) in cases {
            assert_eq!(format_type(*oid, *m), *want, "format_type({oid}, {m:?})");
        }
    }
}
