//! SQL types and values: [`DataType`] (with PostgreSQL type OIDs) and
//! [`Value`], their text and binary wire formats, casts, comparison, the
//! memcomparable key encoding and the row encoding.
//!
//! Time values count microseconds from PostgreSQL's epoch, 2000-01-01, as
//! PostgreSQL's own binary format does, so binary send/receive is a copy.

pub mod binary;
pub mod cast;
pub mod keycode;
pub mod row;
pub mod text;

use rust_decimal::Decimal;

/// A SQL data type. Modifiers (`varchar(n)`, `numeric(p,s)`) are kept so
/// assignments can enforce them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DataType {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// `numeric(precision, scale)`; `None` means unconstrained.
    Numeric(Option<(u32, u32)>),
    Text,
    /// `varchar(n)`; `None` means no limit.
    Varchar(Option<u32>),
    /// `char(n)` (bpchar), blank-padded; `None` is `char(1)` in DDL.
    Char(Option<u32>),
    Bytea,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    Interval,
    Uuid,
    Json,
    Jsonb,
    /// `oid`, `regclass`, `regtype`... are stored as Int8-compatible u32s.
    Oid,
    /// The `name` type of the system catalogs (text on the wire).
    Name,
    /// A one-dimensional array of the element type (text[] etc.; used by
    /// the system catalogs and functions such as `current_schemas`).
    Array(Box<DataType>),
    /// An untyped literal or parameter whose type is not yet inferred
    /// (PostgreSQL's `unknown`, OID 705).
    Unknown,
}

/// A SQL value. `Null` is untyped; everything else knows its type.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum Value {
    Null,
    Bool(bool),
    Int2(i16),
    Int4(i32),
    Int8(i64),
    Float4(f32),
    Float8(f64),
    /// Numeric, with PostgreSQL's special value NaN kept apart.
    Numeric(Decimal),
    NumericNaN,
    /// text, varchar, char (already padded), name and unknown literals.
    Text(String),
    Bytea(Vec<u8>),
    /// Days since 2000-01-01.
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// Microseconds since 2000-01-01 00:00:00 (no time zone).
    Timestamp(i64),
    /// Microseconds since 2000-01-01 00:00:00 UTC.
    Timestamptz(i64),
    Interval(Interval),
    Uuid([u8; 16]),
    /// json and jsonb, stored as their text.
    Json(String),
    Oid(u32),
    Array(Vec<Value>),
}

/// A PostgreSQL interval: months, days and microseconds are kept apart, as
/// PostgreSQL does (a month is not a fixed number of days).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

use std::cmp::Ordering;

use crate::error::{Error, Result};

/// Session settings that change how values are read and written as text.
#[derive(Clone, Debug, PartialEq)]
pub struct FormatOptions {
    /// The session's `TimeZone` (an IANA name such as `UTC` or
    /// `Europe/Berlin`, or a fixed offset such as `+02:00`).
    pub timezone: String,
    /// `DateStyle`: only `ISO, MDY` output is produced; kept for input order.
    pub date_style: String,
    /// `extra_float_digits`: > 0 prints floats in shortest exact form (the
    /// PostgreSQL 12+ default of 1); <= 0 rounds to 15 (float8) / 6 (float4)
    /// significant digits minus the setting.
    pub extra_float_digits: i32,
    /// `bytea_output`: `hex` (default) or `escape`.
    pub bytea_hex: bool,
}

impl Default for FormatOptions {
    fn default() -> Self {
        FormatOptions {
            timezone: "UTC".into(),
            date_style: "ISO, MDY".into(),
            extra_float_digits: 1,
            bytea_hex: true,
        }
    }
}

impl DataType {
    /// The PostgreSQL type OID (`bool` 16, `int4` 23, `text` 25, ...).
    pub fn oid(&self) -> u32 {
        0
    }

    /// The type for a PostgreSQL type OID (as clients send in Parse).
    pub fn from_oid(oid: u32) -> Option<DataType> {
        let _ = oid;
        None
    }

    /// The type for a SQL type name in DDL or a cast.
    pub fn from_sql(ty: &sqlparser::ast::DataType) -> Result<DataType> {
        Err(Error::unsupported(format!("type {ty} not built yet")))
    }

    /// The name as `format_type` prints it (`integer`, `character varying(10)`).
    pub fn display_name(&self) -> String {
        format!("{self:?}")
    }

    /// The type modifier (atttypmod) PostgreSQL reports, -1 when none.
    pub fn type_modifier(&self) -> i32 {
        -1
    }

    /// typlen: the fixed size in bytes, or -1 for variable length.
    pub fn type_len(&self) -> i16 {
        -1
    }
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value's type (`None` for NULL).
    pub fn data_type(&self) -> Option<DataType> {
        None
    }

    /// Parses PostgreSQL text input for `ty` (a Bind parameter in text
    /// format, a literal, COPY data). `opts` supplies TimeZone/DateStyle.
    pub fn from_text(ty: &DataType, s: &str, opts: &FormatOptions) -> Result<Value> {
        text::parse(ty, s, opts)
    }

    /// Decodes PostgreSQL binary format for `ty` (a Bind parameter).
    pub fn from_binary(ty: &DataType, b: &[u8]) -> Result<Value> {
        binary::decode(ty, b)
    }

    /// PostgreSQL's text output (`None` for NULL).
    pub fn to_text(&self, opts: &FormatOptions) -> Option<String> {
        text::format(self, opts)
    }

    /// PostgreSQL's binary output (`None` for NULL).
    pub fn to_binary(&self) -> Option<Vec<u8>> {
        binary::encode(self)
    }

    /// SQL comparison: `None` when either side is NULL. Numbers of
    /// different types compare by value; text compares by bytes (C collation).
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        let _ = other;
        None
    }

    /// A total order for sorting, DISTINCT, GROUP BY and hashing: NULL sorts
    /// after everything (PostgreSQL's default NULLS LAST for ASC).
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        let _ = other;
        Ordering::Equal
    }
}
