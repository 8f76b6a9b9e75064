//! The SQL layer (DESIGN.md section 3): parser, binder, planner, executor,
//! catalog, types and the `pg_catalog` subset.
//!
//! Modules:
//! - [`types`]: data types, values, their wire formats, casts, key and row encodings.
//! - [`error`]: errors with PostgreSQL error codes.
//! - [`func`]: operators, scalar functions and aggregates.
//! - [`session`]: what the wire layer drives: one per client connection.

pub mod error;
pub mod func;
pub mod session;
pub mod types;

pub use error::{Error, ErrorCode, Result};
pub use types::{DataType, Interval, Value};
