//! The planner: pushes WHERE conjuncts into scans and below joins, picks
//! each scan's access path (primary key point/range, secondary index,
//! or full scan: [`index`]), splits join conditions into hash keys, and
//! renders plans for EXPLAIN.

pub mod index;
pub mod plan;

use crate::catalog::Catalog;
use crate::func::BinaryOp;
use plan::{Access, Expr, JoinKind, Plan};

pub use index::choose_access;

/// Splits a condition into its AND-ed parts.
pub fn conjuncts(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::And(a, b) => {
            conjuncts(*a, out);
            conjuncts(*b, out);
        }
        other => out.push(other),
    }
}

/// ANDs conditions together.
pub fn and_all(v: Vec<Expr>) -> Option<Expr> {
    v.into_iter()
        .reduce(|a, b| Expr::And(Box::new(a), Box::new(b)))
}

/// The width of the rows `plan` produces, where it is known statically.
pub fn width(plan: &Plan) -> Option<usize> {
    match plan {
        Plan::Values { rows } => rows.first().map(|r| r.len()),
        Plan::Scan { table, .. } => Some(table.columns.len() + 1),
        Plan::Project { exprs, .. } => Some(exprs.len()),
        Plan::Filter { input, .. }
        | Plan::Sort { input, .. }
        | Plan::Limit { input, .. }
        | Plan::Distinct { input, .. } => width(input),
        Plan::Join {
            left_width,
            right_width,
            ..
        } => Some(left_width + right_width),
        Plan::Aggregate { group, aggs, .. } => Some(group.len() + aggs.len()),
        Plan::Function { width, .. } => Some(*width),
        Plan::Zip { widths, .. } => Some(widths.iter().sum()),
        _ => None,
    }
}

/// Adds a filter over `plan`, pushing each conjunct as deep as it goes.
pub fn push_filter(plan: Plan, cond: Expr) -> Plan {
    let mut parts = Vec::new();
    conjuncts(cond, &mut parts);
    let mut plan = plan;
    let mut rest = Vec::new();
    for p in parts {
        match push_one(plan, p) {
            (p2, None) => plan = p2,
            (p2, Some(left)) => {
                plan = p2;
                rest.push(left);
            }
        }
    }
    match and_all(rest) {
        Some(pred) => Plan::Filter {
            input: Box::new(plan),
            predicate: pred,
        },
        None => plan,
    }
}

/// Tries to push `cond` into `plan`; gives it back if it cannot.
fn push_one(plan: Plan, cond: Expr) -> (Plan, Option<Expr>) {
    let has_slots = {
        let mut s = false;
        cond.walk(&mut |e| {
            if matches!(e, Expr::Slot(_) | Expr::Exists(_) | Expr::InSubquery(..)) {
                s = true
            }
        });
        s
    };
    match plan {
        Plan::Scan {
            table,
            access,
            filter,
            lock,
        } => {
            let filter = Some(match filter {
                Some(f) => Expr::And(Box::new(f), Box::new(cond)),
                None => cond,
            });
            (
                Plan::Scan {
                    table,
                    access,
                    filter,
                    lock,
                },
                None,
            )
        }
        Plan::Join {
            kind,
            left,
            right,
            equi,
            on,
            left_width,
            right_width,
        } if !has_slots => {
            let cols = cond.columns();
            let all_left = cols.iter().all(|c| *c < left_width);
            let all_right = cols.iter().all(|c| *c >= left_width);
            if all_left && matches!(kind, JoinKind::Inner | JoinKind::Left) {
                let left = Box::new(push_filter(*left, cond));
                return (
                    Plan::Join {
                        kind,
                        left,
                        right,
                        equi,
                        on,
                        left_width,
                        right_width,
                    },
                    None,
                );
            }
            if all_right
                && !cols.is_empty()
                && matches!(kind, JoinKind::Inner | JoinKind::Right)
                && !matches!(*right, Plan::Lateral { .. })
            {
                let shifted = shift(cond, left_width);
                let right = Box::new(push_filter(*right, shifted));
                return (
                    Plan::Join {
                        kind,
                        left,
                        right,
                        equi,
                        on,
                        left_width,
                        right_width,
                    },
                    None,
                );
            }
            if kind == JoinKind::Inner {
                // A join condition in WHERE: make it a join key if it can be.
                let j = make_join(
                    kind,
                    *left,
                    *right,
                    Some(match on {
                        Some(o) => Expr::And(Box::new(o), Box::new(cond)),
                        None => cond,
                    }),
                    left_width,
                    right_width,
                );
                let j = match j {
                    Plan::Join {
                        kind,
                        left,
                        right,
                        equi: e2,
                        on,
                        left_width,
                        right_width,
                    } => Plan::Join {
                        kind,
                        left,
                        right,
                        equi: equi.into_iter().chain(e2).collect(),
                        on,
                        left_width,
                        right_width,
                    },
                    other => other,
                };
                return (j, None);
            }
            (
                Plan::Join {
                    kind,
                    left,
                    right,
                    equi,
                    on,
                    left_width,
                    right_width,
                },
                Some(cond),
            )
        }
        other => (other, Some(cond)),
    }
}

/// Renumbers columns `c` to `c - by` (a condition moving to the right input).
fn shift(e: Expr, by: usize) -> Expr {
    e.rewrite(&mut |x| {
        Ok(match x {
            Expr::Column(c) => Expr::Column(c - by),
            other => other,
        })
    })
    .unwrap_or(Expr::Const(crate::types::Value::Null))
}

/// Builds a join, taking equality conjuncts between the sides as hash keys.
pub fn make_join(
    kind: JoinKind,
    left: Plan,
    right: Plan,
    on: Option<Expr>,
    left_width: usize,
    right_width: usize,
) -> Plan {
    let mut equi = Vec::new();
    let mut rest = Vec::new();
    if let Some(on) = on {
        let mut parts = Vec::new();
        conjuncts(on, &mut parts);
        for p in parts {
            if let Expr::Binary(BinaryOp::Eq, a, b) = &p {
                let side = |e: &Expr| {
                    let cols = e.columns();
                    let mut slots = false;
                    e.walk(&mut |x| {
                        if matches!(
                            x,
                            Expr::Slot(_)
                                | Expr::Exists(_)
                                | Expr::InSubquery(..)
                                | Expr::Outer { .. }
                        ) {
                            slots = true
                        }
                    });
                    if cols.is_empty() || slots {
                        0
                    } else if cols.iter().all(|c| *c < left_width) {
                        1
                    } else if cols.iter().all(|c| *c >= left_width) {
                        2
                    } else {
                        0
                    }
                };
                match (side(a), side(b)) {
                    (1, 2) => {
                        equi.push((*a.clone(), shift(*b.clone(), left_width)));
                        continue;
                    }
                    (2, 1) => {
                        equi.push((*b.clone(), shift(*a.clone(), left_width)));
                        continue;
                    }
                    _ => {}
                }
            }
            rest.push(p);
        }
    }
    Plan::Join {
        kind,
        left: Box::new(left),
        right: Box::new(right),
        equi,
        on: and_all(rest),
        left_width,
        right_width,
    }
}

/// EXPLAIN's text: one line per node, children indented.
pub fn explain(plan: &Plan, catalog: &Catalog) -> Vec<String> {
    let mut out = Vec::new();
    explain_node(plan, catalog, 0, &mut out);
    out
}

fn explain_node(plan: &Plan, catalog: &Catalog, depth: usize, out: &mut Vec<String>) {
    let pad = if depth == 0 {
        String::new()
    } else {
        format!("{}->  ", " ".repeat(depth * 6 - 4))
    };
    let detail_pad = " ".repeat(if depth == 0 { 2 } else { depth * 6 + 2 });
    let _ = catalog;
    match plan {
        Plan::Values { rows } => {
            if rows.len() == 1 && rows[0].is_empty() {
                out.push(format!("{pad}Result"));
            } else {
                out.push(format!("{pad}Values Scan on \"*VALUES*\""));
            }
        }
        Plan::Scan {
            table,
            access,
            filter,
            lock,
        } => {
            let line = match access {
                Access::Full => format!("{pad}Seq Scan on {}", table.name),
                Access::Primary { .. } => {
                    let name = table
                        .primary_index()
                        .map(|i| i.name.clone())
                        .unwrap_or_else(|| format!("{}_pkey", table.name));
                    format!("{pad}Index Scan using {name} on {}", table.name)
                }
                Access::Index { index, .. } => {
                    let name = table
                        .indexes
                        .get(*index)
                        .map(|i| i.name.clone())
                        .unwrap_or_default();
                    format!("{pad}Index Scan using {name} on {}", table.name)
                }
            };
            out.push(line);
            if filter.is_some() {
                out.push(format!("{detail_pad}Filter: (...)"));
            }
            if lock.is_some() {
                out.push(format!("{detail_pad}Lock Rows"));
            }
        }
        Plan::Virtual { name } => out.push(format!("{pad}Function Scan on {name}")),
        Plan::Function { name, .. } => out.push(format!("{pad}Function Scan on {name}")),
        Plan::Filter { input, .. } => {
            out.push(format!("{pad}Filter"));
            explain_node(input, catalog, depth + 1, out);
        }
        Plan::Project { input, .. } => explain_node(input, catalog, depth, out),
        Plan::Join {
            kind,
            left,
            right,
            equi,
            ..
        } => {
            let k = match kind {
                JoinKind::Inner => "",
                JoinKind::Left => "Left ",
                JoinKind::Right => "Right ",
                JoinKind::Full => "Full ",
            };
            if equi.is_empty() {
                out.push(format!(
                    "{pad}Nested Loop{}",
                    if k.is_empty() {
                        String::new()
                    } else {
                        format!(" {}Join", k)
                    }
                ));
            } else {
                out.push(format!("{pad}Hash {k}Join"));
            }
            explain_node(left, catalog, depth + 1, out);
            if !equi.is_empty() {
                out.push(format!("{}->  Hash", " ".repeat((depth + 1) * 6 - 4)));
                explain_node(right, catalog, depth + 2, out);
            } else {
                explain_node(right, catalog, depth + 1, out);
            }
        }
        Plan::Aggregate { input, group, .. } => {
            out.push(format!(
                "{pad}{}",
                if group.is_empty() {
                    "Aggregate"
                } else {
                    "HashAggregate"
                }
            ));
            explain_node(input, catalog, depth + 1, out);
        }
        Plan::Sort { input, .. } => {
            out.push(format!("{pad}Sort"));
            explain_node(input, catalog, depth + 1, out);
        }
        Plan::Limit { input, .. } => {
            out.push(format!("{pad}Limit"));
            explain_node(input, catalog, depth + 1, out);
        }
        Plan::Distinct { input, .. } => {
            out.push(format!("{pad}Unique"));
            explain_node(input, catalog, depth + 1, out);
        }
        Plan::SetOp {
            kind, left, right, ..
        } => {
            out.push(format!(
                "{pad}{}",
                match kind {
                    plan::SetOpKind::Union => "Append",
                    plan::SetOpKind::Intersect => "HashSetOp Intersect",
                    plan::SetOpKind::Except => "HashSetOp Except",
                }
            ));
            explain_node(left, catalog, depth + 1, out);
            explain_node(right, catalog, depth + 1, out);
        }
        Plan::CteRef { id } => out.push(format!("{pad}CTE Scan on cte{id}")),
        Plan::Zip { inputs, .. } => {
            out.push(format!("{pad}ProjectSet"));
            for i in inputs {
                explain_node(i, catalog, depth + 1, out);
            }
        }
        Plan::Window { input, .. } => {
            out.push(format!("{pad}WindowAgg"));
            explain_node(input, catalog, depth + 1, out);
        }
        Plan::Lateral { input } => match input.as_ref() {
            Plan::Scan { .. } => explain_node(input, catalog, depth, out),
            _ => {
                out.push(format!("{pad}Subquery Scan (lateral)"));
                explain_node(input, catalog, depth + 1, out);
            }
        },
        Plan::With { ctes, input } => {
            explain_node(input, catalog, depth, out);
            for (id, p, _) in ctes {
                out.push(format!("{detail_pad}CTE cte{id}"));
                explain_node(p, catalog, depth + 1, out);
            }
        }
    }
}
