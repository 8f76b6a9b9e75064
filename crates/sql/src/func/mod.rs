//! Operators, scalar functions and aggregates over [`Value`]s, with
//! PostgreSQL's overflow checks, NULL handling and result types.
//!
//! The binder resolves an operator or function call with [`binary_type`],
//! [`unary_type`] or [`function_type`] (coercing arguments as needed), and
//! the executor evaluates it with [`binary`], [`unary`] or [`call`].

use crate::error::{Error, Result};
use crate::types::{DataType, FormatOptions, Value};

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
    let _ = (op, l, r);
    Err(Error::unsupported("operators not built yet"))
}

/// Evaluates `l op r`. NULL in, NULL out (three-valued logic for
/// comparisons); 22012 on division by zero, 22003 on overflow.
pub fn binary(op: BinaryOp, l: &Value, r: &Value, ctx: &FunctionContext) -> Result<Value> {
    let _ = (op, l, r, ctx);
    Err(Error::unsupported("operators not built yet"))
}

/// The result type of `op v`.
pub fn unary_type(op: UnaryOp, v: &DataType) -> Result<DataType> {
    let _ = (op, v);
    Err(Error::unsupported("operators not built yet"))
}

/// Evaluates `op v`.
pub fn unary(op: UnaryOp, v: &Value) -> Result<Value> {
    let _ = (op, v);
    Err(Error::unsupported("operators not built yet"))
}

/// The result type of scalar function `name` (lower case, without schema)
/// over `args`; 42883 naming the function and argument types when there
/// is none.
pub fn function_type(name: &str, args: &[DataType]) -> Result<DataType> {
    let _ = (name, args);
    Err(Error::new(
        crate::ErrorCode::UndefinedFunction,
        format!("function {name} does not exist"),
    ))
}

/// Calls scalar function `name`.
pub fn call(name: &str, args: &[Value], ctx: &FunctionContext) -> Result<Value> {
    let _ = (name, args, ctx);
    Err(Error::new(
        crate::ErrorCode::UndefinedFunction,
        format!("function {name} does not exist"),
    ))
}

pub mod aggregate;
