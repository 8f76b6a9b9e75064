//! SQL types and values: [`DataType`] (with PostgreSQL type OIDs) and
//! [`Value`], their text and binary wire formats, casts, comparison, the
//! memcomparable key encoding and the row encoding.
//!
//! Time values count microseconds from PostgreSQL's epoch, 2000-01-01, as
//! PostgreSQL's own binary format does, so binary send/receive is a copy.

pub mod array;
pub mod binary;
pub mod cast;
pub mod datetime;
pub mod interval;
pub mod json;
pub mod keycode;
pub mod numeric;
pub mod row;
pub mod text;
pub mod tz;

#[cfg(test)]
mod pg_cases;

pub use numeric::Numeric;

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
    /// Numeric (finite or ±Infinity), with PostgreSQL's special value NaN
    /// kept apart.
    Numeric(Numeric),
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

use crate::error::{Error, ErrorCode, Result};

/// Session settings that change how values are read and written as text.
#[derive(Clone, Debug, PartialEq)]
pub struct FormatOptions {
    /// The session's `TimeZone` (an IANA name such as `UTC` or
    /// `Europe/Berlin`, or a fixed offset such as `+02:00`).
    pub timezone: String,
    /// `DateStyle` (`ISO, MDY`...): the output style of dates and
    /// timestamps, and the field order of ambiguous input.
    pub date_style: String,
    /// `IntervalStyle`: postgres, postgres_verbose, sql_standard, iso_8601.
    pub interval_style: String,
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
            interval_style: "postgres".into(),
            extra_float_digits: 1,
            bytea_hex: true,
        }
    }
}

impl DataType {
    /// The PostgreSQL type OID (`bool` 16, `int4` 23, `text` 25, ...).
    pub fn oid(&self) -> u32 {
        match self {
            DataType::Bool => 16,
            DataType::Bytea => 17,
            DataType::Name => 19,
            DataType::Int8 => 20,
            DataType::Int2 => 21,
            DataType::Int4 => 23,
            DataType::Text => 25,
            DataType::Oid => 26,
            DataType::Json => 114,
            DataType::Float4 => 700,
            DataType::Float8 => 701,
            DataType::Unknown => 705,
            DataType::Char(_) => 1042,
            DataType::Varchar(_) => 1043,
            DataType::Date => 1082,
            DataType::Time => 1083,
            DataType::Timestamp => 1114,
            DataType::Timestamptz => 1184,
            DataType::Interval => 1186,
            DataType::Numeric(_) => 1700,
            DataType::Uuid => 2950,
            DataType::Jsonb => 3802,
            DataType::Array(elem) => match elem.as_ref() {
                DataType::Bool => 1000,
                DataType::Bytea => 1001,
                DataType::Name => 1003,
                DataType::Int2 => 1005,
                DataType::Int4 => 1007,
                DataType::Text => 1009,
                DataType::Char(_) => 1014,
                DataType::Varchar(_) => 1015,
                DataType::Int8 => 1016,
                DataType::Float4 => 1021,
                DataType::Float8 => 1022,
                DataType::Oid => 1028,
                DataType::Timestamp => 1115,
                DataType::Date => 1182,
                DataType::Time => 1183,
                DataType::Timestamptz => 1185,
                DataType::Interval => 1187,
                DataType::Numeric(_) => 1231,
                DataType::Uuid => 2951,
                DataType::Json => 199,
                DataType::Jsonb => 3807,
                _ => 1009,
            },
        }
    }

    /// The type for a PostgreSQL type OID (as clients send in Parse).
    pub fn from_oid(oid: u32) -> Option<DataType> {
        Some(match oid {
            16 => DataType::Bool,
            17 => DataType::Bytea,
            19 => DataType::Name,
            20 => DataType::Int8,
            21 => DataType::Int2,
            23 => DataType::Int4,
            25 => DataType::Text,
            // oid and its aliases regproc, regclass, regtype.
            26 | 24 | 2205 | 2206 => DataType::Oid,
            114 => DataType::Json,
            700 => DataType::Float4,
            701 => DataType::Float8,
            705 => DataType::Unknown,
            1042 => DataType::Char(None),
            1043 => DataType::Varchar(None),
            1082 => DataType::Date,
            1083 => DataType::Time,
            1114 => DataType::Timestamp,
            1184 => DataType::Timestamptz,
            1186 => DataType::Interval,
            1700 => DataType::Numeric(None),
            2950 => DataType::Uuid,
            3802 => DataType::Jsonb,
            _ => {
                let elem = match oid {
                    1000 => DataType::Bool,
                    1001 => DataType::Bytea,
                    1003 => DataType::Name,
                    1005 => DataType::Int2,
                    1007 => DataType::Int4,
                    1009 => DataType::Text,
                    1014 => DataType::Char(None),
                    1015 => DataType::Varchar(None),
                    1016 => DataType::Int8,
                    1021 => DataType::Float4,
                    1022 => DataType::Float8,
                    1028 => DataType::Oid,
                    1115 => DataType::Timestamp,
                    1182 => DataType::Date,
                    1183 => DataType::Time,
                    1185 => DataType::Timestamptz,
                    1187 => DataType::Interval,
                    1231 => DataType::Numeric(None),
                    2951 => DataType::Uuid,
                    199 => DataType::Json,
                    3807 => DataType::Jsonb,
                    _ => return None,
                };
                DataType::Array(Box::new(elem))
            }
        })
    }

    /// The type for a SQL type name in DDL or a cast.
    pub fn from_sql(ty: &sqlparser::ast::DataType) -> Result<DataType> {
        use sqlparser::ast::{ArrayElemTypeDef, CharacterLength, DataType as D, ExactNumberInfo};
        let length = |l: &Option<CharacterLength>| -> Result<Option<u32>> {
            match l {
                None => Ok(None),
                Some(CharacterLength::IntegerLength { length, .. }) => {
                    if *length == 0 || *length > 10_485_760 {
                        return Err(Error::new(
                            ErrorCode::InvalidParameterValue,
                            format!("length for type varchar must be between 1 and 10485760, not {length}"),
                        ));
                    }
                    Ok(Some(*length as u32))
                }
                Some(CharacterLength::Max) => Ok(None),
            }
        };
        let numeric = |info: &ExactNumberInfo| -> Result<DataType> {
            match info {
                ExactNumberInfo::None => Ok(DataType::Numeric(None)),
                ExactNumberInfo::Precision(p) => numeric_typmod(*p as i64, 0),
                ExactNumberInfo::PrecisionAndScale(p, s) => numeric_typmod(*p as i64, *s),
            }
        };
        Ok(match ty {
            D::Bool | D::Boolean => DataType::Bool,
            D::SmallInt(_) | D::Int2(_) => DataType::Int2,
            D::Int(_) | D::Integer(_) | D::Int4(_) => DataType::Int4,
            D::BigInt(_) | D::Int8(_) => DataType::Int8,
            D::Real | D::Float4 => DataType::Float4,
            D::DoublePrecision | D::Float8 | D::Double(_) => DataType::Float8,
            D::Float(info) => match info {
                ExactNumberInfo::Precision(p) if *p >= 1 && *p <= 24 => DataType::Float4,
                ExactNumberInfo::Precision(p) if *p >= 25 && *p <= 53 => DataType::Float8,
                ExactNumberInfo::Precision(p) => {
                    return Err(Error::new(
                        ErrorCode::InvalidParameterValue,
                        if *p < 1 {
                            "precision for type float must be at least 1 bit".to_string()
                        } else {
                            "precision for type float must be less than 54 bits".to_string()
                        },
                    ))
                }
                _ => DataType::Float8,
            },
            D::Numeric(info) | D::Decimal(info) | D::Dec(info) => numeric(info)?,
            D::Text | D::String(_) => DataType::Text,
            D::Varchar(l) | D::CharacterVarying(l) | D::CharVarying(l) | D::Nvarchar(l) => {
                DataType::Varchar(length(l)?)
            }
            D::Char(l) | D::Character(l) => DataType::Char(Some(length(l)?.unwrap_or(1))),
            D::Bytea => DataType::Bytea,
            D::Date => DataType::Date,
            D::Time(_, tz) => {
                if matches!(
                    tz,
                    sqlparser::ast::TimezoneInfo::WithTimeZone | sqlparser::ast::TimezoneInfo::Tz
                ) {
                    return Err(Error::unsupported(
                        "type time with time zone is not supported",
                    ));
                }
                DataType::Time
            }
            D::Timestamp(_, tz) => match tz {
                sqlparser::ast::TimezoneInfo::WithTimeZone | sqlparser::ast::TimezoneInfo::Tz => {
                    DataType::Timestamptz
                }
                _ => DataType::Timestamp,
            },
            D::Datetime(_) => DataType::Timestamp,
            D::Interval { .. } => DataType::Interval,
            D::Uuid => DataType::Uuid,
            D::JSON => DataType::Json,
            D::JSONB => DataType::Jsonb,
            D::Regclass => DataType::Oid,
            D::Array(elem) => match elem {
                ArrayElemTypeDef::SquareBracket(t, _)
                | ArrayElemTypeDef::AngleBracket(t)
                | ArrayElemTypeDef::Parenthesis(t)
                | ArrayElemTypeDef::ParenthesisNotNull(t)
                | ArrayElemTypeDef::Qualified(t, _) => {
                    DataType::Array(Box::new(DataType::from_sql(t)?))
                }
                ArrayElemTypeDef::None => DataType::Array(Box::new(DataType::Text)),
            },
            D::Custom(name, modifiers) => {
                let last = name
                    .0
                    .last()
                    .map(|p| p.to_string().trim_matches('"').to_lowercase())
                    .unwrap_or_default();
                let first_mod = modifiers.first().and_then(|m| match m {
                    sqlparser::ast::TypeModifier::Number(n, _) => n.parse::<u64>().ok(),
                    _ => None,
                });
                match last.as_str() {
                    "int" | "integer" | "int4" => DataType::Int4,
                    "smallint" | "int2" => DataType::Int2,
                    "bigint" | "int8" => DataType::Int8,
                    "float4" | "real" => DataType::Float4,
                    "float8" => DataType::Float8,
                    "bool" | "boolean" => DataType::Bool,
                    "text" => DataType::Text,
                    "name" => DataType::Name,
                    "bpchar" => DataType::Char(first_mod.map(|n| n as u32)),
                    "varchar" => DataType::Varchar(first_mod.map(|n| n as u32)),
                    "numeric" | "decimal" => match (
                        first_mod,
                        modifiers.get(1).and_then(|m| match m {
                            sqlparser::ast::TypeModifier::Number(n, _) => n.parse::<i64>().ok(),
                            _ => None,
                        }),
                    ) {
                        (Some(p), s) => numeric_typmod(p as i64, s.unwrap_or(0))?,
                        (None, _) => DataType::Numeric(None),
                    },
                    "timestamptz" => DataType::Timestamptz,
                    "timestamp" => DataType::Timestamp,
                    "date" => DataType::Date,
                    "time" => DataType::Time,
                    "interval" => DataType::Interval,
                    "uuid" => DataType::Uuid,
                    "json" => DataType::Json,
                    "jsonb" => DataType::Jsonb,
                    "bytea" => DataType::Bytea,
                    "oid" | "regclass" | "regtype" | "regproc" | "regprocedure"
                    | "regnamespace" | "regrole" | "xid" | "cid" => DataType::Oid,
                    _ => {
                        return Err(Error::new(
                            ErrorCode::UndefinedObject,
                            format!("type \"{}\" does not exist", name),
                        ))
                    }
                }
            }
            other => {
                return Err(Error::new(
                    ErrorCode::UndefinedObject,
                    format!(
                        "type \"{}\" does not exist",
                        other.to_string().to_lowercase()
                    ),
                ))
            }
        })
    }

    /// The type without its modifier (length, precision), as values of it
    /// are typed by `pg_typeof`.
    pub fn unmodified(&self) -> DataType {
        match self {
            DataType::Numeric(_) => DataType::Numeric(None),
            DataType::Varchar(_) => DataType::Varchar(None),
            DataType::Char(_) => DataType::Char(None),
            DataType::Array(e) => DataType::Array(Box::new(e.unmodified())),
            other => other.clone(),
        }
    }

    /// The name as `format_type` prints it (`integer`, `character varying(10)`).
    pub fn display_name(&self) -> String {
        match self {
            DataType::Bool => "boolean".into(),
            DataType::Int2 => "smallint".into(),
            DataType::Int4 => "integer".into(),
            DataType::Int8 => "bigint".into(),
            DataType::Float4 => "real".into(),
            DataType::Float8 => "double precision".into(),
            DataType::Numeric(None) => "numeric".into(),
            DataType::Numeric(Some((p, s))) => format!("numeric({p},{s})"),
            DataType::Text => "text".into(),
            DataType::Varchar(None) => "character varying".into(),
            DataType::Varchar(Some(n)) => format!("character varying({n})"),
            DataType::Char(None) => "bpchar".into(),
            DataType::Char(Some(n)) => format!("character({n})"),
            DataType::Bytea => "bytea".into(),
            DataType::Date => "date".into(),
            DataType::Time => "time without time zone".into(),
            DataType::Timestamp => "timestamp without time zone".into(),
            DataType::Timestamptz => "timestamp with time zone".into(),
            DataType::Interval => "interval".into(),
            DataType::Uuid => "uuid".into(),
            DataType::Json => "json".into(),
            DataType::Jsonb => "jsonb".into(),
            DataType::Oid => "oid".into(),
            DataType::Name => "name".into(),
            DataType::Array(e) => format!("{}[]", e.display_name()),
            DataType::Unknown => "unknown".into(),
        }
    }

    /// The type modifier (atttypmod) PostgreSQL reports, -1 when none.
    pub fn type_modifier(&self) -> i32 {
        match self {
            DataType::Varchar(Some(n)) | DataType::Char(Some(n)) => *n as i32 + 4,
            DataType::Numeric(Some((p, s))) => (((*p << 16) | *s) + 4) as i32,
            _ => -1,
        }
    }

    /// typlen: the fixed size in bytes, or -1 for variable length.
    pub fn type_len(&self) -> i16 {
        match self {
            DataType::Bool => 1,
            DataType::Int2 => 2,
            DataType::Int4 | DataType::Float4 | DataType::Date | DataType::Oid => 4,
            DataType::Int8
            | DataType::Float8
            | DataType::Time
            | DataType::Timestamp
            | DataType::Timestamptz => 8,
            DataType::Interval | DataType::Uuid => 16,
            DataType::Name => 64,
            DataType::Unknown => -2,
            _ => -1,
        }
    }

    /// Whether values of this type are numbers (for comparisons across types).
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            DataType::Int2
                | DataType::Int4
                | DataType::Int8
                | DataType::Float4
                | DataType::Float8
                | DataType::Numeric(_)
                | DataType::Oid
        )
    }

    /// Whether values of this type are strings.
    pub fn is_string(&self) -> bool {
        matches!(
            self,
            DataType::Text
                | DataType::Varchar(_)
                | DataType::Char(_)
                | DataType::Name
                | DataType::Unknown
        )
    }
}

/// numeric(p, s) with PostgreSQL's checks.
fn numeric_typmod(p: i64, s: i64) -> Result<DataType> {
    if !(1..=1000).contains(&p) {
        return Err(Error::new(
            ErrorCode::InvalidParameterValue,
            format!("NUMERIC precision {p} must be between 1 and 1000"),
        ));
    }
    if s < 0 || s > p {
        return Err(Error::new(
            ErrorCode::InvalidParameterValue,
            format!("NUMERIC scale {s} must be between 0 and precision {p}"),
        ));
    }
    Ok(DataType::Numeric(Some((p as u32, s as u32))))
}

/// A number as one of three comparable kinds.
enum Num {
    Int(i64),
    Dec(Numeric),
    Float(f64),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value's type (`None` for NULL). Modifiers are not known from a
    /// value alone: text reports `text`, numeric unconstrained.
    pub fn data_type(&self) -> Option<DataType> {
        Some(match self {
            Value::Null => return None,
            Value::Bool(_) => DataType::Bool,
            Value::Int2(_) => DataType::Int2,
            Value::Int4(_) => DataType::Int4,
            Value::Int8(_) => DataType::Int8,
            Value::Float4(_) => DataType::Float4,
            Value::Float8(_) => DataType::Float8,
            Value::Numeric(_) | Value::NumericNaN => DataType::Numeric(None),
            Value::Text(_) => DataType::Text,
            Value::Bytea(_) => DataType::Bytea,
            Value::Date(_) => DataType::Date,
            Value::Time(_) => DataType::Time,
            Value::Timestamp(_) => DataType::Timestamp,
            Value::Timestamptz(_) => DataType::Timestamptz,
            Value::Interval(_) => DataType::Interval,
            Value::Uuid(_) => DataType::Uuid,
            Value::Json(_) => DataType::Jsonb,
            Value::Oid(_) => DataType::Oid,
            Value::Array(items) => DataType::Array(Box::new(
                items
                    .iter()
                    .find_map(|v| v.data_type())
                    .unwrap_or(DataType::Text),
            )),
        })
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

    /// PostgreSQL's binary output for a column of type `ty` (`None` for
    /// NULL): unlike [`Value::to_binary`] it tells `json` from `jsonb` and
    /// gives arrays their declared element type.
    pub fn to_binary_as(&self, ty: &DataType) -> Option<Vec<u8>> {
        binary::encode_as(self, ty)
    }

    fn as_num(&self) -> Option<Num> {
        Some(match self {
            Value::Int2(v) => Num::Int(i64::from(*v)),
            Value::Int4(v) => Num::Int(i64::from(*v)),
            Value::Int8(v) => Num::Int(*v),
            Value::Oid(v) => Num::Int(i64::from(*v)),
            Value::Numeric(d) => Num::Dec(d.clone()),
            Value::Float4(f) => Num::Float(f64::from(*f)),
            Value::Float8(f) => Num::Float(*f),
            _ => return None,
        })
    }

    /// SQL comparison: `None` when either side is NULL or the two cannot be
    /// compared. Numbers of different types compare by value; text compares
    /// by bytes (C collation); dates compare with timestamps as midnight.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        use Value::*;
        match (self, other) {
            (Null, _) | (_, Null) => None,
            (NumericNaN, NumericNaN) => Some(Ordering::Equal),
            (NumericNaN, b) if b.as_num().is_some() => Some(Ordering::Greater),
            (a, NumericNaN) if a.as_num().is_some() => Some(Ordering::Less),
            (Bool(a), Bool(b)) => Some(a.cmp(b)),
            (Text(a), Text(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Bytea(a), Bytea(b)) => Some(a.cmp(b)),
            (Date(a), Date(b)) => Some(a.cmp(b)),
            (Time(a), Time(b)) => Some(a.cmp(b)),
            (Timestamp(a), Timestamp(b))
            | (Timestamptz(a), Timestamptz(b))
            | (Timestamp(a), Timestamptz(b))
            | (Timestamptz(a), Timestamp(b)) => Some(a.cmp(b)),
            (Date(d), Timestamp(t)) | (Date(d), Timestamptz(t)) => {
                Some((i64::from(*d) * MICROS_PER_DAY).cmp(t))
            }
            (Timestamp(t), Date(d)) | (Timestamptz(t), Date(d)) => {
                Some(t.cmp(&(i64::from(*d) * MICROS_PER_DAY)))
            }
            (Interval(a), Interval(b)) => Some(interval_key(a).cmp(&interval_key(b))),
            (Uuid(a), Uuid(b)) => Some(a.cmp(b)),
            // jsonb's order (json itself has no comparison operators).
            (Json(a), Json(b)) => Some(json::compare_text(a, b)),
            (Array(a), Array(b)) => {
                for (x, y) in a.iter().zip(b.iter()) {
                    let o = x.total_cmp(y);
                    if o != Ordering::Equal {
                        return Some(o);
                    }
                }
                Some(a.len().cmp(&b.len()))
            }
            (a, b) => match (a.as_num()?, b.as_num()?) {
                (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
                (Num::Int(x), Num::Dec(y)) => Some(numeric::Numeric::from(x).cmp(&y)),
                (Num::Dec(x), Num::Int(y)) => Some(x.cmp(&numeric::Numeric::from(y))),
                (Num::Dec(x), Num::Dec(y)) => Some(x.cmp(&y)),
                (x, y) => {
                    let f = |n: Num| match n {
                        Num::Int(i) => i as f64,
                        Num::Dec(d) => d.to_f64(),
                        Num::Float(f) => f,
                    };
                    Some(float_order(f(x), f(y)))
                }
            },
        }
    }

    /// A total order for sorting, DISTINCT, GROUP BY and hashing: NULL sorts
    /// after everything (PostgreSQL's default NULLS LAST for ASC); values
    /// that cannot be compared order by type.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Null, _) => Ordering::Greater,
            (_, Value::Null) => Ordering::Less,
            (a, b) => a
                .compare(b)
                .unwrap_or_else(|| a.type_rank().cmp(&b.type_rank())),
        }
    }

    fn type_rank(&self) -> u8 {
        match self {
            Value::Null => 255,
            Value::Bool(_) => 0,
            Value::Int2(_)
            | Value::Int4(_)
            | Value::Int8(_)
            | Value::Float4(_)
            | Value::Float8(_)
            | Value::Numeric(_)
            | Value::NumericNaN
            | Value::Oid(_) => 1,
            Value::Text(_) => 2,
            Value::Bytea(_) => 3,
            Value::Date(_) | Value::Timestamp(_) | Value::Timestamptz(_) => 4,
            Value::Time(_) => 5,
            Value::Interval(_) => 6,
            Value::Uuid(_) => 7,
            Value::Json(_) => 8,
            Value::Array(_) => 9,
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.total_cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Value) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Value) -> Ordering {
        self.total_cmp(other)
    }
}

impl std::hash::Hash for Value {
    /// Consistent with `total_cmp` equality: numbers hash by value (so 1,
    /// 1.0 and 1::bigint group together), everything else by content.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self {
            Value::Null => 0u8.hash(state),
            Value::Bool(b) => b.hash(state),
            Value::Text(s) => s.hash(state),
            Value::Bytea(b) => b.hash(state),
            Value::Date(d) => (i64::from(*d) * MICROS_PER_DAY).hash(state),
            Value::Timestamp(t) | Value::Timestamptz(t) => t.hash(state),
            Value::Time(t) => t.hash(state),
            Value::Interval(i) => interval_key(i).hash(state),
            Value::Uuid(u) => u.hash(state),
            Value::Json(j) => json::canonical_text(j).hash(state),
            Value::Array(a) => a.hash(state),
            Value::NumericNaN => f64::NAN.to_bits().hash(state),
            v => match v.as_num() {
                Some(Num::Int(i)) => Numeric::from(i).hash(state),
                Some(Num::Dec(d)) => d.hash(state),
                Some(Num::Float(f)) => {
                    // Floats that a numeric represents exactly hash like it.
                    match numeric::from_f64_exact(f) {
                        Some(d) => d.hash(state),
                        None => (if f == 0.0 { 0.0f64 } else { f }).to_bits().hash(state),
                    }
                }
                None => 1u8.hash(state),
            },
        }
    }
}

/// Microseconds in a day.
pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Intervals compare as PostgreSQL does: a month is 30 days, a day 24 hours.
fn interval_key(i: &Interval) -> i128 {
    (i128::from(i.months) * 30 + i128::from(i.days)) * i128::from(MICROS_PER_DAY)
        + i128::from(i.micros)
}

/// PostgreSQL's float order: NaN equals NaN and is greater than everything.
fn float_order(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}
