//! Statement dispatch: binds each statement kind and runs it through the
//! executor (queries, DML, DDL, COPY, EXPLAIN), answers SET/SHOW/RESET
//! without a transaction, and describes statements without running them.

use std::sync::Arc;

use sqlparser::ast::{self, Statement};

use super::plan_cache::{self, BoundStatement, CachedPlan, PlanCache};
use super::state::{display_name, now_micros};
use super::{Column, CopyFormat, CopyIn, Description, Output, Session};
use crate::binder::{ident, object_name, Binder, Scope, ScopeCol};
use crate::catalog::{Catalog, Relation, TableDef};
use crate::error::{Error, ErrorCode, Result};
use crate::exec::copy::{self, CopyOptions};
use crate::exec::dml::{default_expr, InsertPlan};
use crate::exec::{Ctx, Row};
use crate::func::FunctionContext;
use crate::planner::plan::{Expr, Plan};
use crate::types::{DataType, Value};

fn command(tag: impl Into<String>) -> Output {
    Output::Command { tag: tag.into() }
}

fn columns(cols: &[ScopeCol]) -> Vec<Column> {
    cols.iter()
        .map(|c| {
            let ty = if c.ty == DataType::Unknown {
                DataType::Text
            } else {
                c.ty.clone()
            };
            Column {
                name: c.name.clone(),
                type_modifier: ty.type_modifier(),
                data_type: ty,
                table_oid: c.table_oid,
                column_id: c.column_id,
            }
        })
        .collect()
}

fn text_column(name: &str) -> Vec<Column> {
    vec![Column {
        name: name.into(),
        data_type: DataType::Text,
        table_oid: 0,
        column_id: 0,
        type_modifier: -1,
    }]
}

/// A SET value as text.
fn set_value(values: &[ast::Expr]) -> Result<Option<String>> {
    let mut parts = Vec::new();
    for v in values {
        let s = match v {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => s.clone(),
                ast::Value::Number(n, _) => n.clone(),
                ast::Value::Boolean(b) => {
                    if *b {
                        "on".into()
                    } else {
                        "off".into()
                    }
                }
                other => other.to_string(),
            },
            ast::Expr::Identifier(i) => {
                if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default") {
                    return Ok(None);
                }
                ident(i)
            }
            ast::Expr::UnaryOp {
                op: ast::UnaryOperator::Minus,
                expr,
            } => format!("-{}", expr),
            other => other.to_string(),
        };
        parts.push(s);
    }
    Ok(Some(parts.join(", ")))
}

/// SET or SET LOCAL (undone when the transaction ends).
pub(crate) fn set_scoped(
    st: &mut super::state::SessionState,
    name: &str,
    value: &str,
    local: bool,
) -> Result<()> {
    if !local {
        st.settings.set(name, value)?;
        st.local_saves.retain(|(k, _)| k != name);
        return Ok(());
    }
    if st.block_settings.is_none() {
        st.notices.push(super::Notice {
            severity: "WARNING".into(),
            code: "25P01".into(),
            message: "SET LOCAL can only be used in transaction blocks".into(),
        });
        return Ok(());
    }
    let mut saves = std::mem::take(&mut st.local_saves);
    let r = st.settings.set_local(name, value, &mut saves);
    st.local_saves = saves;
    r
}

/// The GUC a SHOW names.
fn show_name(parts: &[ast::Ident]) -> String {
    let words: Vec<String> = parts.iter().map(|i| i.value.to_lowercase()).collect();
    match words.join(" ").as_str() {
        "transaction isolation level" => "transaction_isolation".into(),
        "time zone" => "timezone".into(),
        "session authorization" => "session_authorization".into(),
        other => other.replace(' ', "."),
    }
}

/// Statements that need no transaction: SET, SHOW, RESET, DISCARD, no-ops
/// and COPY FROM STDIN (which only prepares here).
pub(crate) async fn without_transaction(
    s: &mut Session,
    stmt: &Statement,
) -> Result<Option<Output>> {
    let st = &mut s.state;
    Ok(Some(match stmt {
        Statement::Set(set) => match set {
            ast::Set::SingleAssignment {
                variable,
                values,
                scope,
                ..
            } => {
                let name = variable.to_string().to_lowercase();
                let name = if name == "time.zone" {
                    "timezone".into()
                } else {
                    name
                };
                let value = match set_value(values)? {
                    Some(v) => v,
                    None => st.settings.default_of(&name)?,
                };
                let local = matches!(scope, Some(ast::ContextModifier::Local));
                set_scoped(st, &name, &value, local)?;
                command("SET")
            }
            ast::Set::SetTimeZone { value, local } => {
                let v = match set_value(std::slice::from_ref(value))? {
                    Some(v)
                        if !v.eq_ignore_ascii_case("local")
                            && !v.eq_ignore_ascii_case("default") =>
                    {
                        v
                    }
                    _ => st.settings.default_of("timezone")?,
                };
                set_scoped(st, "timezone", &v, *local)?;
                command("SET")
            }
            ast::Set::SetNames { charset_name, .. } => {
                st.settings.set("client_encoding", &charset_name.value)?;
                command("SET")
            }
            ast::Set::SetNamesDefault {} => {
                st.settings.reset("client_encoding")?;
                command("SET")
            }
            ast::Set::SetSessionAuthorization(_) | ast::Set::SetRole { .. } => command("SET"),
            _ => return Err(Error::unsupported(format!("{stmt}"))),
        },
        Statement::ShowVariable { variable } => {
            let name = show_name(variable);
            if name == "all" {
                let rows: Vec<Row> = st
                    .settings
                    .all()
                    .into_iter()
                    .map(|(n, v)| vec![Value::Text(n), Value::Text(v), Value::Text(String::new())])
                    .collect();
                let mut cols = text_column("name");
                cols.extend(text_column("setting"));
                cols.extend(text_column("description"));
                let n = rows.len();
                return Ok(Some(Output::Rows {
                    columns: cols,
                    rows,
                    tag: format!("SHOW {n}"),
                }));
            }
            let v = st.settings.get(&name)?;
            Output::Rows {
                columns: text_column(&display_name(&name)),
                rows: vec![vec![Value::Text(v)]],
                tag: "SHOW".into(),
            }
        }
        Statement::Reset(r) => {
            match &r.reset {
                ast::Reset::ALL => st.settings.reset_all(),
                ast::Reset::ConfigurationParameter(n) => {
                    let name = n.to_string().to_lowercase();
                    st.settings.reset(&name)?
                }
                ast::Reset::SessionAuthorization => {}
            }
            command("RESET")
        }
        Statement::Discard { object_type } => {
            if matches!(object_type, ast::DiscardObject::ALL) {
                if s.block {
                    return Err(Error::new(
                        ErrorCode::ActiveSqlTransaction,
                        "DISCARD ALL cannot run inside a transaction block",
                    ));
                }
                s.state.settings.reset_all();
                s.state.currval.clear();
            }
            command(format!("DISCARD {object_type}"))
        }
        Statement::Vacuum(_) => command("VACUUM"),
        Statement::Analyze(_) => command("ANALYZE"),
        Statement::UnlockTables => command("CHECKPOINT"),
        Statement::Deallocate { .. } => command("DEALLOCATE"),
        Statement::Copy {
            source,
            to: false,
            target: ast::CopyTarget::Stdin,
            options,
            legacy_options,
            ..
        } => {
            let catalog = s.catalog().await?;
            let (plan, n, format) = copy_from_plan(s, &catalog, source, options, legacy_options)?;
            Output::CopyIn(CopyIn {
                format,
                columns: n,
                plan: Arc::new(plan),
            })
        }
        _ => return Ok(None),
    }))
}

/// What COPY FROM needs to load rows.
struct CopyInPlan {
    table: Arc<TableDef>,
    cols: Vec<usize>,
    opts: CopyOptions,
}

fn copy_options(
    options: &[ast::CopyOption],
    legacy: &[ast::CopyLegacyOption],
) -> Result<CopyOptions> {
    let mut format = CopyFormat::Text;
    for o in options {
        if let ast::CopyOption::Format(f) = o {
            format = match f.value.to_lowercase().as_str() {
                "csv" => CopyFormat::Csv,
                "binary" => CopyFormat::Binary,
                "text" => CopyFormat::Text,
                other => {
                    return Err(Error::new(
                        ErrorCode::InvalidParameterValue,
                        format!("COPY format \"{other}\" not recognized"),
                    ))
                }
            };
        }
    }
    for o in legacy {
        match o {
            ast::CopyLegacyOption::Csv(_) => format = CopyFormat::Csv,
            ast::CopyLegacyOption::Binary => format = CopyFormat::Binary,
            _ => {}
        }
    }
    let mut c = CopyOptions::new(format);
    for o in options {
        match o {
            ast::CopyOption::Delimiter(d) => c.delimiter = *d,
            ast::CopyOption::Null(n) => c.null = n.clone(),
            ast::CopyOption::Header(h) => c.header = *h,
            ast::CopyOption::Quote(q) => c.quote = *q,
            ast::CopyOption::Escape(e) => c.escape = *e,
            _ => {}
        }
    }
    for o in legacy {
        match o {
            ast::CopyLegacyOption::Delimiter(d) => c.delimiter = *d,
            ast::CopyLegacyOption::Null(n) => c.null = n.clone(),
            ast::CopyLegacyOption::Header => c.header = true,
            ast::CopyLegacyOption::Csv(opts) => {
                for x in opts {
                    match x {
                        ast::CopyLegacyCsvOption::Header => c.header = true,
                        ast::CopyLegacyCsvOption::Quote(q) => c.quote = *q,
                        ast::CopyLegacyCsvOption::Escape(e) => c.escape = *e,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if c.format == CopyFormat::Binary {
        return Err(Error::unsupported("COPY BINARY is not supported"));
    }
    Ok(c)
}

fn copy_table(
    s: &Session,
    catalog: &Catalog,
    name: &ast::ObjectName,
    columns: &[ast::Ident],
) -> Result<(Arc<TableDef>, Vec<usize>)> {
    let (schema, rel) = object_name(name)?;
    let t = match catalog.lookup(schema.as_deref(), &rel, &s.state.settings.search_path())? {
        Some((_, Relation::Table(t))) => t.clone(),
        Some(_) => {
            return Err(Error::new(
                ErrorCode::WrongObjectType,
                format!("cannot copy from non-table relation \"{rel}\""),
            ))
        }
        None => {
            return Err(Error::new(
                ErrorCode::UndefinedTable,
                format!("relation \"{rel}\" does not exist"),
            ))
        }
    };
    let cols = if columns.is_empty() {
        (0..t.columns.len())
            .filter(|i| !t.columns[*i].dropped)
            .collect()
    } else {
        columns
            .iter()
            .map(|c| t.column_or_err(&ident(c)))
            .collect::<Result<_>>()?
    };
    Ok((t, cols))
}

fn copy_from_plan(
    s: &Session,
    catalog: &Catalog,
    source: &ast::CopySource,
    options: &[ast::CopyOption],
    legacy: &[ast::CopyLegacyOption],
) -> Result<(CopyInPlan, usize, CopyFormat)> {
    let ast::CopySource::Table {
        table_name,
        columns,
    } = source
    else {
        return Err(Error::syntax("COPY FROM needs a table"));
    };
    let (table, cols) = copy_table(s, catalog, table_name, columns)?;
    let opts = copy_options(options, legacy)?;
    let n = cols.len();
    let f = opts.format;
    Ok((CopyInPlan { table, cols, opts }, n, f))
}

/// The output of INSERT/UPDATE/DELETE: their RETURNING rows, or the tag.
fn modified(
    tag: String,
    returning: &crate::exec::dml::Returning,
    rows: Vec<Row>,
) -> Result<Output> {
    Ok(match returning {
        Some((_, cols)) => Output::Rows {
            columns: columns(cols),
            rows,
            tag,
        },
        None => command(tag),
    })
}

/// A context for running plans in the session's transaction.
macro_rules! with_ctx {
    ($s:expr, $catalog:expr, $params:expr, $slots:expr, |$ctx:ident| $body:expr) => {{
        let deadline = $s
            .state
            .settings
            .statement_timeout()
            .map(|d| std::time::Instant::now() + d);
        let format = $s.state.settings.format.clone();
        let (txn, db, state, cancel, start) = $s.parts()?;
        let fctx = FunctionContext {
            format,
            transaction_start: start,
            statement_start: now_micros(),
        };
        let mut $ctx = Ctx::new(
            txn, db, $catalog, $params, $slots, state, fctx, cancel, deadline,
        );
        $body
    }};
}

/// Runs the foreign key checks deferred to COMMIT (or to SET
/// CONSTRAINTS ... IMMEDIATE).
pub(crate) async fn check_deferred(s: &mut Session, catalog: &Catalog) -> Result<Output> {
    with_ctx!(s, catalog, &[], &[], |ctx| ctx.check_deferred().await?);
    Ok(command("SET CONSTRAINTS".to_string()))
}

/// Runs a bound query or INSERT/UPDATE/DELETE.
async fn run_planned(
    s: &mut Session,
    catalog: &Catalog,
    planned: &CachedPlan,
    params: &[Value],
) -> Result<Output> {
    let slots = &planned.slots;
    match &planned.bound {
        BoundStatement::Query { plan, cols } => {
            let rows = with_ctx!(s, catalog, params, slots, |ctx| ctx.run(plan, &[]).await?);
            Ok(Output::Rows {
                columns: columns(cols),
                tag: format!("SELECT {}", rows.len()),
                rows,
            })
        }
        BoundStatement::Insert(p) => {
            let (n, rows) = with_ctx!(s, catalog, params, slots, |ctx| ctx.insert(p).await?);
            modified(format!("INSERT 0 {n}"), &p.returning, rows)
        }
        BoundStatement::Update(p) => {
            let (n, rows) = with_ctx!(s, catalog, params, slots, |ctx| ctx.modify(p).await?);
            modified(format!("UPDATE {n}"), &p.returning, rows)
        }
        BoundStatement::Delete(p) => {
            let (n, rows) = with_ctx!(s, catalog, params, slots, |ctx| ctx.modify(p).await?);
            modified(format!("DELETE {n}"), &p.returning, rows)
        }
    }
}

/// Runs the INSERT/UPDATE/DELETE queries of a WITH list, in order, and
/// gives back each one's name, RETURNING rows and columns.
async fn run_dml_ctes(
    s: &mut Session,
    catalog: &Catalog,
    with: &ast::With,
    params: &[Value],
) -> Result<Vec<(String, Vec<Row>, Vec<ScopeCol>)>> {
    let path = s.state.settings.search_path();
    let fmt = s.state.settings.format.clone();
    let mut done: Vec<(String, Vec<Row>, Vec<ScopeCol>)> = Vec::new();
    for cte in &with.cte_tables {
        if !crate::binder::is_dml(&cte.query) {
            continue;
        }
        let mut b = binder(catalog, &path, &fmt, params);
        b.dml_ctes = done.clone();
        let (rows, returning) = match cte.query.body.as_ref() {
            ast::SetExpr::Insert(Statement::Insert(ins)) => {
                let p = b.bind_insert(ins)?;
                let slots = std::mem::take(&mut b.slots);
                let (_, rows) = with_ctx!(s, catalog, params, &slots, |ctx| ctx.insert(&p).await?);
                (rows, p.returning)
            }
            ast::SetExpr::Update(Statement::Update(u)) => {
                let p = b.bind_update(u)?;
                let slots = std::mem::take(&mut b.slots);
                let (_, rows) = with_ctx!(s, catalog, params, &slots, |ctx| ctx.modify(&p).await?);
                (rows, p.returning)
            }
            ast::SetExpr::Delete(Statement::Delete(d)) => {
                let p = b.bind_delete(d)?;
                let slots = std::mem::take(&mut b.slots);
                let (_, rows) = with_ctx!(s, catalog, params, &slots, |ctx| ctx.modify(&p).await?);
                (rows, p.returning)
            }
            _ => return Err(Error::unsupported("this statement in WITH")),
        };
        let cols = returning.map(|(_, c)| c).unwrap_or_default();
        done.push((ident(&cte.alias.name), rows, cols));
    }
    Ok(done)
}

fn binder<'a>(
    catalog: &'a Catalog,
    path: &'a [String],
    fmt: &'a crate::types::FormatOptions,
    params: &[Value],
) -> Binder<'a> {
    Binder::new(
        catalog,
        path,
        fmt,
        params.iter().map(|v| v.data_type()).collect(),
    )
}

/// The command a read-only transaction refuses, if `stmt` writes.
fn write_verb(stmt: &Statement) -> Option<&'static str> {
    Some(match stmt {
        Statement::Insert(_) => "INSERT",
        Statement::Update(_) => "UPDATE",
        Statement::Delete(_) => "DELETE",
        Statement::CreateTable(_) => "CREATE TABLE",
        Statement::CreateIndex(_) => "CREATE INDEX",
        Statement::CreateView(_) => "CREATE VIEW",
        Statement::CreateSequence { .. } => "CREATE SEQUENCE",
        Statement::CreateSchema { .. } => "CREATE SCHEMA",
        Statement::Drop { .. } => "DROP",
        Statement::AlterTable(_) => "ALTER TABLE",
        Statement::Truncate(_) => "TRUNCATE TABLE",
        Statement::Copy { to: false, .. } => "COPY FROM",
        _ => return None,
    })
}

/// Runs one statement in the session's transaction.
pub(crate) async fn execute(
    s: &mut Session,
    catalog: &Arc<Catalog>,
    stmt: &Statement,
    params: &[Value],
    cache: &PlanCache,
) -> Result<Output> {
    let path = s.state.settings.search_path();
    let fmt = s.state.settings.format.clone();
    if s.state.settings.get("transaction_read_only").as_deref() == Ok("on") {
        if let Some(verb) = write_verb(stmt) {
            return Err(Error::new(
                ErrorCode::ReadOnlySqlTransaction,
                format!("cannot execute {verb} in a read-only transaction"),
            ));
        }
    }
    if plan_cache::cacheable(stmt) {
        let planned = plan_cache::plan(cache, catalog, path, fmt, stmt, params)?;
        return run_planned(s, catalog, &planned, params).await;
    }
    // Data-modifying CTEs run first, each once; the statement reads their
    // RETURNING rows.
    // A query around them reads the data as it was before them (their
    // writes are set aside while it runs); an INSERT/UPDATE/DELETE around
    // them sees them, so that its constraint checks do.
    let mut set_aside = None;
    let dml = match stmt {
        Statement::Query(q) => match &q.with {
            Some(w) if w.cte_tables.iter().any(|c| crate::binder::is_dml(&c.query)) => {
                let reads_only = !crate::binder::is_dml(q);
                let before = if reads_only {
                    Some(s.parts()?.0.savepoint())
                } else {
                    None
                };
                let done = run_dml_ctes(s, catalog, w, params).await?;
                if let Some(sp) = before {
                    let txn = s.parts()?.0;
                    let writes = txn.writes_since(&sp);
                    txn.rollback_to(&sp);
                    set_aside = Some((sp, writes));
                }
                done
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    match stmt {
        // WITH ... INSERT / UPDATE / DELETE: the CTEs run around the
        // statement's row source.
        Statement::Query(q)
            if q.with.is_some()
                && matches!(
                    q.body.as_ref(),
                    ast::SetExpr::Insert(_) | ast::SetExpr::Update(_) | ast::SetExpr::Delete(_)
                ) =>
        {
            let with = q.with.as_ref().expect("checked above");
            let wrap = |ctes: Vec<crate::planner::plan::CtePlan>, p: Plan| {
                if ctes.is_empty() {
                    p
                } else {
                    Plan::With {
                        ctes,
                        input: Box::new(p),
                    }
                }
            };
            let mut b = binder(catalog, &path, &fmt, params);
            b.dml_ctes = dml;
            match q.body.as_ref() {
                ast::SetExpr::Insert(Statement::Insert(ins)) => {
                    let (ctes, mut p) = b.with_ctes(with, |b| b.bind_insert(ins))?;
                    p.source = wrap(ctes, p.source);
                    let slots = b.slots;
                    let (n, rows) =
                        with_ctx!(s, catalog, params, &slots, |ctx| ctx.insert(&p).await?);
                    modified(format!("INSERT 0 {n}"), &p.returning, rows)
                }
                ast::SetExpr::Update(Statement::Update(u)) => {
                    let (ctes, mut p) = b.with_ctes(with, |b| b.bind_update(u))?;
                    p.input = wrap(ctes, p.input);
                    let slots = b.slots;
                    let (n, rows) =
                        with_ctx!(s, catalog, params, &slots, |ctx| ctx.modify(&p).await?);
                    modified(format!("UPDATE {n}"), &p.returning, rows)
                }
                ast::SetExpr::Delete(Statement::Delete(d)) => {
                    let (ctes, mut p) = b.with_ctes(with, |b| b.bind_delete(d))?;
                    p.input = wrap(ctes, p.input);
                    let slots = b.slots;
                    let (n, rows) =
                        with_ctx!(s, catalog, params, &slots, |ctx| ctx.modify(&p).await?);
                    modified(format!("DELETE {n}"), &p.returning, rows)
                }
                _ => Err(Error::unsupported("this WITH statement")),
            }
        }
        // A query over data-modifying CTEs (other queries are planned above).
        Statement::Query(q) => {
            let mut b = binder(catalog, &path, &fmt, params);
            b.dml_ctes = dml;
            let named = crate::binder::expr::reg_outputs_named(q);
            let (plan, cols) = b.query(named.as_ref().unwrap_or(q))?;
            let slots = b.slots;
            let rows = with_ctx!(s, catalog, params, &slots, |ctx| ctx
                .run(&plan, &[])
                .await?);
            if let Some((sp, ctes)) = set_aside {
                let txn = s.parts()?.0;
                let own = txn.writes_since(&sp);
                txn.apply_writes(ctes);
                txn.apply_writes(own);
            }
            let n = rows.len();
            Ok(Output::Rows {
                columns: columns(&cols),
                rows,
                tag: format!("SELECT {n}"),
            })
        }
        Statement::Explain { statement, .. } => {
            let mut b = binder(catalog, &path, &fmt, params);
            let plan = match statement.as_ref() {
                Statement::Query(q) => b.query(q)?.0,
                Statement::Update(u) => b.bind_update(u)?.input,
                Statement::Delete(d) => b.bind_delete(d)?.input,
                Statement::Insert(i) => b.bind_insert(i)?.source,
                other => return Err(Error::unsupported(format!("EXPLAIN {other}"))),
            };
            let lines = crate::planner::explain(&plan, catalog);
            let rows: Vec<Row> = lines.into_iter().map(|l| vec![Value::Text(l)]).collect();
            Ok(Output::Rows {
                columns: text_column("QUERY PLAN"),
                rows,
                tag: "EXPLAIN".into(),
            })
        }
        Statement::Copy {
            source,
            to: true,
            options,
            legacy_options,
            ..
        } => {
            let opts = copy_options(options, legacy_options)?;
            let mut b = binder(catalog, &path, &fmt, params);
            let (plan, names) = match source {
                ast::CopySource::Table {
                    table_name,
                    columns,
                } => {
                    let (t, cols) = copy_table(s, catalog, table_name, columns)?;
                    let names: Vec<String> =
                        cols.iter().map(|&i| t.columns[i].name.clone()).collect();
                    let scan = Plan::Scan {
                        table: t,
                        access: crate::planner::plan::Access::Full,
                        filter: None,
                        lock: None,
                    };
                    (
                        Plan::Project {
                            input: Box::new(scan),
                            exprs: cols.into_iter().map(Expr::Column).collect(),
                        },
                        names,
                    )
                }
                ast::CopySource::Query(q) => {
                    let (p, cols) = b.query(q)?;
                    let names = cols.iter().map(|c| c.name.clone()).collect();
                    (p, names)
                }
            };
            let width = names.len();
            let slots = b.slots;
            let rows = with_ctx!(s, catalog, params, &slots, |ctx| ctx
                .run(&plan, &[])
                .await?);
            let mut data = Vec::with_capacity(rows.len() + 1);
            if opts.header {
                let header: Vec<Option<String>> = names.into_iter().map(Some).collect();
                data.push(copy::format_row(&header, &opts));
            }
            for r in &rows {
                let fields: Vec<Option<String>> = r.iter().map(|v| v.to_text(&fmt)).collect();
                data.push(copy::format_row(&fields, &opts));
            }
            let n = rows.len();
            Ok(Output::CopyOut {
                format: opts.format,
                columns: width,
                data,
                tag: format!("COPY {n}"),
            })
        }
        Statement::Copy { .. } => Err(Error::unsupported(
            "COPY to or from a file is not supported; use STDIN/STDOUT",
        )),
        Statement::CreateTable(ct) => {
            ddl(s, catalog, |ctx| {
                Box::pin(async move { ctx.create_table(ct).await })
            })
            .await
        }
        Statement::CreateIndex(ci) => {
            ddl(s, catalog, |ctx| {
                Box::pin(async move { ctx.create_index(ci).await })
            })
            .await
        }
        Statement::CreateView(cv) => {
            ddl(s, catalog, |ctx| {
                Box::pin(async move { ctx.create_view(cv).await })
            })
            .await
        }
        Statement::CreateSequence {
            name,
            if_not_exists,
            sequence_options,
            ..
        } if name
            .0
            .first()
            .and_then(|p| p.as_ident())
            .map(|i| i.value.as_str())
            == Some(crate::parser::ALTER_SEQUENCE) =>
        {
            let restart = name
                .0
                .get(1)
                .and_then(|p| p.as_ident())
                .map(|i| i.value.clone());
            let real = ast::ObjectName(name.0[2..].to_vec());
            ddl(s, catalog, |ctx| {
                Box::pin(async move {
                    ctx.alter_sequence(&real, *if_not_exists, restart.as_deref(), sequence_options)
                        .await
                })
            })
            .await
        }
        Statement::CreateSequence {
            name,
            if_not_exists,
            sequence_options,
            ..
        } => {
            ddl(s, catalog, |ctx| {
                Box::pin(async move {
                    ctx.create_sequence(name, *if_not_exists, sequence_options)
                        .await
                })
            })
            .await
        }
        Statement::CreateSchema {
            schema_name,
            if_not_exists,
            ..
        } => {
            ddl(s, catalog, |ctx| {
                Box::pin(async move { ctx.create_schema(schema_name, *if_not_exists).await })
            })
            .await
        }
        Statement::CreateDatabase {
            db_name,
            if_not_exists,
            ..
        } => {
            if s.block {
                return Err(Error::new(
                    ErrorCode::ActiveSqlTransaction,
                    "CREATE DATABASE cannot run inside a transaction block",
                ));
            }
            ddl(s, catalog, |ctx| {
                Box::pin(async move { ctx.create_database(db_name, *if_not_exists).await })
            })
            .await
        }
        Statement::Drop {
            object_type,
            if_exists,
            names,
            cascade,
            ..
        } => {
            ddl(s, catalog, |ctx| {
                Box::pin(async move { ctx.drop(object_type, *if_exists, names, *cascade).await })
            })
            .await
        }
        Statement::AlterTable(at) => {
            ddl(s, catalog, |ctx| {
                Box::pin(async move { ctx.alter_table(at).await })
            })
            .await
        }
        Statement::Truncate(tr) => {
            ddl(s, catalog, |ctx| {
                Box::pin(async move { ctx.truncate(tr).await })
            })
            .await
        }
        Statement::CreateRole(cr) => {
            ddl(s, catalog, |ctx| {
                Box::pin(async move { ctx.create_role(cr).await })
            })
            .await
        }
        Statement::AlterRole { name, operation } => {
            ddl(s, catalog, |ctx| {
                Box::pin(async move { ctx.alter_role(name, operation).await })
            })
            .await
        }
        Statement::Lock(_) => Ok(command("LOCK TABLE")),
        Statement::Comment { .. } => Ok(command("COMMENT")),
        Statement::Grant(_) => Ok(command("GRANT")),
        Statement::Revoke(_) => Ok(command("REVOKE")),
        Statement::CreateExtension(_) => Ok(command("CREATE EXTENSION")),
        other => Err(Error::unsupported(format!(
            "statement not supported: {other}"
        ))),
    }
}

type DdlFn<'c> =
    Box<dyn for<'x> FnOnce(&'x mut Ctx<'c>) -> crate::exec::BoxFut<'x, String> + Send + 'c>;

async fn ddl<'c, F>(s: &'c mut Session, catalog: &'c Catalog, f: F) -> Result<Output>
where
    F: for<'x> FnOnce(&'x mut Ctx<'c>) -> crate::exec::BoxFut<'x, String> + Send + 'c,
{
    let f: DdlFn<'c> = Box::new(f);
    let tag = with_ctx!(s, catalog, &[], &[], |ctx| f(&mut ctx).await?);
    Ok(command(tag))
}

/// Loads COPY FROM STDIN data.
pub(crate) async fn copy_in(
    s: &mut Session,
    catalog: &Catalog,
    plan: Arc<dyn std::any::Any + Send + Sync>,
    data: Vec<u8>,
) -> Result<Output> {
    let plan = plan
        .downcast_ref::<CopyInPlan>()
        .ok_or_else(|| Error::internal("not a COPY plan"))?;
    let t = plan.table.clone();
    let path = s.state.settings.search_path();
    let fmt = s.state.settings.format.clone();
    let rows = copy::parse(&data, &plan.opts)?;
    let mut b = Binder::new(catalog, &path, &fmt, vec![]);
    let ncols = t.columns.len();
    let mut defaults = Vec::with_capacity(ncols);
    for c in 0..ncols {
        defaults.push(if plan.cols.contains(&c) {
            None
        } else {
            Some(default_expr(&mut b, &t, c)?)
        });
    }
    let checks = crate::exec::dml::bind_checks(&mut b, &t)?;
    let slots = b.slots;
    let mut total = 0u64;
    for (chunk_no, chunk) in rows.chunks(5000).enumerate() {
        let mut out_rows = Vec::with_capacity(chunk.len());
        for (i, r) in chunk.iter().enumerate() {
            let line = chunk_no * 5000 + i + 1 + usize::from(plan.opts.header);
            if r.len() != plan.cols.len() {
                let msg = if r.len() < plan.cols.len() {
                    format!(
                        "missing data for column \"{}\"",
                        t.columns[plan.cols[r.len()]].name
                    )
                } else {
                    "extra data after last expected column".to_string()
                };
                return Err(Error::new(ErrorCode::BadCopyFileFormat, msg)
                    .with_detail(format!("COPY {}, line {line}", t.name)));
            }
            let mut row: Vec<Expr> = defaults
                .iter()
                .map(|d| d.clone().unwrap_or(Expr::Const(Value::Null)))
                .collect();
            for (f, &c) in r.iter().zip(&plan.cols) {
                row[c] = match f {
                    None => Expr::Const(Value::Null),
                    Some(text) => Expr::Const(
                        Value::from_text(&t.columns[c].ty, text, &fmt).map_err(|e| {
                            let col = &t.columns[c].name;
                            e.with_detail(format!(
                                "COPY {}, line {line}, column {col}: \"{text}\"",
                                t.name
                            ))
                        })?,
                    ),
                };
            }
            out_rows.push(row);
        }
        let p = InsertPlan {
            table: t.clone(),
            source: Plan::Values { rows: out_rows },
            returning: None,
            conflict: None,
            arbiters: None,
            checks: checks.clone(),
        };
        let (n, _) = with_ctx!(s, catalog, &[], &slots, |ctx| ctx.insert(&p).await?);
        total += n;
    }
    Ok(command(format!("COPY {total}")))
}

/// Parameter and result types of a statement, without running it.
pub(crate) fn describe(
    s: &mut Session,
    catalog: &Catalog,
    stmt: &Statement,
    given: &[Option<DataType>],
) -> Result<Description> {
    let path = s.state.settings.search_path();
    let fmt = s.state.settings.format.clone();
    let mut b = Binder::new(catalog, &path, &fmt, given.to_vec());
    let columns = match stmt {
        Statement::Query(q) => match (q.with.as_ref(), q.body.as_ref()) {
            (Some(w), ast::SetExpr::Insert(Statement::Insert(i))) => b
                .with_ctes(w, |b| b.bind_insert(i))?
                .1
                .returning
                .map(|(_, c)| columns(&c)),
            (Some(w), ast::SetExpr::Update(Statement::Update(u))) => b
                .with_ctes(w, |b| b.bind_update(u))?
                .1
                .returning
                .map(|(_, c)| columns(&c)),
            (Some(w), ast::SetExpr::Delete(Statement::Delete(d))) => b
                .with_ctes(w, |b| b.bind_delete(d))?
                .1
                .returning
                .map(|(_, c)| columns(&c)),
            _ => {
                let named = crate::binder::expr::reg_outputs_named(q);
                Some(columns(&b.query(named.as_ref().unwrap_or(q))?.1))
            }
        },
        Statement::Insert(i) => b.bind_insert(i)?.returning.map(|(_, c)| columns(&c)),
        Statement::Update(u) => b.bind_update(u)?.returning.map(|(_, c)| columns(&c)),
        Statement::Delete(d) => b.bind_delete(d)?.returning.map(|(_, c)| columns(&c)),
        Statement::Explain { .. } => Some(text_column("QUERY PLAN")),
        Statement::ShowVariable { variable } => {
            Some(text_column(&display_name(&show_name(variable))))
        }
        _ => None,
    };
    let mut params = b.param_types();
    for (i, g) in given.iter().enumerate() {
        if let Some(t) = g {
            if i >= params.len() {
                params.resize(i + 1, DataType::Text);
            }
            if *t != DataType::Unknown {
                params[i] = t.clone();
            }
        }
    }
    let _ = Scope::default();
    Ok(Description { params, columns })
}
