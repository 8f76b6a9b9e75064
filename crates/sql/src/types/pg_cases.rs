//! Text input and output checked against PostgreSQL 15: each case is a
//! literal, the type it is cast to, and what `select 'literal'::type`
//! printed (or the error it raised) on a real server with TimeZone UTC.

use super::{DataType, FormatOptions, Value};

/// The type for a SQL type name, through the parser as DDL would see it.
pub(crate) fn sql_type(name: &str) -> DataType {
    use sqlparser::ast::{Expr, SelectItem, SetExpr, Statement};
    let sql = format!("SELECT CAST(NULL AS {name})");
    let stmts =
        sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, &sql)
            .expect("parse");
    let Statement::Query(q) = &stmts[0] else {
        panic!("query")
    };
    let SetExpr::Select(sel) = q.body.as_ref() else {
        panic!("select")
    };
    let SelectItem::UnnamedExpr(Expr::Cast { data_type, .. }) = &sel.projection[0] else {
        panic!("cast")
    };
    DataType::from_sql(data_type).expect("type")
}

const CASES: &[(&str, &str, Result<&str, &str>)] = &[
    (r#"boolean"#, r#" TRUE "#, Ok(r#"t"#)),
    (r#"boolean"#, r#"yes"#, Ok(r#"t"#)),
    (r#"boolean"#, r#"of"#, Ok(r#"f"#)),
    (r#"boolean"#, r#"0"#, Ok(r#"f"#)),
    (r#"smallint"#, r#" -32768"#, Ok(r#"-32768"#)),
    (r#"integer"#, r#"+42"#, Ok(r#"42"#)),
    (
        r#"bigint"#,
        r#"-9223372036854775808"#,
        Ok(r#"-9223372036854775808"#),
    ),
    (r#"oid"#, r#"-1"#, Ok(r#"4294967295"#)),
    (r#"real"#, r#"1.5"#, Ok(r#"1.5"#)),
    (r#"real"#, r#"0.1"#, Ok(r#"0.1"#)),
    (r#"real"#, r#"1e-5"#, Ok(r#"1e-05"#)),
    (r#"real"#, r#"1234567"#, Ok(r#"1.234567e+06"#)),
    (r#"real"#, r#"123456"#, Ok(r#"123456"#)),
    (r#"real"#, r#"3.4028235e38"#, Ok(r#"3.4028235e+38"#)),
    (r#"real"#, r#"-inf"#, Ok(r#"-Infinity"#)),
    (r#"double precision"#, r#"0.1"#, Ok(r#"0.1"#)),
    (r#"double precision"#, r#"1e20"#, Ok(r#"1e+20"#)),
    (r#"double precision"#, r#"1.5e-5"#, Ok(r#"1.5e-05"#)),
    (
        r#"double precision"#,
        r#"123456789012345678"#,
        Ok(r#"1.2345678901234568e+17"#),
    ),
    (r#"double precision"#, r#"1e15"#, Ok(r#"1e+15"#)),
    (
        r#"double precision"#,
        r#"100000000000000"#,
        Ok(r#"100000000000000"#),
    ),
    (r#"double precision"#, r#"0.0001"#, Ok(r#"0.0001"#)),
    (r#"double precision"#, r#"-0"#, Ok(r#"-0"#)),
    (r#"double precision"#, r#"NaN"#, Ok(r#"NaN"#)),
    (r#"double precision"#, r#"infinity"#, Ok(r#"Infinity"#)),
    (
        r#"double precision"#,
        r#"2.2250738585072014e-308"#,
        Ok(r#"2.2250738585072014e-308"#),
    ),
    (r#"double precision"#, r#"5e-324"#, Ok(r#"5e-324"#)),
    (
        r#"double precision"#,
        r#"1.7976931348623157e308"#,
        Ok(r#"1.7976931348623157e+308"#),
    ),
    (
        r#"double precision"#,
        r#"3.141592653589793"#,
        Ok(r#"3.141592653589793"#),
    ),
    (r#"numeric"#, r#"1.50"#, Ok(r#"1.50"#)),
    (r#"numeric"#, r#"-0.00"#, Ok(r#"0.00"#)),
    (r#"numeric"#, r#"1e5"#, Ok(r#"100000"#)),
    (r#"numeric"#, r#"1.5e-3"#, Ok(r#"0.0015"#)),
    (r#"numeric"#, r#" nan "#, Ok(r#"NaN"#)),
    (r#"numeric"#, r#".5"#, Ok(r#"0.5"#)),
    (r#"numeric"#, r#"5."#, Ok(r#"5"#)),
    (
        r#"numeric"#,
        r#"-123456789012345678901234.5678"#,
        Ok(r#"-123456789012345678901234.5678"#),
    ),
    (r#"text"#, r#"héllo "#, Ok(r#"héllo "#)),
    (r#"character varying(5)"#, r#"abc  "#, Ok(r#"abc  "#)),
    (r#"character(5)"#, r#"ab"#, Ok(r#"ab   "#)),
    (r#"character(3)"#, r#"abc   "#, Ok(r#"abc"#)),
    (
        r#"name"#,
        r#"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"#,
        Ok(r#"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"#),
    ),
    (r#"bytea"#, r#"\x0102ff"#, Ok(r#"\x0102ff"#)),
    (r#"bytea"#, r#"\x 01 02"#, Ok(r#"\x0102"#)),
    (r#"bytea"#, r#"abc\\\001"#, Ok(r#"\x6162635c01"#)),
    (
        r#"bytea"#,
        r#"\X41"#,
        Err(r#"invalid input syntax for type bytea"#),
    ),
    (r#"date"#, r#"2024-01-31"#, Ok(r#"2024-01-31"#)),
    (r#"date"#, r#"0044-03-15 BC"#, Ok(r#"0044-03-15 BC"#)),
    (r#"date"#, r#"Jan 31 2024"#, Ok(r#"2024-01-31"#)),
    (r#"date"#, r#"31 Jan 2024"#, Ok(r#"2024-01-31"#)),
    (r#"date"#, r#"01/02/03"#, Ok(r#"2003-01-02"#)),
    (r#"date"#, r#"20240131"#, Ok(r#"2024-01-31"#)),
    (r#"date"#, r#"January 31, 2024"#, Ok(r#"2024-01-31"#)),
    (r#"date"#, r#"2024-01-31 23:59"#, Ok(r#"2024-01-31"#)),
    (r#"date"#, r#"-infinity"#, Ok(r#"-infinity"#)),
    (r#"date"#, r#"epoch"#, Ok(r#"1970-01-01"#)),
    (r#"date"#, r#"2024-02-29"#, Ok(r#"2024-02-29"#)),
    (r#"date"#, r#"5874897-12-31"#, Ok(r#"5874897-12-31"#)),
    (r#"time"#, r#"12:00:00.5"#, Ok(r#"12:00:00.5"#)),
    (r#"time"#, r#"24:00"#, Ok(r#"24:00:00"#)),
    (r#"time"#, r#"12:30 pm"#, Ok(r#"12:30:00"#)),
    (r#"time"#, r#"12:30 am"#, Ok(r#"00:30:00"#)),
    (r#"time"#, r#"1:02:03.1234567"#, Ok(r#"01:02:03.123457"#)),
    (r#"time"#, r#"2024-01-31 04:05:06"#, Ok(r#"04:05:06"#)),
    (r#"time"#, r#"04:05:06+05"#, Ok(r#"04:05:06"#)),
    (r#"time"#, r#"allballs"#, Ok(r#"00:00:00"#)),
    (
        r#"timestamp"#,
        r#"2024-01-31 12:34:56.120"#,
        Ok(r#"2024-01-31 12:34:56.12"#),
    ),
    (
        r#"timestamp"#,
        r#"2024-01-31 12:34:56.1234567"#,
        Ok(r#"2024-01-31 12:34:56.123457"#),
    ),
    (
        r#"timestamp"#,
        r#"2024-01-31T10:00:00Z"#,
        Ok(r#"2024-01-31 10:00:00"#),
    ),
    (
        r#"timestamp"#,
        r#"2024-01-31 10:00:00 PST"#,
        Ok(r#"2024-01-31 10:00:00"#),
    ),
    (r#"timestamp"#, r#"epoch"#, Ok(r#"1970-01-01 00:00:00"#)),
    (r#"timestamp"#, r#"infinity"#, Ok(r#"infinity"#)),
    (
        r#"timestamp"#,
        r#"0001-01-01 00:00 BC"#,
        Ok(r#"0001-01-01 00:00:00 BC"#),
    ),
    (
        r#"timestamp"#,
        r#"Wed Jan 31 10:00:00 2024"#,
        Ok(r#"2024-01-31 10:00:00"#),
    ),
    (
        r#"timestamp"#,
        r#"2024-01-31"#,
        Ok(r#"2024-01-31 00:00:00"#),
    ),
    (
        r#"timestamptz"#,
        r#"2024-01-31T10:00:00Z"#,
        Ok(r#"2024-01-31 10:00:00+00"#),
    ),
    (
        r#"timestamptz"#,
        r#"2024-01-31 10:00 EST"#,
        Ok(r#"2024-01-31 15:00:00+00"#),
    ),
    (
        r#"timestamptz"#,
        r#"2024-01-31 10:00 America/New_York"#,
        Ok(r#"2024-01-31 15:00:00+00"#),
    ),
    (
        r#"timestamptz"#,
        r#"2024-01-31 10:00+0530"#,
        Ok(r#"2024-01-31 04:30:00+00"#),
    ),
    (
        r#"timestamptz"#,
        r#"2024-01-31 10:00:00.5-08:00"#,
        Ok(r#"2024-01-31 18:00:00.5+00"#),
    ),
    (
        r#"timestamptz"#,
        r#"2024-01-31 10:00"#,
        Ok(r#"2024-01-31 10:00:00+00"#),
    ),
    (
        r#"timestamptz"#,
        r#"1999-12-31 23:59:59.999999+00"#,
        Ok(r#"1999-12-31 23:59:59.999999+00"#),
    ),
    (
        r#"interval"#,
        r#"1 year 2 months 3 days 4 hours 5 minutes 6 seconds"#,
        Ok(r#"1 year 2 mons 3 days 04:05:06"#),
    ),
    (r#"interval"#, r#"-1 days"#, Ok(r#"-1 days"#)),
    (r#"interval"#, r#"1 day"#, Ok(r#"1 day"#)),
    (r#"interval"#, r#"0"#, Ok(r#"00:00:00"#)),
    (r#"interval"#, r#"1.5 years"#, Ok(r#"1 year 6 mons"#)),
    (
        r#"interval"#,
        r#"-1 day +01:00"#,
        Ok(r#"-1 days +01:00:00"#),
    ),
    (r#"interval"#, r#"P1D"#, Ok(r#"1 day"#)),
    (r#"interval"#, r#"2 weeks ago"#, Ok(r#"-14 days"#)),
    (r#"interval"#, r#"1 mon -1 day"#, Ok(r#"1 mon -1 days"#)),
    (
        r#"interval"#,
        r#"-00:00:00.000001"#,
        Ok(r#"-00:00:00.000001"#),
    ),
    (
        r#"uuid"#,
        r#"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"#,
        Ok(r#"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"#),
    ),
    (
        r#"uuid"#,
        r#"{a0eebc999c0b4ef8bb6d6bb9bd380a11}"#,
        Ok(r#"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"#),
    ),
    (
        r#"uuid"#,
        r#"a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11"#,
        Ok(r#"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"#),
    ),
    (
        r#"json"#,
        r#" {"b":1, "a" : [1, 2.50]} "#,
        Ok(r#" {"b":1, "a" : [1, 2.50]} "#),
    ),
    (
        r#"jsonb"#,
        r#" {"b":1, "a" : [1, 2.50], "aa": {"y": null, "x": true}} "#,
        Ok(r#"{"a": [1, 2.50], "b": 1, "aa": {"x": true, "y": null}}"#),
    ),
    (r#"jsonb"#, r#""\u00e9\t\"x""#, Ok(r#""é\t\"x""#)),
    (
        r#"jsonb"#,
        r#"[1e3, -0.0, 1E-2]"#,
        Ok(r#"[1000, 0.0, 0.01]"#),
    ),
    (r#"integer[]"#, r#"{1,2,3}"#, Ok(r#"{1,2,3}"#)),
    (r#"integer[]"#, r#"{ 1 , NULL , 3 }"#, Ok(r#"{1,NULL,3}"#)),
    (
        r#"text[]"#,
        r#"{a,"b c",NULL,"NULL",""}"#,
        Ok(r#"{a,"b c",NULL,"NULL",""}"#),
    ),
    (
        r#"text[]"#,
        r#"{"a\\b","q\"x",{}}"#,
        Err(r#"malformed array literal: "{"a\\b","q\"x",{}}""#),
    ),
    (r#"text[]"#, r#"{{a,b},{c,d}}"#, Ok(r#"{{a,b},{c,d}}"#)),
    (r#"text[]"#, r#"{}"#, Ok(r#"{}"#)),
    (r#"boolean[]"#, r#"{t,false}"#, Ok(r#"{t,f}"#)),
    (r#"numeric[]"#, r#"{1.50,NaN}"#, Ok(r#"{1.50,NaN}"#)),
    (r#"bytea[]"#, r#"{"\\x01"}"#, Ok(r#"{"\\x01"}"#)),
    (r#"date[]"#, r#"{2024-01-31}"#, Ok(r#"{2024-01-31}"#)),
    (
        r#"timestamp[]"#,
        r#"{"2024-01-31 10:00:00"}"#,
        Ok(r#"{"2024-01-31 10:00:00"}"#),
    ),
    (
        r#"double precision[]"#,
        r#"{1e20,0.1}"#,
        Ok(r#"{1e+20,0.1}"#),
    ),
    // Errors, and edge cases of the grammar.
    (
        r#"integer"#,
        r#""#,
        Err(r#"invalid input syntax for type integer: """#),
    ),
    (r#"integer"#, r#"  12  "#, Ok(r#"12"#)),
    (
        r#"integer"#,
        r#"+"#,
        Err(r#"invalid input syntax for type integer: "+""#),
    ),
    (
        r#"integer"#,
        r#"1_000"#,
        Err(r#"invalid input syntax for type integer: "1_000""#),
    ),
    (
        r#"integer"#,
        r#"2147483648"#,
        Err(r#"value "2147483648" is out of range for type integer"#),
    ),
    (
        r#"smallint"#,
        r#"-32769"#,
        Err(r#"value "-32769" is out of range for type smallint"#),
    ),
    (
        r#"bigint"#,
        r#"9223372036854775808"#,
        Err(r#"value "9223372036854775808" is out of range for type bigint"#),
    ),
    (
        r#"integer"#,
        r#"12abc"#,
        Err(r#"invalid input syntax for type integer: "12abc""#),
    ),
    (
        r#"double precision"#,
        r#"1e"#,
        Err(r#"invalid input syntax for type double precision: "1e""#),
    ),
    (r#"double precision"#, r#"-.5"#, Ok(r#"-0.5"#)),
    (r#"double precision"#, r#"5."#, Ok(r#"5"#)),
    (
        r#"double precision"#,
        r#"1e400"#,
        Err(r#""1e400" is out of range for type double precision"#),
    ),
    (
        r#"double precision"#,
        r#"1e-400"#,
        Err(r#""1e-400" is out of range for type double precision"#),
    ),
    (
        r#"real"#,
        r#"3.4e39"#,
        Err(r#""3.4e39" is out of range for type real"#),
    ),
    (
        r#"real"#,
        r#"1e-50"#,
        Err(r#""1e-50" is out of range for type real"#),
    ),
    (
        r#"double precision"#,
        r#"abc"#,
        Err(r#"invalid input syntax for type double precision: "abc""#),
    ),
    (r#"double precision"#, r#" -INF "#, Ok(r#"-Infinity"#)),
    (
        r#"numeric"#,
        r#"abc"#,
        Err(r#"invalid input syntax for type numeric: "abc""#),
    ),
    (
        r#"numeric"#,
        r#"1.2.3"#,
        Err(r#"invalid input syntax for type numeric: "1.2.3""#),
    ),
    (
        r#"numeric"#,
        r#"-"#,
        Err(r#"invalid input syntax for type numeric: "-""#),
    ),
    (
        r#"boolean"#,
        r#"maybe"#,
        Err(r#"invalid input syntax for type boolean: "maybe""#),
    ),
    (
        r#"boolean"#,
        r#""#,
        Err(r#"invalid input syntax for type boolean: """#),
    ),
    (
        r#"uuid"#,
        r#"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"#,
        Err(r#"invalid input syntax for type uuid: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1""#),
    ),
    (
        r#"uuid"#,
        r#" a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"#,
        Err(r#"invalid input syntax for type uuid: " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11""#),
    ),
    (
        r#"bytea"#,
        r#"\x0"#,
        Err(r#"invalid hexadecimal data: odd number of digits"#),
    ),
    (
        r#"bytea"#,
        r#"\xzz"#,
        Err(r#"invalid hexadecimal digit: "z""#),
    ),
    (
        r#"bytea"#,
        r#"\"#,
        Err(r#"invalid input syntax for type bytea"#),
    ),
    (
        r#"date"#,
        r#"2024-02-30"#,
        Err(r#"date/time field value out of range: "2024-02-30""#),
    ),
    (
        r#"date"#,
        r#"abc"#,
        Err(r#"invalid input syntax for type date: "abc""#),
    ),
    (
        r#"date"#,
        r#"2024-13-01"#,
        Err(r#"date/time field value out of range: "2024-13-01""#),
    ),
    (
        r#"date"#,
        r#"0000-01-01"#,
        Err(r#"date/time field value out of range: "0000-01-01""#),
    ),
    (
        r#"timestamp"#,
        r#"2024-01-31 25:00"#,
        Err(r#"date/time field value out of range: "2024-01-31 25:00""#),
    ),
    (
        r#"timestamp"#,
        r#"abc"#,
        Err(r#"invalid input syntax for type timestamp: "abc""#),
    ),
    (
        r#"time"#,
        r#"25:00"#,
        Err(r#"date/time field value out of range: "25:00""#),
    ),
    (
        r#"time"#,
        r#"12:60"#,
        Err(r#"date/time field value out of range: "12:60""#),
    ),
    (
        r#"interval"#,
        r#"1 fortnight"#,
        Err(r#"invalid input syntax for type interval: "1 fortnight""#),
    ),
    (
        r#"json"#,
        r#"{"a":"#,
        Err(r#"invalid input syntax for type json"#),
    ),
    (
        r#"jsonb"#,
        r#"[1,2"#,
        Err(r#"invalid input syntax for type json"#),
    ),
    (
        r#"integer[]"#,
        r#"{1,2"#,
        Err(r#"malformed array literal: "{1,2""#),
    ),
    (
        r#"integer[]"#,
        r#"1,2"#,
        Err(r#"malformed array literal: "1,2""#),
    ),
    (
        r#"integer[]"#,
        r#"{1,abc}"#,
        Err(r#"invalid input syntax for type integer: "abc""#),
    ),
    (
        r#"integer[]"#,
        r#"{{1,2},{3}}"#,
        Err(r#"malformed array literal: "{{1,2},{3}}""#),
    ),
    // More spellings of dates, times and intervals.
    (
        r#"timestamptz"#,
        r#"Wed, 31 Jan 2024 10:00:00 GMT"#,
        Ok(r#"2024-01-31 10:00:00+00"#),
    ),
    (
        r#"timestamptz"#,
        r#"2024-01-31 10:00:00.123 +0530"#,
        Ok(r#"2024-01-31 04:30:00.123+00"#),
    ),
    (
        r#"timestamp"#,
        r#"2024/01/31 10:00"#,
        Ok(r#"2024-01-31 10:00:00"#),
    ),
    (r#"date"#, r#"2024-1-5"#, Ok(r#"2024-01-05"#)),
    (r#"date"#, r#"1/5/2024"#, Ok(r#"2024-01-05"#)),
    (
        r#"timestamp"#,
        r#"January 31 2024 10:00 PM"#,
        Ok(r#"2024-01-31 22:00:00"#),
    ),
    (
        r#"timestamptz"#,
        r#"2024-01-31 10:00:00 Europe/Berlin"#,
        Ok(r#"2024-01-31 09:00:00+00"#),
    ),
    (
        r#"timestamp"#,
        r#"2024-01-31T10:00"#,
        Ok(r#"2024-01-31 10:00:00"#),
    ),
    (r#"time"#, r#"10:00:00.999999999"#, Ok(r#"10:00:01"#)),
    (
        r#"date"#,
        r#"Feb 29 2023"#,
        Err(r#"date/time field value out of range: "Feb 29 2023""#),
    ),
    (r#"timestamptz"#, r#"infinity"#, Ok(r#"infinity"#)),
    (
        r#"timestamp"#,
        r#"1999-01-08 04:05:06 -8:00"#,
        Ok(r#"1999-01-08 04:05:06"#),
    ),
    (r#"time"#, r#"040506"#, Ok(r#"04:05:06"#)),
    (
        r#"timestamp"#,
        r#"2024-01-31 040506"#,
        Ok(r#"2024-01-31 04:05:06"#),
    ),
    (r#"interval"#, r#"1 year -1 month"#, Ok(r#"11 mons"#)),
    (r#"interval"#, r#"-1 2:03:04"#, Ok(r#"-1 days +02:03:04"#)),
    (
        r#"interval"#,
        r#"1 day 1 day"#,
        Err(r#"invalid input syntax for type interval: "1 day 1 day""#),
    ),
    (r#"interval"#, r#"P1Y2M"#, Ok(r#"1 year 2 mons"#)),
    (r#"interval"#, r#"1 week 2 days"#, Ok(r#"9 days"#)),
    (r#"interval"#, r#"3 days ago"#, Ok(r#"-3 days"#)),
    (r#"interval"#, r#"1.5"#, Ok(r#"00:00:01.5"#)),
    (
        r#"interval"#,
        r#"23:59:59.999999"#,
        Ok(r#"23:59:59.999999"#),
    ),
];

#[test]
fn text_input_and_output_match_postgres() {
    let opts = FormatOptions::default();
    let mut failures = Vec::new();
    for (ty, input, expected) in CASES {
        let t = sql_type(ty);
        let got = Value::from_text(&t, input, &opts).map(|v| v.to_text(&opts).unwrap_or_default());
        match (&got, expected) {
            (Ok(g), Ok(e)) if g == e => {}
            (Err(g), Err(e)) if g.message == *e => {}
            _ => failures.push(format!(
                "{ty} {input:?}: got {got:?}, PostgreSQL {expected:?}"
            )),
        }
        // Whatever parses must read back from its own output and binary form.
        if let Ok(v) = Value::from_text(&t, input, &opts) {
            let text = v.to_text(&opts).unwrap_or_default();
            match Value::from_text(&t, &text, &opts) {
                Ok(back) if back.to_text(&opts).as_deref() == Some(text.as_str()) => {}
                other => failures.push(format!("{ty} {text:?} does not re-read: {other:?}")),
            }
            let bin = v.to_binary_as(&t).unwrap_or_default();
            match Value::from_binary(&t, &bin) {
                Ok(back) if back.to_text(&opts).as_deref() == Some(text.as_str()) => {}
                other => failures.push(format!("{ty} {text:?} binary round trip: {other:?}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `select typsend('literal'::type)` on PostgreSQL 15, as hex.
const BINARY_CASES: &[(&str, &str, &str)] = &[
    (r#"numeric"#, r#"0"#, "0000000000000000"),
    (r#"numeric"#, r#"1.50"#, "000200000000000200011388"),
    (r#"numeric"#, r#"-123456.789"#, "0003000140000003000c0d801ed2"),
    (r#"numeric"#, r#"0.0001"#, "0001ffff000000040001"),
    (r#"numeric"#, r#"10000"#, "00010001000000000001"),
    (r#"numeric"#, r#"NaN"#, "00000000c0000000"),
    (r#"numeric"#, r#"0.00"#, "0000000000000002"),
    (r#"numeric"#, r#"12345678901234567890.12345"#, "000700040000000504d2162e23340d801ed204d21388"),
    (r#"double precision"#, r#"1.5"#, "3ff8000000000000"),
    (r#"real"#, r#"-2.5"#, "c0200000"),
    (r#"date"#, r#"2024-01-31"#, "0000225c"),
    (r#"timestamp"#, r#"2024-01-31 12:00"#, "0002b33b63123000"),
    (r#"timestamptz"#, r#"2024-01-31 12:00+00"#, "0002b33b63123000"),
    (r#"interval"#, r#"1 year 2 days 00:00:01"#, "00000000000f4240000000020000000c"),
    (r#"uuid"#, r#"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"#, "a0eebc999c0b4ef8bb6d6bb9bd380a11"),
    (r#"jsonb"#, r#"{"a":1}"#, "017b2261223a20317d"),
    (r#"json"#, r#"{"a":1}"#, "7b2261223a317d"),
    (r#"integer[]"#, r#"{1,NULL,3}"#, "00000001000000010000001700000003000000010000000400000001ffffffff0000000400000003"),
    (r#"text[]"#, r#"{{a,b},{c,d}}"#, "000000020000000000000019000000020000000100000002000000010000000161000000016200000001630000000164"),
    (r#"integer[]"#, r#"{}"#, "000000000000000000000017"),
    (r#"time"#, r#"04:05:06.5"#, "000000036c9361a0"),
    (r#"boolean"#, r#"t"#, "01"),
];

fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn binary_send_and_receive_match_postgres() {
    let opts = FormatOptions::default();
    for (ty, input, pg) in BINARY_CASES {
        let t = sql_type(ty);
        let v = Value::from_text(&t, input, &opts).expect("parse");
        assert_eq!(
            hex(&v.to_binary_as(&t).expect("not null")),
            *pg,
            "{ty} {input}"
        );
        let back = Value::from_binary(&t, &unhex(pg)).expect("receive");
        assert_eq!(back.to_text(&opts), v.to_text(&opts), "{ty} {input}");
    }
}

#[test]
fn bad_binary_input_is_an_error() {
    for (ty, bytes) in [
        ("integer", &b"\x00\x01"[..]),
        ("numeric", b"\x00\x01\x00\x00\x00\x00\x00\x00"),
        ("numeric", b"\x00\x01\x00\x00\x00\x00\x00\x00\x27\x10"),
        ("numeric", b"\x00\x00\x00\x00\x12\x34\x00\x00"),
        ("jsonb", b"\x02{}"),
        (
            "integer[]",
            b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x17\x7f\xff\xff\xff\x00\x00\x00\x01",
        ),
        (
            "integer[]",
            b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x19\x00\x00\x00\x01\x00\x00\x00\x01",
        ),
        ("text", b"\xff"),
    ] {
        assert!(
            Value::from_binary(&sql_type(ty), bytes).is_err(),
            "{ty} {bytes:?}"
        );
    }
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn binary_receive_never_panics(bytes: Vec<u8>) {
            for ty in ["numeric", "integer[]", "text[][]", "jsonb", "json", "interval", "uuid", "numeric[]", "text"] {
                let _ = Value::from_binary(&sql_type(ty), &bytes);
            }
        }

        #[test]
        fn text_input_never_panics(s: String) {
            let opts = FormatOptions::default();
            for ty in ["boolean", "integer", "real", "double precision", "numeric", "bytea", "date", "time",
                       "timestamp", "timestamptz", "interval", "uuid", "json", "jsonb", "integer[]", "text[]", "oid"] {
                let _ = Value::from_text(&sql_type(ty), &s, &opts);
            }
        }

        #[test]
        fn datetime_like_input_never_panics(s in "[0-9a-z :./+@,-]{0,40}") {
            let opts = FormatOptions::default();
            for ty in ["date", "time", "timestamp", "timestamptz", "interval", "numeric", "double precision", "integer[]"] {
                let _ = Value::from_text(&sql_type(ty), &s, &opts);
            }
        }

        #[test]
        fn float8_text_round_trips(f: f64) {
            let opts = FormatOptions::default();
            let s = Value::Float8(f).to_text(&opts).unwrap_or_default();
            let back = Value::from_text(&DataType::Float8, &s, &opts).expect("re-read");
            match back {
                Value::Float8(g) => prop_assert!(g.to_bits() == f.to_bits() || (g.is_nan() && f.is_nan())),
                _ => prop_assert!(false),
            }
        }

        #[test]
        fn float4_text_round_trips(f: f32) {
            let opts = FormatOptions::default();
            let s = Value::Float4(f).to_text(&opts).unwrap_or_default();
            let back = Value::from_text(&DataType::Float4, &s, &opts).expect("re-read");
            match back {
                Value::Float4(g) => prop_assert!(g.to_bits() == f.to_bits() || (g.is_nan() && f.is_nan())),
                _ => prop_assert!(false),
            }
        }

        #[test]
        fn numeric_round_trips(m: i64, scale in 0u32..20) {
            let v = Value::Numeric(crate::types::Numeric::from_scaled(i128::from(m), scale));
            let opts = FormatOptions::default();
            let text = v.to_text(&opts).unwrap_or_default();
            let t = DataType::Numeric(None);
            let back = Value::from_text(&t, &text, &opts).expect("text");
            prop_assert_eq!(back.to_text(&opts), Some(text.clone()));
            let bin = Value::from_binary(&t, &v.to_binary().unwrap_or_default()).expect("binary");
            prop_assert_eq!(bin.to_text(&opts), Some(text));
        }

        #[test]
        fn timestamps_round_trip(t in -211_813_488_000_000_000i64..9_223_371_331_200_000_000i64) {
            let opts = FormatOptions { timezone: "America/New_York".into(), ..FormatOptions::default() };
            for v in [Value::Timestamp(t), Value::Timestamptz(t)] {
                let ty = v.data_type().expect("typed");
                let s = v.to_text(&opts).unwrap_or_default();
                let back = Value::from_text(&ty, &s, &opts).expect("re-read");
                prop_assert_eq!(back, v);
            }
        }

        #[test]
        fn intervals_round_trip(months in -100_000i32..100_000, days in -100_000i32..100_000, micros: i64) {
            let v = Value::Interval(super::super::Interval { months, days, micros: micros / 4 });
            let opts = FormatOptions::default();
            let s = v.to_text(&opts).unwrap_or_default();
            let back = Value::from_text(&DataType::Interval, &s, &opts).expect("re-read");
            prop_assert_eq!(format!("{back:?}"), format!("{v:?}"));
        }
    }
}

#[test]
fn time_zones_match_postgres() {
    use crate::types::cast::{cast, CastKind};
    // (TimeZone, literal, printed as timestamptz, ::date, ::timestamp),
    // from PostgreSQL 15 with `SET timezone`.
    let cases: &[(&str, &str, &str)] = &[
        (
            "America/New_York",
            "2024-03-10 02:30",
            "2024-03-10 03:30:00-04",
        ),
        (
            "America/New_York",
            "2024-11-03 01:30",
            "2024-11-03 01:30:00-05",
        ),
        (
            "America/New_York",
            "1800-01-01 00:00",
            "1800-01-01 00:00:00-04:56:02",
        ),
        (
            "America/New_York",
            "2024-07-01 12:00:00+00",
            "2024-07-01 08:00:00-04",
        ),
        (
            "America/New_York",
            "2024-01-31 10:00",
            "2024-01-31 10:00:00-05",
        ),
        (
            "Asia/Kolkata",
            "1800-01-01 00:00",
            "1800-01-01 00:00:00+05:53:28",
        ),
        (
            "Asia/Kolkata",
            "2024-07-01 12:00:00+00",
            "2024-07-01 17:30:00+05:30",
        ),
        (
            "Europe/Berlin",
            "1800-01-01 00:00",
            "1800-01-01 00:00:00+00:53:28",
        ),
        (
            "Europe/Berlin",
            "2024-07-01 12:00:00+00",
            "2024-07-01 14:00:00+02",
        ),
        ("+02:00", "2024-07-01 12:00:00+00", "2024-07-01 10:00:00-02"),
        ("+02:00", "2024-01-31 10:00", "2024-01-31 10:00:00-02"),
        (
            "Australia/Lord_Howe",
            "2024-07-01 12:00:00+00",
            "2024-07-01 22:30:00+10:30",
        ),
        (
            "Australia/Lord_Howe",
            "2024-01-31 10:00",
            "2024-01-31 10:00:00+11",
        ),
    ];
    for (tz, input, pg) in cases {
        let opts = FormatOptions {
            timezone: tz.to_string(),
            ..FormatOptions::default()
        };
        let v = Value::from_text(&DataType::Timestamptz, input, &opts).expect("input");
        assert_eq!(v.to_text(&opts).as_deref(), Some(*pg), "{tz} {input}");
    }
    let ny = FormatOptions {
        timezone: "America/New_York".into(),
        ..FormatOptions::default()
    };
    let t = Value::from_text(&DataType::Timestamptz, "2024-07-01 12:00:00+00", &ny).expect("input");
    let as_text = |v: Value| v.to_text(&ny).unwrap_or_default();
    let c = |to: DataType| as_text(cast(&t, &to, CastKind::Explicit, &ny).expect("cast"));
    assert_eq!(c(DataType::Date), "2024-07-01");
    assert_eq!(c(DataType::Timestamp), "2024-07-01 08:00:00");
    let d = Value::from_text(&DataType::Date, "2024-01-31", &ny).expect("date");
    let dt = cast(&d, &DataType::Timestamptz, CastKind::Explicit, &ny).expect("cast");
    assert_eq!(as_text(dt), "2024-01-31 00:00:00-05");
}

#[test]
fn type_names_parse_as_postgres_spells_them() {
    for (name, display) in [
        ("int", "integer"),
        ("integer", "integer"),
        ("int4", "integer"),
        ("smallint", "smallint"),
        ("int2", "smallint"),
        ("bigint", "bigint"),
        ("int8", "bigint"),
        ("real", "real"),
        ("float4", "real"),
        ("float(24)", "real"),
        ("float(25)", "double precision"),
        ("float", "double precision"),
        ("double precision", "double precision"),
        ("float8", "double precision"),
        ("numeric", "numeric"),
        ("numeric(10,2)", "numeric(10,2)"),
        ("decimal(10)", "numeric(10,0)"),
        ("boolean", "boolean"),
        ("bool", "boolean"),
        ("text", "text"),
        ("varchar(20)", "character varying(20)"),
        ("character varying(20)", "character varying(20)"),
        ("varchar", "character varying"),
        ("char(3)", "character(3)"),
        ("character(3)", "character(3)"),
        ("char", "character(1)"),
        ("bpchar", "bpchar"),
        ("bytea", "bytea"),
        ("date", "date"),
        ("time", "time without time zone"),
        ("time without time zone", "time without time zone"),
        ("timestamp", "timestamp without time zone"),
        ("timestamp without time zone", "timestamp without time zone"),
        ("timestamp with time zone", "timestamp with time zone"),
        ("timestamptz", "timestamp with time zone"),
        ("interval", "interval"),
        ("uuid", "uuid"),
        ("json", "json"),
        ("jsonb", "jsonb"),
        ("oid", "oid"),
        ("regclass", "oid"),
        ("regtype", "oid"),
        ("name", "name"),
        ("int[]", "integer[]"),
        ("text[]", "text[]"),
        ("int4[]", "integer[]"),
        ("varchar(5)[]", "character varying(5)[]"),
    ] {
        let t = sql_type(name);
        assert_eq!(t.display_name(), display, "{name}");
        assert_eq!(
            DataType::from_oid(t.oid()).map(|b| b.oid()),
            Some(t.oid()),
            "{name}"
        );
    }
    assert_eq!(sql_type("varchar(20)").type_modifier(), 24);
    assert_eq!(
        sql_type("numeric(10,2)").type_modifier(),
        (10 << 16 | 2) + 4
    );
    assert_eq!(sql_type("int[]").oid(), 1007);
    assert_eq!(sql_type("text").type_modifier(), -1);
}

#[test]
fn output_settings_match_postgres() {
    let with = |efd: i32| FormatOptions {
        extra_float_digits: efd,
        ..FormatOptions::default()
    };
    let f8 = |x: f64, efd| Value::Float8(x).to_text(&with(efd)).unwrap_or_default();
    let f4 = |x: f32, efd| Value::Float4(x).to_text(&with(efd)).unwrap_or_default();
    // `SET extra_float_digits = 0` on PostgreSQL 15.
    assert_eq!(f8(0.1, 0), "0.1");
    assert_eq!(f8(1e20, 0), "1e+20");
    assert_eq!(f8(1.0 / 3.0, 0), "0.333333333333333");
    assert_eq!(f8(123456789.123, 0), "123456789.123");
    assert_eq!(f8(1e15, 0), "1e+15");
    assert_eq!(f8(123456789012345.0, 0), "123456789012345");
    assert_eq!(f8(1e-5, 0), "1e-05");
    assert_eq!(f4(1.5, 0), "1.5");
    assert_eq!(f4(0.1, 0), "0.1");
    // `SET extra_float_digits = -3`.
    assert_eq!(f8(0.1, -3), "0.1");
    assert_eq!(f8(1.0 / 3.0, -3), "0.333333333333");
    assert_eq!(f8(123456789.123, -3), "123456789.123");
    assert_eq!(f4(1.5, -3), "1.5");
    assert_eq!(f4(1234567.0, -3), "1.23e+06");
    // `SET bytea_output = escape`.
    let escape = FormatOptions {
        bytea_hex: false,
        ..FormatOptions::default()
    };
    let b = Value::Bytea(vec![0, b'A', b'\\', 0x7f, 0x80, 0xff, b'\n']);
    assert_eq!(
        b.to_text(&escape).as_deref(),
        Some(r"\000A\\\177\200\377\012")
    );
}

#[test]
fn numeric_input_applies_its_typmod() {
    let opts = FormatOptions::default();
    let t = DataType::Numeric(Some((5, 2)));
    let v = Value::from_text(&t, "123.456", &opts).expect("fits");
    assert_eq!(v.to_text(&opts).as_deref(), Some("123.46"));
    let e = Value::from_text(&t, "1000", &opts).unwrap_err();
    assert_eq!(e.message, "numeric field overflow");
    assert_eq!(
        e.detail.as_deref(),
        Some("A field with precision 5, scale 2 must round to an absolute value less than 10^3.")
    );
}

#[test]
fn binary_output_follows_the_column_type() {
    // An int4 value in a bigint column goes out as 8 bytes.
    assert_eq!(
        Value::Int4(7).to_binary_as(&DataType::Int8),
        Some(7i64.to_be_bytes().to_vec())
    );
    // json keeps its text; jsonb gets the version byte.
    let j = Value::Json("{}".into());
    assert_eq!(j.to_binary_as(&DataType::Json), Some(b"{}".to_vec()));
    assert_eq!(j.to_binary_as(&DataType::Jsonb), Some(b"\x01{}".to_vec()));
    // Array elements follow the declared element type too.
    let a = Value::Array(vec![Value::Int4(1)]);
    let bin = a
        .to_binary_as(&DataType::Array(Box::new(DataType::Int8)))
        .expect("array");
    assert_eq!(&bin[8..12], &20u32.to_be_bytes());
    assert_eq!(&bin[bin.len() - 8..], &1i64.to_be_bytes());
}

/// Prints this crate's output for `type<TAB>literal` lines of the file in
/// `SHOAL_TYPES_CASES`, to diff against `psql` by hand:
/// (`SHOAL_TYPES_TZ` sets TimeZone)
/// `SHOAL_TYPES_CASES=cases.tsv cargo test -p shoal-sql --lib dump_cases -- --ignored --nocapture`.
#[test]
#[ignore]
fn dump_cases() {
    let Ok(path) = std::env::var("SHOAL_TYPES_CASES") else {
        return;
    };
    let opts = FormatOptions {
        timezone: std::env::var("SHOAL_TYPES_TZ").unwrap_or_else(|_| "UTC".into()),
        ..FormatOptions::default()
    };
    let input = std::fs::read_to_string(path).expect("read cases");
    for line in input.lines() {
        // `type<TAB>literal`, or `from<TAB>to<TAB>literal` for a cast.
        let fields: Vec<&str> = line.splitn(3, '\t').collect();
        let result = match fields.as_slice() {
            [ty, lit] => Value::from_text(&sql_type(ty), lit, &opts),
            [from, to, lit] => {
                let from = sql_type(from);
                Value::from_text(&from, lit, &opts).and_then(|v| {
                    crate::types::cast::cast_typed(
                        &v,
                        &from,
                        &sql_type(to),
                        crate::types::cast::CastKind::Explicit,
                        &opts,
                    )
                })
            }
            _ => continue,
        };
        let out = match result {
            Ok(v) => v.to_text(&opts).unwrap_or_default(),
            Err(e) => format!("ERROR: {}", e.message),
        };
        println!("OUT\t{out}");
    }
}

#[test]
fn floats_on_a_rounding_boundary_print_as_postgres() {
    // Checked against PostgreSQL 15: a decimal exactly halfway between two
    // floats is not taken as the shortest form.
    let opts = FormatOptions::default();
    let f8 = |x: f64| Value::Float8(x).to_text(&opts).unwrap_or_default();
    let f4 = |x: f32| Value::Float4(x).to_text(&opts).unwrap_or_default();
    assert_eq!(f8(18014398509481992.0), "1.8014398509481992e+16");
    assert_eq!(f4(15000000512.0), "1.5000001e+10");
    assert_eq!(f4(14999999488.0), "1.4999999e+10");
    // Exactly representable, halfway between two 8-digit decimals.
    assert_eq!(f4(-(1768325.0 + 0.25)), "-1.7683252e+06");
    assert_eq!(f4(332826.0 + 0.625), "332826.62");
}
