//! INSERT, UPDATE and DELETE: binding (targets, defaults, assignment
//! types, RETURNING) and execution with PostgreSQL's row locking, unique,
//! NOT NULL, CHECK and foreign-key enforcement, and index maintenance.

use std::collections::HashSet;
use std::sync::Arc;

use shoal_txn::{LockMode, WaitPolicy};
use sqlparser::ast;

use super::scan::{decode_table_row, row_key_of};
use super::{Ctx, Row};
use crate::binder::query::table_cols;
use crate::binder::{ident, object_name, Binder, Scope, ScopeCol};
use crate::catalog::{IndexDef, Relation, TableDef};
use crate::error::{Error, ErrorCode, Result};
use crate::keys;
use crate::planner::plan::{Expr, JoinKind, Plan, RowLock};
use crate::planner::{self};
use crate::types::cast::{can_cast, cast, CastKind};
use crate::types::row::encode_row;
use crate::types::{DataType, FormatOptions, Value};

/// RETURNING: expressions over the written row, and their columns.
pub type Returning = Option<(Vec<Expr>, Vec<ScopeCol>)>;

/// ON CONFLICT.
#[derive(Clone, Debug)]
pub enum Conflict {
    Nothing,
    Update {
        sets: Vec<(usize, Expr)>,
        filter: Option<Expr>,
    },
}

/// The unique constraints an ON CONFLICT clause catches, by name: those
/// whose columns are exactly the target's, or the one named by ON
/// CONSTRAINT; `None` (no target) catches every unique constraint.
fn arbiters(t: &TableDef, target: Option<&ast::ConflictTarget>) -> Result<Option<Vec<String>>> {
    let mut constraints: Vec<(String, Vec<usize>)> = Vec::new();
    if !t.pk.is_empty() {
        constraints.push((Ctx::pk_name(t), t.pk.clone()));
    }
    for ix in t.secondary().filter(|i| i.unique) {
        constraints.push((ix.name.clone(), ix.columns.clone()));
    }
    match target {
        None => Ok(None),
        Some(ast::ConflictTarget::Columns { columns: cols, .. }) => {
            let mut want = Vec::new();
            for c in cols {
                want.push(t.column_or_err(&ident(c))?);
            }
            want.sort_unstable();
            want.dedup();
            let found: Vec<String> = constraints
                .into_iter()
                .filter(|(_, cs)| {
                    let mut cs = cs.clone();
                    cs.sort_unstable();
                    cs == want
                })
                .map(|(n, _)| n)
                .collect();
            if found.is_empty() {
                return Err(Error::new(
                    ErrorCode::InvalidColumnReference,
                    "there is no unique or exclusion constraint matching the ON CONFLICT specification",
                ));
            }
            Ok(Some(found))
        }
        Some(ast::ConflictTarget::OnConstraint(name)) => {
            let n = object_name(name)?.1;
            if constraints.iter().any(|(c, _)| *c == n) {
                Ok(Some(vec![n]))
            } else {
                Err(Error::new(
                    ErrorCode::UndefinedObject,
                    format!("constraint \"{n}\" for table \"{}\" does not exist", t.name),
                ))
            }
        }
    }
}

/// A bound INSERT.
#[derive(Clone, Debug)]
pub struct InsertPlan {
    pub table: Arc<TableDef>,
    /// Rows of the table's full width.
    pub source: Plan,
    pub returning: Returning,
    pub conflict: Option<Conflict>,
    /// The constraints ON CONFLICT catches (see [`arbiters`]).
    pub arbiters: Option<Vec<String>>,
    pub checks: Vec<(String, Expr)>,
}

/// A bound UPDATE or DELETE: `input` yields the target row (columns and
/// key) first, then the FROM/USING tables' columns.
#[derive(Clone, Debug)]
pub struct ModifyPlan {
    pub table: Arc<TableDef>,
    pub input: Plan,
    /// UPDATE's assignments (empty for DELETE).
    pub sets: Vec<(usize, Expr)>,
    pub returning: Returning,
    pub checks: Vec<(String, Expr)>,
    pub delete: bool,
}

fn target_table(b: &Binder<'_>, name: &ast::ObjectName, verb: &str) -> Result<Arc<TableDef>> {
    let (schema, rel) = object_name(name)?;
    match b.catalog.lookup(schema.as_deref(), &rel, b.search_path)? {
        Some((_, Relation::Table(t))) => Ok(t.clone()),
        Some((_, Relation::View(_))) => Err(Error::new(
            ErrorCode::ObjectNotInPrerequisiteState,
            format!("cannot {verb} view \"{rel}\""),
        )
        .with_detail(
            "Views that do not select from a single table or view are not automatically updatable.",
        )),
        Some(_) => Err(Error::new(
            ErrorCode::WrongObjectType,
            format!("cannot change relation \"{rel}\""),
        )),
        None => Err(Error::new(
            ErrorCode::UndefinedTable,
            format!("relation \"{rel}\" does not exist"),
        )),
    }
}

/// Binds a column's DEFAULT (NULL when it has none).
pub fn default_expr(b: &mut Binder<'_>, t: &TableDef, col: usize) -> Result<Expr> {
    let c = &t.columns[col];
    match &c.default {
        Some(text) => {
            let e = crate::parser::parse_expr(text)?;
            let (x, ty) = b.expr(&e, &Scope::default())?;
            b.coerce(x, &ty, &c.ty)
        }
        None => Ok(Expr::Const(Value::Null)),
    }
}

/// Binds the table's CHECK constraints over its row.
pub fn bind_checks(b: &mut Binder<'_>, t: &Arc<TableDef>) -> Result<Vec<(String, Expr)>> {
    let scope = Scope::new(table_cols(t));
    t.checks
        .iter()
        .map(|c| {
            let e = crate::parser::parse_expr(&c.expr)?;
            Ok((c.name.clone(), b.condition(&e, &scope, "CHECK")?))
        })
        .collect()
}

/// Checks that `ty` may be assigned to column `c` and coerces literals.
fn assign(b: &mut Binder<'_>, x: Expr, ty: &DataType, t: &TableDef, c: usize) -> Result<Expr> {
    let col = &t.columns[c];
    if *ty != DataType::Unknown && *ty != col.ty && !can_cast(ty, &col.ty, CastKind::Assignment) {
        return Err(Error::new(
            ErrorCode::DatatypeMismatch,
            format!(
                "column \"{}\" is of type {} but expression is of type {}",
                col.name,
                col.ty.display_name(),
                ty.display_name()
            ),
        )
        .with_hint("You will need to rewrite or cast the expression."));
    }
    b.coerce(x, ty, &col.ty)
}

fn is_default_kw(e: &ast::Expr) -> bool {
    matches!(e, ast::Expr::Identifier(i) if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"))
}

fn returning(
    b: &mut Binder<'_>,
    items: &Option<Vec<ast::SelectItem>>,
    scope: &Scope,
) -> Result<Returning> {
    let Some(items) = items else { return Ok(None) };
    let (exprs, cols) = b.returning_list(items, scope)?;
    Ok(Some((exprs, cols)))
}

impl Binder<'_> {
    /// RETURNING's list, bound like a select list over `scope`.
    pub fn returning_list(
        &mut self,
        items: &[ast::SelectItem],
        scope: &Scope,
    ) -> Result<(Vec<Expr>, Vec<ScopeCol>)> {
        let saved = self.forbid_aggs("RETURNING");
        let r = self.select_list(items, scope);
        self.restore_aggs(saved);
        r
    }

    pub fn bind_insert(&mut self, ins: &ast::Insert) -> Result<InsertPlan> {
        let name = match &ins.table {
            ast::TableObject::TableName(n) => n,
            _ => return Err(Error::unsupported("INSERT into a table function")),
        };
        let t = target_table(self, name, "insert into")?;
        let ncols = t.columns.len();
        let targets: Vec<usize> = if ins.columns.is_empty() {
            (0..ncols).filter(|i| !t.columns[*i].dropped).collect()
        } else {
            let mut v = Vec::new();
            for c in &ins.columns {
                let n = object_name(c)?.1;
                let i = t.column_or_err(&n)?;
                if v.contains(&i) {
                    return Err(Error::new(
                        ErrorCode::DuplicateColumn,
                        format!("column \"{n}\" specified more than once"),
                    ));
                }
                v.push(i);
            }
            v
        };
        // Without a column list, the values fill the first columns.
        let mut bound_query = None;
        let targets = if ins.columns.is_empty() {
            let width = match ins.source.as_deref() {
                None => 0,
                Some(q) => match q.body.as_ref() {
                    ast::SetExpr::Values(v) if q.order_by.is_none() && q.limit_clause.is_none() => {
                        v.rows.first().map(|r| r.content.len()).unwrap_or(0)
                    }
                    _ => {
                        let b = self.query(q)?;
                        let w = b.1.len();
                        bound_query = Some(b);
                        w
                    }
                },
            };
            if width > targets.len() {
                return Err(Error::syntax(
                    "INSERT has more expressions than target columns",
                ));
            }
            targets.into_iter().take(width).collect()
        } else {
            targets
        };
        // GENERATED ALWAYS AS IDENTITY takes only DEFAULT, unless
        // OVERRIDING SYSTEM VALUE.
        let user_value_for_identity = matches!(ins.overriding, Some(ast::InsertOverriding::User));
        if !matches!(ins.overriding, Some(ast::InsertOverriding::System)) {
            for &c in &targets {
                let col = &t.columns[c];
                if !col.identity_always {
                    continue;
                }
                let all_default = match ins.source.as_deref().map(|q| q.body.as_ref()) {
                    Some(ast::SetExpr::Values(v)) => v.rows.iter().all(|r| {
                        targets
                            .iter()
                            .position(|x| *x == c)
                            .and_then(|i| r.content.get(i))
                            .is_none_or(is_default_kw)
                    }),
                    _ => false,
                };
                if !all_default && !user_value_for_identity {
                    return Err(Error::new(
                        ErrorCode::GeneratedAlways,
                        format!(
                            "cannot insert a non-DEFAULT value into column \"{}\"",
                            col.name
                        ),
                    )
                    .with_detail(format!(
                        "Column \"{}\" is an identity column defined as GENERATED ALWAYS.",
                        col.name
                    ))
                    .with_hint("Use OVERRIDING SYSTEM VALUE to override."));
                }
            }
        }
        let mut defaults = Vec::with_capacity(ncols);
        for c in 0..ncols {
            defaults.push(if targets.contains(&c) {
                None
            } else {
                Some(default_expr(self, &t, c)?)
            });
        }
        let source = match ins.source.as_deref() {
            None => Plan::Values {
                rows: vec![(0..ncols)
                    .map(|c| default_expr(self, &t, c))
                    .collect::<Result<_>>()?],
            },
            Some(q) => match q.body.as_ref() {
                ast::SetExpr::Values(values)
                    if q.order_by.is_none() && q.limit_clause.is_none() =>
                {
                    let mut rows = Vec::new();
                    let width = values.rows.first().map(|r| r.content.len());
                    if values.rows.iter().any(|r| Some(r.content.len()) != width) {
                        return Err(Error::syntax("VALUES lists must all be the same length"));
                    }
                    for r in &values.rows {
                        if r.content.len() > targets.len() {
                            return Err(Error::syntax(
                                "INSERT has more expressions than target columns",
                            ));
                        }
                        if r.content.len() < targets.len() {
                            return Err(Error::syntax(
                                "INSERT has more target columns than expressions",
                            ));
                        }
                        let mut row: Vec<Expr> = defaults
                            .iter()
                            .map(|d| d.clone().unwrap_or(Expr::Const(Value::Null)))
                            .collect();
                        for (e, &c) in r.content.iter().zip(&targets) {
                            row[c] = if is_default_kw(e) {
                                default_expr(self, &t, c)?
                            } else if user_value_for_identity {
                                // OVERRIDING USER VALUE: the sequence wins.
                                if t.columns[c].identity {
                                    default_expr(self, &t, c)?
                                } else {
                                    let (x, ty) = self.expr(e, &Scope::default())?;
                                    assign(self, x, &ty, &t, c)?
                                }
                            } else {
                                let (x, ty) = self.expr(e, &Scope::default())?;
                                assign(self, x, &ty, &t, c)?
                            };
                        }
                        rows.push(row);
                    }
                    Plan::Values { rows }
                }
                _ => {
                    let (plan, cols) = match bound_query.take() {
                        Some(b) => b,
                        None => self.query(q)?,
                    };
                    if cols.len() > targets.len() {
                        return Err(Error::syntax(
                            "INSERT has more expressions than target columns",
                        ));
                    }
                    if cols.len() < targets.len() {
                        return Err(Error::syntax(
                            "INSERT has more target columns than expressions",
                        ));
                    }
                    let mut exprs: Vec<Expr> = defaults
                        .iter()
                        .map(|d| d.clone().unwrap_or(Expr::Const(Value::Null)))
                        .collect();
                    for (i, &c) in targets.iter().enumerate() {
                        exprs[c] = assign(self, Expr::Column(i), &cols[i].ty, &t, c)?;
                    }
                    Plan::Project {
                        input: Box::new(plan),
                        exprs,
                    }
                }
            },
        };
        let scope = Scope::new(table_cols(&t));
        let conflict = match &ins.on {
            None => None,
            Some(ast::OnInsert::OnConflict(oc)) => Some(match &oc.action {
                ast::OnConflictAction::DoNothing => Conflict::Nothing,
                ast::OnConflictAction::DoUpdate(du) => {
                    if oc.conflict_target.is_none() {
                        return Err(Error::syntax("ON CONFLICT DO UPDATE requires inference specification or constraint name")
                            .with_hint("For example, ON CONFLICT (column_name)."));
                    }
                    let mut cols = table_cols(&t);
                    let mut excluded = table_cols(&t);
                    for c in &mut excluded {
                        c.qualifier = Some("excluded".into());
                        c.qualified_only = true;
                    }
                    cols.extend(excluded);
                    let both = Scope::new(cols);
                    let sets = self.assignments(&du.assignments, &t, &both)?;
                    let filter = match &du.selection {
                        Some(w) => Some(self.condition(w, &both, "WHERE")?),
                        None => None,
                    };
                    Conflict::Update { sets, filter }
                }
            }),
            Some(_) => return Err(Error::unsupported("ON DUPLICATE KEY UPDATE")),
        };
        let arbiters = match &ins.on {
            Some(ast::OnInsert::OnConflict(oc)) => arbiters(&t, oc.conflict_target.as_ref())?,
            _ => None,
        };
        let returning = returning(self, &ins.returning, &scope)?;
        let checks = bind_checks(self, &t)?;
        Ok(InsertPlan {
            table: t,
            source,
            returning,
            conflict,
            arbiters,
            checks,
        })
    }

    fn assignments(
        &mut self,
        list: &[ast::Assignment],
        t: &TableDef,
        scope: &Scope,
    ) -> Result<Vec<(usize, Expr)>> {
        let mut sets = Vec::new();
        for a in list {
            let names: Vec<ast::ObjectName> = match &a.target {
                ast::AssignmentTarget::ColumnName(n) => vec![n.clone()],
                ast::AssignmentTarget::Tuple(v) => v.clone(),
            };
            let values: Vec<ast::Expr> = if names.len() > 1 {
                match &a.value {
                    ast::Expr::Tuple(v) => v.clone(),
                    _ => {
                        return Err(Error::unsupported(
                            "multi-column assignment from a subquery",
                        ))
                    }
                }
            } else {
                vec![a.value.clone()]
            };
            for (n, v) in names.iter().zip(values) {
                let col = object_name(n)?.1;
                let c = t.column_or_err(&col)?;
                if sets.iter().any(|(x, _)| *x == c) {
                    return Err(Error::syntax(format!(
                        "multiple assignments to same column \"{col}\""
                    )));
                }
                let x = if is_default_kw(&v) {
                    default_expr(self, t, c)?
                } else {
                    if t.columns[c].identity_always {
                        return Err(Error::new(
                            ErrorCode::GeneratedAlways,
                            format!("column \"{col}\" can only be updated to DEFAULT"),
                        )
                        .with_detail(format!(
                            "Column \"{col}\" is an identity column defined as GENERATED ALWAYS."
                        )));
                    }
                    let (x, ty) = self.expr(&v, scope)?;
                    assign(self, x, &ty, t, c)?
                };
                sets.push((c, x));
            }
        }
        Ok(sets)
    }

    /// The target scan (with alias) joined with FROM/USING tables.
    fn modify_input(
        &mut self,
        t: &Arc<TableDef>,
        alias: Option<&ast::TableAlias>,
        from: &[ast::TableWithJoins],
        selection: Option<&ast::Expr>,
        lock: RowLock,
    ) -> Result<(Plan, Scope)> {
        let mut cols = table_cols(t);
        if let Some(a) = alias {
            for c in &mut cols {
                c.qualifier = Some(ident(&a.name));
            }
        }
        let mut plan = Plan::Scan {
            table: t.clone(),
            access: crate::planner::plan::Access::Full,
            filter: None,
            lock: None,
        };
        let mut scope = Scope::new(cols);
        for twj in from {
            let (p, s) = self.table_with_joins(twj)?;
            let lw = scope.cols.len();
            let rw = s.cols.len();
            plan = planner::make_join(JoinKind::Inner, plan, p, None, lw, rw);
            scope.cols.extend(s.cols);
        }
        if let Some(w) = selection {
            let saved = self.forbid_aggs("WHERE");
            let cond = self.condition(w, &scope, "WHERE");
            self.restore_aggs(saved);
            plan = planner::push_filter(plan, cond?);
        }
        plan = planner::choose_access(plan, self.catalog);
        set_target_lock(&mut plan, lock);
        Ok((plan, scope))
    }

    pub fn bind_update(&mut self, u: &ast::Update) -> Result<ModifyPlan> {
        let (name, alias) = match &u.table.relation {
            ast::TableFactor::Table { name, alias, .. } => (name, alias.as_ref()),
            _ => return Err(Error::unsupported("UPDATE target")),
        };
        let t = target_table(self, name, "update")?;
        let from: Vec<ast::TableWithJoins> = match &u.from {
            Some(ast::UpdateTableFromKind::AfterSet(v))
            | Some(ast::UpdateTableFromKind::BeforeSet(v)) => v.clone(),
            None => vec![],
        };
        let key_change = u.assignments.iter().any(|a| match &a.target {
            ast::AssignmentTarget::ColumnName(n) => object_name(n)
                .ok()
                .and_then(|(_, c)| t.column(&c))
                .map(|c| t.pk.contains(&c))
                .unwrap_or(false),
            _ => true,
        });
        let mode = if key_change {
            LockMode::RowExclusive
        } else {
            LockMode::RowNoKeyExclusive
        };
        let (input, scope) = self.modify_input(
            &t,
            alias,
            &from,
            u.selection.as_ref(),
            RowLock {
                mode,
                wait: WaitPolicy::Wait,
                budget: None,
            },
        )?;
        let sets = self.assignments(&u.assignments, &t, &scope)?;
        let returning = returning(self, &u.returning, &scope)?;
        let checks = bind_checks(self, &t)?;
        Ok(ModifyPlan {
            table: t,
            input,
            sets,
            returning,
            checks,
            delete: false,
        })
    }

    pub fn bind_delete(&mut self, d: &ast::Delete) -> Result<ModifyPlan> {
        let tables = match &d.from {
            ast::FromTable::WithFromKeyword(v) | ast::FromTable::WithoutKeyword(v) => v,
        };
        let Some(first) = tables.first() else {
            return Err(Error::syntax("DELETE without a table"));
        };
        let (name, alias) = match &first.relation {
            ast::TableFactor::Table { name, alias, .. } => (name, alias.as_ref()),
            _ => return Err(Error::unsupported("DELETE target")),
        };
        let t = target_table(self, name, "delete from")?;
        let using: Vec<ast::TableWithJoins> = d.using.clone().unwrap_or_default();
        let (input, scope) = self.modify_input(
            &t,
            alias,
            &using,
            d.selection.as_ref(),
            RowLock {
                mode: LockMode::RowExclusive,
                wait: WaitPolicy::Wait,
                budget: None,
            },
        )?;
        let returning = returning(self, &d.returning, &scope)?;
        Ok(ModifyPlan {
            table: t,
            input,
            sets: vec![],
            returning,
            checks: vec![],
            delete: true,
        })
    }
}

/// Puts the DML lock on the target scan (the leftmost one).
fn set_target_lock(plan: &mut Plan, l: RowLock) {
    match plan {
        Plan::Scan { lock, .. } => *lock = Some(l),
        Plan::Join { left, .. } => set_target_lock(left, l),
        Plan::Filter { input, .. } => set_target_lock(input, l),
        _ => {}
    }
}

/// Values as PostgreSQL shows them in DETAIL lines.
fn show_values(vals: &[&Value], fmt: &FormatOptions) -> String {
    vals.iter()
        .map(|v| v.to_text(fmt).unwrap_or_else(|| "null".into()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn col_names(t: &TableDef, cols: &[usize]) -> String {
    cols.iter()
        .map(|c| t.columns[*c].name.clone())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The index entry (key, value) of `row` for `ix`: unique entries without
/// NULLs are keyed by their values alone (so a lock plus one read checks
/// uniqueness) and hold the row's key suffix; others append it.
pub fn index_entry(ix: &IndexDef, row: &[Value], row_key: &[u8]) -> (Vec<u8>, Vec<u8>, bool) {
    let vals: Vec<&Value> = ix.columns.iter().map(|c| &row[*c]).collect();
    let suffix = row_key.get(5..).unwrap_or(&[]).to_vec();
    let mut key = keys::index_values_key(ix.oid, &vals);
    let unique = ix.unique && !vals.iter().any(|v| v.is_null());
    if unique {
        (key, suffix, true)
    } else {
        key.extend_from_slice(&suffix);
        (key, Vec::new(), false)
    }
}

impl Ctx<'_> {
    /// Casts, NOT NULL and CHECK for a row about to be written.
    async fn prepare_row(
        &mut self,
        t: &TableDef,
        mut row: Row,
        checks: &[(String, Expr)],
    ) -> Result<Row> {
        row.truncate(t.columns.len());
        for (i, c) in t.columns.iter().enumerate() {
            if c.dropped {
                row[i] = Value::Null;
                continue;
            }
            if !row[i].is_null() && row[i].data_type().as_ref() != Some(&c.ty) {
                row[i] = cast(&row[i], &c.ty, CastKind::Assignment, &self.fctx.format)?;
            }
        }
        for (i, c) in t.columns.iter().enumerate() {
            if c.not_null && row[i].is_null() {
                return Err(Error::new(
                    ErrorCode::NotNullViolation,
                    format!("null value in column \"{}\" of relation \"{}\" violates not-null constraint", c.name, t.name),
                )
                .with_detail(format!("Failing row contains ({}).", self.failing_row(t, &row))));
            }
        }
        if !checks.is_empty() {
            let mut full = row.clone();
            full.push(Value::Null);
            for (name, e) in checks {
                if matches!(self.eval_full(e, &full, &[]).await?, Value::Bool(false)) {
                    return Err(Error::new(
                        ErrorCode::CheckViolation,
                        format!(
                            "new row for relation \"{}\" violates check constraint \"{name}\"",
                            t.name
                        ),
                    )
                    .with_detail(format!(
                        "Failing row contains ({}).",
                        self.failing_row(t, &row)
                    )));
                }
            }
        }
        Ok(row)
    }

    fn failing_row(&self, t: &TableDef, row: &[Value]) -> String {
        let vals: Vec<&Value> = row
            .iter()
            .zip(&t.columns)
            .filter(|(_, c)| !c.dropped)
            .map(|(v, _)| v)
            .collect();
        show_values(&vals, &self.fctx.format)
    }

    async fn new_row_key(&mut self, t: &TableDef, row: &[Value]) -> Result<Vec<u8>> {
        if t.pk.is_empty() {
            let id = self.db.next_sequence_value(t.oid as u64, 1000).await?;
            Ok(keys::row_key(t.oid, &[&Value::Int8(id as i64)]))
        } else {
            let vals: Vec<&Value> = t.pk.iter().map(|c| &row[*c]).collect();
            Ok(keys::row_key(t.oid, &vals))
        }
    }

    fn duplicate(&self, t: &TableDef, name: &str, cols: &[usize], row: &[Value]) -> Error {
        let vals: Vec<&Value> = cols.iter().map(|c| &row[*c]).collect();
        Error::new(
            ErrorCode::UniqueViolation,
            format!("duplicate key value violates unique constraint \"{name}\""),
        )
        .with_detail(format!(
            "Key ({})=({}) already exists.",
            col_names(t, cols),
            show_values(&vals, &self.fctx.format)
        ))
    }

    fn pk_name(t: &TableDef) -> String {
        t.primary_index()
            .map(|i| i.name.clone())
            .unwrap_or_else(|| format!("{}_pkey", t.name))
    }

    /// Writes a new row with its index entries. `old` is the row it
    /// replaces (UPDATE), whose entries go away. Locks must be held.
    async fn write_row(
        &mut self,
        t: &TableDef,
        key: &[u8],
        row: &[Value],
        old: Option<(&[u8], &[Value])>,
    ) -> Result<()> {
        for ix in t.secondary() {
            let (nk, nv, unique) = index_entry(ix, row, key);
            if let Some((ok, orow)) = old {
                let (okey, _, _) = index_entry(ix, orow, ok);
                if okey == nk && ok == key {
                    continue;
                }
                self.txn.delete(okey);
            }
            if unique {
                if let Some(existing) = self.txn.get_latest(&nk).await?.value {
                    if existing.as_ref() != &key[5..] {
                        return Err(self.duplicate(t, &ix.name, &ix.columns, row));
                    }
                }
            }
            self.txn.put(nk, nv);
        }
        if let Some((ok, _)) = old {
            if ok != key {
                self.txn.delete(ok.to_vec());
            }
        }
        self.txn.put(key.to_vec(), encode_row(row));
        Ok(())
    }

    /// Locks for unique index values of `row` (taken with the row lock).
    fn unique_locks(t: &TableDef, row: &[Value], key: &[u8]) -> Vec<Vec<u8>> {
        t.secondary()
            .filter(|ix| ix.unique)
            .filter_map(|ix| {
                let (k, _, unique) = index_entry(ix, row, key);
                unique.then_some(k)
            })
            .collect()
    }

    /// Child-side foreign key checks for a written row.
    async fn check_parents(
        &mut self,
        t: &TableDef,
        key: &[u8],
        row: &[Value],
        changed: Option<&[Value]>,
    ) -> Result<()> {
        for fk in &t.foreign_keys {
            let deferred = fk.deferrable
                && self
                    .state
                    .constraints_deferred
                    .unwrap_or(fk.initially_deferred);
            if deferred {
                if fk.columns.iter().all(|c| !row[*c].is_null()) {
                    self.state
                        .deferred_checks
                        .push((t.oid, fk.name.clone(), key.to_vec()));
                }
                continue;
            }
            self.check_parent(t, fk, row, changed).await?;
        }
        Ok(())
    }

    /// Runs the foreign key checks deferred to now (COMMIT, or SET
    /// CONSTRAINTS ... IMMEDIATE): each row still present is checked
    /// against its constraint as it reads now.
    pub async fn check_deferred(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.state.deferred_checks);
        for (table, name, key) in pending {
            let Some(t) = self.catalog.table_by_oid(table).cloned() else {
                continue;
            };
            let Some(fk) = t.foreign_keys.iter().find(|f| f.name == name) else {
                continue;
            };
            let Some(v) = self.txn.get_latest(&key).await?.value else {
                continue;
            };
            let row = decode_table_row(&t, &key, &v)?;
            self.check_parent(&t, fk, &row, None).await?;
        }
        Ok(())
    }

    async fn check_parent(
        &mut self,
        t: &TableDef,
        fk: &crate::catalog::ForeignKeyDef,
        row: &[Value],
        changed: Option<&[Value]>,
    ) -> Result<()> {
        {
            let vals: Vec<&Value> = fk.columns.iter().map(|c| &row[*c]).collect();
            if vals.iter().any(|v| v.is_null()) {
                return Ok(());
            }
            if let Some(old) = changed {
                if fk
                    .columns
                    .iter()
                    .all(|c| old[*c].compare(&row[*c]) == Some(std::cmp::Ordering::Equal))
                {
                    return Ok(());
                }
            }
            let Some(parent) = self.catalog.table_by_oid(fk.ref_table).cloned() else {
                return Ok(());
            };
            let mut pv = Vec::new();
            for (v, c) in vals.iter().zip(&fk.ref_columns) {
                pv.push(cast(
                    v,
                    &parent.columns[*c].ty,
                    CastKind::Explicit,
                    &self.fctx.format,
                )?);
            }
            let refs: Vec<&Value> = pv.iter().collect();
            let lookup = if parent.pk == fk.ref_columns {
                Some(keys::row_key(parent.oid, &refs))
            } else {
                parent
                    .secondary()
                    .find(|ix| ix.unique && ix.columns == fk.ref_columns)
                    .map(|ix| keys::index_values_key(ix.oid, &refs))
            };
            let present = match lookup {
                Some(k) => {
                    let timeout = self.lock_wait();
                    self.txn
                        .lock(
                            &[(parent.oid as u64, Some(&k), LockMode::RowKeyShare)],
                            WaitPolicy::Wait,
                            timeout,
                        )
                        .await
                        .map_err(|e| self.lock_failed(e, &parent.name))?;
                    self.txn.get_latest(&k).await?.value.is_some()
                }
                None => false,
            };
            if !present {
                return Err(Error::new(
                    ErrorCode::ForeignKeyViolation,
                    format!(
                        "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
                        t.name, fk.name
                    ),
                )
                .with_detail(format!(
                    "Key ({})=({}) is not present in table \"{}\".",
                    col_names(t, &fk.columns),
                    show_values(&vals, &self.fctx.format),
                    parent.name
                )));
            }
        }
        Ok(())
    }

    /// Parent-side checks: no row may still reference `old`'s key.
    async fn check_children(
        &mut self,
        t: &TableDef,
        old: &[Value],
        new: Option<&[Value]>,
    ) -> Result<()> {
        for child in self.catalog.referencing(t.oid) {
            for fk in child.foreign_keys.iter().filter(|f| f.ref_table == t.oid) {
                let vals: Vec<Value> = fk.ref_columns.iter().map(|c| old[*c].clone()).collect();
                if vals.iter().any(|v| v.is_null()) {
                    continue;
                }
                if let Some(new) = new {
                    if fk
                        .ref_columns
                        .iter()
                        .all(|c| old[*c].compare(&new[*c]) == Some(std::cmp::Ordering::Equal))
                    {
                        continue;
                    }
                }
                let mut filter: Option<Expr> = None;
                for (v, c) in vals.iter().zip(&fk.columns) {
                    let eq = Expr::Binary(
                        crate::func::BinaryOp::Eq,
                        Box::new(Expr::Column(*c)),
                        Box::new(Expr::Const(v.clone())),
                    );
                    filter = Some(match filter {
                        None => eq,
                        Some(f) => Expr::And(Box::new(f), Box::new(eq)),
                    });
                }
                let plan = planner::choose_access(
                    Plan::Scan {
                        table: child.clone(),
                        access: crate::planner::plan::Access::Full,
                        filter,
                        lock: None,
                    },
                    self.catalog,
                );
                let rows = self.run(&plan, &[]).await?;
                if rows.is_empty() {
                    continue;
                }
                if new.is_none() && fk.on_delete_cascade {
                    for r in rows {
                        let key = row_key_of(&r)?.to_vec();
                        Box::pin(self.delete_row(&child, &key, &r)).await?;
                    }
                    continue;
                }
                let shown: Vec<&Value> = vals.iter().collect();
                return Err(Error::new(
                    ErrorCode::ForeignKeyViolation,
                    format!(
                        "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
                        t.name, fk.name, child.name
                    ),
                )
                .with_detail(format!(
                    "Key ({})=({}) is still referenced from table \"{}\".",
                    col_names(t, &fk.ref_columns),
                    show_values(&shown, &self.fctx.format),
                    child.name
                )));
            }
        }
        Ok(())
    }

    async fn delete_row(&mut self, t: &TableDef, key: &[u8], row: &[Value]) -> Result<()> {
        let timeout = self.lock_wait();
        self.txn
            .lock(
                &[(t.oid as u64, Some(key), LockMode::RowExclusive)],
                WaitPolicy::Wait,
                timeout,
            )
            .await
            .map_err(|e| self.lock_failed(e, &t.name))?;
        self.check_children(t, row, None).await?;
        for ix in t.secondary() {
            let (k, _, _) = index_entry(ix, row, key);
            self.txn.delete(k);
        }
        self.txn.delete(key.to_vec());
        Ok(())
    }

    async fn returning_row(
        &mut self,
        r: &Returning,
        row: &[Value],
        out: &mut Vec<Row>,
    ) -> Result<()> {
        if let Some((exprs, _)) = r {
            let mut v = Vec::with_capacity(exprs.len());
            for e in exprs {
                v.push(self.eval_full(e, row, &[]).await?);
            }
            out.push(v);
        }
        Ok(())
    }

    /// Runs an INSERT; returns the count and RETURNING rows.
    pub async fn insert(&mut self, p: &InsertPlan) -> Result<(u64, Vec<Row>)> {
        let t = &p.table;
        let source = self.run(&p.source, &[]).await?;
        let mut prepared = Vec::with_capacity(source.len());
        for r in source {
            self.pace().await?;
            let row = self.prepare_row(t, r, &p.checks).await?;
            let key = self.new_row_key(t, &row).await?;
            prepared.push((key, row));
        }
        // One lock request for every new key and unique value.
        let mut lock_keys: Vec<Vec<u8>> = Vec::new();
        for (key, row) in &prepared {
            if !t.pk.is_empty() {
                lock_keys.push(key.clone());
            }
            lock_keys.extend(Self::unique_locks(t, row, key));
        }
        let intent = !self.state.table_locks.contains(&(t.oid, true));
        if !lock_keys.is_empty() || intent {
            let mut specs: Vec<(u64, Option<&[u8]>, LockMode)> = lock_keys
                .iter()
                .map(|k| (t.oid as u64, Some(k.as_slice()), LockMode::RowExclusive))
                .collect();
            if intent {
                specs.push((t.oid as u64, None, LockMode::TableIntentExclusive));
            }
            let timeout = self.lock_wait();
            self.txn
                .lock(&specs, WaitPolicy::Wait, timeout)
                .await
                .map_err(|e| self.lock_failed(e, &t.name))?;
            self.state.table_locks.insert((t.oid, true));
            if intent {
                self.check_plan_current().await?;
            }
        }
        let mut count = 0;
        let mut out = Vec::new();
        let mut written: HashSet<Vec<u8>> = HashSet::new();
        for (key, row) in prepared {
            // The conflicting row: by primary key, then by unique index.
            // With a conflict target, a clash on another unique
            // constraint is still an error.
            let catches = |name: &str| match &p.arbiters {
                None => true,
                Some(a) => a.iter().any(|n| n == name),
            };
            let mut existing: Option<(Vec<u8>, Row, String, Vec<usize>)> = None;
            let mut other: Option<(Row, String, Vec<usize>)> = None;
            if !t.pk.is_empty() {
                if let Some(v) = self.txn.get_latest(&key).await?.value {
                    let old = decode_table_row(t, &key, &v)?;
                    let name = Self::pk_name(t);
                    if catches(&name) {
                        existing = Some((key.clone(), old, name, t.pk.clone()));
                    } else {
                        other = Some((old, name, t.pk.clone()));
                    }
                }
            }
            if existing.is_none() {
                for ix in t.secondary().filter(|i| i.unique) {
                    if other.is_some() && !catches(&ix.name) {
                        continue;
                    }
                    let (ik, _, unique) = index_entry(ix, &row, &key);
                    if !unique {
                        continue;
                    }
                    if let Some(pk) = self.txn.get_latest(&ik).await?.value {
                        let mut rk = keys::table_prefix(t.oid);
                        rk.extend_from_slice(&pk);
                        if let Some(v) = self.txn.get_latest(&rk).await?.value {
                            let old = decode_table_row(t, &rk, &v)?;
                            if catches(&ix.name) {
                                existing =
                                    Some((rk.clone(), old, ix.name.clone(), ix.columns.clone()));
                                break;
                            }
                            if other.is_none() {
                                other = Some((old, ix.name.clone(), ix.columns.clone()));
                            }
                        }
                    }
                }
            }
            if let (None, Some((old, name, cols))) = (&existing, &other) {
                return Err(self.duplicate(t, name, cols, old));
            }
            match (existing, &p.conflict) {
                (None, _) => {
                    self.check_parents(t, &key, &row, None).await?;
                    self.write_row(t, &key, &row, None).await?;
                    written.insert(key.clone());
                    count += 1;
                    let mut full = row;
                    full.push(Value::Bytea(key));
                    self.returning_row(&p.returning, &full, &mut out).await?;
                }
                (Some((_, old, name, cols)), None) => {
                    return Err(self.duplicate(t, &name, &cols, &old));
                }
                (Some(_), Some(Conflict::Nothing)) => {}
                (Some((okey, old, _, _)), Some(Conflict::Update { sets, filter })) => {
                    if written.contains(&okey) {
                        return Err(Error::new(
                            ErrorCode::CardinalityViolation,
                            "ON CONFLICT DO UPDATE command cannot affect row a second time",
                        )
                        .with_hint("Ensure that no rows proposed for insertion within the same command have duplicate constrained values."));
                    }
                    let timeout = self.lock_wait();
                    self.txn
                        .lock(
                            &[(t.oid as u64, Some(&okey), LockMode::RowExclusive)],
                            WaitPolicy::Wait,
                            timeout,
                        )
                        .await
                        .map_err(|e| self.lock_failed(e, &t.name))?;
                    let mut both = old.clone();
                    both.extend(row.iter().cloned());
                    both.push(Value::Bytea(key.clone()));
                    if let Some(f) = filter {
                        if !self.eval_full(f, &both, &[]).await?.is_true() {
                            continue;
                        }
                    }
                    let mut new = old[..t.columns.len()].to_vec();
                    for (c, e) in sets {
                        new[*c] = self.eval_full(e, &both, &[]).await?;
                    }
                    let new = self.prepare_row(t, new, &p.checks).await?;
                    let new_key = if t.pk.is_empty() {
                        okey.clone()
                    } else {
                        self.new_row_key(t, &new).await?
                    };
                    self.check_parents(t, &new_key, &new, Some(&old)).await?;
                    self.check_children(t, &old, Some(&new)).await?;
                    self.write_row(t, &new_key, &new, Some((&okey, &old)))
                        .await?;
                    written.insert(new_key.clone());
                    count += 1;
                    let mut full = new;
                    full.push(Value::Bytea(new_key));
                    self.returning_row(&p.returning, &full, &mut out).await?;
                }
            }
        }
        Ok((count, out))
    }

    /// Runs an UPDATE or DELETE.
    pub async fn modify(&mut self, p: &ModifyPlan) -> Result<(u64, Vec<Row>)> {
        let t = &p.table;
        // The target scan takes the table's intent lock with its row locks.
        let rows = self.run(&p.input, &[]).await?;
        let n = t.columns.len();
        let mut done: HashSet<Vec<u8>> = HashSet::new();
        let mut count = 0;
        let mut out = Vec::new();
        for r in rows {
            self.pace().await?;
            let key = row_key_of(&r[..=n])?.to_vec();
            if !done.insert(key.clone()) {
                continue;
            }
            let old = r[..n].to_vec();
            if p.delete {
                self.check_children(t, &old, None).await?;
                for ix in t.secondary() {
                    let (k, _, _) = index_entry(ix, &old, &key);
                    self.txn.delete(k);
                }
                self.txn.delete(key.clone());
                count += 1;
                self.returning_row(&p.returning, &r, &mut out).await?;
                continue;
            }
            let mut new = old.clone();
            for (c, e) in &p.sets {
                new[*c] = self.eval_full(e, &r, &[]).await?;
            }
            let new = self.prepare_row(t, new, &p.checks).await?;
            let new_key = if t.pk.is_empty() {
                key.clone()
            } else {
                let k = self.new_row_key(t, &new).await?;
                if k != key {
                    let timeout = self.lock_wait();
                    self.txn
                        .lock(
                            &[(t.oid as u64, Some(&k), LockMode::RowExclusive)],
                            WaitPolicy::Wait,
                            timeout,
                        )
                        .await
                        .map_err(|e| self.lock_failed(e, &t.name))?;
                    if self.txn.get_latest(&k).await?.value.is_some() && !done.contains(&k) {
                        return Err(self.duplicate(t, &Self::pk_name(t), &t.pk, &new));
                    }
                }
                k
            };
            let ulocks = Self::unique_locks(t, &new, &new_key);
            if !ulocks.is_empty() {
                let specs: Vec<(u64, Option<&[u8]>, LockMode)> = ulocks
                    .iter()
                    .map(|k| (t.oid as u64, Some(k.as_slice()), LockMode::RowExclusive))
                    .collect();
                let timeout = self.lock_wait();
                self.txn
                    .lock(&specs, WaitPolicy::Wait, timeout)
                    .await
                    .map_err(|e| self.lock_failed(e, &t.name))?;
            }
            self.check_parents(t, &new_key, &new, Some(&old)).await?;
            self.check_children(t, &old, Some(&new)).await?;
            self.write_row(t, &new_key, &new, Some((&key, &old)))
                .await?;
            done.insert(new_key.clone());
            count += 1;
            if p.returning.is_some() {
                let mut full = r.clone();
                full[..n].clone_from_slice(&new);
                full[n] = Value::Bytea(new_key);
                self.returning_row(&p.returning, &full, &mut out).await?;
            }
        }
        Ok((count, out))
    }
}
