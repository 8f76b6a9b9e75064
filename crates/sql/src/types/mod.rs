//! SQL types and values: [`DataType`] (with PostgreSQL type OIDs) and
//! [`Value`], their text and binary wire formats, casts, comparison, the
//! memcomparable key encoding and the row encoding.
//!
//! Time values count microseconds from PostgreSQL's epoch, 2000-01-01, as
//! PostgreSQL's own binary format does, so binary send/receive is a copy.

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
