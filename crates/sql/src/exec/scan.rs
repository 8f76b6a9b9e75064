//! Table scans: full scans, primary-key gets and ranges, secondary index
//! lookups; decoding stored rows; row locks with PostgreSQL's re-check of
//! the newest version (EvalPlanQual); set-returning functions.

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use shoal_storage::Direction;
use shoal_txn::WaitPolicy;

use super::{Ctx, Row};
use crate::catalog::TableDef;
use crate::error::{Error, ErrorCode, Result};
use crate::func::BinaryOp;
use crate::keys;
use crate::planner::plan::{Access, Expr, RowLock};
use crate::types::cast::{cast, CastKind};
use crate::types::keycode::{decode_key, encode_key};
use crate::types::row::decode_row;
use crate::types::{DataType, Value};

/// Decodes a stored row: its values (padded for columns added later),
/// then its key as bytea.
pub fn decode_table_row(table: &TableDef, key: &[u8], value: &[u8]) -> Result<Row> {
    let mut row = decode_row(value)?;
    let n = table.columns.len();
    if row.len() > n {
        row.truncate(n);
    }
    while row.len() < n {
        let c = &table.columns[row.len()];
        row.push(c.missing.clone().unwrap_or(Value::Null));
    }
    row.push(Value::Bytea(key.to_vec()));
    Ok(row)
}

/// The key bytes a scanned row carries in its last column.
pub fn row_key_of(row: &[Value]) -> Result<&[u8]> {
    match row.last() {
        Some(Value::Bytea(k)) => Ok(k),
        _ => Err(Error::internal("row without its key")),
    }
}

/// Casts a lookup value to a key column's type; `None` when no stored
/// value can equal it.
fn key_value(v: Value, ty: &DataType, ctx: &Ctx<'_>) -> Option<Value> {
    if v.is_null() {
        return None;
    }
    if v.data_type().as_ref() == Some(ty) {
        return Some(v);
    }
    cast(&v, ty, CastKind::Explicit, &ctx.fctx.format).ok()
}

impl Ctx<'_> {
    pub async fn scan(
        &mut self,
        table: &Arc<TableDef>,
        access: &Access,
        filter: Option<&Expr>,
        lock: Option<RowLock>,
        outer: &[Row],
    ) -> Result<Vec<Row>> {
        let candidates = self.fetch(table, access, outer).await?;
        let mut rows = Vec::with_capacity(candidates.len());
        for r in candidates {
            self.pace().await?;
            if let Some(f) = filter {
                if !self.eval_full(f, &r, outer).await?.is_true() {
                    continue;
                }
            }
            rows.push(r);
        }
        match lock {
            Some(l) => self.lock_rows(table, rows, filter, l, outer).await,
            None => Ok(rows),
        }
    }

    /// Locks `rows` in one request, then re-reads each at its newest
    /// version and re-checks `filter` (READ COMMITTED's EvalPlanQual).
    pub async fn lock_rows(
        &mut self,
        table: &Arc<TableDef>,
        rows: Vec<Row>,
        filter: Option<&Expr>,
        l: RowLock,
        outer: &[Row],
    ) -> Result<Vec<Row>> {
        if rows.is_empty() {
            return Ok(rows);
        }
        let budget = l.budget.map(|b| b as usize);
        let mut out = Vec::new();
        let mut rest = rows.into_iter().peekable();
        while rest.peek().is_some() {
            let want = match budget {
                Some(b) if out.len() >= b => break,
                Some(b) => b - out.len(),
                None => usize::MAX,
            };
            let chunk: Vec<Row> = rest.by_ref().take(want).collect();
            let locked = self.lock_chunk(table, chunk, filter, l, outer).await?;
            out.extend(locked);
        }
        Ok(out)
    }

    /// Locks one batch of rows (one request) and re-checks each.
    async fn lock_chunk(
        &mut self,
        table: &Arc<TableDef>,
        rows: Vec<Row>,
        filter: Option<&Expr>,
        l: RowLock,
        outer: &[Row],
    ) -> Result<Vec<Row>> {
        let keys: Vec<Vec<u8>> = rows
            .iter()
            .map(|r| row_key_of(r).map(|k| k.to_vec()))
            .collect::<Result<_>>()?;
        let mut specs: Vec<(u64, Option<&[u8]>, shoal_txn::LockMode)> = keys
            .iter()
            .map(|k| (table.oid as u64, Some(k.as_slice()), l.mode))
            .collect();
        // The table's intent lock travels in the same request (last, so
        // skipped indexes stay row indexes).
        let exclusive = matches!(
            l.mode,
            shoal_txn::LockMode::RowExclusive | shoal_txn::LockMode::RowNoKeyExclusive
        );
        let intent = !self.state.table_locks.contains(&(table.oid, exclusive));
        if intent {
            let mode = if exclusive {
                shoal_txn::LockMode::TableIntentExclusive
            } else {
                shoal_txn::LockMode::TableIntentShared
            };
            specs.push((table.oid as u64, None, mode));
        }
        let timeout = self.lock_wait();
        let skipped = self
            .txn
            .lock(&specs, l.wait, timeout)
            .await
            .map_err(|e| self.lock_failed(e, &table.name))?;
        if intent {
            self.state.table_locks.insert((table.oid, exclusive));
            self.check_plan_current().await?;
        }
        let mut out = Vec::with_capacity(rows.len());
        for (i, (_row, key)) in rows.into_iter().zip(keys).enumerate() {
            if l.wait == WaitPolicy::SkipLocked && skipped.contains(&i) {
                continue;
            }
            let latest = self.txn.get_latest(&key).await?;
            let Some(v) = latest.value else {
                continue; // deleted meanwhile
            };
            let new = decode_table_row(table, &key, &v)?;
            if latest.lsn > self.txn.snapshot() {
                if let Some(f) = filter {
                    if !self.eval_full(f, &new, outer).await?.is_true() {
                        continue;
                    }
                }
            }
            out.push(new);
        }
        Ok(out)
    }

    /// The rows an access path finds (before the filter).
    async fn fetch(
        &mut self,
        table: &Arc<TableDef>,
        access: &Access,
        outer: &[Row],
    ) -> Result<Vec<Row>> {
        match access {
            Access::Full => {
                let prefix = keys::table_prefix(table.oid);
                self.scan_range(table, prefix.clone(), keys::prefix_end(&prefix))
                    .await
            }
            Access::Primary { eq, lower, upper } => {
                let cols: Vec<DataType> = table
                    .pk
                    .iter()
                    .map(|c| table.columns[*c].ty.clone())
                    .collect();
                let Some(prefix) =
                    self.key_prefix(keys::table_prefix(table.oid), eq, &cols, outer)?
                else {
                    return Ok(Vec::new());
                };
                if eq.len() == table.pk.len() {
                    return match self.txn.get(&prefix).await? {
                        Some(v) => Ok(vec![decode_table_row(table, &prefix, &v)?]),
                        None => Ok(Vec::new()),
                    };
                }
                let next_ty = cols.get(eq.len()).cloned();
                let (start, end) = self.bounds(&prefix, lower, upper, next_ty.as_ref(), outer)?;
                self.scan_range(table, start, end).await
            }
            Access::Index {
                index,
                eq,
                lower,
                upper,
            } => {
                let Some(ix) = table.indexes.get(*index) else {
                    return Err(Error::internal("index vanished"));
                };
                let cols: Vec<DataType> = ix
                    .columns
                    .iter()
                    .map(|c| table.columns[*c].ty.clone())
                    .collect();
                let Some(prefix) = self.key_prefix(keys::index_prefix(ix.oid), eq, &cols, outer)?
                else {
                    return Ok(Vec::new());
                };
                let next_ty = cols.get(eq.len()).cloned();
                let (start, end) = self.bounds(&prefix, lower, upper, next_ty.as_ref(), outer)?;
                let range = (
                    Bound::Included(Bytes::from(start)),
                    match end {
                        Some(e) => Bound::Excluded(Bytes::from(e)),
                        None => Bound::Unbounded,
                    },
                );
                let mut it = self.txn.scan(range, Direction::Forward).await?;
                let mut row_keys = Vec::new();
                while let Some((k, v)) = it.next().await? {
                    let mut rest: &[u8] = k.get(5..).unwrap_or(&[]);
                    for t in &cols {
                        decode_key(t, &mut rest)?;
                    }
                    // Unique entries keep the row's key suffix in the value.
                    let suffix: &[u8] = if rest.is_empty() { &v } else { rest };
                    let mut rk = keys::table_prefix(table.oid);
                    rk.extend_from_slice(suffix);
                    row_keys.push(rk);
                }
                let mut rows = Vec::with_capacity(row_keys.len());
                for rk in row_keys {
                    self.check_cancel()?;
                    if let Some(v) = self.txn.get(&rk).await? {
                        rows.push(decode_table_row(table, &rk, &v)?);
                    }
                }
                Ok(rows)
            }
        }
    }

    fn key_prefix(
        &self,
        mut prefix: Vec<u8>,
        eq: &[Expr],
        types: &[DataType],
        outer: &[Row],
    ) -> Result<Option<Vec<u8>>> {
        for (e, t) in eq.iter().zip(types) {
            let v = self.eval(e, &[], outer)?;
            let Some(v) = key_value(v, t, self) else {
                return Ok(None);
            };
            encode_key(&v, &mut prefix);
        }
        Ok(Some(prefix))
    }

    fn bounds(
        &self,
        prefix: &[u8],
        lower: &Option<(Expr, bool)>,
        upper: &Option<(Expr, bool)>,
        ty: Option<&DataType>,
        outer: &[Row],
    ) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
        let mut start = prefix.to_vec();
        let mut end = keys::prefix_end(prefix);
        if let (Some((e, _)), Some(t)) = (lower, ty) {
            if let Some(v) = key_value(self.eval(e, &[], outer)?, t, self) {
                encode_key(&v, &mut start);
            }
        }
        if let (Some((e, _)), Some(t)) = (upper, ty) {
            if let Some(v) = key_value(self.eval(e, &[], outer)?, t, self) {
                let mut u = prefix.to_vec();
                encode_key(&v, &mut u);
                end = keys::prefix_end(&u);
            }
        }
        Ok((start, end))
    }

    async fn scan_range(
        &mut self,
        table: &Arc<TableDef>,
        start: Vec<u8>,
        end: Option<Vec<u8>>,
    ) -> Result<Vec<Row>> {
        let range = (
            Bound::Included(Bytes::from(start)),
            match end {
                Some(e) => Bound::Excluded(Bytes::from(e)),
                None => Bound::Unbounded,
            },
        );
        let mut it = self.txn.scan(range, Direction::Forward).await?;
        let mut rows = Vec::new();
        while let Some((k, v)) = it.next().await? {
            self.pace().await?;
            rows.push(decode_table_row(table, &k, &v)?);
        }
        Ok(rows)
    }

    /// generate_series(start, stop [, step]).
    pub async fn table_function(
        &mut self,
        name: &str,
        args: &[Expr],
        outer: &[Row],
    ) -> Result<Vec<Row>> {
        if name != "generate_series" {
            return Err(Error::new(
                ErrorCode::UndefinedFunction,
                format!("function {name} does not exist"),
            ));
        }
        let mut v = Vec::new();
        for a in args {
            v.push(self.eval_full(a, &[], outer).await?);
        }
        if v.iter().any(|x| x.is_null()) {
            return Ok(Vec::new());
        }
        let start = v[0].clone();
        let stop = v[1].clone();
        let step = match v.get(2) {
            Some(s) => s.clone(),
            None => match &start {
                Value::Int8(_) => Value::Int8(1),
                Value::Numeric(_) => cast(&Value::Int4(1), &DataType::Numeric(None), CastKind::Explicit, &self.fctx.format)?,
                Value::Timestamp(_) | Value::Timestamptz(_) => {
                    return Err(Error::new(
                        ErrorCode::UndefinedFunction,
                        "function generate_series(timestamp with time zone, timestamp with time zone) does not exist",
                    ))
                }
                _ => Value::Int4(1),
            },
        };
        let zero = match &step {
            Value::Interval(i) => i.months == 0 && i.days == 0 && i.micros == 0,
            other => other.compare(&Value::Int4(0)) == Some(std::cmp::Ordering::Equal),
        };
        if zero {
            return Err(Error::new(
                ErrorCode::InvalidParameterValue,
                "step size cannot equal zero",
            ));
        }
        let descending = match &step {
            Value::Interval(i) => i.months < 0 || i.days < 0 || i.micros < 0,
            other => other.compare(&Value::Int4(0)) == Some(std::cmp::Ordering::Less),
        };
        let mut out = Vec::new();
        let mut cur = start;
        loop {
            self.check_cancel()?;
            let done = match cur.compare(&stop) {
                Some(std::cmp::Ordering::Greater) => !descending,
                Some(std::cmp::Ordering::Less) => descending,
                _ => false,
            };
            if done {
                break;
            }
            out.push(vec![cur.clone()]);
            cur = match crate::func::binary(BinaryOp::Add, &cur, &step, &self.fctx) {
                Ok(x) => x,
                Err(_) => break, // overflow ends the series
            };
            if out.len() > 100_000_000 {
                return Err(Error::new(
                    ErrorCode::DataException,
                    "generate_series: too many rows",
                ));
            }
        }
        Ok(out)
    }
}

/// A lock error with PostgreSQL's message for the relation.
pub fn lock_error(e: shoal_txn::Error, table: &str) -> Error {
    match e.kind {
        shoal_txn::ErrorKind::LockNotAvailable => Error::new(
            ErrorCode::LockNotAvailable,
            format!("could not obtain lock on row in relation \"{table}\""),
        ),
        shoal_txn::ErrorKind::LockTimeout => Error::new(
            ErrorCode::LockNotAvailable,
            "canceling statement due to lock timeout",
        ),
        _ => e.into(),
    }
}
