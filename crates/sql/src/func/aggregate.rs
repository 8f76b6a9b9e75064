//! Aggregates: count, sum, avg, min, max, string_agg, bool_and, bool_or,
//! array_agg, with PostgreSQL's result types (sum(int4) is int8, sum(int8)
//! and avg(int) are numeric, avg(float8) is float8...).

use crate::error::{Error, Result};
use crate::types::{DataType, Value};

/// An aggregate function, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateFn {
    pub name: String,
    pub arg_types: Vec<DataType>,
    pub return_type: DataType,
}

/// Whether `name` is an aggregate function.
pub fn is_aggregate(name: &str) -> bool {
    let _ = name;
    false
}

/// Resolves aggregate `name` over `args` (`count(*)` has no args).
pub fn resolve(name: &str, args: &[DataType]) -> Result<AggregateFn> {
    let _ = (name, args);
    Err(Error::unsupported("aggregates not built yet"))
}

/// The running state of one aggregate over one group.
pub trait Accumulator: Send {
    /// Adds one row's arguments (`DISTINCT` is handled by the caller).
    fn update(&mut self, args: &[Value]) -> Result<()>;
    /// The result over the rows so far (count of none is 0, sum of none NULL).
    fn finish(&self) -> Result<Value>;
}

/// A fresh accumulator for `f`.
pub fn accumulator(f: &AggregateFn) -> Box<dyn Accumulator> {
    let _ = f;
    unimplemented!("accumulators not built yet")
}
