//! Binding queries: SELECT (FROM, joins, WHERE, GROUP BY, HAVING, the
//! select list, DISTINCT, ORDER BY, LIMIT), set operations, VALUES and
//! WITH [RECURSIVE]. WHERE conjuncts are pushed into scans and joins here
//! (see `planner`).

use std::sync::Arc;

use sqlparser::ast;

use super::{ident, object_name, Binder, CteName, Scope, ScopeCol};
use crate::catalog::{Relation, TableDef};
use crate::error::{Error, ErrorCode, Result};
use crate::planner::plan::{Access, Expr, JoinKind, Plan, RowLock, SetOpKind, SortKey};
use crate::planner::{self};
use crate::types::cast;
use crate::types::{DataType, Value};

/// The output of a bound query: its plan and result columns.
pub type Bound = (Plan, Vec<ScopeCol>);

impl Binder<'_> {
    /// Binds a whole query (WITH, body, ORDER BY, LIMIT, FOR UPDATE).
    pub fn query(&mut self, q: &ast::Query) -> Result<Bound> {
        let cte_mark = self.ctes.len();
        let mut ctes = Vec::new();
        if let Some(with) = &q.with {
            check_cte_names(with)?;
            for cte in &with.cte_tables {
                ctes.push(self.cte(cte, with.recursive)?);
            }
        }
        let r = self.query_body(q);
        self.ctes.truncate(cte_mark);
        let (plan, cols) = r?;
        let plan = if ctes.is_empty() {
            plan
        } else {
            Plan::With {
                ctes,
                input: Box::new(plan),
            }
        };
        Ok((plan, cols))
    }

    /// Binds `f` (an INSERT, UPDATE or DELETE) under the CTEs of `with`,
    /// and gives back the CTE plans to run around its row source.
    pub fn with_ctes<T>(
        &mut self,
        with: &ast::With,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<(Vec<crate::planner::plan::CtePlan>, T)> {
        let cte_mark = self.ctes.len();
        let mut ctes = Vec::new();
        let r = (|| {
            check_cte_names(with)?;
            for cte in &with.cte_tables {
                ctes.push(self.cte(cte, with.recursive)?);
            }
            f(self)
        })();
        self.ctes.truncate(cte_mark);
        Ok((ctes, r?))
    }

    fn query_body(&mut self, q: &ast::Query) -> Result<Bound> {
        let order: Vec<ast::OrderByExpr> = match &q.order_by {
            Some(ob) => match &ob.kind {
                ast::OrderByKind::Expressions(v) => v.clone(),
                ast::OrderByKind::All(_) => return Err(Error::unsupported("ORDER BY ALL")),
            },
            None => Vec::new(),
        };
        let (mut plan, cols) = match q.body.as_ref() {
            ast::SetExpr::Select(s) => self.select(s, &order)?,
            other => {
                let (plan, cols) = self.set_expr(other)?;
                if order.is_empty() {
                    (plan, cols)
                } else {
                    let scope = Scope::new(cols.clone());
                    let mut keys = Vec::new();
                    for o in &order {
                        let expr = match output_ref(&o.expr, &cols)? {
                            Some(i) => Expr::Column(i),
                            None => self.expr(&o.expr, &scope)?.0,
                        };
                        keys.push(sort_key(expr, o));
                    }
                    (
                        Plan::Sort {
                            input: Box::new(plan),
                            keys,
                        },
                        cols,
                    )
                }
            }
        };
        let (limit, offset) = match &q.limit_clause {
            Some(ast::LimitClause::LimitOffset { limit, offset, .. }) => {
                (limit.clone(), offset.as_ref().map(|o| o.value.clone()))
            }
            Some(ast::LimitClause::OffsetCommaLimit { offset, limit }) => {
                (Some(limit.clone()), Some(offset.clone()))
            }
            None => (None, None),
        };
        let limit = match (&limit, &q.fetch) {
            (Some(l), _) => Some(l.clone()),
            (None, Some(f)) => Some(
                f.quantity
                    .clone()
                    .unwrap_or(ast::Expr::value(ast::Value::Number("1".into(), false))),
            ),
            _ => None,
        };
        if limit.is_some() || offset.is_some() {
            let empty = Scope::default();
            let b = |e: &Option<ast::Expr>, this: &mut Self| -> Result<Option<Expr>> {
                match e {
                    Some(ast::Expr::Value(v)) if v.value == ast::Value::Null => Ok(None),
                    Some(e) => Ok(Some(this.expr_as(e, &empty, &DataType::Int8)?)),
                    None => Ok(None),
                }
            };
            let limit = b(&limit, self)?;
            let offset = b(&offset, self)?;
            plan = Plan::Limit {
                input: Box::new(plan),
                limit,
                offset,
            };
        }
        for l in &q.locks {
            let clause = match l.lock_type {
                ast::LockType::Update => "FOR UPDATE",
                ast::LockType::Share => "FOR SHARE",
            };
            if let Some(why) = unlockable(q, &plan) {
                return Err(Error::new(
                    ErrorCode::FeatureNotSupported,
                    format!("{clause} is not allowed with {why}"),
                ));
            }
            let mode = match l.lock_type {
                ast::LockType::Update => shoal_txn::LockMode::RowExclusive,
                ast::LockType::Share => shoal_txn::LockMode::RowShare,
            };
            let wait = match l.nonblock {
                Some(ast::NonBlock::Nowait) => shoal_txn::WaitPolicy::NoWait,
                Some(ast::NonBlock::SkipLocked) => shoal_txn::WaitPolicy::SkipLocked,
                None => shoal_txn::WaitPolicy::Wait,
            };
            let of = match &l.of {
                Some(n) => Some(object_name(n)?.1),
                None => None,
            };
            let budget = lock_budget(&plan);
            set_locks(&mut plan, RowLock { mode, wait, budget }, of.as_deref());
        }
        Ok((plan, cols))
    }

    fn cte(&mut self, cte: &ast::Cte, recursive: bool) -> Result<crate::planner::plan::CtePlan> {
        let name = ident(&cte.alias.name);
        let id = self.next_cte;
        self.next_cte += 1;
        let rename = |cols: &mut Vec<ScopeCol>| {
            for (c, a) in cols.iter_mut().zip(&cte.alias.columns) {
                c.name = ident(&a.name);
            }
            for c in cols.iter_mut() {
                c.qualifier = Some(name.clone());
            }
        };
        if recursive {
            if let ast::SetExpr::SetOperation {
                left,
                op: ast::SetOperator::Union,
                set_quantifier,
                right,
            } = cte.query.body.as_ref()
            {
                let (base, mut cols) = match self.set_expr(left) {
                    Err(e)
                        if e.code == ErrorCode::UndefinedTable
                            && e.message == format!("relation \"{name}\" does not exist") =>
                    {
                        return Err(Error::new(
                            ErrorCode::InvalidRecursion,
                            format!("recursive reference to query \"{name}\" must not appear within its non-recursive term"),
                        ))
                    }
                    r => r?,
                };
                rename(&mut cols);
                self.ctes.push(CteName {
                    name: name.clone(),
                    id,
                    cols: cols.clone(),
                });
                let (step, scols) = self.set_expr(right)?;
                if scols.len() != cols.len() {
                    return Err(Error::syntax(
                        "each UNION query must have the same number of columns",
                    ));
                }
                for (i, (b, s)) in cols.iter().zip(&scols).enumerate() {
                    if s.ty != DataType::Unknown && b.ty.unmodified() != s.ty.unmodified() {
                        return Err(Error::new(
                            ErrorCode::DatatypeMismatch,
                            format!(
                                "recursive query \"{name}\" column {} has type {} in non-recursive term but type {} overall",
                                i + 1,
                                b.ty.display_name(),
                                s.ty.display_name()
                            ),
                        )
                        .with_hint("Cast the output of the non-recursive term to the correct type."));
                    }
                }
                let all = matches!(set_quantifier, ast::SetQuantifier::All);
                return Ok((id, base, Some((step, all))));
            }
        }
        let (plan, mut cols) = if is_dml(&cte.query) {
            match self.dml_ctes.iter().find(|(n, _, _)| *n == name) {
                Some((_, rows, cols)) => {
                    let rows = rows
                        .iter()
                        .map(|r| r.iter().cloned().map(Expr::Const).collect())
                        .collect();
                    (Plan::Values { rows }, cols.clone())
                }
                // Not run (Describe): only its RETURNING columns matter.
                None => {
                    let returning = match cte.query.body.as_ref() {
                        ast::SetExpr::Insert(ast::Statement::Insert(i)) => {
                            self.bind_insert(i)?.returning
                        }
                        ast::SetExpr::Update(ast::Statement::Update(u)) => {
                            self.bind_update(u)?.returning
                        }
                        ast::SetExpr::Delete(ast::Statement::Delete(d)) => {
                            self.bind_delete(d)?.returning
                        }
                        _ => None,
                    };
                    let cols = returning.map(|(_, c)| c).unwrap_or_default();
                    (Plan::Values { rows: vec![] }, cols)
                }
            }
        } else {
            self.query(&cte.query)?
        };
        rename(&mut cols);
        self.ctes.push(CteName { name, id, cols });
        Ok((id, plan, None))
    }

    /// Binds a set expression (SELECT, VALUES, UNION ...).
    pub fn set_expr(&mut self, s: &ast::SetExpr) -> Result<Bound> {
        match s {
            ast::SetExpr::Select(sel) => self.select(sel, &[]),
            ast::SetExpr::Query(q) => self.query(q),
            ast::SetExpr::Values(v) => self.values(v),
            ast::SetExpr::SetOperation {
                left,
                op,
                set_quantifier,
                right,
            } => {
                self.set_leaf = true;
                let l = self.set_expr(left);
                self.set_leaf = true;
                let r = self.set_expr(right);
                self.set_leaf = false;
                let ((lp, lcols), (rp, rcols)) = (l?, r?);
                let kind = match op {
                    ast::SetOperator::Union => SetOpKind::Union,
                    ast::SetOperator::Intersect => SetOpKind::Intersect,
                    ast::SetOperator::Except | ast::SetOperator::Minus => SetOpKind::Except,
                };
                let n = match kind {
                    SetOpKind::Union => "UNION",
                    SetOpKind::Intersect => "INTERSECT",
                    SetOpKind::Except => "EXCEPT",
                };
                if lcols.len() != rcols.len() {
                    return Err(Error::syntax(format!(
                        "each {n} query must have the same number of columns"
                    )));
                }
                let mut out = Vec::new();
                let mut lx = Vec::new();
                let mut rx = Vec::new();
                let mut cast_needed = false;
                for (i, (l, r)) in lcols.iter().zip(&rcols).enumerate() {
                    let t = cast::common_type_in(&[l.ty.clone(), r.ty.clone()], n)?;
                    let t = if t == DataType::Unknown {
                        DataType::Text
                    } else {
                        t
                    };
                    cast_needed |= l.ty != t || r.ty != t;
                    lx.push(self.coerce(Expr::Column(i), &l.ty, &t)?);
                    rx.push(self.coerce(Expr::Column(i), &r.ty, &t)?);
                    let mut c = ScopeCol::new(l.name.clone(), t);
                    c.qualifier = None;
                    out.push(c);
                }
                let (lp, rp) = if cast_needed {
                    (
                        Plan::Project {
                            input: Box::new(lp),
                            exprs: lx,
                        },
                        Plan::Project {
                            input: Box::new(rp),
                            exprs: rx,
                        },
                    )
                } else {
                    (lp, rp)
                };
                let all = matches!(set_quantifier, ast::SetQuantifier::All);
                Ok((
                    Plan::SetOp {
                        kind,
                        all,
                        left: Box::new(lp),
                        right: Box::new(rp),
                    },
                    out,
                ))
            }
            ast::SetExpr::Table(t) => {
                let name = t
                    .table_name
                    .clone()
                    .map(|i| i.to_string())
                    .unwrap_or_default();
                let q = format!("SELECT * FROM {name}");
                let stmt = crate::parser::parse_query(&q)?;
                self.query(&stmt)
            }
            other => Err(Error::unsupported(format!(
                "query form not supported: {other}"
            ))),
        }
    }

    fn values(&mut self, v: &ast::Values) -> Result<Bound> {
        let scope = Scope::default();
        let mut rows = Vec::new();
        let mut types: Vec<Vec<DataType>> = Vec::new();
        let width = v.rows.first().map(|r| r.content.len()).unwrap_or(0);
        for r in &v.rows {
            if r.content.len() != width {
                return Err(Error::syntax("VALUES lists must all be the same length"));
            }
            let mut row = Vec::new();
            for (i, e) in r.content.iter().enumerate() {
                let (x, t) = self.expr(e, &scope)?;
                if types.len() <= i {
                    types.push(Vec::new());
                }
                types[i].push(t);
                row.push(x);
            }
            rows.push(row);
        }
        let mut cols = Vec::new();
        let mut common = Vec::new();
        for (i, ts) in types.iter().enumerate() {
            let t = cast::common_type_in(ts, "VALUES")?;
            let t = if t == DataType::Unknown {
                DataType::Text
            } else {
                t
            };
            cols.push(ScopeCol::new(format!("column{}", i + 1), t.clone()));
            common.push(t);
        }
        let mut out = Vec::new();
        for row in rows {
            let mut r = Vec::new();
            for (i, x) in row.into_iter().enumerate() {
                r.push(self.coerce(
                    x,
                    &types[i][out.len().min(types[i].len() - 1)].clone(),
                    &common[i],
                )?);
            }
            out.push(r);
        }
        // coerce used the first row's type for every row; redo exactly.
        Ok((Plan::Values { rows: out }, cols))
    }

    /// Binds a SELECT with the enclosing query's ORDER BY.
    pub fn select(&mut self, s: &ast::Select, order: &[ast::OrderByExpr]) -> Result<Bound> {
        let set_leaf = std::mem::take(&mut self.set_leaf);
        // FROM
        let (mut plan, scope) = if s.from.is_empty() {
            (Plan::Values { rows: vec![vec![]] }, Scope::default())
        } else {
            let mut acc: Option<(Plan, Scope)> = None;
            for twj in &s.from {
                let left = acc.as_ref().map(|(_, sc)| sc.clone());
                let (p, sc) = self.table_with_joins_after(twj, left.as_ref())?;
                acc = Some(match acc {
                    None => (p, sc),
                    Some((lp, ls)) => cross(lp, ls, p, sc),
                });
            }
            acc.unwrap_or((Plan::Values { rows: vec![vec![]] }, Scope::default()))
        };
        // WHERE
        if let Some(w) = &s.selection {
            let saved = self.forbid_aggs("WHERE");
            let cond = self.condition(w, &scope, "WHERE");
            self.restore_aggs(saved);
            plan = planner::push_filter(plan, cond?);
        }
        plan = planner::choose_access(plan, self.catalog);
        // GROUP BY
        let group_exprs: Vec<ast::Expr> = match &s.group_by {
            ast::GroupByExpr::Expressions(v, _) => v.clone(),
            ast::GroupByExpr::All(_) => return Err(Error::unsupported("GROUP BY ALL")),
        };
        let mut group = Vec::new();
        for g in &group_exprs {
            let saved = self.forbid_aggs("GROUP BY");
            let e = (|| -> Result<Expr> {
                Ok(match g {
                    ast::Expr::Value(v) => match &v.value {
                        ast::Value::Number(n, _) => {
                            let i: usize = n.parse().unwrap_or(0);
                            let item = select_item_expr(&s.projection, i).ok_or_else(|| {
                                Error::new(
                                    ErrorCode::InvalidColumnReference,
                                    format!("GROUP BY position {n} is not in select list"),
                                )
                            })?;
                            self.expr(&item, &scope)?.0
                        }
                        _ => self.expr(g, &scope)?.0,
                    },
                    ast::Expr::Identifier(i) if scope.find(None, &ident(i))?.is_none() => {
                        match alias_expr(&s.projection, &ident(i)) {
                            Some(item) => self.expr(&item, &scope)?.0,
                            None => self.expr(g, &scope)?.0,
                        }
                    }
                    _ => self.expr(g, &scope)?.0,
                })
            })();
            self.restore_aggs(saved);
            group.push(e?);
        }
        self.add_functional_dependencies(&mut group, &scope);
        // Set-returning functions in the select list become lateral
        // function scans joined to the FROM rows.
        let (plan2, scope2, projection) = self.select_srfs(plan, scope, &s.projection)?;
        plan = plan2;
        let scope = scope2;
        // Select list (collecting aggregates and window calls).
        self.set_named_windows(&s.named_window)?;
        let saved = self.begin_aggs();
        self.set_leaf = set_leaf;
        let r = self.select_list(&projection, &scope);
        self.set_leaf = false;
        let (mut exprs, mut cols) = match r {
            Ok(x) => x,
            Err(e) => {
                self.end_aggs(saved);
                return Err(e);
            }
        };
        let having = match &s.having {
            Some(h) => match self.condition(h, &scope, "HAVING") {
                Ok(x) => Some(x),
                Err(e) => {
                    self.end_aggs(saved);
                    return Err(e);
                }
            },
            None => None,
        };
        // ORDER BY keys not in the select list are bound over the input.
        let mut extra_keys = Vec::new();
        for o in order {
            match output_ref(&o.expr, &cols)? {
                Some(i) => extra_keys.push((Expr::Column(i), o)),
                None => match self.expr(&o.expr, &scope) {
                    Ok((x, _)) => {
                        // An ORDER BY expression equal to an output column sorts by it.
                        if let Some(i) = exprs.iter().position(|e| e.same(&x)) {
                            extra_keys.push((Expr::Column(i), o));
                        } else {
                            exprs.push(x);
                            extra_keys.push((Expr::Column(exprs.len() - 1), o));
                        }
                    }
                    Err(e) => {
                        self.end_aggs(saved);
                        return Err(e);
                    }
                },
            }
        }
        let aggs = self.end_aggs(saved);
        let mut windows = std::mem::take(&mut self.collected_windows);
        let grouped = !group.is_empty() || !aggs.is_empty() || having.is_some();
        let width = if grouped {
            group.len() + aggs.len()
        } else {
            scope.cols.len()
        };
        let mut having = having;
        if grouped {
            let ng = group.len();
            let map = |e: Expr| post_agg(e, &group, ng, &scope);
            exprs = exprs.into_iter().map(&map).collect::<Result<_>>()?;
            for w in &mut windows {
                w.args = std::mem::take(&mut w.args)
                    .into_iter()
                    .map(&map)
                    .collect::<Result<_>>()?;
                w.partition = std::mem::take(&mut w.partition)
                    .into_iter()
                    .map(&map)
                    .collect::<Result<_>>()?;
                for k in &mut w.order {
                    k.expr = map(k.expr.clone())?;
                }
            }
            having = match having {
                Some(h) => Some(map(h)?),
                None => None,
            };
            plan = Plan::Aggregate {
                input: Box::new(plan),
                group: group.clone(),
                aggs,
            };
            if let Some(h) = having {
                plan = Plan::Filter {
                    input: Box::new(plan),
                    predicate: h,
                };
            }
        }
        if !windows.is_empty() {
            plan = Plan::Window {
                input: Box::new(plan),
                calls: windows,
            };
            exprs = exprs
                .into_iter()
                .map(|e| {
                    e.rewrite(&mut |x| {
                        Ok(match x {
                            Expr::Window(i) => Expr::Column(width + i),
                            other => other,
                        })
                    })
                })
                .collect::<Result<_>>()?;
        }
        let visible = cols.len();
        plan = Plan::Project {
            input: Box::new(plan),
            exprs,
        };
        // DISTINCT
        match &s.distinct {
            Some(ast::Distinct::Distinct) => {
                if extra_keys
                    .iter()
                    .any(|(e, _)| matches!(e, Expr::Column(i) if *i >= visible))
                {
                    return Err(Error::new(
                        ErrorCode::InvalidColumnReference,
                        "for SELECT DISTINCT, ORDER BY expressions must appear in select list",
                    ));
                }
                plan = Plan::Distinct {
                    input: Box::new(plan),
                    on: None,
                };
            }
            Some(ast::Distinct::On(on)) => {
                let out = Scope::new(cols.clone());
                let mut keys = Vec::new();
                for e in on {
                    let k = match output_ref(e, &cols)? {
                        Some(i) => Expr::Column(i),
                        None => self.expr(e, &out)?.0,
                    };
                    keys.push(k);
                }
                if !extra_keys.is_empty() {
                    plan = Plan::Sort {
                        input: Box::new(plan),
                        keys: extra_keys
                            .iter()
                            .map(|(e, o)| sort_key(e.clone(), o))
                            .collect(),
                    };
                    extra_keys.clear();
                }
                plan = Plan::Distinct {
                    input: Box::new(plan),
                    on: Some(keys),
                };
            }
            _ => {}
        }
        if !extra_keys.is_empty() {
            plan = Plan::Sort {
                input: Box::new(plan),
                keys: extra_keys
                    .iter()
                    .map(|(e, o)| sort_key(e.clone(), o))
                    .collect(),
            };
        }
        let width = plan_width_hint(&plan);
        if width > visible {
            plan = Plan::Project {
                input: Box::new(plan),
                exprs: (0..visible).map(Expr::Column).collect(),
            };
        }
        cols.truncate(visible);
        Ok((plan, cols))
    }

    pub(crate) fn select_list(
        &mut self,
        items: &[ast::SelectItem],
        scope: &Scope,
    ) -> Result<(Vec<Expr>, Vec<ScopeCol>)> {
        let mut exprs = Vec::new();
        let mut cols = Vec::new();
        for item in items {
            match item {
                ast::SelectItem::Wildcard(_) => {
                    let mut any = false;
                    for (i, c) in scope.cols.iter().enumerate() {
                        if !c.hidden && !c.qualified_only {
                            exprs.push(Expr::Column(i));
                            cols.push(c.clone());
                            any = true;
                        }
                    }
                    if !any && scope.cols.is_empty() {
                        return Err(Error::syntax(
                            "SELECT * with no tables specified is not valid",
                        ));
                    }
                }
                ast::SelectItem::QualifiedWildcard(kind, _) => {
                    let q = match kind {
                        ast::SelectItemQualifiedWildcardKind::ObjectName(n) => object_name(n)?.1,
                        _ => return Err(Error::unsupported("qualified wildcard")),
                    };
                    if !scope.has_qualifier(&q) {
                        return Err(Error::new(
                            ErrorCode::UndefinedTable,
                            format!("missing FROM-clause entry for table \"{q}\""),
                        ));
                    }
                    for (i, c) in scope.cols.iter().enumerate() {
                        if c.qualifier.as_deref() == Some(q.as_str()) && !c.hidden {
                            exprs.push(Expr::Column(i));
                            cols.push(c.clone());
                        }
                    }
                }
                ast::SelectItem::UnnamedExpr(e) => {
                    let (x, t) = self.expr(e, scope)?;
                    let mut c = match &x {
                        Expr::Column(i) => {
                            let mut c = scope.cols[*i].clone();
                            c.ty = t.clone();
                            c
                        }
                        _ => ScopeCol::new(column_name(e), t.clone()),
                    };
                    c.name = column_name(e);
                    c.hidden = false;
                    c.qualified_only = false;
                    let (x, t) = if t == DataType::Unknown && !self.set_leaf {
                        (self.coerce(x, &t, &DataType::Text)?, DataType::Text)
                    } else {
                        (x, t)
                    };
                    c.ty = t;
                    exprs.push(x);
                    cols.push(c);
                }
                ast::SelectItem::ExprWithAlias { expr, alias } => {
                    let (x, t) = self.expr(expr, scope)?;
                    let (x, t) = if t == DataType::Unknown && !self.set_leaf {
                        (self.coerce(x, &t, &DataType::Text)?, DataType::Text)
                    } else {
                        (x, t)
                    };
                    let mut c = match &x {
                        Expr::Column(i) => scope.cols[*i].clone(),
                        _ => ScopeCol::new("", t.clone()),
                    };
                    c.name = ident(alias);
                    c.ty = t;
                    c.hidden = false;
                    c.qualified_only = false;
                    exprs.push(x);
                    cols.push(c);
                }
                ast::SelectItem::ExprWithAliases { .. } => {
                    return Err(Error::unsupported("multiple aliases"))
                }
            }
        }
        for c in &mut cols {
            c.qualifier = None;
        }
        Ok((exprs, cols))
    }

    /// Binds one FROM item with its joins.
    pub fn table_with_joins(&mut self, twj: &ast::TableWithJoins) -> Result<(Plan, Scope)> {
        self.table_with_joins_after(twj, None)
    }

    /// A FROM item after the items whose columns are `left` (which lateral
    /// items may use).
    fn table_with_joins_after(
        &mut self,
        twj: &ast::TableWithJoins,
        left: Option<&Scope>,
    ) -> Result<(Plan, Scope)> {
        let (mut plan, mut scope) = self.table_factor(&twj.relation, left)?;
        for j in &twj.joins {
            let (rp, rs) = self.table_factor(&j.relation, Some(&scope))?;
            let (kind, constraint) = match &j.join_operator {
                ast::JoinOperator::Join(c) | ast::JoinOperator::Inner(c) => {
                    (JoinKind::Inner, c.clone())
                }
                ast::JoinOperator::Left(c) | ast::JoinOperator::LeftOuter(c) => {
                    (JoinKind::Left, c.clone())
                }
                ast::JoinOperator::Right(c) | ast::JoinOperator::RightOuter(c) => {
                    (JoinKind::Right, c.clone())
                }
                ast::JoinOperator::FullOuter(c) => (JoinKind::Full, c.clone()),
                ast::JoinOperator::CrossJoin(_) => (JoinKind::Inner, ast::JoinConstraint::None),
                other => return Err(Error::unsupported(format!("join type {other:?}"))),
            };
            let lw = scope.cols.len();
            let rw = rs.cols.len();
            let mut joined = Scope::new(scope.cols.iter().chain(&rs.cols).cloned().collect());
            // USING/NATURAL columns: (left, right) positions. The merged
            // column is the left one, or coalesce(left, right) when the
            // right side may be the only one present.
            let mut merged: Vec<(usize, usize)> = Vec::new();
            let on = match constraint {
                ast::JoinConstraint::On(e) => {
                    let saved = self.forbid_aggs("JOIN conditions");
                    let c = self.condition(&e, &joined, "JOIN/ON");
                    self.restore_aggs(saved);
                    Some(c?)
                }
                ast::JoinConstraint::Using(names) => {
                    let mut cond: Option<Expr> = None;
                    for n in names {
                        let name = object_name(&n)?.1;
                        let li = scope
                            .find(None, &name)?
                            .ok_or_else(|| using_missing(&name, "left"))?;
                        let ri = rs
                            .find(None, &name)?
                            .ok_or_else(|| using_missing(&name, "right"))?;
                        joined.cols[lw + ri].qualified_only = true;
                        merged.push((li, lw + ri));
                        let eq = Expr::Binary(
                            crate::func::BinaryOp::Eq,
                            Box::new(Expr::Column(li)),
                            Box::new(Expr::Column(lw + ri)),
                        );
                        cond = Some(match cond {
                            None => eq,
                            Some(c) => Expr::And(Box::new(c), Box::new(eq)),
                        });
                    }
                    cond
                }
                ast::JoinConstraint::Natural => {
                    let mut cond: Option<Expr> = None;
                    for (ri, c) in rs.cols.iter().enumerate() {
                        if c.hidden {
                            continue;
                        }
                        if let Some(li) = scope.find(None, &c.name)? {
                            joined.cols[lw + ri].qualified_only = true;
                            merged.push((li, lw + ri));
                            let eq = Expr::Binary(
                                crate::func::BinaryOp::Eq,
                                Box::new(Expr::Column(li)),
                                Box::new(Expr::Column(lw + ri)),
                            );
                            cond = Some(match cond {
                                None => eq,
                                Some(c) => Expr::And(Box::new(c), Box::new(eq)),
                            });
                        }
                    }
                    cond
                }
                ast::JoinConstraint::None => None,
                ast::JoinConstraint::UsingAlias(..) => {
                    return Err(Error::unsupported("USING ... AS"))
                }
            };
            plan = planner::make_join(kind, plan, rp, on, lw, rw);
            if matches!(kind, JoinKind::Right | JoinKind::Full) && !merged.is_empty() {
                let exprs = (0..lw + rw)
                    .map(|i| match merged.iter().find(|(l, _)| *l == i) {
                        Some((l, r)) => Expr::Coalesce(vec![Expr::Column(*l), Expr::Column(*r)]),
                        None => Expr::Column(i),
                    })
                    .collect();
                plan = Plan::Project {
                    input: Box::new(plan),
                    exprs,
                };
            }
            scope = joined;
        }
        Ok((plan, scope))
    }

    fn table_factor(
        &mut self,
        f: &ast::TableFactor,
        left: Option<&Scope>,
    ) -> Result<(Plan, Scope)> {
        match f {
            ast::TableFactor::Table {
                name,
                alias,
                args,
                with_ordinality,
                ..
            } => {
                let (schema, rel) = object_name(name)?;
                if let (Some(args), true) = (args, *with_ordinality) {
                    let exprs = super::srf::plain_args(&args.args);
                    return self.function_scan(&rel, &exprs, alias.as_ref(), left, true);
                }
                if let Some(args) = args {
                    let exprs: Vec<ast::Expr> = args
                        .args
                        .iter()
                        .filter_map(|a| match a {
                            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                                Some(e.clone())
                            }
                            _ => None,
                        })
                        .collect();
                    return self.table_function(&rel, &exprs, alias.as_ref(), left);
                }
                self.named_relation(schema.as_deref(), &rel, alias.as_ref())
            }
            ast::TableFactor::Derived {
                subquery,
                alias,
                lateral,
                ..
            } => {
                let (plan, mut cols) = match (lateral, left) {
                    (true, Some(left)) => {
                        // Bound with the left side as its outer row; run once per left row.
                        self.outer.push(left.clone());
                        self.outer_used.push(false);
                        let aggs = self.aggs.take();
                        let r = self.query(subquery);
                        self.aggs = aggs;
                        self.outer.pop();
                        self.outer_used.pop();
                        let (p, c) = r?;
                        (Plan::Lateral { input: Box::new(p) }, c)
                    }
                    _ => self.query(subquery)?,
                };
                let Some(alias) = alias else {
                    return Err(Error::syntax("subquery in FROM must have an alias")
                        .with_hint("For example, FROM (SELECT ...) [AS] foo."));
                };
                apply_alias(&mut cols, alias);
                Ok((plan, Scope::new(cols)))
            }
            ast::TableFactor::Function {
                name,
                args,
                alias,
                with_ordinality: true,
                ..
            } => {
                let rel = object_name(name)?.1;
                let exprs = super::srf::plain_args(args);
                self.function_scan(&rel, &exprs, alias.as_ref(), left, true)
            }
            ast::TableFactor::Function {
                name, args, alias, ..
            } => {
                let rel = object_name(name)?.1;
                let exprs: Vec<ast::Expr> = args
                    .iter()
                    .filter_map(|a| match a {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Some(e.clone()),
                        _ => None,
                    })
                    .collect();
                self.table_function(&rel, &exprs, alias.as_ref(), left)
            }
            ast::TableFactor::UNNEST {
                alias,
                array_exprs,
                with_offset: false,
                with_ordinality,
                ..
            } => self.function_scan(
                "unnest",
                array_exprs,
                alias.as_ref(),
                left,
                *with_ordinality,
            ),
            ast::TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                let _ = left;
                let (p, mut s) = self.table_with_joins(table_with_joins)?;
                if let Some(a) = alias {
                    apply_alias(&mut s.cols, a);
                }
                Ok((p, s))
            }
            other => Err(Error::unsupported(format!(
                "FROM item not supported: {other}"
            ))),
        }
    }

    /// GROUP BY a table's primary key also groups by its other columns
    /// (PostgreSQL's functional dependency rule).
    fn add_functional_dependencies(&self, group: &mut Vec<Expr>, scope: &Scope) {
        let grouped: Vec<usize> = group
            .iter()
            .filter_map(|g| match g {
                Expr::Column(i) => Some(*i),
                _ => None,
            })
            .collect();
        let mut extra = Vec::new();
        for &i in &grouped {
            let c = &scope.cols[i];
            let Some(t) = self.catalog.table_by_oid(c.table_oid) else {
                continue;
            };
            if t.pk.is_empty() {
                continue;
            }
            let same = |x: &ScopeCol| x.table_oid == c.table_oid && x.qualifier == c.qualifier;
            let covers = t.pk.iter().all(|p| {
                grouped.iter().any(|&g| {
                    let x = &scope.cols[g];
                    same(x) && x.column_id as usize == p + 1
                })
            });
            if !covers {
                continue;
            }
            for (j, x) in scope.cols.iter().enumerate() {
                if same(x) && !x.hidden && !grouped.contains(&j) && !extra.contains(&j) {
                    extra.push(j);
                }
            }
        }
        group.extend(extra.into_iter().map(Expr::Column));
    }

    /// Moves top-level generate_series/unnest calls of a select list into
    /// lateral function scans (run in lockstep when there are several);
    /// the items then read their column.
    fn select_srfs(
        &mut self,
        mut plan: Plan,
        mut scope: Scope,
        items: &[ast::SelectItem],
    ) -> Result<(Plan, Scope, Vec<ast::SelectItem>)> {
        let mut out = Vec::with_capacity(items.len());
        let mut scans: Vec<Plan> = Vec::new();
        for item in items {
            let (expr, alias) = match item {
                ast::SelectItem::UnnamedExpr(e) => (e, None),
                ast::SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.clone())),
                other => {
                    out.push(other.clone());
                    continue;
                }
            };
            let ast::Expr::Function(f) = expr else {
                out.push(item.clone());
                continue;
            };
            let name = f
                .name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .map(ident)
                .unwrap_or_default();
            let single = matches!(
                name.as_str(),
                "generate_series"
                    | "unnest"
                    | "generate_subscripts"
                    | "jsonb_array_elements"
                    | "jsonb_array_elements_text"
                    | "jsonb_object_keys"
                    | "pg_partition_ancestors"
            );
            if f.over.is_some() || !single {
                out.push(item.clone());
                continue;
            }
            let args: Vec<ast::Expr> = match &f.args {
                ast::FunctionArguments::List(l) => l
                    .args
                    .iter()
                    .filter_map(|a| match a {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Some(e.clone()),
                        _ => None,
                    })
                    .collect(),
                _ => vec![],
            };
            let (fp, mut fs) = self.table_function(&name, &args, None, Some(&scope))?;
            if fs.cols.len() != 1 {
                let types: Vec<DataType> = fs.cols.iter().map(|c| c.ty.clone()).collect();
                return Err(super::expr::undefined_function(&name, &types));
            }
            let hidden = format!("?srf{}?", scope.cols.len());
            fs.cols[0].name = hidden.clone();
            fs.cols[0].qualifier = None;
            scans.push(fp);
            scope.cols.extend(fs.cols);
            out.push(ast::SelectItem::ExprWithAlias {
                expr: ast::Expr::Identifier(ast::Ident::with_quote('"', hidden)),
                alias: alias.unwrap_or_else(|| ast::Ident::with_quote('"', name.clone())),
            });
        }
        // One function joins as it is; several run in lockstep, as one
        // lateral scan when any of them reads the row.
        let n = scans.len();
        let right = match scans.len() {
            0 => return Ok((plan, scope, out)),
            1 => scans.pop().expect("one scan"),
            _ => {
                let lateral = scans.iter().any(|s| matches!(s, Plan::Lateral { .. }));
                let inputs: Vec<Plan> = scans
                    .into_iter()
                    .map(|s| match s {
                        Plan::Lateral { input } => *input,
                        s => s,
                    })
                    .collect();
                let zip = Plan::Zip {
                    widths: vec![1; inputs.len()],
                    inputs,
                };
                if lateral {
                    Plan::Lateral {
                        input: Box::new(zip),
                    }
                } else {
                    zip
                }
            }
        };
        let lw = scope.cols.len() - n;
        plan = planner::make_join(JoinKind::Inner, plan, right, None, lw, n);
        Ok((plan, scope, out))
    }

    /// A set-returning function in FROM: generate_series here, unnest and
    /// the jsonb functions in `function_scan`. With a `left` scope (a later
    /// FROM item), its arguments may use the earlier items' columns, and it
    /// runs once per left row (implicit LATERAL).
    fn table_function(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        alias: Option<&ast::TableAlias>,
        left: Option<&Scope>,
    ) -> Result<(Plan, Scope)> {
        if crate::func::srf::is_srf(name) {
            return self.function_scan(name, args, alias, left, false);
        }
        let empty = Scope::default();
        if let Some(l) = left {
            self.outer.push(l.clone());
            self.outer_used.push(false);
        }
        let mut bound = Vec::new();
        let mut types = Vec::new();
        let mut err = None;
        for a in args {
            match self.expr(a, &empty) {
                Ok((x, t)) => {
                    bound.push(x);
                    types.push(t);
                }
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        let lateral = if left.is_some() {
            self.outer.pop();
            self.outer_used.pop().unwrap_or(false)
        } else {
            false
        };
        if let Some(e) = err {
            return Err(e);
        }
        let (args, t) = self.srf_args(name, bound, types)?;
        let mut cols = vec![ScopeCol::new(name, t)];
        cols[0].qualifier = Some(name.into());
        if let Some(a) = alias {
            apply_alias(&mut cols, a);
            if a.columns.is_empty() {
                cols[0].name = ident(&a.name);
            }
        }
        let plan = Plan::Function {
            name: name.into(),
            args,
            width: 1,
            ordinality: false,
        };
        let plan = if lateral {
            Plan::Lateral {
                input: Box::new(plan),
            }
        } else {
            plan
        };
        Ok((plan, Scope::new(cols)))
    }

    /// Types a set-returning function's arguments; returns them and the
    /// type of its rows.
    pub(crate) fn srf_args(
        &mut self,
        name: &str,
        bound: Vec<Expr>,
        types: Vec<DataType>,
    ) -> Result<(Vec<Expr>, DataType)> {
        match name {
            "generate_series" => {
                if bound.len() < 2 || bound.len() > 3 {
                    return Err(super::expr::undefined_function(name, &types));
                }
                let t = cast::common_type(&types[..2])?;
                let t = match t {
                    DataType::Unknown => DataType::Int4,
                    DataType::Date => DataType::Timestamptz,
                    t => t,
                };
                let mut args = Vec::new();
                for (i, (x, xt)) in bound.into_iter().zip(types).enumerate() {
                    let target =
                        if i == 2 && matches!(t, DataType::Timestamp | DataType::Timestamptz) {
                            DataType::Interval
                        } else {
                            t.clone()
                        };
                    args.push(self.coerce(x, &xt, &target)?);
                }
                Ok((args, t))
            }
            _ => Err(Error::new(
                ErrorCode::UndefinedFunction,
                format!("function {name} does not exist"),
            )),
        }
    }

    /// A table, view, CTE or system view by name.
    pub fn named_relation(
        &mut self,
        schema: Option<&str>,
        rel: &str,
        alias: Option<&ast::TableAlias>,
    ) -> Result<(Plan, Scope)> {
        if schema.is_none() {
            if let Some(c) = self.ctes.iter().rev().find(|c| c.name == rel).cloned() {
                let mut cols = c.cols.clone();
                if let Some(a) = alias {
                    apply_alias(&mut cols, a);
                }
                return Ok((Plan::CteRef { id: c.id }, Scope::new(cols)));
            }
        }
        // A missing schema reads as a missing relation here, as in
        // PostgreSQL's relation lookup.
        let found = match self.catalog.lookup(schema, rel, self.search_path) {
            Err(e) if e.code == ErrorCode::UndefinedSchema => None,
            r => r?.map(|(_, r)| r.clone()),
        };
        let (plan, mut cols) = match found {
            Some(Relation::Table(t)) => (
                Plan::Scan {
                    table: t.clone(),
                    access: Access::Full,
                    filter: None,
                    lock: None,
                },
                table_cols(&t),
            ),
            Some(Relation::View(v)) => {
                self.depth += 1;
                if self.depth > 32 {
                    return Err(Error::internal("view nesting too deep"));
                }
                let q = crate::parser::parse_query(&v.query)?;
                let outer = std::mem::take(&mut self.outer);
                let used = std::mem::take(&mut self.outer_used);
                let r = self.query(&q);
                self.outer = outer;
                self.outer_used = used;
                self.depth -= 1;
                let (p, mut cols) = r?;
                for (c, n) in cols.iter_mut().zip(&v.columns) {
                    c.name = n.clone();
                }
                for c in &mut cols {
                    c.qualifier = Some(v.name.clone());
                }
                (p, cols)
            }
            Some(Relation::Sequence(s)) => {
                let mut c = vec![
                    ScopeCol::new("last_value", DataType::Int8),
                    ScopeCol::new("log_cnt", DataType::Int8),
                    ScopeCol::new("is_called", DataType::Bool),
                ];
                for x in &mut c {
                    x.qualifier = Some(s.name.clone());
                }
                (
                    Plan::Values {
                        rows: vec![vec![
                            Expr::Const(Value::Int8(s.base)),
                            Expr::Const(Value::Int8(0)),
                            Expr::Const(Value::Bool(false)),
                        ]],
                    },
                    c,
                )
            }
            Some(Relation::Index(..)) => {
                return Err(Error::new(
                    ErrorCode::WrongObjectType,
                    format!("\"{rel}\" is an index"),
                ))
            }
            None => match crate::pg_catalog::columns(schema, rel) {
                Some(cols) => {
                    let cols = cols
                        .into_iter()
                        .map(|(n, t)| {
                            let mut c = ScopeCol::new(n, t);
                            c.qualifier = Some(rel.to_string());
                            c
                        })
                        .collect();
                    (
                        Plan::Virtual {
                            name: rel.to_string(),
                        },
                        cols,
                    )
                }
                None => {
                    let full = match schema {
                        Some(s) => format!("{s}.{rel}"),
                        None => rel.to_string(),
                    };
                    return Err(Error::new(
                        ErrorCode::UndefinedTable,
                        format!("relation \"{full}\" does not exist"),
                    ));
                }
            },
        };
        if let Some(a) = alias {
            apply_alias(&mut cols, a);
        }
        Ok((plan, Scope::new(cols)))
    }
}

/// The scope columns of a table scan: its columns, then the row key.
pub fn table_cols(t: &Arc<TableDef>) -> Vec<ScopeCol> {
    let mut cols: Vec<ScopeCol> = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| ScopeCol {
            qualifier: Some(t.name.clone()),
            name: if c.dropped {
                format!("........pg.dropped.{}", i + 1)
            } else {
                c.name.clone()
            },
            ty: c.ty.clone(),
            hidden: c.dropped,
            qualified_only: false,
            table_oid: t.oid,
            column_id: (i + 1) as i16,
        })
        .collect();
    cols.push(ScopeCol {
        qualifier: Some(t.name.clone()),
        name: "ctid".into(),
        ty: DataType::Bytea,
        hidden: true,
        qualified_only: true,
        table_oid: t.oid,
        column_id: 0,
    });
    cols
}

pub(super) fn apply_alias(cols: &mut [ScopeCol], alias: &ast::TableAlias) {
    let name = ident(&alias.name);
    let mut visible = cols.iter_mut().filter(|c| !c.hidden);
    for a in &alias.columns {
        if let Some(c) = visible.next() {
            c.name = ident(&a.name);
        }
    }
    for c in cols.iter_mut() {
        c.qualifier = Some(name.clone());
    }
}

fn cross(lp: Plan, ls: Scope, rp: Plan, rs: Scope) -> (Plan, Scope) {
    let lw = ls.cols.len();
    let rw = rs.cols.len();
    let scope = Scope::new(ls.cols.into_iter().chain(rs.cols).collect());
    (
        planner::make_join(JoinKind::Inner, lp, rp, None, lw, rw),
        scope,
    )
}

fn using_missing(name: &str, side: &str) -> Error {
    Error::new(
        ErrorCode::UndefinedColumn,
        format!("column \"{name}\" specified in USING clause does not exist in {side} table"),
    )
}

fn sort_key(expr: Expr, o: &ast::OrderByExpr) -> SortKey {
    let desc = matches!(o.options.sort, Some(ast::OrderBySort::Desc));
    SortKey {
        expr,
        desc,
        nulls_first: o.options.nulls_first.unwrap_or(desc),
    }
}

/// ORDER BY n or ORDER BY output-alias.
fn output_ref(e: &ast::Expr, cols: &[ScopeCol]) -> Result<Option<usize>> {
    match e {
        ast::Expr::Value(v) => {
            if let ast::Value::Number(n, _) = &v.value {
                let i: usize = n.parse().unwrap_or(0);
                if i == 0 || i > cols.len() {
                    return Err(Error::new(
                        ErrorCode::InvalidColumnReference,
                        format!("ORDER BY position {n} is not in select list"),
                    ));
                }
                return Ok(Some(i - 1));
            }
            Ok(None)
        }
        ast::Expr::Identifier(i) => {
            let name = ident(i);
            let hits: Vec<usize> = cols
                .iter()
                .enumerate()
                .filter(|(_, c)| c.name == name)
                .map(|(i, _)| i)
                .collect();
            Ok(hits.first().copied())
        }
        _ => Ok(None),
    }
}

fn select_item_expr(items: &[ast::SelectItem], pos: usize) -> Option<ast::Expr> {
    match items.get(pos.checked_sub(1)?)? {
        ast::SelectItem::UnnamedExpr(e) => Some(e.clone()),
        ast::SelectItem::ExprWithAlias { expr, .. } => Some(expr.clone()),
        _ => None,
    }
}

fn alias_expr(items: &[ast::SelectItem], name: &str) -> Option<ast::Expr> {
    items.iter().find_map(|i| match i {
        ast::SelectItem::ExprWithAlias { expr, alias } if ident(alias) == name => {
            Some(expr.clone())
        }
        _ => None,
    })
}

/// Maps an expression over the input to one over the Aggregate's output
/// (group values, then aggregate results).
fn post_agg(e: Expr, group: &[Expr], ng: usize, scope: &Scope) -> Result<Expr> {
    if let Some(i) = group.iter().position(|g| g.same(&e)) {
        return Ok(Expr::Column(i));
    }
    match e {
        Expr::Agg(i) => Ok(Expr::Column(ng + i)),
        Expr::Column(c) => {
            let col = scope.cols.get(c);
            let name = match col {
                Some(c) => match &c.qualifier {
                    Some(q) => format!("{q}.{}", c.name),
                    None => c.name.clone(),
                },
                None => "?".into(),
            };
            Err(Error::new(
                ErrorCode::GroupingError,
                format!("column \"{name}\" must appear in the GROUP BY clause or be used in an aggregate function"),
            ))
        }
        Expr::Const(_)
        | Expr::Param(_)
        | Expr::Outer { .. }
        | Expr::Slot(_)
        | Expr::Exists(_)
        | Expr::Window(_) => Ok(e),
        other => {
            // Map children, keeping this node.
            let mut err = None;
            let mapped = map_children(other, &mut |c| match post_agg(c, group, ng, scope) {
                Ok(x) => x,
                Err(e) => {
                    err.get_or_insert(e);
                    Expr::Const(Value::Null)
                }
            });
            match err {
                Some(e) => Err(e),
                None => Ok(mapped),
            }
        }
    }
}

/// Applies `f` to the direct children of `e`.
fn map_children(e: Expr, f: &mut dyn FnMut(Expr) -> Expr) -> Expr {
    let mut b = |x: Box<Expr>| Box::new(f(*x));
    match e {
        Expr::Binary(op, a, c) => {
            let a = b(a);
            Expr::Binary(op, a, b(c))
        }
        Expr::And(a, c) => {
            let a = b(a);
            Expr::And(a, b(c))
        }
        Expr::Or(a, c) => {
            let a = b(a);
            Expr::Or(a, b(c))
        }
        Expr::IsDistinct(a, c) => {
            let a = b(a);
            Expr::IsDistinct(a, b(c))
        }
        Expr::NullIf(a, c) => {
            let a = b(a);
            Expr::NullIf(a, b(c))
        }
        Expr::Unary(op, a) => Expr::Unary(op, b(a)),
        Expr::Not(a) => Expr::Not(b(a)),
        Expr::IsNull(a) => Expr::IsNull(b(a)),
        Expr::IsBool(a, v) => Expr::IsBool(b(a), v),
        Expr::Cast(a, t) => Expr::Cast(b(a), t),
        Expr::InSubquery(a, s) => Expr::InSubquery(b(a), s),
        Expr::Case {
            operand,
            whens,
            else_,
        } => Expr::Case {
            operand: operand.map(&mut b),
            whens: whens.into_iter().map(|(w, t)| (f(w), f(t))).collect(),
            else_: else_.map(|x| Box::new(f(*x))),
        },
        Expr::Coalesce(v) => Expr::Coalesce(v.into_iter().map(&mut *f).collect()),
        Expr::MinMax(v, g) => Expr::MinMax(v.into_iter().map(&mut *f).collect(), g),
        Expr::Func(n, v) => Expr::Func(n, v.into_iter().map(&mut *f).collect()),
        Expr::Session(n, v) => Expr::Session(n, v.into_iter().map(&mut *f).collect()),
        Expr::InList(a, v) => {
            let a = Box::new(f(*a));
            Expr::InList(a, v.into_iter().map(&mut *f).collect())
        }
        other => other,
    }
}

/// The result column name PostgreSQL gives an expression.
pub fn column_name(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Identifier(i) => ident(i),
        ast::Expr::CompoundIdentifier(v) => v.last().map(ident).unwrap_or_default(),
        ast::Expr::Function(f) => f
            .name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(ident)
            .unwrap_or_else(|| "?column?".into()),
        ast::Expr::Cast {
            expr, data_type, ..
        } => match expr.as_ref() {
            ast::Expr::Value(_) => type_column_name(data_type),
            other => {
                let n = column_name(other);
                if n == "?column?" {
                    type_column_name(data_type)
                } else {
                    n
                }
            }
        },
        ast::Expr::Nested(x) => column_name(x),
        ast::Expr::Case { .. } => "case".into(),
        ast::Expr::Exists { .. } => "exists".into(),
        ast::Expr::Extract { .. } => "extract".into(),
        ast::Expr::Substring { .. } => "substring".into(),
        ast::Expr::Position { .. } => "position".into(),
        ast::Expr::Trim { .. } => "btrim".into(),
        ast::Expr::Ceil { .. } => "ceil".into(),
        ast::Expr::Floor { .. } => "floor".into(),
        ast::Expr::Array(_) => "array".into(),
        ast::Expr::TypedString(ts) => type_column_name(&ts.data_type),
        ast::Expr::Interval(_) => "interval".into(),
        ast::Expr::Subquery(q) => match q.body.as_ref() {
            ast::SetExpr::Select(s) if s.projection.len() == 1 => match &s.projection[0] {
                ast::SelectItem::UnnamedExpr(e) => column_name(e),
                ast::SelectItem::ExprWithAlias { alias, .. } => ident(alias),
                _ => "?column?".into(),
            },
            _ => "?column?".into(),
        },
        _ => "?column?".into(),
    }
}

fn type_column_name(t: &ast::DataType) -> String {
    match DataType::from_sql(t) {
        Ok(dt) => match dt {
            DataType::Int2 => "int2".into(),
            DataType::Int4 => "int4".into(),
            DataType::Int8 => "int8".into(),
            DataType::Float4 => "float4".into(),
            DataType::Float8 => "float8".into(),
            DataType::Bool => "bool".into(),
            DataType::Varchar(_) => "varchar".into(),
            DataType::Char(_) => "bpchar".into(),
            DataType::Numeric(_) => "numeric".into(),
            DataType::Timestamptz => "timestamptz".into(),
            _ => t.to_string().to_lowercase(),
        },
        Err(_) => t.to_string().to_lowercase(),
    }
}

/// For `... ORDER BY <pk> LIMIT n FOR UPDATE` over one table: how many
/// rows the scan should lock (the rest are never returned).
fn lock_budget(plan: &Plan) -> Option<u64> {
    let Plan::Limit {
        input,
        limit: Some(Expr::Const(Value::Int8(n))),
        offset,
    } = plan
    else {
        return None;
    };
    let skip = match offset {
        None => 0,
        Some(Expr::Const(Value::Int8(m))) => *m,
        Some(_) => return None,
    };
    let mut node = input.as_ref();
    if let Plan::Project { input, exprs } = node {
        if exprs
            .iter()
            .enumerate()
            .all(|(i, e)| matches!(e, Expr::Column(c) if *c == i))
        {
            node = input;
        }
    }
    let (sort, proj) = match node {
        Plan::Sort { keys, input } => match input.as_ref() {
            Plan::Project { exprs, input } => (Some((keys, exprs)), input.as_ref()),
            _ => return None,
        },
        Plan::Project { input, .. } => (None, input.as_ref()),
        _ => return None,
    };
    let Plan::Scan {
        table,
        access,
        filter,
        ..
    } = proj
    else {
        return None;
    };
    if filter
        .as_ref()
        .map(crate::exec::expr::needs_slots)
        .unwrap_or(false)
    {
        return None;
    }
    if matches!(access, Access::Index { .. }) && sort.is_some() {
        return None;
    }
    if let Some((keys, exprs)) = sort {
        for (k, key) in keys.iter().enumerate() {
            let Expr::Column(i) = key.expr else {
                return None;
            };
            let in_order =
                matches!(exprs.get(i), Some(Expr::Column(c)) if table.pk.get(k) == Some(c));
            if !in_order || key.desc || key.nulls_first {
                return None;
            }
        }
    }
    Some((*n + skip).max(0) as u64)
}

/// Sets a row lock on every table scan of a query (FOR UPDATE/SHARE).
/// Locks the rows of the scans of `plan` (only those of table `of` when
/// given: `FOR UPDATE OF t`).
fn set_locks(plan: &mut Plan, l: RowLock, of: Option<&str>) {
    match plan {
        Plan::Scan { lock, table, .. } if of.is_none_or(|n| n == table.name) => *lock = Some(l),
        Plan::Filter { input, .. }
        | Plan::Project { input, .. }
        | Plan::Sort { input, .. }
        | Plan::Limit { input, .. }
        | Plan::Distinct { input, .. } => set_locks(input, l, of),
        Plan::Join { left, right, .. } => {
            set_locks(left, l, of);
            set_locks(right, l, of);
        }
        _ => {}
    }
}

/// Why the rows of a query cannot be locked (PostgreSQL's wording), if
/// they cannot: they are not rows of one table.
fn unlockable(q: &ast::Query, plan: &Plan) -> Option<&'static str> {
    if let ast::SetExpr::Select(s) = q.body.as_ref() {
        if s.distinct.is_some() {
            return Some("DISTINCT clause");
        }
        if !matches!(&s.group_by, ast::GroupByExpr::Expressions(v, _) if v.is_empty()) {
            return Some("GROUP BY clause");
        }
        if s.having.is_some() {
            return Some("HAVING clause");
        }
    }
    if matches!(q.body.as_ref(), ast::SetExpr::SetOperation { .. }) {
        return Some("UNION/INTERSECT/EXCEPT");
    }
    fn has_agg(p: &Plan) -> bool {
        match p {
            Plan::Aggregate { .. } => true,
            Plan::Filter { input, .. }
            | Plan::Project { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. } => has_agg(input),
            _ => false,
        }
    }
    has_agg(plan).then_some("aggregate functions")
}

/// The width of a Project's output (others: unknown, 0).
fn plan_width_hint(plan: &Plan) -> usize {
    match plan {
        Plan::Project { exprs, .. } => exprs.len(),
        Plan::Sort { input, .. } | Plan::Distinct { input, .. } | Plan::Limit { input, .. } => {
            plan_width_hint(input)
        }
        _ => 0,
    }
}

/// Whether a WITH query is an INSERT, UPDATE or DELETE.
pub fn is_dml(q: &ast::Query) -> bool {
    matches!(
        q.body.as_ref(),
        ast::SetExpr::Insert(_) | ast::SetExpr::Update(_) | ast::SetExpr::Delete(_)
    )
}

/// 42712 when a WITH list names two queries alike.
fn check_cte_names(with: &ast::With) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for c in &with.cte_tables {
        let n = ident(&c.alias.name);
        if !seen.insert(n.clone()) {
            return Err(Error::new(
                ErrorCode::DuplicateAlias,
                format!("WITH query name \"{n}\" specified more than once"),
            ));
        }
    }
    Ok(())
}
