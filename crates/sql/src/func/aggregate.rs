//! Aggregates: count, sum, avg, min, max, string_agg, bool_and, bool_or,
//! array_agg (and the JSON aggregates of `json_agg`), with PostgreSQL's result types (sum(int4) is int8, sum(int8)
//! and avg(int) are numeric, avg(float8) is float8...).

use crate::types::Numeric;

use super::num::{self, NumType};
use super::{datetime, no_function, numeric_overflow, FunctionContext};
use crate::error::{Error, Result};
use crate::types::{DataType, Interval, Value};

/// An aggregate function, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateFn {
    pub name: String,
    pub arg_types: Vec<DataType>,
    pub return_type: DataType,
}

const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
    "array_agg",
    "stddev",
    "stddev_samp",
    "stddev_pop",
    "variance",
    "var_samp",
    "var_pop",
    "bit_and",
    "bit_or",
];

/// Whether `name` is an aggregate function.
pub fn is_aggregate(name: &str) -> bool {
    AGGREGATES.contains(&name) || super::json_agg::NAMES.contains(&name)
}

/// Whether min/max work on the type (it has an ordering).
fn ordered(t: &DataType) -> bool {
    match t {
        DataType::Json | DataType::Unknown | DataType::Bool => false,
        DataType::Array(e) => ordered(e),
        _ => true,
    }
}

/// Resolves aggregate `name` over `args` (`count(*)` has no args).
pub fn resolve(name: &str, args: &[DataType]) -> Result<AggregateFn> {
    let num = args.first().and_then(NumType::of);
    let ret = match (name, args) {
        ("count", []) | ("count", [_]) => Some(DataType::Int8),
        ("sum", [t]) => match num {
            Some(NumType::Int2 | NumType::Int4) => Some(DataType::Int8),
            Some(NumType::Int8 | NumType::Numeric) => Some(DataType::Numeric(None)),
            Some(n) => Some(n.data_type()),
            None => (*t == DataType::Interval).then_some(DataType::Interval),
        },
        ("avg", [t]) => match num {
            Some(n) if n <= NumType::Numeric => Some(DataType::Numeric(None)),
            Some(_) => Some(DataType::Float8),
            None => (*t == DataType::Interval).then_some(DataType::Interval),
        },
        ("stddev" | "stddev_samp" | "stddev_pop" | "variance" | "var_samp" | "var_pop", [_]) => {
            match num {
                Some(n) if n <= NumType::Numeric => Some(DataType::Numeric(None)),
                Some(_) => Some(DataType::Float8),
                None => None,
            }
        }
        ("min" | "max", [t]) if ordered(t) => Some(match t {
            DataType::Varchar(_) | DataType::Char(_) | DataType::Name => DataType::Text,
            DataType::Numeric(_) => DataType::Numeric(None),
            t => t.clone(),
        }),
        ("min" | "max", [DataType::Bool]) => None,
        ("string_agg", [a, b]) if super::is_string(a) && super::is_string(b) => {
            Some(DataType::Text)
        }
        ("string_agg", [DataType::Bytea, DataType::Bytea]) => Some(DataType::Bytea),
        ("bool_and" | "bool_or" | "every", [DataType::Bool]) => Some(DataType::Bool),
        ("array_agg", [t]) if !matches!(t, DataType::Unknown) => {
            Some(DataType::Array(Box::new(t.clone())))
        }
        ("bit_and" | "bit_or", [_]) => num.filter(|n| n.is_int()).map(NumType::data_type),
        (name, args) => super::json_agg::resolve(name, args),
    };
    match ret {
        Some(return_type) => Ok(AggregateFn {
            name: name.to_string(),
            arg_types: args.to_vec(),
            return_type,
        }),
        None => Err(no_function(name, args)),
    }
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
    accumulator_in(f, &FunctionContext::default())
}

/// A fresh accumulator for `f`, formatting values as the session does
/// (the JSON aggregates print timestamps in its time zone).
pub fn accumulator_in(f: &AggregateFn, ctx: &FunctionContext) -> Box<dyn Accumulator> {
    if super::json_agg::NAMES.contains(&f.name.as_str()) {
        return super::json_agg::accumulator(&f.name, ctx);
    }
    let float = matches!(f.return_type, DataType::Float4 | DataType::Float8);
    match f.name.as_str() {
        "count" => Box::new(Count {
            star: f.arg_types.is_empty(),
            n: 0,
        }),
        "sum" => Box::new(Sum {
            ret: f.return_type.clone(),
            state: SumState::Empty,
        }),
        "avg" => Box::new(Avg {
            sum: Sum {
                ret: f.return_type.clone(),
                state: SumState::Empty,
            },
            n: 0,
        }),
        "min" | "max" => Box::new(MinMax {
            max: f.name == "max",
            best: None,
        }),
        "string_agg" => Box::new(StringAgg {
            bytes: f.return_type == DataType::Bytea,
            out: None,
        }),
        "bool_and" | "every" => Box::new(BoolAgg {
            and: true,
            state: None,
        }),
        "bool_or" => Box::new(BoolAgg {
            and: false,
            state: None,
        }),
        "array_agg" => Box::new(ArrayAgg { items: None }),
        "bit_and" | "bit_or" => Box::new(BitAgg {
            and: f.name == "bit_and",
            ret: f.return_type.clone(),
            state: None,
        }),
        name => Box::new(Variance {
            float,
            sample: !name.ends_with("_pop"),
            sqrt: name.starts_with("stddev"),
            n: 0,
            sum: Numeric::zero(),
            sum_sq: Numeric::zero(),
            fsum: 0.0,
            fsum_sq: 0.0,
        }),
    }
}

fn first(args: &[Value]) -> &Value {
    args.first().unwrap_or(&Value::Null)
}

struct Count {
    star: bool,
    n: i64,
}

impl Accumulator for Count {
    fn update(&mut self, args: &[Value]) -> Result<()> {
        if self.star || !first(args).is_null() {
            self.n += 1;
        }
        Ok(())
    }

    fn finish(&self) -> Result<Value> {
        Ok(Value::Int8(self.n))
    }
}

/// A running sum in the widest form its inputs need.
enum SumState {
    Empty,
    /// Integers: an i128 cannot overflow from i64 inputs in practice.
    Int(i128),
    Numeric(Numeric),
    NaN,
    Float(f64),
    Interval(Interval),
}

struct Sum {
    ret: DataType,
    state: SumState,
}

impl Sum {
    fn add(&mut self, v: &Value) -> Result<()> {
        if v.is_null() {
            return Ok(());
        }
        self.state = match (std::mem::replace(&mut self.state, SumState::Empty), v) {
            (SumState::NaN, _) | (_, Value::NumericNaN) => SumState::NaN,
            (SumState::Empty, Value::Interval(iv)) => SumState::Interval(*iv),
            (SumState::Interval(a), Value::Interval(b)) => {
                SumState::Interval(datetime::interval_add(&a, b, false)?)
            }
            (SumState::Empty, v) if num::as_i64(v).is_some() => {
                SumState::Int(i128::from(num::as_i64(v).unwrap_or(0)))
            }
            (SumState::Int(a), v) if num::as_i64(v).is_some() => {
                SumState::Int(a + i128::from(num::as_i64(v).unwrap_or(0)))
            }
            (SumState::Empty, Value::Numeric(d)) => SumState::Numeric(d.clone()),
            (SumState::Int(a), Value::Numeric(d)) => {
                dec(a)?.add(d)?.map_or(SumState::NaN, SumState::Numeric)
            }
            (SumState::Numeric(a), v) if num::as_decimal(v).is_some() && !is_float(v) => {
                let d = num::as_decimal(v).unwrap_or_else(Numeric::zero);
                a.add(&d)?.map_or(SumState::NaN, SumState::Numeric)
            }
            (SumState::Empty, v) => SumState::Float(num::as_f64(v).unwrap_or(0.0)),
            (SumState::Float(a), v) => SumState::Float(a + num::as_f64(v).unwrap_or(0.0)),
            (_, v) => {
                return Err(Error::internal(format!("sum over mixed values: {v:?}")));
            }
        };
        Ok(())
    }

    fn value(&self) -> Result<Value> {
        Ok(match (&self.state, &self.ret) {
            (SumState::Empty, _) => Value::Null,
            (SumState::NaN, _) => Value::NumericNaN,
            (SumState::Int(i), DataType::Int8) => Value::Int8(
                i64::try_from(*i).map_err(|_| super::int_out_of_range(&DataType::Int8))?,
            ),
            (SumState::Int(i), _) => Value::Numeric(dec(*i)?),
            (SumState::Numeric(d), _) => Value::Numeric(d.clone()),
            (SumState::Float(f), DataType::Float4) => Value::Float4(*f as f32),
            (SumState::Float(f), _) => Value::Float8(*f),
            (SumState::Interval(iv), _) => Value::Interval(*iv),
        })
    }
}

fn is_float(v: &Value) -> bool {
    matches!(v, Value::Float4(_) | Value::Float8(_))
}

fn dec(i: i128) -> Result<Numeric> {
    Ok(Numeric::from(i))
}

impl Accumulator for Sum {
    fn update(&mut self, args: &[Value]) -> Result<()> {
        self.add(first(args))
    }

    fn finish(&self) -> Result<Value> {
        if let SumState::Float(f) = self.state {
            // float4 sums accumulate in float4, as PostgreSQL's float4pl.
            if self.ret == DataType::Float4 && (f as f32).is_infinite() && f.is_finite() {
                return Err(super::float_overflow());
            }
        }
        self.value()
    }
}

struct Avg {
    sum: Sum,
    n: i64,
}

impl Accumulator for Avg {
    fn update(&mut self, args: &[Value]) -> Result<()> {
        let v = first(args);
        if !v.is_null() {
            self.n += 1;
            self.sum.add(v)?;
        }
        Ok(())
    }

    fn finish(&self) -> Result<Value> {
        if self.n == 0 {
            return Ok(Value::Null);
        }
        Ok(match &self.sum.state {
            SumState::Empty => Value::Null,
            SumState::NaN => Value::NumericNaN,
            SumState::Int(i) => num::nan_or(num::numeric_div(&dec(*i)?, &Numeric::from(self.n))?),
            SumState::Numeric(d) => num::nan_or(num::numeric_div(d, &Numeric::from(self.n))?),
            SumState::Float(f) => Value::Float8(f / self.n as f64),
            SumState::Interval(iv) => Value::Interval(datetime::interval_div(iv, self.n as f64)?),
        })
    }
}

struct MinMax {
    max: bool,
    best: Option<Value>,
}

impl Accumulator for MinMax {
    fn update(&mut self, args: &[Value]) -> Result<()> {
        let v = first(args);
        if v.is_null() {
            return Ok(());
        }
        let replace = match &self.best {
            None => true,
            Some(b) => {
                let o = v.total_cmp(b);
                if self.max {
                    o.is_gt()
                } else {
                    o.is_lt()
                }
            }
        };
        if replace {
            self.best = Some(v.clone());
        }
        Ok(())
    }

    fn finish(&self) -> Result<Value> {
        Ok(self.best.clone().unwrap_or(Value::Null))
    }
}

struct StringAgg {
    bytes: bool,
    out: Option<Vec<u8>>,
}

fn raw(v: &Value) -> &[u8] {
    match v {
        Value::Text(s) => s.as_bytes(),
        Value::Bytea(b) => b,
        _ => &[],
    }
}

impl Accumulator for StringAgg {
    fn update(&mut self, args: &[Value]) -> Result<()> {
        let v = first(args);
        if v.is_null() {
            return Ok(());
        }
        match &mut self.out {
            None => self.out = Some(raw(v).to_vec()),
            Some(out) => {
                // The delimiter comes before every value but the first;
                // a NULL delimiter is empty.
                out.extend_from_slice(raw(args.get(1).unwrap_or(&Value::Null)));
                out.extend_from_slice(raw(v));
            }
        }
        Ok(())
    }

    fn finish(&self) -> Result<Value> {
        Ok(match &self.out {
            None => Value::Null,
            Some(b) if self.bytes => Value::Bytea(b.clone()),
            Some(b) => Value::Text(String::from_utf8_lossy(b).into_owned()),
        })
    }
}

struct BoolAgg {
    and: bool,
    state: Option<bool>,
}

impl Accumulator for BoolAgg {
    fn update(&mut self, args: &[Value]) -> Result<()> {
        if let Value::Bool(b) = first(args) {
            self.state = Some(match self.state {
                None => *b,
                Some(s) if self.and => s && *b,
                Some(s) => s || *b,
            });
        }
        Ok(())
    }

    fn finish(&self) -> Result<Value> {
        Ok(self.state.map_or(Value::Null, Value::Bool))
    }
}

struct ArrayAgg {
    items: Option<Vec<Value>>,
}

impl Accumulator for ArrayAgg {
    fn update(&mut self, args: &[Value]) -> Result<()> {
        self.items
            .get_or_insert_with(Vec::new)
            .push(first(args).clone());
        Ok(())
    }

    fn finish(&self) -> Result<Value> {
        Ok(self.items.clone().map_or(Value::Null, Value::Array))
    }
}

struct BitAgg {
    and: bool,
    ret: DataType,
    state: Option<i64>,
}

impl Accumulator for BitAgg {
    fn update(&mut self, args: &[Value]) -> Result<()> {
        if let Some(i) = num::as_i64(first(args)) {
            self.state = Some(match self.state {
                None => i,
                Some(s) if self.and => s & i,
                Some(s) => s | i,
            });
        }
        Ok(())
    }

    fn finish(&self) -> Result<Value> {
        match self.state {
            None => Ok(Value::Null),
            Some(i) => num::int_value(i, NumType::of(&self.ret).unwrap_or(NumType::Int8)),
        }
    }
}

/// variance and stddev, sample or population: exact sums in numeric for
/// integer and numeric inputs (as PostgreSQL's numeric_stddev_internal),
/// floating sums for float inputs.
struct Variance {
    float: bool,
    sample: bool,
    sqrt: bool,
    n: i64,
    sum: Numeric,
    sum_sq: Numeric,
    fsum: f64,
    fsum_sq: f64,
}

impl Accumulator for Variance {
    fn update(&mut self, args: &[Value]) -> Result<()> {
        let v = first(args);
        if v.is_null() {
            return Ok(());
        }
        self.n += 1;
        if self.float {
            let x = num::as_f64(v).unwrap_or(0.0);
            self.fsum += x;
            self.fsum_sq += x * x;
        } else {
            // A non-finite input makes the result NaN; any infinity marks it.
            let x = num::as_decimal(v).unwrap_or(Numeric::PosInf);
            let sq = x.mul(&x)?.unwrap_or(Numeric::PosInf);
            self.sum = self.sum.add(&x)?.unwrap_or(Numeric::PosInf);
            self.sum_sq = self.sum_sq.add(&sq)?.unwrap_or(Numeric::PosInf);
        }
        Ok(())
    }

    fn finish(&self) -> Result<Value> {
        if self.n == 0 || (self.sample && self.n == 1) {
            return Ok(Value::Null);
        }
        let n = self.n;
        let denom = if self.sample { n * (n - 1) } else { n * n };
        if self.float {
            let nf = n as f64;
            let numer = (nf * self.fsum_sq - self.fsum * self.fsum).max(0.0);
            let var = numer / denom as f64;
            return Ok(Value::Float8(if self.sqrt { var.sqrt() } else { var }));
        }
        if !self.sum.is_finite() || !self.sum_sq.is_finite() {
            return Ok(Value::NumericNaN);
        }
        let nd = Numeric::from(n);
        let a = nd.mul(&self.sum_sq)?.ok_or_else(numeric_overflow)?;
        let b = self.sum.mul(&self.sum)?.ok_or_else(numeric_overflow)?;
        let numer = a.sub(&b)?.ok_or_else(numeric_overflow)?;
        if numer <= Numeric::zero() {
            return Ok(Value::Numeric(Numeric::zero()));
        }
        let denom = Numeric::from(denom);
        let scale = num::div_scale(&numer, &denom);
        let var = num::numeric_div(&numer, &denom)?.ok_or_else(numeric_overflow)?;
        if !self.sqrt {
            return Ok(Value::Numeric(var));
        }
        // PostgreSQL takes the root of the rounded variance.
        Ok(Value::Numeric(var.sqrt(scale)?))
    }
}
