//! Window functions: rows are sorted by partition and order keys; each
//! call's value is computed per row over its partition and frame
//! (ranking, lag/lead, first/last/nth_value, aggregates over frames).

use std::cmp::Ordering;

use super::ops::compare_keys;
use super::{Ctx, Row};
use crate::error::{Error, ErrorCode, Result};
use crate::func::{self, aggregate, BinaryOp};
use crate::planner::plan::{FrameBound, SortKey, WindowCall};
use crate::types::Value;

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Int2(i) => Some(*i as i64),
        Value::Int4(i) => Some(*i as i64),
        Value::Int8(i) => Some(*i),
        _ => None,
    }
}

impl Ctx<'_> {
    pub async fn window(
        &mut self,
        mut rows: Vec<Row>,
        calls: &[WindowCall],
        outer: &[Row],
    ) -> Result<Vec<Row>> {
        let mut results: Vec<Vec<Value>> = Vec::with_capacity(calls.len());
        for call in calls {
            results.push(self.window_call(&rows, call, outer).await?);
        }
        for (i, r) in rows.iter_mut().enumerate() {
            for res in &results {
                r.push(res[i].clone());
            }
        }
        Ok(rows)
    }

    async fn window_call(
        &mut self,
        rows: &[Row],
        call: &WindowCall,
        outer: &[Row],
    ) -> Result<Vec<Value>> {
        let n = rows.len();
        let mut parts = Vec::with_capacity(n);
        let mut orders = Vec::with_capacity(n);
        let mut args = Vec::with_capacity(n);
        let mut included = Vec::with_capacity(n);
        for r in rows {
            self.check_cancel()?;
            let mut p = Vec::with_capacity(call.partition.len());
            for e in &call.partition {
                p.push(self.eval_full(e, r, outer).await?);
            }
            let mut o = Vec::with_capacity(call.order.len());
            for k in &call.order {
                o.push(self.eval_full(&k.expr, r, outer).await?);
            }
            let mut a = Vec::with_capacity(call.args.len());
            for e in &call.args {
                a.push(self.eval_full(e, r, outer).await?);
            }
            let counted = match &call.filter {
                Some(f) => matches!(self.eval_full(f, r, outer).await?, Value::Bool(true)),
                None => true,
            };
            included.push(counted);
            parts.push(p);
            orders.push(o);
            args.push(a);
        }
        let pkeys = SortKey::ascending(&call.partition);
        let mut idx: Vec<usize> = (0..n).collect();
        idx.sort_by(|&a, &b| {
            compare_keys(&parts[a], &parts[b], &pkeys)
                .then_with(|| compare_keys(&orders[a], &orders[b], &call.order))
        });
        let mut out = vec![Value::Null; n];
        let mut start = 0;
        while start < n {
            let mut end = start + 1;
            while end < n
                && compare_keys(&parts[idx[start]], &parts[idx[end]], &pkeys) == Ordering::Equal
            {
                end += 1;
            }
            let part: Vec<usize> = idx[start..end].to_vec();
            self.window_partition(&part, &orders, &args, &included, call, &mut out)?;
            start = end;
        }
        Ok(out)
    }

    fn window_partition(
        &mut self,
        part: &[usize],
        orders: &[Vec<Value>],
        args: &[Vec<Value>],
        included: &[bool],
        call: &WindowCall,
        out: &mut [Value],
    ) -> Result<()> {
        let m = part.len();
        let peer = |a: usize, b: usize| {
            compare_keys(&orders[part[a]], &orders[part[b]], &call.order) == Ordering::Equal
        };
        // First and last peer of each position.
        let mut first_peer = vec![0; m];
        let mut last_peer = vec![0; m];
        for j in 0..m {
            first_peer[j] = if j > 0 && peer(j - 1, j) {
                first_peer[j - 1]
            } else {
                j
            };
        }
        for j in (0..m).rev() {
            last_peer[j] = if j + 1 < m && peer(j, j + 1) {
                last_peer[j + 1]
            } else {
                j
            };
        }
        let arg = |j: usize, k: usize| args[part[j]].get(k).cloned().unwrap_or(Value::Null);
        let mut dense = 0i64;
        for j in 0..m {
            self.check_cancel()?;
            if first_peer[j] == j {
                dense += 1;
            }
            let v = match call.func.as_str() {
                "row_number" => Value::Int8(j as i64 + 1),
                "rank" => Value::Int8(first_peer[j] as i64 + 1),
                "dense_rank" => Value::Int8(dense),
                "percent_rank" => Value::Float8(if m <= 1 {
                    0.0
                } else {
                    first_peer[j] as f64 / (m - 1) as f64
                }),
                "cume_dist" => Value::Float8((last_peer[j] + 1) as f64 / m as f64),
                "ntile" => {
                    let buckets = as_i64(&arg(j, 0)).unwrap_or(1);
                    if buckets <= 0 {
                        return Err(Error::new(
                            ErrorCode::InvalidParameterValue,
                            "argument of ntile must be greater than zero",
                        ));
                    }
                    let b = buckets as usize;
                    let per = m / b;
                    let extra = m % b;
                    // The first `extra` buckets hold per + 1 rows.
                    let big = extra * (per + 1);
                    let bucket = if j < big {
                        j / (per + 1)
                    } else {
                        extra + (j - big) / per.max(1)
                    };
                    Value::Int4(bucket as i32 + 1)
                }
                "lag" | "lead" => {
                    let off = if call.args.len() > 1 {
                        as_i64(&arg(j, 1)).unwrap_or(1)
                    } else {
                        1
                    };
                    let target = if call.func == "lag" {
                        j as i64 - off
                    } else {
                        j as i64 + off
                    };
                    if target >= 0 && (target as usize) < m {
                        arg(target as usize, 0)
                    } else if call.args.len() > 2 {
                        arg(j, 2)
                    } else {
                        Value::Null
                    }
                }
                _ => {
                    let (lo, hi) = self.frame(j, m, &first_peer, &last_peer, orders, part, call)?;
                    match call.func.as_str() {
                        "first_value" => {
                            if lo <= hi {
                                arg(lo, 0)
                            } else {
                                Value::Null
                            }
                        }
                        "last_value" => {
                            if lo <= hi {
                                arg(hi, 0)
                            } else {
                                Value::Null
                            }
                        }
                        "nth_value" => {
                            let k = as_i64(&arg(j, 1)).unwrap_or(1);
                            if k <= 0 {
                                return Err(Error::new(
                                    ErrorCode::InvalidParameterValue,
                                    "argument of nth_value must be greater than zero",
                                ));
                            }
                            let pos = lo + k as usize - 1;
                            if lo <= hi && pos <= hi {
                                arg(pos, 0)
                            } else {
                                Value::Null
                            }
                        }
                        _ => {
                            let Some(f) = &call.agg else {
                                return Err(Error::new(
                                    ErrorCode::UndefinedFunction,
                                    format!("function {} does not exist", call.func),
                                ));
                            };
                            let mut acc = aggregate::accumulator(f);
                            if lo <= hi {
                                for &row in &part[lo..=hi] {
                                    if included[row] {
                                        acc.update(&args[row])?;
                                    }
                                }
                            }
                            acc.finish()?
                        }
                    }
                }
            };
            out[part[j]] = v;
        }
        Ok(())
    }

    /// The frame of position `j` as an inclusive range of positions
    /// (empty when lo > hi).
    #[allow(clippy::too_many_arguments)]
    fn frame(
        &self,
        j: usize,
        m: usize,
        first_peer: &[usize],
        last_peer: &[usize],
        orders: &[Vec<Value>],
        part: &[usize],
        call: &WindowCall,
    ) -> Result<(usize, usize)> {
        if call.order.is_empty() && !call.rows {
            // RANGE without ORDER BY: every row is a peer.
            let lo = match call.start {
                FrameBound::UnboundedPreceding
                | FrameBound::CurrentRow
                | FrameBound::Preceding(_) => 0,
                _ => m,
            };
            return Ok((lo, m.saturating_sub(1)));
        }
        let offset = |e: &crate::planner::plan::Expr| -> Result<Value> { self.eval(e, &[], &[]) };
        let bound = |b: &FrameBound, is_start: bool| -> Result<i64> {
            Ok(match b {
                FrameBound::UnboundedPreceding => 0,
                FrameBound::UnboundedFollowing => m as i64 - 1,
                FrameBound::CurrentRow => {
                    if call.rows {
                        j as i64
                    } else if is_start {
                        first_peer[j] as i64
                    } else {
                        last_peer[j] as i64
                    }
                }
                FrameBound::Preceding(e) | FrameBound::Following(e) => {
                    let back = matches!(b, FrameBound::Preceding(_));
                    let off = offset(e)?;
                    if call.rows {
                        let n = as_i64(&off).ok_or_else(|| {
                            Error::new(
                                ErrorCode::InvalidParameterValue,
                                "frame offset must be an integer",
                            )
                        })?;
                        if n < 0 {
                            return Err(Error::new(
                                ErrorCode::InvalidParameterValue,
                                "frame starting offset must not be negative",
                            ));
                        }
                        if back {
                            j as i64 - n
                        } else {
                            j as i64 + n
                        }
                    } else {
                        // RANGE offset over the single ORDER BY key.
                        let cur = orders[part[j]].first().cloned().unwrap_or(Value::Null);
                        let desc = call.order.first().map(|k| k.desc).unwrap_or(false);
                        let op = if back != desc {
                            BinaryOp::Sub
                        } else {
                            BinaryOp::Add
                        };
                        let limit = func::binary(op, &cur, &off, &self.fctx)?;
                        let key =
                            |k: usize| orders[part[k]].first().cloned().unwrap_or(Value::Null);
                        let within = |k: usize| {
                            let c = key(k).compare(&limit);
                            match (is_start, desc) {
                                (true, false) => c != Some(Ordering::Less),
                                (true, true) => c != Some(Ordering::Greater),
                                (false, false) => c != Some(Ordering::Greater),
                                (false, true) => c != Some(Ordering::Less),
                            }
                        };
                        if is_start {
                            (0..m)
                                .find(|&k| within(k))
                                .map(|k| k as i64)
                                .unwrap_or(m as i64)
                        } else {
                            (0..m)
                                .rev()
                                .find(|&k| within(k))
                                .map(|k| k as i64)
                                .unwrap_or(-1)
                        }
                    }
                }
            })
        };
        let lo = bound(&call.start, true)?.max(0);
        let hi = bound(&call.end, false)?.min(m as i64 - 1);
        if lo > hi {
            return Ok((1, 0));
        }
        Ok((lo as usize, hi as usize))
    }
}
