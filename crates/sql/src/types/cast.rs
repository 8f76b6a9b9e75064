//! Casts between types: explicit (`::`, CAST), assignment (INSERT/UPDATE
//! into a column: length checks, numeric rounding, char padding) and the
//! implicit coercions PostgreSQL applies when resolving operators.

use crate::error::{Error, Result};
use crate::types::{DataType, FormatOptions, Value};

/// How strict a cast is, as in PostgreSQL's pg_cast.castcontext.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CastKind {
    Implicit,
    Assignment,
    Explicit,
}

/// Converts `v` to `to`. NULL casts to NULL. Errors are PostgreSQL's
/// (22P02 invalid input, 22003 out of range, 22001 too long for
/// varchar(n) under assignment, 42846 no such cast).
pub fn cast(v: &Value, to: &DataType, kind: CastKind, opts: &FormatOptions) -> Result<Value> {
    let _ = (v, to, kind, opts);
    Err(Error::unsupported("cast not built yet"))
}

/// Whether PostgreSQL would cast `from` to `to` in `kind` context.
pub fn can_cast(from: &DataType, to: &DataType, kind: CastKind) -> bool {
    let _ = (from, to, kind);
    false
}

/// The common type of a UNION column, CASE branches, an IN list,
/// COALESCE arguments (PostgreSQL's select_common_type); `Unknown` inputs
/// resolve to text when all are unknown. 42804 when there is none.
pub fn common_type(types: &[DataType]) -> Result<DataType> {
    let _ = types;
    Err(Error::unsupported("common_type not built yet"))
}
