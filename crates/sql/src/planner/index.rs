//! Access-path selection: turns a scan's filter into a primary-key point
//! lookup or range, or a secondary index lookup, when its conjuncts
//! compare key columns with row-independent values.

use super::plan::{Access, Expr, Plan};
use super::{and_all, conjuncts};
use crate::catalog::{Catalog, TableDef};
use crate::func::BinaryOp;

/// Chooses the access path of every scan in `plan`.
pub fn choose_access(plan: Plan, catalog: &Catalog) -> Plan {
    let _ = catalog; // index statistics will come from here
    match plan {
        Plan::Scan {
            table,
            access: Access::Full,
            filter: Some(f),
            lock,
        } => {
            let (access, filter) = pick(&table, f);
            Plan::Scan {
                table,
                access,
                filter,
                lock,
            }
        }
        Plan::Join {
            kind,
            left,
            right,
            equi,
            on,
            left_width,
            right_width,
        } => {
            let left = choose_access(*left, catalog);
            let right = choose_access(*right, catalog);
            index_join(Plan::Join {
                kind,
                left: Box::new(left),
                right: Box::new(right),
                equi,
                on,
                left_width,
                right_width,
            })
        }
        Plan::Filter { input, predicate } => Plan::Filter {
            input: Box::new(choose_access(*input, catalog)),
            predicate,
        },
        other => other,
    }
}

/// [`pick`] for a nested loop's inner scan, where the outer row's
/// columns are known per lookup.
fn pick_with_outer(table: &TableDef, filter: Expr) -> (Access, Option<Expr>) {
    pick(table, filter)
}

/// Whether `e` is known before the scan runs (constants, parameters,
/// the outer row).
fn independent(e: &Expr) -> bool {
    let mut ok = true;
    e.walk(&mut |x| {
        if matches!(
            x,
            Expr::Column(_)
                | Expr::Slot(_)
                | Expr::Exists(_)
                | Expr::InSubquery(..)
                | Expr::Agg(_)
                | Expr::Session(..)
        ) {
            ok = false;
        }
    });
    ok
}

/// A conjunct `col op value` with `value` row independent.
fn comparison(e: &Expr) -> Option<(usize, BinaryOp, Expr)> {
    let Expr::Binary(op, a, b) = e else {
        return None;
    };
    let flip = |op: BinaryOp| match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::GtEq => BinaryOp::LtEq,
        o => o,
    };
    if !matches!(
        op,
        BinaryOp::Eq | BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq
    ) {
        return None;
    }
    let col = |x: &Expr| match x {
        Expr::Column(c) => Some(*c),
        Expr::Cast(inner, _) => match inner.as_ref() {
            Expr::Column(_) => None,
            _ => None,
        },
        _ => None,
    };
    if let Some(c) = col(a) {
        if independent(b) {
            return Some((c, *op, *b.clone()));
        }
    }
    if let Some(c) = col(b) {
        if independent(a) {
            return Some((c, flip(*op), *a.clone()));
        }
    }
    None
}

/// Key columns matched by equality, then a range on the next one.
struct Match {
    eq: Vec<Expr>,
    lower: Option<(Expr, bool)>,
    upper: Option<(Expr, bool)>,
    used: Vec<usize>,
}

fn match_key(cols: &[usize], parts: &[Expr]) -> Match {
    let comps: Vec<Option<(usize, BinaryOp, Expr)>> = parts.iter().map(comparison).collect();
    let mut m = Match {
        eq: Vec::new(),
        lower: None,
        upper: None,
        used: Vec::new(),
    };
    for &kc in cols {
        let eq = comps.iter().enumerate().find_map(|(i, c)| match c {
            Some((c, BinaryOp::Eq, v)) if *c == kc => Some((i, v.clone())),
            _ => None,
        });
        if let Some((i, v)) = eq {
            m.eq.push(v);
            m.used.push(i);
            continue;
        }
        for (i, c) in comps.iter().enumerate() {
            match c {
                Some((c, op, v)) if *c == kc => match op {
                    BinaryOp::Gt | BinaryOp::GtEq if m.lower.is_none() => {
                        m.lower = Some((v.clone(), *op == BinaryOp::GtEq));
                        m.used.push(i);
                    }
                    BinaryOp::Lt | BinaryOp::LtEq if m.upper.is_none() => {
                        m.upper = Some((v.clone(), *op == BinaryOp::LtEq));
                        m.used.push(i);
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        break;
    }
    m
}

fn pick(table: &TableDef, filter: Expr) -> (Access, Option<Expr>) {
    let mut parts = Vec::new();
    conjuncts(filter, &mut parts);
    let mut best: Option<(usize, Option<usize>, Match)> = None; // (score, index, match)
    if !table.pk.is_empty() {
        let m = match_key(&table.pk, &parts);
        let score = score(&m, table.pk.len());
        if score > 0 {
            best = Some((score, None, m));
        }
    }
    for (i, ix) in table.indexes.iter().enumerate() {
        if ix.primary {
            continue;
        }
        let m = match_key(&ix.columns, &parts);
        let s = score(&m, ix.columns.len());
        // Prefer the primary key on ties.
        if s > 0 && best.as_ref().map(|b| s > b.0).unwrap_or(true) {
            best = Some((s, Some(i), m));
        }
    }
    let Some((_, index, m)) = best else {
        return (Access::Full, and_all(parts));
    };
    // Every conjunct stays in the filter: the key lookup casts its values
    // to the column types, and the filter re-checks with SQL semantics.
    let rest = parts;
    let access = match index {
        None => Access::Primary {
            eq: m.eq,
            lower: m.lower,
            upper: m.upper,
        },
        Some(index) => Access::Index {
            index,
            eq: m.eq,
            lower: m.lower,
            upper: m.upper,
        },
    };
    (access, and_all(rest))
}

fn score(m: &Match, ncols: usize) -> usize {
    let mut s = m.eq.len() * 10;
    if m.eq.len() == ncols {
        s += 100;
    }
    if m.lower.is_some() || m.upper.is_some() {
        s += 5;
    }
    s
}

/// A rough row count, for choosing between a hash join and a nested
/// loop over an index.
pub fn estimate(plan: &Plan) -> usize {
    match plan {
        Plan::Scan {
            table,
            access,
            filter,
            ..
        } => match access {
            Access::Primary { eq, .. } if eq.len() == table.pk.len() => 1,
            Access::Primary { .. } | Access::Index { .. } => 50,
            Access::Full => {
                if filter.is_some() {
                    200
                } else {
                    1000
                }
            }
        },
        Plan::Values { rows } => rows.len(),
        Plan::Filter { input, .. }
        | Plan::Project { input, .. }
        | Plan::Sort { input, .. }
        | Plan::Distinct { input, .. } => estimate(input),
        Plan::Limit { input, limit, .. } => match limit {
            Some(Expr::Const(crate::types::Value::Int8(n))) => (*n).max(0) as usize,
            _ => estimate(input),
        }
        .min(estimate(input)),
        Plan::Aggregate { group, .. } => {
            if group.is_empty() {
                1
            } else {
                100
            }
        }
        Plan::Join { left, right, .. } => estimate(left).max(estimate(right)),
        _ => 1000,
    }
}

/// Turns a hash join whose left side is small and whose right side is a
/// table with an index on the join columns into a nested loop that looks
/// each left row up in the index.
fn index_join(plan: Plan) -> Plan {
    let Plan::Join {
        kind,
        left,
        right,
        equi,
        on,
        left_width,
        right_width,
    } = plan
    else {
        return plan;
    };
    let usable = !equi.is_empty()
        && matches!(
            kind,
            super::plan::JoinKind::Inner | super::plan::JoinKind::Left
        )
        && estimate(&left) <= 100;
    let target = match right.as_ref() {
        Plan::Scan {
            table,
            access: Access::Full,
            filter,
            lock,
        } if usable => {
            let clean = filter.as_ref().map(|f| {
                let mut ok = true;
                f.walk(&mut |e| {
                    if matches!(
                        e,
                        Expr::Outer { .. } | Expr::Slot(_) | Expr::Exists(_) | Expr::InSubquery(..)
                    ) {
                        ok = false;
                    }
                });
                ok
            });
            if clean.unwrap_or(true) {
                Some((table.clone(), filter.clone(), *lock))
            } else {
                None
            }
        }
        _ => None,
    };
    let Some((table, filter, lock)) = target else {
        return Plan::Join {
            kind,
            left,
            right,
            equi,
            on,
            left_width,
            right_width,
        };
    };
    // The join keys as `right column = left column` conjuncts over the scan.
    let mut parts = Vec::new();
    for (l, r) in &equi {
        let (Expr::Column(lc), Expr::Column(rc)) = (l, r) else {
            return Plan::Join {
                kind,
                left,
                right,
                equi,
                on,
                left_width,
                right_width,
            };
        };
        parts.push(Expr::Binary(
            BinaryOp::Eq,
            Box::new(Expr::Column(*rc)),
            Box::new(Expr::Outer {
                depth: 1,
                index: *lc,
            }),
        ));
    }
    let keyed = and_all(parts).map(|k| match filter.clone() {
        Some(f) => Expr::And(Box::new(k), Box::new(f)),
        None => k,
    });
    let Some(keyed) = keyed else {
        return Plan::Join {
            kind,
            left,
            right,
            equi,
            on,
            left_width,
            right_width,
        };
    };
    // Outer references count as row independent for the key lookup.
    let (access, rest) = pick_with_outer(&table, keyed);
    if matches!(access, Access::Full) {
        return Plan::Join {
            kind,
            left,
            right,
            equi,
            on,
            left_width,
            right_width,
        };
    }
    Plan::Join {
        kind,
        left,
        right: Box::new(Plan::Lateral {
            input: Box::new(Plan::Scan {
                table,
                access,
                filter: rest,
                lock,
            }),
        }),
        equi: Vec::new(),
        on,
        left_width,
        right_width,
    }
}
