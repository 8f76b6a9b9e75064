//! Relational operators over materialised rows: hash and nested-loop
//! joins, hash aggregation, sorting, LIMIT/OFFSET, DISTINCT [ON], set
//! operations and CTEs (WITH RECURSIVE by iteration).

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{Ctx, Row};
use crate::error::{Error, ErrorCode, Result};
use crate::func::aggregate;
use crate::planner::plan::{AggCall, Expr, JoinKind, Plan, SetOpKind, SortKey};
use crate::types::keycode::encode_key;
use crate::types::Value;

/// A hashable form of values: equal SQL values give equal bytes
/// (integers of every width are widened first, and numerics and floats
/// with an integral value hash as that integer, so `int = numeric` hash
/// joins match `2` with `2.0`).
pub fn hash_key(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    let integral = |f: f64| (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64);
    for v in values {
        match v {
            Value::Int2(i) => encode_key(&Value::Int8(*i as i64), &mut out),
            Value::Int4(i) => encode_key(&Value::Int8(*i as i64), &mut out),
            Value::Oid(i) => encode_key(&Value::Int8(*i as i64), &mut out),
            Value::Numeric(d) => {
                let n = d.normalized();
                match (n.is_integer(), n.to_i64()) {
                    (true, Some(i)) => encode_key(&Value::Int8(i), &mut out),
                    _ => encode_key(&Value::Numeric(n), &mut out),
                }
            }
            Value::Float8(f) => match integral(*f) {
                Some(i) => encode_key(&Value::Int8(i), &mut out),
                None => encode_key(v, &mut out),
            },
            Value::Float4(f) => match integral(*f as f64) {
                Some(i) => encode_key(&Value::Int8(i), &mut out),
                None => encode_key(&Value::Float8(*f as f64), &mut out),
            },
            other => encode_key(other, &mut out),
        }
    }
    out
}

impl Ctx<'_> {
    #[allow(clippy::too_many_arguments)]
    pub async fn join(
        &mut self,
        kind: JoinKind,
        left: Vec<Row>,
        right: Vec<Row>,
        equi: &[(Expr, Expr)],
        on: Option<&Expr>,
        lw: usize,
        rw: usize,
        outer: &[Row],
    ) -> Result<Vec<Row>> {
        let mut out = Vec::new();
        let mut right_matched = vec![false; right.len()];
        let table: Option<HashMap<Vec<u8>, Vec<usize>>> = if equi.is_empty() {
            None
        } else {
            let mut t: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
            for (i, r) in right.iter().enumerate() {
                let mut k = Vec::with_capacity(equi.len());
                for (_, re) in equi {
                    k.push(self.eval_full(re, r, outer).await?);
                }
                if k.iter().any(|v| v.is_null()) {
                    continue;
                }
                t.entry(hash_key(&k)).or_default().push(i);
            }
            Some(t)
        };
        let all: Vec<usize> = (0..right.len()).collect();
        for l in &left {
            self.pace().await?;
            let candidates: &[usize] = match &table {
                None => &all,
                Some(t) => {
                    let mut k = Vec::with_capacity(equi.len());
                    for (le, _) in equi {
                        k.push(self.eval_full(le, l, outer).await?);
                    }
                    if k.iter().any(|v| v.is_null()) {
                        &[]
                    } else {
                        t.get(&hash_key(&k)).map(|v| v.as_slice()).unwrap_or(&[])
                    }
                }
            };
            let mut matched = false;
            for &ri in candidates {
                let mut row = Vec::with_capacity(lw + rw);
                row.extend_from_slice(l);
                row.extend_from_slice(&right[ri]);
                if let Some(on) = on {
                    if !self.eval_full(on, &row, outer).await?.is_true() {
                        continue;
                    }
                }
                matched = true;
                right_matched[ri] = true;
                out.push(row);
            }
            if !matched && matches!(kind, JoinKind::Left | JoinKind::Full) {
                let mut row = l.clone();
                row.extend(std::iter::repeat_n(Value::Null, rw));
                out.push(row);
            }
        }
        if matches!(kind, JoinKind::Right | JoinKind::Full) {
            for (ri, r) in right.into_iter().enumerate() {
                if !right_matched[ri] {
                    let mut row: Row = std::iter::repeat_n(Value::Null, lw).collect();
                    row.extend(r);
                    out.push(row);
                }
            }
        }
        Ok(out)
    }

    pub async fn aggregate(
        &mut self,
        rows: Vec<Row>,
        group: &[Expr],
        aggs: &[AggCall],
        outer: &[Row],
    ) -> Result<Vec<Row>> {
        struct Group {
            key: Row,
            accs: Vec<Box<dyn aggregate::Accumulator>>,
            /// Per aggregate with DISTINCT or ORDER BY: its (sort key,
            /// arguments) rows, fed to the accumulator at the end.
            held: Vec<Vec<(Row, Row)>>,
        }
        let mut groups: Vec<Group> = Vec::new();
        let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
        let fctx = self.fctx.clone();
        let new_group = |key: Row| Group {
            key,
            accs: aggs
                .iter()
                .map(|a| aggregate::accumulator_in(&a.func, &fctx))
                .collect(),
            held: aggs.iter().map(|_| Vec::new()).collect(),
        };
        for r in &rows {
            self.pace().await?;
            let mut key = Vec::with_capacity(group.len());
            for g in group {
                key.push(self.eval_full(g, r, outer).await?);
            }
            let hk = hash_key(&key);
            let gi = match index.get(&hk) {
                Some(i) => *i,
                None => {
                    groups.push(new_group(key));
                    index.insert(hk, groups.len() - 1);
                    groups.len() - 1
                }
            };
            for (ai, a) in aggs.iter().enumerate() {
                if let Some(f) = &a.filter {
                    if !self.eval_full(f, r, outer).await?.is_true() {
                        continue;
                    }
                }
                let mut args = Vec::with_capacity(a.args.len());
                for e in &a.args {
                    args.push(self.eval_full(e, r, outer).await?);
                }
                if a.distinct || !a.order_by.is_empty() {
                    let mut sort = Vec::with_capacity(a.order_by.len());
                    for k in &a.order_by {
                        sort.push(self.eval_full(&k.expr, r, outer).await?);
                    }
                    groups[gi].held[ai].push((sort, args));
                    continue;
                }
                groups[gi].accs[ai].update(&args)?;
            }
        }
        if groups.is_empty() && group.is_empty() {
            groups.push(new_group(Vec::new()));
        }
        let mut out = Vec::with_capacity(groups.len());
        for g in groups {
            let mut row = g.key;
            for ((a, mut acc), held) in aggs.iter().zip(g.accs).zip(g.held) {
                feed_held(a, acc.as_mut(), held)?;
                row.push(acc.finish()?);
            }
            out.push(row);
        }
        Ok(out)
    }

    pub async fn sort(
        &mut self,
        rows: Vec<Row>,
        keys: &[SortKey],
        outer: &[Row],
    ) -> Result<Vec<Row>> {
        let mut keyed = Vec::with_capacity(rows.len());
        for r in rows {
            self.check_cancel()?;
            let mut k = Vec::with_capacity(keys.len());
            for sk in keys {
                k.push(self.eval_full(&sk.expr, &r, outer).await?);
            }
            keyed.push((k, r));
        }
        keyed.sort_by(|(a, _), (b, _)| compare_keys(a, b, keys));
        Ok(keyed.into_iter().map(|(_, r)| r).collect())
    }

    pub fn limit(
        &mut self,
        rows: Vec<Row>,
        limit: Option<&Expr>,
        offset: Option<&Expr>,
        outer: &[Row],
    ) -> Result<Vec<Row>> {
        let num = |v: Value| -> Option<i64> {
            match v {
                Value::Int8(i) => Some(i),
                Value::Int4(i) => Some(i as i64),
                Value::Int2(i) => Some(i as i64),
                _ => None,
            }
        };
        let off = match offset {
            Some(e) => match num(self.eval(e, &[], outer)?) {
                Some(n) if n < 0 => {
                    return Err(Error::new(
                        ErrorCode::InvalidRowCountInResultOffsetClause,
                        "OFFSET must not be negative",
                    ))
                }
                Some(n) => n as usize,
                None => 0,
            },
            None => 0,
        };
        let lim = match limit {
            Some(e) => match num(self.eval(e, &[], outer)?) {
                Some(n) if n < 0 => {
                    return Err(Error::new(
                        ErrorCode::InvalidRowCountInLimitClause,
                        "LIMIT must not be negative",
                    ))
                }
                Some(n) => Some(n as usize),
                None => None,
            },
            None => None,
        };
        let it = rows.into_iter().skip(off);
        Ok(match lim {
            Some(n) => it.take(n).collect(),
            None => it.collect(),
        })
    }

    pub async fn distinct(
        &mut self,
        rows: Vec<Row>,
        on: Option<&[Expr]>,
        outer: &[Row],
    ) -> Result<Vec<Row>> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for r in rows {
            let k = match on {
                Some(keys) => {
                    let mut k = Vec::with_capacity(keys.len());
                    for e in keys {
                        k.push(self.eval_full(e, &r, outer).await?);
                    }
                    hash_key(&k)
                }
                None => hash_key(&r),
            };
            if seen.insert(k) {
                out.push(r);
            }
        }
        Ok(out)
    }

    pub async fn with_cte(
        &mut self,
        id: usize,
        base: &Plan,
        step: Option<&(Plan, bool)>,
        outer: &[Row],
    ) -> Result<()> {
        let rows = self.run(base, outer).await?;
        let Some((step, all)) = step else {
            self.ctes.insert(id, Arc::new(rows));
            return Ok(());
        };
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        let mut result = Vec::new();
        let mut working = Vec::new();
        for r in rows {
            if *all || seen.insert(hash_key(&r)) {
                result.push(r.clone());
                working.push(r);
            }
        }
        let mut iterations = 0usize;
        while !working.is_empty() {
            iterations += 1;
            if iterations > 1_000_000 {
                return Err(Error::new(
                    ErrorCode::DataException,
                    "recursive query did not terminate",
                ));
            }
            self.ctes.insert(id, Arc::new(std::mem::take(&mut working)));
            let new = self.run(step, outer).await?;
            for r in new {
                if *all || seen.insert(hash_key(&r)) {
                    result.push(r.clone());
                    working.push(r);
                }
            }
        }
        self.ctes.insert(id, Arc::new(result));
        Ok(())
    }
}

/// Orders two sort keys by `keys`' directions and NULL placement.
/// Feeds an aggregate the rows it held back: sorted by its ORDER BY, and
/// for DISTINCT without ORDER BY by its arguments (as PostgreSQL's sort
/// for DISTINCT does), then with duplicates removed. NULLs are not
/// skipped here: a strict aggregate ignores them itself, array_agg keeps
/// one.
fn feed_held(
    a: &AggCall,
    acc: &mut dyn aggregate::Accumulator,
    mut held: Vec<(Row, Row)>,
) -> Result<()> {
    if a.order_by.is_empty() {
        let asc = SortKey::ascending(&a.args);
        held.sort_by(|(_, x), (_, y)| compare_keys(x, y, &asc));
    } else {
        // A stable sort: rows with equal keys keep their input order.
        held.sort_by(|(x, _), (y, _)| compare_keys(x, y, &a.order_by));
    }
    let mut seen = HashSet::new();
    for (_, args) in held {
        if a.distinct && !seen.insert(hash_key(&args)) {
            continue;
        }
        acc.update(&args)?;
    }
    Ok(())
}

pub fn compare_keys(a: &[Value], b: &[Value], keys: &[SortKey]) -> Ordering {
    for ((x, y), k) in a.iter().zip(b).zip(keys) {
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if k.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                if k.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            _ => {
                let o = x.total_cmp(y);
                if k.desc {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// UNION / INTERSECT / EXCEPT [ALL].
pub fn set_op(kind: SetOpKind, all: bool, left: Vec<Row>, right: Vec<Row>) -> Vec<Row> {
    match kind {
        SetOpKind::Union => {
            let mut out = left;
            out.extend(right);
            if all {
                return out;
            }
            let mut seen = HashSet::new();
            out.into_iter()
                .filter(|r| seen.insert(hash_key(r)))
                .collect()
        }
        SetOpKind::Intersect | SetOpKind::Except => {
            let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
            for r in &right {
                *counts.entry(hash_key(r)).or_default() += 1;
            }
            let mut out = Vec::new();
            let mut emitted = HashSet::new();
            for r in left {
                let k = hash_key(&r);
                let c = counts.get_mut(&k);
                let in_right = c.as_ref().map(|c| **c > 0).unwrap_or(false);
                let keep = if kind == SetOpKind::Intersect {
                    in_right
                } else {
                    !in_right
                };
                if all {
                    if let Some(c) = c {
                        if *c > 0 {
                            *c -= 1;
                        }
                    }
                    if keep {
                        out.push(r);
                    }
                } else if keep && emitted.insert(k) {
                    out.push(r);
                }
            }
            out
        }
    }
}
