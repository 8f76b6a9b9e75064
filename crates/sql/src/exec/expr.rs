//! Evaluating bound expressions over a row. Expressions are evaluated
//! synchronously; what needs the transaction or the coordinator
//! (subqueries, nextval, setval, set_config) sits in slots that
//! [`Ctx::prepare_slots`] computes first, for the row at hand.

use std::cmp::Ordering;
use std::sync::Arc;

use super::{Ctx, Row, SlotVal};
use crate::error::{Error, ErrorCode, Result};
use crate::func::{self, BinaryOp};
use crate::planner::plan::{Expr, SessionFn, SlotKind};
use crate::types::cast::{cast, CastKind};
use crate::types::{DataType, Value};

/// Whether evaluating `e` needs slots computed first.
pub fn needs_slots(e: &Expr) -> bool {
    let mut s = false;
    e.walk(&mut |x| {
        if matches!(x, Expr::Slot(_) | Expr::Exists(_) | Expr::InSubquery(..)) {
            s = true;
        }
    });
    s
}

fn slots_of(e: &Expr, kinds: &[SlotKind], out: &mut Vec<usize>) {
    e.walk(&mut |x| match x {
        Expr::Slot(s) | Expr::Exists(s) | Expr::InSubquery(_, s) => out.push(*s),
        _ => {}
    });
    let mut i = 0;
    while i < out.len() {
        let s = out[i];
        match kinds.get(s) {
            Some(SlotKind::NextVal(a)) => a.walk(&mut |x| {
                if let Expr::Slot(k) = x {
                    out.push(*k)
                }
            }),
            Some(SlotKind::SetVal(v)) | Some(SlotKind::SetConfig(v)) => {
                for a in v {
                    a.walk(&mut |x| {
                        if let Expr::Slot(k) = x {
                            out.push(*k)
                        }
                    })
                }
            }
            _ => {}
        }
        i += 1;
    }
    out.sort_unstable();
    out.dedup();
}

impl Ctx<'_> {
    /// Evaluates `e`, computing its slots first when it has any.
    pub async fn eval_full(&mut self, e: &Expr, row: &[Value], outer: &[Row]) -> Result<Value> {
        if needs_slots(e) {
            self.prepare_slots(e, row, outer).await?;
        }
        self.eval(e, row, outer)
    }

    /// Computes the slots `e` uses for this row.
    pub async fn prepare_slots(&mut self, e: &Expr, row: &[Value], outer: &[Row]) -> Result<()> {
        let mut ids = Vec::new();
        slots_of(e, self.slots, &mut ids);
        for s in ids {
            let Some(kind) = self.slots.get(s) else {
                continue;
            };
            let val = match kind {
                SlotKind::Subquery {
                    plan,
                    correlated,
                    scalar,
                    array,
                } => {
                    if !*correlated && self.slot_vals[s].is_some() {
                        continue;
                    }
                    let mut stack = outer.to_vec();
                    stack.push(row.to_vec());
                    let rows = self.run(plan, &stack).await?;
                    if *array {
                        SlotVal::Value(Value::Array(
                            rows.into_iter()
                                .map(|r| r.into_iter().next().unwrap_or(Value::Null))
                                .collect(),
                        ))
                    } else if *scalar {
                        if rows.len() > 1 {
                            return Err(Error::new(
                                ErrorCode::CardinalityViolation,
                                "more than one row returned by a subquery used as an expression",
                            ));
                        }
                        SlotVal::Value(
                            rows.into_iter()
                                .next()
                                .and_then(|r| r.into_iter().next())
                                .unwrap_or(Value::Null),
                        )
                    } else {
                        SlotVal::Rows(Arc::new(rows))
                    }
                }
                SlotKind::Sleep(arg) => {
                    let secs = match self.eval(arg, row, outer)? {
                        Value::Float8(f) => f,
                        Value::Float4(f) => f as f64,
                        Value::Int2(i) => i as f64,
                        Value::Int4(i) => i as f64,
                        Value::Int8(i) => i as f64,
                        Value::Numeric(d) => d.to_f64(),
                        _ => 0.0,
                    };
                    let until = std::time::Instant::now()
                        + std::time::Duration::from_secs_f64(secs.clamp(0.0, 1e9));
                    loop {
                        self.check_now()?;
                        let left = until.saturating_duration_since(std::time::Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        tokio::time::sleep(left.min(std::time::Duration::from_millis(10))).await;
                    }
                    SlotVal::Value(Value::Text(String::new()))
                }
                SlotKind::NextVal(arg) => {
                    let a = self.eval(arg, row, outer)?;
                    SlotVal::Value(Value::Int8(self.nextval(&a).await?))
                }
                SlotKind::SetVal(args) => {
                    let mut v = Vec::new();
                    for a in args {
                        v.push(self.eval(a, row, outer)?);
                    }
                    SlotVal::Value(self.setval(&v).await?)
                }
                SlotKind::SetConfig(args) => {
                    let mut v = Vec::new();
                    for a in args {
                        v.push(self.eval(a, row, outer)?);
                    }
                    let name = v.first().map(text).unwrap_or_default();
                    let value = v.get(1).map(text).unwrap_or_default();
                    let local = matches!(v.get(2), Some(Value::Bool(true)));
                    crate::session::dispatch::set_scoped(self.state, &name, &value, local)?;
                    SlotVal::Value(Value::Text(self.state.settings.get(&name)?))
                }
            };
            self.slot_vals[s] = Some(val);
        }
        Ok(())
    }

    fn slot(&self, s: usize) -> Result<&SlotVal> {
        self.slot_vals
            .get(s)
            .and_then(|v| v.as_ref())
            .ok_or_else(|| Error::internal("slot used before it was computed"))
    }

    /// Evaluates `e` over `row` (slots must be prepared).
    pub fn eval(&self, e: &Expr, row: &[Value], outer: &[Row]) -> Result<Value> {
        Ok(match e {
            Expr::Const(v) => v.clone(),
            Expr::Column(i) => row
                .get(*i)
                .cloned()
                .ok_or_else(|| Error::internal(format!("column {i} out of range")))?,
            Expr::Outer { depth, index } => outer
                .len()
                .checked_sub(*depth)
                .and_then(|d| outer.get(d))
                .and_then(|r| r.get(*index))
                .cloned()
                .ok_or_else(|| Error::internal("outer reference out of range"))?,
            Expr::Param(i) => self.params.get(*i).cloned().ok_or_else(|| {
                Error::new(
                    ErrorCode::UndefinedParameter,
                    format!("there is no parameter ${}", i + 1),
                )
            })?,
            Expr::Binary(op, a, b) => {
                let a = self.eval(a, row, outer)?;
                let b = self.eval(b, row, outer)?;
                func::binary(*op, &a, &b, &self.fctx)?
            }
            Expr::Unary(op, a) => func::unary(*op, &self.eval(a, row, outer)?)?,
            Expr::And(a, b) => {
                let a = self.eval(a, row, outer)?;
                if matches!(a, Value::Bool(false)) {
                    return Ok(Value::Bool(false));
                }
                let b = self.eval(b, row, outer)?;
                match (a, b) {
                    (_, Value::Bool(false)) => Value::Bool(false),
                    (Value::Bool(true), Value::Bool(true)) => Value::Bool(true),
                    _ => Value::Null,
                }
            }
            Expr::Or(a, b) => {
                let a = self.eval(a, row, outer)?;
                if matches!(a, Value::Bool(true)) {
                    return Ok(Value::Bool(true));
                }
                let b = self.eval(b, row, outer)?;
                match (a, b) {
                    (_, Value::Bool(true)) => Value::Bool(true),
                    (Value::Bool(false), Value::Bool(false)) => Value::Bool(false),
                    _ => Value::Null,
                }
            }
            Expr::Not(a) => match self.eval(a, row, outer)? {
                Value::Bool(b) => Value::Bool(!b),
                _ => Value::Null,
            },
            Expr::IsNull(a) => Value::Bool(self.eval(a, row, outer)?.is_null()),
            Expr::IsBool(a, want) => {
                Value::Bool(matches!(self.eval(a, row, outer)?, Value::Bool(b) if b == *want))
            }
            Expr::IsDistinct(a, b) => {
                let a = self.eval(a, row, outer)?;
                let b = self.eval(b, row, outer)?;
                Value::Bool(match (a.is_null(), b.is_null()) {
                    (true, true) => false,
                    (true, false) | (false, true) => true,
                    _ => a.compare(&b) != Some(Ordering::Equal),
                })
            }
            Expr::Cast(a, t) => {
                let v = self.eval(a, row, outer)?;
                if v.is_null() || v.data_type().as_ref() == Some(t) {
                    return Ok(v);
                }
                cast(&v, t, CastKind::Explicit, &self.fctx.format)?
            }
            Expr::Case {
                operand: _,
                whens,
                else_,
            } => {
                for (w, t) in whens {
                    if self.eval(w, row, outer)?.is_true() {
                        return self.eval(t, row, outer);
                    }
                }
                match else_ {
                    Some(e) => self.eval(e, row, outer)?,
                    None => Value::Null,
                }
            }
            Expr::Coalesce(v) => {
                for x in v {
                    let r = self.eval(x, row, outer)?;
                    if !r.is_null() {
                        return Ok(r);
                    }
                }
                Value::Null
            }
            Expr::NullIf(a, b) => {
                let a = self.eval(a, row, outer)?;
                let b = self.eval(b, row, outer)?;
                if a.compare(&b) == Some(Ordering::Equal) {
                    Value::Null
                } else {
                    a
                }
            }
            Expr::MinMax(v, greatest) => {
                let mut best: Option<Value> = None;
                for x in v {
                    let r = self.eval(x, row, outer)?;
                    if r.is_null() {
                        continue;
                    }
                    best = Some(match best {
                        None => r,
                        Some(b) => {
                            let c = r.compare(&b).unwrap_or(Ordering::Equal);
                            if (c == Ordering::Greater) == *greatest && c != Ordering::Equal {
                                r
                            } else {
                                b
                            }
                        }
                    });
                }
                best.unwrap_or(Value::Null)
            }
            Expr::InList(a, list) => {
                let a = self.eval(a, row, outer)?;
                if a.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                for x in list {
                    let b = self.eval(x, row, outer)?;
                    match func::binary(BinaryOp::Eq, &a, &b, &self.fctx)? {
                        Value::Bool(true) => return Ok(Value::Bool(true)),
                        Value::Null => saw_null = true,
                        _ => {}
                    }
                }
                if saw_null {
                    Value::Null
                } else {
                    Value::Bool(false)
                }
            }
            Expr::Func(name, args) => {
                let mut v = Vec::with_capacity(args.len());
                for a in args {
                    v.push(self.eval(a, row, outer)?);
                }
                if name == "array" || name == "row" {
                    return Ok(Value::Array(v));
                }
                if let Some(q) = quantified(name) {
                    return self.quantified(q, &v);
                }
                if func::reads_catalog(name) {
                    let path = self.state.settings.search_path();
                    let cat = func::CatalogContext {
                        catalog: self.catalog,
                        search_path: &path,
                    };
                    return func::call_with_catalog(name, &v, &self.fctx, &cat);
                }
                func::call(name, &v, &self.fctx)?
            }
            Expr::Session(f, args) => {
                let mut v = Vec::with_capacity(args.len());
                for a in args {
                    v.push(self.eval(a, row, outer)?);
                }
                self.session_fn(*f, &v)?
            }
            Expr::Slot(s) => match self.slot(*s)? {
                SlotVal::Value(v) => v.clone(),
                SlotVal::Rows(r) => r
                    .first()
                    .and_then(|r| r.first())
                    .cloned()
                    .unwrap_or(Value::Null),
            },
            Expr::Exists(s) => match self.slot(*s)? {
                SlotVal::Rows(r) => Value::Bool(!r.is_empty()),
                SlotVal::Value(v) => Value::Bool(!v.is_null()),
            },
            Expr::InSubquery(a, s) => {
                let is_row = matches!(a.as_ref(), Expr::Func(n, _) if n == "row");
                let a = self.eval(a, row, outer)?;
                let SlotVal::Rows(rows) = self.slot(*s)? else {
                    return Err(Error::internal("IN subquery slot"));
                };
                if rows.is_empty() {
                    return Ok(Value::Bool(false));
                }
                if a.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                for r in rows.iter() {
                    let eq = match (&a, is_row) {
                        (Value::Array(items), true) => self.row_equal(items, r)?,
                        _ => {
                            let b = r.first().cloned().unwrap_or(Value::Null);
                            func::binary(BinaryOp::Eq, &a, &b, &self.fctx)?
                        }
                    };
                    match eq {
                        Value::Bool(true) => return Ok(Value::Bool(true)),
                        Value::Null => saw_null = true,
                        _ => {}
                    }
                }
                if saw_null {
                    Value::Null
                } else {
                    Value::Bool(false)
                }
            }
            Expr::Agg(_) => return Err(Error::internal("aggregate outside of an aggregation")),
            Expr::Window(_) => return Err(Error::internal("window function outside of a window")),
        })
    }

    /// Row equality: false if any pair differs, else NULL if any pair is
    /// NULL, else true.
    fn row_equal(&self, a: &[Value], b: &[Value]) -> Result<Value> {
        let mut null = false;
        for (x, y) in a.iter().zip(b) {
            match func::binary(BinaryOp::Eq, x, y, &self.fctx)? {
                Value::Bool(false) => return Ok(Value::Bool(false)),
                Value::Null => null = true,
                _ => {}
            }
        }
        Ok(if null { Value::Null } else { Value::Bool(true) })
    }

    fn session_fn(&self, f: SessionFn, args: &[Value]) -> Result<Value> {
        let st = &self.state;
        Ok(match f {
            SessionFn::CurrVal => {
                let name = args.first().map(text).unwrap_or_default();
                let seq = self.sequence_arg(args.first().unwrap_or(&Value::Null))?;
                match st.currval.get(&seq.oid) {
                    Some(v) => Value::Int8(*v),
                    None => {
                        let _ = name;
                        return Err(Error::new(
                            ErrorCode::ObjectNotInPrerequisiteState,
                            format!(
                                "currval of sequence \"{}\" is not yet defined in this session",
                                seq.name
                            ),
                        ));
                    }
                }
            }
            SessionFn::LastVal => match st.lastval {
                Some(v) => Value::Int8(v),
                None => {
                    return Err(Error::new(
                        ErrorCode::ObjectNotInPrerequisiteState,
                        "lastval is not yet defined in this session",
                    ))
                }
            },
            SessionFn::CurrentSetting => {
                let name = args.first().map(text).unwrap_or_default();
                let missing_ok = matches!(args.get(1), Some(Value::Bool(true)));
                match st.settings.get(&name) {
                    Ok(v) => Value::Text(v),
                    Err(_) if missing_ok => Value::Null,
                    Err(e) => return Err(e),
                }
            }
            SessionFn::Version => Value::Text(crate::session::state::VERSION.into()),
            SessionFn::CurrentDatabase => Value::Text(st.database.clone()),
            SessionFn::CurrentUser => Value::Text(st.user.clone()),
            SessionFn::CurrentSchema => {
                let path = st.settings.search_path();
                match path.iter().find(|s| self.catalog.schema(s).is_some()) {
                    Some(s) => Value::Text(s.clone()),
                    None => Value::Null,
                }
            }
            SessionFn::CurrentSchemas => {
                let implicit = matches!(args.first(), Some(Value::Bool(true)));
                let mut v = Vec::new();
                if implicit {
                    v.push(Value::Text("pg_catalog".into()));
                }
                for s in st.settings.search_path() {
                    if self.catalog.schema(&s).is_some() {
                        v.push(Value::Text(s));
                    }
                }
                Value::Array(v)
            }
            SessionFn::BackendPid => Value::Int4(st.pid),
            SessionFn::Now => Value::Timestamptz(self.fctx.transaction_start),
            SessionFn::StatementTimestamp => Value::Timestamptz(self.fctx.statement_start),
            SessionFn::ClockTimestamp => Value::Timestamptz(crate::session::state::now_micros()),
            SessionFn::CurrentDate => cast(
                &Value::Timestamptz(self.fctx.transaction_start),
                &DataType::Date,
                CastKind::Explicit,
                &self.fctx.format,
            )?,
        })
    }

    /// The sequence a nextval/currval/setval argument names.
    pub fn sequence_arg(&self, v: &Value) -> Result<Arc<crate::catalog::SequenceDef>> {
        match v {
            Value::Oid(oid) => self.catalog.sequences.get(oid).cloned().ok_or_else(|| {
                Error::new(
                    ErrorCode::UndefinedTable,
                    format!("relation with OID {oid} does not exist"),
                )
            }),
            Value::Int4(i) => self.sequence_arg(&Value::Oid(*i as u32)),
            Value::Int8(i) => self.sequence_arg(&Value::Oid(*i as u32)),
            other => self
                .catalog
                .sequence(&text(other), &self.state.settings.search_path()),
        }
    }

    /// nextval(): the next value from the coordinator's counter for the sequence.
    pub async fn nextval(&mut self, arg: &Value) -> Result<i64> {
        let seq = self.sequence_arg(arg)?;
        let n = self
            .db
            .next_sequence_value(seq.oid as u64, seq.cache.max(1) as u64)
            .await?;
        let steps = n as i64 - seq.counter_base as i64;
        let mut v = seq
            .base
            .checked_add(steps.checked_mul(seq.increment).unwrap_or(i64::MAX))
            .unwrap_or(i64::MAX);
        let past_end =
            |v: i64| (seq.increment > 0 && v > seq.max) || (seq.increment < 0 && v < seq.min);
        if seq.cycle && steps >= 0 && past_end(v) {
            // Values before the first wrap, then whole cycles from the
            // first value (MINVALUE ascending, MAXVALUE descending).
            let inc = seq.increment as i128;
            let first_pass = if inc > 0 {
                (seq.max as i128 - seq.base as i128) / inc + 1
            } else {
                (seq.min as i128 - seq.base as i128) / inc + 1
            };
            let per_cycle = (seq.max as i128 - seq.min as i128) / inc.abs() + 1;
            let k = (steps as i128 - first_pass.max(0)).rem_euclid(per_cycle);
            let from = if inc > 0 { seq.min } else { seq.max } as i128;
            v = (from + k * inc) as i64;
        }
        if past_end(v) || steps < 0 {
            return Err(Error::new(
                ErrorCode::SequenceGeneratorLimitExceeded,
                format!(
                    "nextval: reached {} value of sequence \"{}\" ({})",
                    if seq.increment > 0 {
                        "maximum"
                    } else {
                        "minimum"
                    },
                    seq.name,
                    if seq.increment > 0 { seq.max } else { seq.min }
                ),
            ));
        }
        self.state.currval.insert(seq.oid, v);
        self.state.lastval = Some(v);
        Ok(v)
    }

    /// setval(seq, v [, is_called]): the next nextval returns v + increment
    /// (or v when is_called is false).
    pub async fn setval(&mut self, args: &[Value]) -> Result<Value> {
        let seq = self.sequence_arg(args.first().unwrap_or(&Value::Null))?;
        let v = match args.get(1) {
            Some(Value::Int8(v)) => *v,
            Some(Value::Int4(v)) => *v as i64,
            Some(other) => text(other).parse::<i64>().map_err(|_| {
                Error::new(ErrorCode::InvalidTextRepresentation, "setval: bad value")
            })?,
            None => {
                return Err(super::super::binder::expr::undefined_function(
                    "setval",
                    &[],
                ))
            }
        };
        let called = !matches!(args.get(2), Some(Value::Bool(false)));
        if v < seq.min || v > seq.max {
            return Err(Error::new(
                ErrorCode::NumericValueOutOfRange,
                format!(
                    "setval: value {v} is out of bounds for sequence \"{}\" ({}..{})",
                    seq.name, seq.min, seq.max
                ),
            ));
        }
        let n = self.db.next_sequence_value(seq.oid as u64, 1).await?;
        let mut s = (*seq).clone();
        s.base = if called { v + s.increment } else { v };
        s.counter_base = n + 1;
        crate::catalog::store::put(self.txn, crate::keys::Kind::Sequence, s.oid, &s)?;
        self.state.catalog_dirty = true;
        if called {
            self.state.currval.insert(s.oid, v);
        }
        Ok(Value::Int8(v))
    }
}

/// `any_eq`, `all_lt`...: (is ANY, the operator).
fn quantified(name: &str) -> Option<(bool, BinaryOp)> {
    let (q, op) = name.split_once('_')?;
    let any = match q {
        "any" => true,
        "all" => false,
        _ => return None,
    };
    let op = match op {
        "eq" => BinaryOp::Eq,
        "ne" => BinaryOp::NotEq,
        "lt" => BinaryOp::Lt,
        "le" => BinaryOp::LtEq,
        "gt" => BinaryOp::Gt,
        "ge" => BinaryOp::GtEq,
        _ => return None,
    };
    Some((any, op))
}

impl Ctx<'_> {
    /// x op ANY/ALL (array), with SQL's NULL rules.
    fn quantified(&self, (any, op): (bool, BinaryOp), v: &[Value]) -> Result<Value> {
        let x = v.first().cloned().unwrap_or(Value::Null);
        let items = match v.get(1) {
            Some(Value::Array(items)) => items.clone(),
            Some(Value::Null) | None => return Ok(Value::Null),
            Some(other) => vec![other.clone()],
        };
        let mut saw_null = false;
        for it in &items {
            match func::binary(op, &x, it, &self.fctx)? {
                Value::Bool(b) if b == any => return Ok(Value::Bool(any)),
                Value::Null => saw_null = true,
                _ => {}
            }
        }
        Ok(if saw_null {
            Value::Null
        } else {
            Value::Bool(!any)
        })
    }
}

/// A value as text for function arguments that want names.
pub fn text(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        Value::Null => String::new(),
        other => other
            .to_text(&crate::types::FormatOptions::default())
            .unwrap_or_default(),
    }
}
