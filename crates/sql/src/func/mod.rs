//! Operators, scalar functions and aggregates over [`Value`]s, with
//! PostgreSQL's overflow checks, NULL handling and result types.
//!
//! The binder resolves an operator or function call with [`binary_type`],
//! [`unary_type`] or [`function_type`] (coercing arguments as needed), and
//! the executor evaluates it with [`binary`], [`unary`] or [`call`].
//!
//! Modules: `ops` (operator resolution and evaluation), `num` (integer,
//! float and numeric arithmetic), `datetime` (date/time arithmetic and
//! functions), `text` (string functions), `pattern` (LIKE and regular expressions),
//! `math` (math functions), `signature` (function signatures and
//! resolution, argument coercion), `catalog` (functions that read the
//! catalog: to_regclass, format_type, pg_get_constraintdef...),
//! `aggregate`, `json` (JSON construction and modification), `json_ops`
//! (the jsonb operators' functions), `json_agg` (JSON aggregates),
//! `array_ops` (array operators, subscripts and slices) and `srf` (unnest
//! and the jsonb set-returning functions).

pub mod array_ops;
mod catalog;
mod datefn;
mod datetime;
mod describe;
mod json;
mod json_agg;
mod json_ops;
mod math;
mod misc;
mod num;
mod ops;
mod pattern;
mod signature;
pub mod srf;
mod text;
mod to_char;

use crate::error::{Error, ErrorCode, Result};
use crate::types::{DataType, FormatOptions, Value};

pub(crate) use text::quote_ident;

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    /// `||` (text concatenation; also bytea).
    Concat,
    Like,
    NotLike,
    ILike,
    NotILike,
    /// `~` POSIX regex match (and `~*`, `!~`, `!~*`).
    RegexMatch,
    RegexIMatch,
    NotRegexMatch,
    NotRegexIMatch,
    BitAnd,
    BitOr,
    BitXor,
    ShiftLeft,
    ShiftRight,
    /// jsonb `->`, `->>`.
    JsonGet,
    JsonGetText,
}

impl BinaryOp {
    /// The operator as PostgreSQL names it in error messages (LIKE is
    /// `~~`, as in pg_operator).
    pub fn symbol(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            Pow => "^",
            Eq => "=",
            NotEq => "<>",
            Lt => "<",
            LtEq => "<=",
            Gt => ">",
            GtEq => ">=",
            Concat => "||",
            Like => "~~",
            NotLike => "!~~",
            ILike => "~~*",
            NotILike => "!~~*",
            RegexMatch => "~",
            RegexIMatch => "~*",
            NotRegexMatch => "!~",
            NotRegexIMatch => "!~*",
            BitAnd => "&",
            BitOr => "|",
            BitXor => "#",
            ShiftLeft => "<<",
            ShiftRight => ">>",
            JsonGet => "->",
            JsonGetText => "->>",
        }
    }
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Plus,
    Not,
    BitNot,
}

/// What function calls may read from the session and transaction.
#[derive(Clone, Debug, Default)]
pub struct FunctionContext {
    pub format: FormatOptions,
    /// The transaction's start time (now(), CURRENT_TIMESTAMP), in
    /// microseconds since 2000-01-01 UTC.
    pub transaction_start: i64,
    /// The statement's start time (statement_timestamp()).
    pub statement_start: i64,
}

/// The result type of `l op r` after PostgreSQL's operator resolution
/// (`int4 + int8` is int8, `int4 / int4` is int4, `numeric + int` is
/// numeric, `date + int` is date, `timestamp - timestamp` is interval,
/// comparisons are bool). `Unknown` operands take the other side's type.
/// 42883 when no operator fits.
pub fn binary_type(op: BinaryOp, l: &DataType, r: &DataType) -> Result<DataType> {
    ops::binary_type(op, l, r)
}

/// The type an untyped (`Unknown`) operand of `op` should be coerced to
/// when the other operand has type `other`: PostgreSQL resolves
/// `timestamptz + '1 day'` as `timestamptz + interval` and `date - '...'`
/// as `date - date`, not as a copy of the other side's type. `None`
/// means "the other side's type".
pub fn unknown_operand_type(op: BinaryOp, other: &DataType) -> Option<DataType> {
    ops::unknown_operand_type(op, other)
}

/// Evaluates `l op r`. NULL in, NULL out (three-valued logic for
/// comparisons); 22012 on division by zero, 22003 on overflow.
pub fn binary(op: BinaryOp, l: &Value, r: &Value, ctx: &FunctionContext) -> Result<Value> {
    ops::binary(op, l, r, ctx)
}

/// The result type of `op v`.
pub fn unary_type(op: UnaryOp, v: &DataType) -> Result<DataType> {
    ops::unary_type(op, v)
}

/// Evaluates `op v`.
pub fn unary(op: UnaryOp, v: &Value) -> Result<Value> {
    ops::unary(op, v)
}

/// The result type of scalar function `name` (lower case, without schema)
/// over `args`; 42883 naming the function and argument types when there
/// is none.
pub fn function_type(name: &str, args: &[DataType]) -> Result<DataType> {
    signature::function_type(name, args)
}

/// Calls scalar function `name`.
pub fn call(name: &str, args: &[Value], ctx: &FunctionContext) -> Result<Value> {
    signature::call_in(name, args, ctx, None)
}

/// What the functions that read the catalog (to_regclass, format_type,
/// pg_get_constraintdef, has_table_privilege...) see.
pub struct CatalogContext<'a> {
    pub catalog: &'a crate::catalog::Catalog,
    /// The session's search_path, `$user` removed (what an unqualified
    /// relation name resolves against).
    pub search_path: &'a [String],
}

/// Whether `name` reads the catalog: call it with [`call_with_catalog`].
pub fn reads_catalog(name: &str) -> bool {
    signature::reads_catalog(name)
}

/// Calls scalar function `name`, which may read the catalog.
pub fn call_with_catalog(
    name: &str,
    args: &[Value],
    ctx: &FunctionContext,
    catalog: &CatalogContext<'_>,
) -> Result<Value> {
    signature::call_in(name, args, ctx, Some(catalog))
}

/// Whether `name` is a scalar function this module knows.
pub fn is_function(name: &str) -> bool {
    signature::is_function(name)
}

pub mod aggregate;
#[cfg(test)]
mod tests;

/// The data-exception SQLSTATEs PostgreSQL raises from these functions.
const INVALID_ARGUMENT_FOR_LOG: ErrorCode = ErrorCode::InvalidArgumentForLogarithm;
const INVALID_ARGUMENT_FOR_POWER: ErrorCode = ErrorCode::InvalidArgumentForPowerFunction;
const SUBSTRING_ERROR: ErrorCode = ErrorCode::SubstringError;
const INVALID_REGULAR_EXPRESSION: ErrorCode = ErrorCode::InvalidRegularExpression;
const INVALID_ESCAPE_SEQUENCE: ErrorCode = ErrorCode::InvalidEscapeSequence;

fn err(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::new(code, message)
}

fn division_by_zero() -> Error {
    err(ErrorCode::DivisionByZero, "division by zero")
}

/// 22003 with PostgreSQL's wording for each integer width.
fn int_out_of_range(ty: &DataType) -> Error {
    let name = match ty {
        DataType::Int2 => "smallint",
        DataType::Int8 | DataType::Oid => "bigint",
        _ => "integer",
    };
    err(
        ErrorCode::NumericValueOutOfRange,
        format!("{name} out of range"),
    )
}

fn float_overflow() -> Error {
    err(
        ErrorCode::NumericValueOutOfRange,
        "value out of range: overflow",
    )
}

fn float_underflow() -> Error {
    err(
        ErrorCode::NumericValueOutOfRange,
        "value out of range: underflow",
    )
}

fn numeric_overflow() -> Error {
    err(
        ErrorCode::NumericValueOutOfRange,
        "value overflows numeric format",
    )
}

/// 42883 for an operator, with PostgreSQL's hint.
fn no_operator(op: &str, l: Option<&DataType>, r: &DataType) -> Error {
    let args = match l {
        Some(l) => format!("{} {op} {}", l.display_name(), r.display_name()),
        None => format!("{op} {}", r.display_name()),
    };
    err(
        ErrorCode::UndefinedFunction,
        format!("operator does not exist: {args}"),
    )
    .with_hint(
        "No operator matches the given name and argument types. You might need to add explicit type casts.",
    )
}

/// 42883 for a function, with PostgreSQL's hint.
fn no_function(name: &str, args: &[DataType]) -> Error {
    let list: Vec<String> = args.iter().map(|t| t.display_name()).collect();
    err(
        ErrorCode::UndefinedFunction,
        format!("function {name}({}) does not exist", list.join(", ")),
    )
    .with_hint(
        "No function matches the given name and argument types. You might need to add explicit type casts.",
    )
}

/// 42883 "operator does not exist: l op r", for operators resolved
/// outside this module (the binder's jsonb and array operators).
pub fn operator_error(op: &str, l: &DataType, r: &DataType) -> Error {
    no_operator(op, Some(l), r)
}

/// Whether `t` is one of the string types (text, varchar, char, name).
pub fn is_string_type(t: &DataType) -> bool {
    is_string(t)
}

/// Whether `t` is one of the string types (which all behave as text).
fn is_string(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Name
    )
}

/// The value's text form, as a cast to text prints it.
fn text_of(v: &Value, ctx: &FunctionContext) -> String {
    match v {
        Value::Text(s) => s.clone(),
        v => v.to_text(&ctx.format).unwrap_or_default(),
    }
}
