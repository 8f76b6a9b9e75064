//! DDL: CREATE/DROP of tables, indexes, sequences, views, schemas,
//! databases and roles; ALTER TABLE; TRUNCATE. Catalog rows are written in
//! the session's transaction (DDL is transactional); existing tables are
//! locked TableExclusive first.

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use shoal_storage::Direction;
use shoal_txn::{LockMode, WaitPolicy};
use sqlparser::ast;

use super::dml::index_entry;
use super::scan::decode_table_row;
use super::Ctx;
use crate::binder::{ident, object_name, Binder, Scope};
use crate::catalog::store::{self, new_oid};
use crate::catalog::*;
use crate::error::{Error, ErrorCode, Result};
use crate::keys::{self, Kind};
use crate::session::Notice;
use crate::types::row::encode_row;
use crate::types::{DataType, Value};

/// The table-lock id that serialises DDL creating names, cluster-wide.
const DDL_LOCK: u32 = 2;

fn exists_err(name: &str) -> Error {
    Error::new(
        ErrorCode::DuplicateTable,
        format!("relation \"{name}\" already exists"),
    )
}

fn notice(msg: String) -> Notice {
    Notice {
        severity: "NOTICE".into(),
        code: "00000".into(),
        message: msg,
    }
}

fn serial_type(dt: &ast::DataType) -> Option<DataType> {
    match dt.to_string().to_lowercase().as_str() {
        "serial" | "serial4" => Some(DataType::Int4),
        "bigserial" | "serial8" => Some(DataType::Int8),
        "smallserial" | "serial2" => Some(DataType::Int2),
        _ => None,
    }
}

/// Index column positions of a constraint's columns.
fn constraint_cols(t: &TableDef, cols: &[ast::IndexColumn]) -> Result<Vec<usize>> {
    cols.iter()
        .map(|c| match &c.column.expr {
            ast::Expr::Identifier(i) => {
                let n = ident(i);
                t.column(&n).ok_or_else(|| {
                    Error::new(
                        ErrorCode::UndefinedColumn,
                        format!("column \"{n}\" named in key does not exist"),
                    )
                })
            }
            other => Err(Error::unsupported(format!("index on expression {other}"))),
        })
        .collect()
}

impl Ctx<'_> {
    fn dirty(&mut self) {
        self.state.catalog_dirty = true;
    }

    fn search_path(&self) -> Vec<String> {
        self.state.settings.search_path()
    }

    /// Locks `t` TableExclusive and returns its definition as committed
    /// now (another frontend may have altered it before the lock came).
    async fn locked_table(&mut self, t: Arc<TableDef>) -> Result<Arc<TableDef>> {
        self.lock_table(t.oid, &t.name).await?;
        // Writers that held the table before this lock committed after the
        // statement's snapshot: read past it, or their rows are missed.
        self.txn.advance_snapshot().await?;
        if self.state.catalog_dirty {
            return Ok(t);
        }
        let mut fresh = self.db.begin(shoal_txn::Isolation::ReadCommitted).await?;
        fresh.begin_statement().await?;
        let latest = store::load(&fresh).await?;
        fresh.rollback().await?;
        match latest.table_by_oid(t.oid) {
            Some(nt) => Ok(nt.clone()),
            None => Err(Error::new(
                ErrorCode::UndefinedTable,
                format!("relation \"{}\" does not exist", t.name),
            )),
        }
    }

    async fn lock_table(&mut self, oid: u32, name: &str) -> Result<()> {
        let timeout = self.lock_wait();
        self.txn
            .lock(
                &[(oid as u64, None, LockMode::TableExclusive)],
                WaitPolicy::Wait,
                timeout,
            )
            .await
            .map_err(|e| self.lock_failed(e, name))?;
        Ok(())
    }

    /// Whether `name` is used in `schema`, by this transaction's catalog
    /// or by DDL committed elsewhere since it was read. The first call in
    /// a transaction takes the cluster-wide DDL lock, so two frontends
    /// cannot both create one name.
    async fn name_taken(&mut self, schema: u32, name: &str) -> Result<bool> {
        if self.catalog.relation_in(schema, name).is_some() {
            return Ok(true);
        }
        if !self.state.table_locks.contains(&(DDL_LOCK, true)) {
            let timeout = self.lock_wait();
            self.txn
                .lock(
                    &[(u64::from(DDL_LOCK), None, LockMode::TableExclusive)],
                    WaitPolicy::Wait,
                    timeout,
                )
                .await
                .map_err(|e| self.lock_failed(e, "pg_class"))?;
            self.state.table_locks.insert((DDL_LOCK, true));
            let mut fresh = self.db.begin(shoal_txn::Isolation::ReadCommitted).await?;
            fresh.begin_statement().await?;
            let latest = store::load(&fresh).await?;
            fresh.rollback().await?;
            self.fresh_catalog = Some(Arc::new(latest));
        }
        // The latest committed catalog still shows what this transaction
        // dropped or renamed (`DROP TABLE t; CREATE TABLE t` in one block).
        let Some(r) = self
            .fresh_catalog
            .as_ref()
            .and_then(|c| c.relation_in(schema, name))
        else {
            return Ok(false);
        };
        let (kind, oid) = match r {
            Relation::Table(t) => (Kind::Table, t.oid),
            Relation::View(v) => (Kind::View, v.oid),
            Relation::Sequence(s) => (Kind::Sequence, s.oid),
            Relation::Index(t, _) => (Kind::Table, t.oid),
        };
        if self.txn.deleted(&keys::catalog_key(kind, oid)) {
            return Ok(false);
        }
        let renamed = match r {
            Relation::Table(t) => self
                .catalog
                .tables
                .get(&t.oid)
                .is_some_and(|mine| mine.name != t.name || mine.schema != t.schema),
            _ => false,
        };
        Ok(!renamed)
    }

    /// A sequence definition with PostgreSQL's defaults for `ty`.
    fn sequence_def(
        oid: u32,
        schema: u32,
        name: String,
        ty: DataType,
        counter_base: u64,
    ) -> SequenceDef {
        let max = type_range(&ty).1;
        SequenceDef {
            oid,
            schema,
            name,
            ty,
            start: 1,
            increment: 1,
            min: 1,
            max,
            cache: 1,
            cycle: false,
            base: 1,
            counter_base,
            owned_by: None,
        }
    }

    pub async fn create_table(&mut self, ct: &ast::CreateTable) -> Result<String> {
        let (schema_name, name) = object_name(&ct.name)?;
        let schema = self
            .catalog
            .creation_schema(schema_name.as_deref(), &self.search_path())?;
        if self.name_taken(schema, &name).await? {
            if ct.if_not_exists {
                self.state.notices.push(notice(format!(
                    "relation \"{name}\" already exists, skipping"
                )));
                return Ok("CREATE TABLE".into());
            }
            return Err(exists_err(&name));
        }
        if let Some(q) = &ct.query {
            return self.create_table_as(ct, q, schema, name).await;
        }
        let oid = new_oid(self.db).await?;
        let mut t = TableDef {
            oid,
            schema,
            name: name.clone(),
            columns: vec![],
            pk: vec![],
            indexes: vec![],
            checks: vec![],
            foreign_keys: vec![],
        };
        let mut constraints: Vec<ast::TableConstraint> = ct.constraints.clone();
        let mut sequences = Vec::new();
        for c in &ct.columns {
            let cname = ident(&c.name);
            if t.column(&cname).is_some() {
                return Err(Error::new(
                    ErrorCode::DuplicateColumn,
                    format!("column \"{cname}\" specified more than once"),
                ));
            }
            let serial = serial_type(&c.data_type);
            let ty = match &serial {
                Some(t) => t.clone(),
                None => DataType::from_sql(&c.data_type)?,
            };
            let mut col = ColumnDef {
                name: cname.clone(),
                ty: ty.clone(),
                not_null: false,
                default: None,
                missing: None,
                dropped: false,
                identity: false,
                identity_always: false,
            };
            let mut seq_needed = serial.is_some();
            let mut identity_options: Vec<ast::SequenceOptions> = Vec::new();
            for opt in &c.options {
                match &opt.option {
                    ast::ColumnOption::NotNull => col.not_null = true,
                    ast::ColumnOption::Null => {}
                    ast::ColumnOption::Default(e) => col.default = Some(e.to_string()),
                    ast::ColumnOption::PrimaryKey(pk) => {
                        let mut pk = pk.clone();
                        pk.columns = vec![index_col(&c.name)];
                        if pk.name.is_none() {
                            pk.name = opt.name.clone();
                        }
                        constraints.push(ast::TableConstraint::PrimaryKey(pk));
                    }
                    ast::ColumnOption::Unique(u) => {
                        let mut u = u.clone();
                        u.columns = vec![index_col(&c.name)];
                        if u.name.is_none() {
                            u.name = opt.name.clone();
                        }
                        constraints.push(ast::TableConstraint::Unique(u));
                    }
                    ast::ColumnOption::ForeignKey(fk) => {
                        let mut fk = fk.clone();
                        fk.columns = vec![c.name.clone()];
                        if fk.name.is_none() {
                            fk.name = opt.name.clone();
                        }
                        constraints.push(ast::TableConstraint::ForeignKey(fk));
                    }
                    ast::ColumnOption::Check(ck) => {
                        let mut ck = ck.clone();
                        if ck.name.is_none() {
                            ck.name = Some(opt.name.clone().unwrap_or_else(|| {
                                // Like ChooseConstraintName: a number is
                                // appended while the name is taken.
                                let base = format!("{name}_{cname}_check");
                                let taken = |n: &str| {
                                    constraints.iter().any(|c| match c {
                                        ast::TableConstraint::Check(c) => {
                                            c.name.as_ref().is_some_and(|x| x.value == n)
                                        }
                                        _ => false,
                                    })
                                };
                                let mut n = base.clone();
                                let mut i = 0;
                                while taken(&n) {
                                    i += 1;
                                    n = format!("{base}{i}");
                                }
                                ast::Ident::new(n)
                            }));
                        }
                        constraints.push(ast::TableConstraint::Check(ck));
                    }
                    ast::ColumnOption::Generated {
                        generated_as,
                        generation_expr,
                        sequence_options,
                        ..
                    } => {
                        if generation_expr.is_some() {
                            return Err(Error::unsupported("generated columns"));
                        }
                        identity_options = sequence_options.clone().unwrap_or_default();
                        col.identity = true;
                        col.identity_always = matches!(generated_as, ast::GeneratedAs::Always);
                        col.not_null = true;
                        seq_needed = true;
                    }
                    ast::ColumnOption::Identity(_) => {
                        col.identity = true;
                        col.not_null = true;
                        seq_needed = true;
                    }
                    ast::ColumnOption::Collation(_) | ast::ColumnOption::Comment(_) => {}
                    other => return Err(Error::unsupported(format!("column option {other}"))),
                }
            }
            if seq_needed {
                let seq_name = format!("{name}_{cname}_seq");
                let soid = new_oid(self.db).await?;
                let mut s = Self::sequence_def(soid, schema, seq_name.clone(), ty.clone(), 1);
                apply_sequence_options(&mut s, &identity_options)?;
                s.owned_by = Some((oid, t.columns.len()));
                col.default = Some(serial_default(self.catalog, schema, &seq_name));
                col.not_null = true;
                sequences.push(s);
            }
            t.columns.push(col);
        }
        for c in &constraints {
            self.add_constraint(&mut t, c, true).await?;
        }
        for s in &sequences {
            store::put(self.txn, Kind::Sequence, s.oid, s)?;
        }
        store::put(self.txn, Kind::Table, oid, &t)?;
        self.dirty();
        Ok("CREATE TABLE".into())
    }

    /// CREATE TABLE ... AS SELECT: columns from the query, rows from its result.
    async fn create_table_as(
        &mut self,
        ct: &ast::CreateTable,
        q: &ast::Query,
        schema: u32,
        name: String,
    ) -> Result<String> {
        let path = self.search_path();
        let fmt = self.fctx.format.clone();
        let mut b = Binder::new(self.catalog, &path, &fmt, vec![]);
        let (plan, cols) = b.query(q)?;
        let slots = b.slots;
        let oid = new_oid(self.db).await?;
        let mut t = TableDef {
            oid,
            schema,
            name,
            columns: vec![],
            pk: vec![],
            indexes: vec![],
            checks: vec![],
            foreign_keys: vec![],
        };
        for (i, c) in cols.iter().enumerate() {
            let cname = ct
                .columns
                .get(i)
                .map(|d| ident(&d.name))
                .unwrap_or_else(|| c.name.clone());
            t.columns.push(ColumnDef {
                name: cname,
                ty: if c.ty == DataType::Unknown {
                    DataType::Text
                } else {
                    c.ty.clone()
                },
                not_null: false,
                default: None,
                missing: None,
                dropped: false,
                identity: false,
                identity_always: false,
            });
        }
        let rows = {
            let mut inner = Ctx::new(
                self.txn,
                self.db,
                self.catalog,
                &[],
                &slots,
                self.state,
                self.fctx.clone(),
                self.cancel.clone(),
                self.deadline,
            );
            inner.run(&plan, &[]).await?
        };
        let n = rows.len();
        for r in rows {
            let id = self.db.next_sequence_value(oid as u64, 1000).await?;
            let key = keys::row_key(oid, &[&Value::Int8(id as i64)]);
            self.txn.put(key, encode_row(&r));
        }
        store::put(self.txn, Kind::Table, oid, &t)?;
        self.dirty();
        Ok(format!("SELECT {n}"))
    }

    /// Adds a constraint to `t` (validated over existing rows unless `fresh`).
    async fn add_constraint(
        &mut self,
        t: &mut TableDef,
        c: &ast::TableConstraint,
        fresh: bool,
    ) -> Result<()> {
        match c {
            ast::TableConstraint::PrimaryKey(pk) => {
                if !t.pk.is_empty() {
                    return Err(Error::new(
                        ErrorCode::DuplicateObject,
                        format!(
                            "multiple primary keys for table \"{}\" are not allowed",
                            t.name
                        ),
                    ));
                }
                let cols = constraint_cols(t, &pk.columns)?;
                let name = pk
                    .name
                    .as_ref()
                    .map(ident)
                    .unwrap_or_else(|| format!("{}_pkey", t.name));
                if !fresh {
                    self.rekey(t, &cols, &name).await?;
                }
                for c in &cols {
                    t.columns[*c].not_null = true;
                }
                t.pk = cols.clone();
                let oid = new_oid(self.db).await?;
                t.indexes.push(IndexDef {
                    oid,
                    name,
                    columns: cols,
                    unique: true,
                    primary: true,
                    constraint: true,
                });
            }
            ast::TableConstraint::Unique(u) => {
                let cols = constraint_cols(t, &u.columns)?;
                let names: Vec<String> = cols.iter().map(|c| t.columns[*c].name.clone()).collect();
                let name = u
                    .name
                    .as_ref()
                    .map(ident)
                    .unwrap_or_else(|| format!("{}_{}_key", t.name, names.join("_")));
                let oid = new_oid(self.db).await?;
                let ix = IndexDef {
                    oid,
                    name,
                    columns: cols,
                    unique: true,
                    primary: false,
                    constraint: true,
                };
                if !fresh {
                    self.build_index(t, &ix).await?;
                }
                t.indexes.push(ix);
            }
            ast::TableConstraint::Check(ck) => {
                let name = ck.name.as_ref().map(ident).unwrap_or_else(|| {
                    let cols: Vec<String> = vec![];
                    let _ = cols;
                    format!("{}_check", t.name)
                });
                let def = CheckDef {
                    name,
                    expr: ck.expr.to_string(),
                };
                // Bind it now so a bad expression fails the DDL.
                let arc = Arc::new(t.clone());
                let path = self.search_path();
                let fmt = self.fctx.format.clone();
                let mut b = Binder::new(self.catalog, &path, &fmt, vec![]);
                let scope = Scope::new(crate::binder::query::table_cols(&arc));
                let bound = b.condition(&ck.expr, &scope, "CHECK")?;
                if !fresh {
                    let rows = self.all_rows(&arc).await?;
                    for r in rows {
                        if matches!(self.eval(&bound, &r, &[])?, Value::Bool(false)) {
                            return Err(Error::new(
                                ErrorCode::CheckViolation,
                                format!("check constraint \"{}\" of relation \"{}\" is violated by some row", def.name, t.name),
                            ));
                        }
                    }
                }
                t.checks.push(def);
            }
            ast::TableConstraint::ForeignKey(fk) => {
                let cols: Vec<usize> = fk
                    .columns
                    .iter()
                    .map(|c| t.column_or_err(&ident(c)))
                    .collect::<Result<_>>()?;
                let (ps, pn) = object_name(&fk.foreign_table)?;
                let parent: Arc<TableDef> = if pn == t.name && ps.is_none() {
                    Arc::new(t.clone())
                } else {
                    match self
                        .catalog
                        .lookup(ps.as_deref(), &pn, &self.search_path())?
                    {
                        Some((_, Relation::Table(p))) => p.clone(),
                        _ => {
                            return Err(Error::new(
                                ErrorCode::UndefinedTable,
                                format!("relation \"{pn}\" does not exist"),
                            ))
                        }
                    }
                };
                let ref_cols: Vec<usize> = if fk.referred_columns.is_empty() {
                    if parent.pk.is_empty() {
                        return Err(Error::new(
                            ErrorCode::UndefinedObject,
                            format!("there is no primary key for referenced table \"{pn}\""),
                        ));
                    }
                    parent.pk.clone()
                } else {
                    fk.referred_columns
                        .iter()
                        .map(|c| parent.column_or_err(&ident(c)))
                        .collect::<Result<_>>()?
                };
                if ref_cols.len() != cols.len() {
                    return Err(Error::new(
                        ErrorCode::InvalidColumnReference,
                        "number of referencing and referenced columns for foreign key disagree",
                    ));
                }
                let unique = parent.pk == ref_cols
                    || parent
                        .indexes
                        .iter()
                        .any(|i| i.unique && i.columns == ref_cols);
                if !unique {
                    return Err(Error::new(
                        ErrorCode::InvalidForeignKey,
                        format!("there is no unique constraint matching given keys for referenced table \"{pn}\""),
                    ));
                }
                let names: Vec<String> = cols.iter().map(|c| t.columns[*c].name.clone()).collect();
                let name = fk
                    .name
                    .as_ref()
                    .map(ident)
                    .unwrap_or_else(|| format!("{}_{}_fkey", t.name, names.join("_")));
                t.foreign_keys.push(ForeignKeyDef {
                    name,
                    columns: cols,
                    ref_table: parent.oid,
                    ref_columns: ref_cols,
                    on_delete_cascade: matches!(
                        fk.on_delete,
                        Some(ast::ReferentialAction::Cascade)
                    ),
                    deferrable: fk
                        .characteristics
                        .as_ref()
                        .and_then(|c| c.deferrable)
                        .unwrap_or(false),
                    initially_deferred: matches!(
                        fk.characteristics.as_ref().and_then(|c| c.initially),
                        Some(ast::DeferrableInitial::Deferred)
                    ),
                });
            }
            other => return Err(Error::unsupported(format!("constraint {other}"))),
        }
        Ok(())
    }

    /// Every row of `t` (for DDL that rewrites or validates).
    pub async fn all_rows(&mut self, t: &Arc<TableDef>) -> Result<Vec<Vec<Value>>> {
        let plan = crate::planner::plan::Plan::Scan {
            table: t.clone(),
            access: crate::planner::plan::Access::Full,
            filter: None,
            lock: None,
        };
        self.run(&plan, &[]).await
    }

    /// ADD PRIMARY KEY: moves rows from hidden row ids to the new key.
    async fn rekey(&mut self, t: &TableDef, cols: &[usize], name: &str) -> Result<()> {
        let arc = Arc::new(t.clone());
        let rows = self.all_rows(&arc).await?;
        let mut seen = std::collections::HashSet::new();
        for r in rows {
            self.pace().await?;
            let n = t.columns.len();
            let vals: Vec<&Value> = cols.iter().map(|c| &r[*c]).collect();
            if let Some(c) = cols.iter().find(|c| r[**c].is_null()) {
                return Err(Error::new(
                    ErrorCode::NotNullViolation,
                    format!(
                        "column \"{}\" of relation \"{}\" contains null values",
                        t.columns[*c].name, t.name
                    ),
                ));
            }
            let key = keys::row_key(t.oid, &vals);
            if !seen.insert(key.clone()) {
                return Err(Error::new(
                    ErrorCode::UniqueViolation,
                    format!("could not create unique index \"{name}\""),
                ));
            }
            if let Value::Bytea(old) = &r[n] {
                self.txn.delete(old.clone());
            }
            self.txn.put(key, encode_row(&r[..n]));
        }
        Ok(())
    }

    /// Writes the entries of a new index over the table's rows.
    async fn build_index(&mut self, t: &TableDef, ix: &IndexDef) -> Result<()> {
        let arc = Arc::new(t.clone());
        let rows = self.all_rows(&arc).await?;
        let n = t.columns.len();
        let mut seen = std::collections::HashSet::new();
        for r in rows {
            self.pace().await?;
            let Value::Bytea(key) = &r[n] else { continue };
            let (k, v, unique) = index_entry(ix, &r, key);
            if unique && !seen.insert(k.clone()) {
                let vals: Vec<String> = ix
                    .columns
                    .iter()
                    .map(|c| {
                        r[*c]
                            .to_text(&self.fctx.format)
                            .unwrap_or_else(|| "null".into())
                    })
                    .collect();
                let names: Vec<String> = ix
                    .columns
                    .iter()
                    .map(|c| t.columns[*c].name.clone())
                    .collect();
                return Err(Error::new(
                    ErrorCode::UniqueViolation,
                    format!("could not create unique index \"{}\"", ix.name),
                )
                .with_detail(format!(
                    "Key ({})=({}) is duplicated.",
                    names.join(", "),
                    vals.join(", ")
                )));
            }
            self.txn.put(k, v);
        }
        Ok(())
    }

    async fn delete_prefix(&mut self, prefix: Vec<u8>) -> Result<()> {
        let end = keys::prefix_end(&prefix);
        let range = (
            Bound::Included(Bytes::from(prefix)),
            match end {
                Some(e) => Bound::Excluded(Bytes::from(e)),
                None => Bound::Unbounded,
            },
        );
        let mut it = self.txn.scan(range, Direction::Forward).await?;
        let mut ks = Vec::new();
        while let Some((k, _)) = it.next().await? {
            self.pace().await?;
            ks.push(k);
        }
        for k in ks {
            self.pace().await?;
            self.txn.delete(k);
        }
        Ok(())
    }

    pub async fn create_index(&mut self, ci: &ast::CreateIndex) -> Result<String> {
        let (ts, tn) = object_name(&ci.table_name)?;
        let t = match self
            .catalog
            .lookup(ts.as_deref(), &tn, &self.search_path())?
        {
            Some((_, Relation::Table(t))) => t.clone(),
            _ => {
                return Err(Error::new(
                    ErrorCode::UndefinedTable,
                    format!("relation \"{tn}\" does not exist"),
                ))
            }
        };
        let t = self.locked_table(t).await?;
        let cols = constraint_cols(&t, &ci.columns)?;
        let names: Vec<String> = cols.iter().map(|c| t.columns[*c].name.clone()).collect();
        let name = match &ci.name {
            Some(n) => object_name(n)?.1,
            None => {
                let base = format!("{}_{}_idx", t.name, names.join("_"));
                let mut name = base.clone();
                let mut i = 1;
                while self.name_taken(t.schema, &name).await? {
                    name = format!("{base}{i}");
                    i += 1;
                }
                name
            }
        };
        if self.name_taken(t.schema, &name).await? {
            if ci.if_not_exists {
                self.state.notices.push(notice(format!(
                    "relation \"{name}\" already exists, skipping"
                )));
                return Ok("CREATE INDEX".into());
            }
            return Err(exists_err(&name));
        }
        let oid = new_oid(self.db).await?;
        let ix = IndexDef {
            oid,
            name,
            columns: cols,
            unique: ci.unique,
            primary: false,
            constraint: false,
        };
        self.build_index(&t, &ix).await?;
        let mut nt = (*t).clone();
        nt.indexes.push(ix);
        store::put(self.txn, Kind::Table, nt.oid, &nt)?;
        self.dirty();
        Ok("CREATE INDEX".into())
    }

    pub async fn create_sequence(
        &mut self,
        name: &ast::ObjectName,
        if_not_exists: bool,
        opts: &[ast::SequenceOptions],
    ) -> Result<String> {
        let (sn, n) = object_name(name)?;
        let schema = self
            .catalog
            .creation_schema(sn.as_deref(), &self.search_path())?;
        if self.name_taken(schema, &n).await? {
            if if_not_exists {
                self.state
                    .notices
                    .push(notice(format!("relation \"{n}\" already exists, skipping")));
                return Ok("CREATE SEQUENCE".into());
            }
            return Err(exists_err(&n));
        }
        let oid = new_oid(self.db).await?;
        let mut s = Self::sequence_def(oid, schema, n, DataType::Int8, 1);
        apply_sequence_options(&mut s, opts)?;
        store::put(self.txn, Kind::Sequence, oid, &s)?;
        self.dirty();
        Ok("CREATE SEQUENCE".into())
    }

    /// ALTER SEQUENCE: changes the options given; RESTART (`restart` is
    /// `start` or a value) sets where nextval goes on. Values handed out
    /// before keep their order: the next one follows the last one with the
    /// new increment.
    pub async fn alter_sequence(
        &mut self,
        name: &ast::ObjectName,
        if_exists: bool,
        restart: Option<&str>,
        opts: &[ast::SequenceOptions],
    ) -> Result<String> {
        let text = name.to_string();
        let seq = match self.catalog.sequence(&text, &self.search_path()) {
            Ok(s) => s,
            Err(_) if if_exists => {
                self.state.notices.push(notice(format!(
                    "relation \"{text}\" does not exist, skipping"
                )));
                return Ok("ALTER SEQUENCE".into());
            }
            Err(e) => return Err(e),
        };
        let mut s = (*seq).clone();
        let (type_min, type_max) = type_range(&s.ty);
        for o in opts {
            match o {
                ast::SequenceOptions::IncrementBy(e, _) => s.increment = num(e)?,
                ast::SequenceOptions::StartWith(e, _) => s.start = num(e)?,
                ast::SequenceOptions::MinValue(Some(e)) => s.min = num(e)?,
                ast::SequenceOptions::MinValue(None) => {
                    s.min = if s.increment > 0 { 1 } else { type_min }
                }
                ast::SequenceOptions::MaxValue(Some(e)) => s.max = num(e)?,
                ast::SequenceOptions::MaxValue(None) => {
                    s.max = if s.increment > 0 { type_max } else { -1 }
                }
                ast::SequenceOptions::Cache(e) => s.cache = num(e)?,
                ast::SequenceOptions::Cycle(no) => s.cycle = !no,
                _ => {}
            }
        }
        if s.increment == 0 {
            return Err(Error::new(
                ErrorCode::InvalidParameterValue,
                "INCREMENT must not be zero",
            ));
        }
        if s.min > s.max {
            return Err(Error::new(
                ErrorCode::InvalidParameterValue,
                format!(
                    "MINVALUE ({}) must be less than MAXVALUE ({})",
                    s.min, s.max
                ),
            ));
        }
        // Where the counter stands: the value it would give next, and
        // whether any value was handed out since the last reset.
        let n = self.db.next_sequence_value(s.oid as u64, 1).await?;
        let untouched = n == seq.counter_base;
        let next_old = seq
            .base
            .saturating_add((n as i64 - seq.counter_base as i64).saturating_mul(seq.increment));
        s.base = match restart {
            Some("") | None if untouched => seq.base,
            Some("") | None => (next_old - seq.increment).saturating_add(s.increment),
            Some("start") => s.start,
            Some(v) => v
                .parse::<i64>()
                .map_err(|_| Error::syntax(format!("invalid RESTART value {v}")))?,
        };
        if matches!(restart, Some(r) if !r.is_empty()) && (s.base < s.min || s.base > s.max) {
            return Err(Error::new(
                ErrorCode::InvalidParameterValue,
                format!(
                    "RESTART value ({}) cannot be {} than {} ({})",
                    s.base,
                    if s.base < s.min { "less" } else { "greater" },
                    if s.base < s.min {
                        "MINVALUE"
                    } else {
                        "MAXVALUE"
                    },
                    if s.base < s.min { s.min } else { s.max }
                ),
            ));
        }
        s.counter_base = n + 1;
        store::put(self.txn, Kind::Sequence, s.oid, &s)?;
        self.dirty();
        Ok("ALTER SEQUENCE".into())
    }

    pub async fn create_view(&mut self, cv: &ast::CreateView) -> Result<String> {
        let (sn, n) = object_name(&cv.name)?;
        let schema = self
            .catalog
            .creation_schema(sn.as_deref(), &self.search_path())?;
        let path = self.search_path();
        let fmt = self.fctx.format.clone();
        let mut b = Binder::new(self.catalog, &path, &fmt, vec![]);
        let (_, cols) = b.query(&cv.query)?;
        let mut names: Vec<String> = cols.iter().map(|c| c.name.clone()).collect();
        for (i, c) in cv.columns.iter().enumerate() {
            if let Some(x) = names.get_mut(i) {
                *x = ident(&c.name);
            }
        }
        let oid = match self.catalog.relation_in(schema, &n) {
            Some(Relation::View(v)) if cv.or_replace => v.oid,
            Some(_) => return Err(exists_err(&n)),
            None => new_oid(self.db).await?,
        };
        let v = ViewDef {
            oid,
            schema,
            name: n,
            query: cv.query.to_string(),
            columns: names,
        };
        store::put(self.txn, Kind::View, oid, &v)?;
        self.dirty();
        Ok("CREATE VIEW".into())
    }

    pub async fn create_schema(
        &mut self,
        name: &ast::SchemaName,
        if_not_exists: bool,
    ) -> Result<String> {
        let n = match name {
            ast::SchemaName::Simple(n) | ast::SchemaName::NamedAuthorization(n, _) => {
                object_name(n)?.1
            }
            ast::SchemaName::UnnamedAuthorization(i) => ident(i),
        };
        if self.catalog.schema(&n).is_some() {
            if if_not_exists {
                self.state
                    .notices
                    .push(notice(format!("schema \"{n}\" already exists, skipping")));
                return Ok("CREATE SCHEMA".into());
            }
            return Err(Error::new(
                ErrorCode::DuplicateSchema,
                format!("schema \"{n}\" already exists"),
            ));
        }
        let oid = new_oid(self.db).await?;
        store::put(
            self.txn,
            Kind::Schema,
            oid,
            &SchemaDef {
                oid,
                name: n,
                owner: POSTGRES_ROLE,
            },
        )?;
        self.dirty();
        Ok("CREATE SCHEMA".into())
    }

    pub async fn create_database(
        &mut self,
        name: &ast::ObjectName,
        if_not_exists: bool,
    ) -> Result<String> {
        let n = object_name(name)?.1;
        if self.catalog.database(&n).is_some() {
            if if_not_exists {
                self.state
                    .notices
                    .push(notice(format!("database \"{n}\" already exists, skipping")));
                return Ok("CREATE DATABASE".into());
            }
            return Err(Error::new(
                ErrorCode::DuplicateDatabase,
                format!("database \"{n}\" already exists"),
            ));
        }
        let oid = new_oid(self.db).await?;
        store::put(
            self.txn,
            Kind::Database,
            oid,
            &DatabaseDef {
                oid,
                name: n,
                owner: POSTGRES_ROLE,
            },
        )?;
        self.dirty();
        Ok("CREATE DATABASE".into())
    }

    pub async fn drop(
        &mut self,
        kind: &ast::ObjectType,
        if_exists: bool,
        names: &[ast::ObjectName],
        cascade: bool,
    ) -> Result<String> {
        let tag = match kind {
            ast::ObjectType::Table => "DROP TABLE",
            ast::ObjectType::View => "DROP VIEW",
            ast::ObjectType::Index => "DROP INDEX",
            ast::ObjectType::Sequence => "DROP SEQUENCE",
            ast::ObjectType::Schema => "DROP SCHEMA",
            ast::ObjectType::Database => "DROP DATABASE",
            ast::ObjectType::Role | ast::ObjectType::User => "DROP ROLE",
            other => return Err(Error::unsupported(format!("DROP {other}"))),
        };
        // Tables dropped by this same statement do not hold each other
        // back (`DROP TABLE child, parent`).
        let mut dropping: Vec<u32> = Vec::new();
        if *kind == ast::ObjectType::Table {
            for name in names {
                let (sn, n) = object_name(name)?;
                if let Some((_, Relation::Table(t))) =
                    self.catalog
                        .lookup(sn.as_deref(), &n, &self.search_path())?
                {
                    dropping.push(t.oid);
                }
            }
        }
        for name in names {
            let (sn, n) = object_name(name)?;
            match kind {
                ast::ObjectType::Schema => {
                    let Some(s) = self.catalog.schema(&n).cloned() else {
                        if if_exists {
                            self.state
                                .notices
                                .push(notice(format!("schema \"{n}\" does not exist, skipping")));
                            continue;
                        }
                        return Err(Error::new(
                            ErrorCode::UndefinedSchema,
                            format!("schema \"{n}\" does not exist"),
                        ));
                    };
                    let tables: Vec<Arc<TableDef>> = self
                        .catalog
                        .tables
                        .values()
                        .filter(|t| t.schema == s.oid)
                        .cloned()
                        .collect();
                    if !tables.is_empty() && !cascade {
                        return Err(Error::new(
                            ErrorCode::DependentObjectsStillExist,
                            format!("cannot drop schema {n} because other objects depend on it"),
                        )
                        .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
                    }
                    for t in tables {
                        self.drop_table(&t).await?;
                    }
                    store::delete(self.txn, Kind::Schema, s.oid);
                }
                ast::ObjectType::Database => {
                    let Some(d) = self.catalog.database(&n).cloned() else {
                        if if_exists {
                            self.state
                                .notices
                                .push(notice(format!("database \"{n}\" does not exist, skipping")));
                            continue;
                        }
                        return Err(Error::new(
                            ErrorCode::UndefinedDatabase,
                            format!("database \"{n}\" does not exist"),
                        ));
                    };
                    if d.name == self.state.database {
                        return Err(Error::new(
                            ErrorCode::ObjectNotInPrerequisiteState,
                            "cannot drop the currently open database",
                        ));
                    }
                    store::delete(self.txn, Kind::Database, d.oid);
                }
                ast::ObjectType::Role | ast::ObjectType::User => {
                    let Some(r) = self.catalog.role(&n).cloned() else {
                        if if_exists {
                            self.state
                                .notices
                                .push(notice(format!("role \"{n}\" does not exist, skipping")));
                            continue;
                        }
                        return Err(Error::new(
                            ErrorCode::UndefinedObject,
                            format!("role \"{n}\" does not exist"),
                        ));
                    };
                    store::delete(self.txn, Kind::Role, r.oid);
                }
                _ => {
                    let found = self
                        .catalog
                        .lookup(sn.as_deref(), &n, &self.search_path())?
                        .map(|(_, r)| r.clone());
                    let what = match kind {
                        ast::ObjectType::Table => "table",
                        ast::ObjectType::View => "view",
                        ast::ObjectType::Index => "index",
                        _ => "sequence",
                    };
                    match (kind, found) {
                        (ast::ObjectType::Table, Some(Relation::Table(t))) => {
                            let views = self.views_reading(t.oid);
                            if let Some(v) = views.first() {
                                if !cascade {
                                    return Err(Error::new(
                                        ErrorCode::DependentObjectsStillExist,
                                        format!("cannot drop table {} because other objects depend on it", t.name),
                                    )
                                    .with_detail(format!("view {} depends on table {}", v.name, t.name))
                                    .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
                                }
                                for v in &views {
                                    store::delete(self.txn, Kind::View, v.oid);
                                    self.state
                                        .notices
                                        .push(notice(format!("drop cascades to view {}", v.name)));
                                }
                            }
                            let children: Vec<_> = self
                                .catalog
                                .referencing(t.oid)
                                .into_iter()
                                .filter(|c| c.oid != t.oid && !dropping.contains(&c.oid))
                                .collect();
                            if let Some(c) = children.first() {
                                if !cascade {
                                    let fk = c
                                        .foreign_keys
                                        .iter()
                                        .find(|f| f.ref_table == t.oid)
                                        .map(|f| f.name.clone())
                                        .unwrap_or_default();
                                    return Err(Error::new(
                                        ErrorCode::DependentObjectsStillExist,
                                        format!("cannot drop table {} because other objects depend on it", t.name),
                                    )
                                    .with_detail(format!("constraint {fk} on table {} depends on table {}", c.name, t.name))
                                    .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
                                }
                                for c in children {
                                    let mut nc = (*c).clone();
                                    nc.foreign_keys.retain(|f| f.ref_table != t.oid);
                                    store::put(self.txn, Kind::Table, nc.oid, &nc)?;
                                }
                            }
                            self.drop_table(&t).await?;
                        }
                        (ast::ObjectType::View, Some(Relation::View(v))) => {
                            store::delete(self.txn, Kind::View, v.oid)
                        }
                        (ast::ObjectType::Sequence, Some(Relation::Sequence(s))) => {
                            store::delete(self.txn, Kind::Sequence, s.oid)
                        }
                        (ast::ObjectType::Index, Some(Relation::Index(t, i))) => {
                            self.lock_table(t.oid, &t.name).await?;
                            let mut nt = (*t).clone();
                            let ix = nt.indexes.remove(i);
                            if ix.constraint {
                                return Err(Error::new(
                                    ErrorCode::DependentObjectsStillExist,
                                    format!("cannot drop index {} because constraint {} on table {} requires it", ix.name, ix.name, t.name),
                                )
                                .with_hint(format!("You can drop constraint {} on table {} instead.", ix.name, t.name)));
                            }
                            self.delete_prefix(keys::index_prefix(ix.oid)).await?;
                            store::put(self.txn, Kind::Table, nt.oid, &nt)?;
                        }
                        (_, Some(_)) => {
                            return Err(Error::new(
                                ErrorCode::WrongObjectType,
                                format!("\"{n}\" is not a {what}"),
                            )
                            .with_hint(format!(
                                "Use DROP {} to remove it.",
                                "the matching command"
                            )));
                        }
                        (_, None) => {
                            if if_exists {
                                self.state.notices.push(notice(format!(
                                    "{what} \"{n}\" does not exist, skipping"
                                )));
                                continue;
                            }
                            let msg = if what == "index"
                                || what == "sequence"
                                || what == "view"
                                || what == "table"
                            {
                                format!("{what} \"{n}\" does not exist")
                            } else {
                                format!("relation \"{n}\" does not exist")
                            };
                            return Err(Error::new(ErrorCode::UndefinedTable, msg));
                        }
                    }
                }
            }
        }
        self.dirty();
        Ok(tag.into())
    }

    /// The views whose query reads table `oid` (views that no longer
    /// bind read nothing).
    fn views_reading(&self, oid: u32) -> Vec<Arc<crate::catalog::ViewDef>> {
        let path = self.search_path();
        let fmt = self.fctx.format.clone();
        self.catalog
            .views
            .values()
            .filter(|v| {
                let Ok(q) = crate::parser::parse_query(&v.query) else {
                    return false;
                };
                let mut b = Binder::new(self.catalog, &path, &fmt, vec![]);
                let Ok((plan, _)) = b.query(&q) else {
                    return false;
                };
                let mut read = Vec::new();
                plan.tables_read(&b.slots, &mut read);
                read.contains(&oid)
            })
            .cloned()
            .collect()
    }

    async fn drop_table(&mut self, t: &TableDef) -> Result<()> {
        self.lock_table(t.oid, &t.name).await?;
        self.delete_prefix(keys::table_prefix(t.oid)).await?;
        for ix in t.secondary() {
            self.delete_prefix(keys::index_prefix(ix.oid)).await?;
        }
        let owned: Vec<u32> = self
            .catalog
            .sequences
            .values()
            .filter(|s| s.owned_by.map(|o| o.0) == Some(t.oid))
            .map(|s| s.oid)
            .collect();
        for s in owned {
            store::delete(self.txn, Kind::Sequence, s);
        }
        store::delete(self.txn, Kind::Table, t.oid);
        Ok(())
    }

    pub async fn truncate(&mut self, tr: &ast::Truncate) -> Result<String> {
        let mut tables = Vec::new();
        for target in &tr.table_names {
            let (sn, n) = object_name(&target.name)?;
            match self
                .catalog
                .lookup(sn.as_deref(), &n, &self.search_path())?
            {
                Some((_, Relation::Table(t))) => tables.push(t.clone()),
                _ => {
                    return Err(Error::new(
                        ErrorCode::UndefinedTable,
                        format!("relation \"{n}\" does not exist"),
                    ))
                }
            }
        }
        let cascade = matches!(tr.cascade, Some(ast::CascadeOption::Cascade));
        let mut i = 0;
        while i < tables.len() {
            let t = tables[i].clone();
            for c in self.catalog.referencing(t.oid) {
                if tables.iter().any(|x| x.oid == c.oid) {
                    continue;
                }
                if !cascade {
                    return Err(Error::new(
                        ErrorCode::FeatureNotSupported,
                        "cannot truncate a table referenced in a foreign key constraint",
                    )
                    .with_detail(format!("Table \"{}\" references \"{}\".", c.name, t.name))
                    .with_hint(format!(
                        "Truncate table \"{}\" at the same time, or use TRUNCATE ... CASCADE.",
                        c.name
                    )));
                }
                self.state
                    .notices
                    .push(notice(format!("truncate cascades to table \"{}\"", c.name)));
                tables.push(c);
            }
            i += 1;
        }
        for t in &tables {
            self.lock_table(t.oid, &t.name).await?;
            self.delete_prefix(keys::table_prefix(t.oid)).await?;
            for ix in t.secondary() {
                self.delete_prefix(keys::index_prefix(ix.oid)).await?;
            }
            if matches!(tr.identity, Some(ast::TruncateIdentityOption::Restart)) {
                let owned: Vec<Arc<SequenceDef>> = self
                    .catalog
                    .sequences
                    .values()
                    .filter(|s| s.owned_by.map(|o| o.0) == Some(t.oid))
                    .cloned()
                    .collect();
                for s in owned {
                    let n = self.db.next_sequence_value(s.oid as u64, 1).await?;
                    let mut ns = (*s).clone();
                    ns.base = ns.start;
                    ns.counter_base = n + 1;
                    store::put(self.txn, Kind::Sequence, ns.oid, &ns)?;
                    self.dirty();
                }
            }
        }
        Ok("TRUNCATE TABLE".into())
    }

    pub async fn alter_table(&mut self, at: &ast::AlterTable) -> Result<String> {
        let (sn, n) = object_name(&at.name)?;
        let t = match self
            .catalog
            .lookup(sn.as_deref(), &n, &self.search_path())?
        {
            Some((_, Relation::Table(t))) => t.clone(),
            Some((_, Relation::View(v))) => {
                // ALTER TABLE/VIEW ... RENAME on a view.
                let mut nv = (**v).clone();
                let nv = &mut nv;
                for op in &at.operations {
                    if let ast::AlterTableOperation::RenameTable { table_name } = op {
                        let new = match table_name {
                            ast::RenameTableNameKind::As(n) | ast::RenameTableNameKind::To(n) => {
                                object_name(n)?.1
                            }
                        };
                        nv.name = new;
                    }
                }
                store::put(self.txn, Kind::View, nv.oid, &*nv)?;
                self.dirty();
                return Ok("ALTER TABLE".into());
            }
            _ => {
                if at.if_exists {
                    self.state
                        .notices
                        .push(notice(format!("relation \"{n}\" does not exist, skipping")));
                    return Ok("ALTER TABLE".into());
                }
                return Err(Error::new(
                    ErrorCode::UndefinedTable,
                    format!("relation \"{n}\" does not exist"),
                ));
            }
        };
        let t = self.locked_table(t).await?;
        let mut nt = (*t).clone();
        for op in &at.operations {
            match op {
                ast::AlterTableOperation::AddColumn {
                    if_not_exists,
                    column_def,
                    ..
                } => {
                    let cname = ident(&column_def.name);
                    if nt.column(&cname).is_some() {
                        if *if_not_exists {
                            self.state.notices.push(notice(format!(
                                "column \"{cname}\" of relation \"{}\" already exists, skipping",
                                nt.name
                            )));
                            continue;
                        }
                        return Err(Error::new(
                            ErrorCode::DuplicateColumn,
                            format!(
                                "column \"{cname}\" of relation \"{}\" already exists",
                                nt.name
                            ),
                        ));
                    }
                    let serial = serial_type(&column_def.data_type);
                    let ty = match &serial {
                        Some(t) => t.clone(),
                        None => DataType::from_sql(&column_def.data_type)?,
                    };
                    let mut col = ColumnDef {
                        name: cname.clone(),
                        ty: ty.clone(),
                        not_null: false,
                        default: None,
                        missing: None,
                        dropped: false,
                        identity: false,
                        identity_always: false,
                    };
                    let mut extra = Vec::new();
                    let mut identity_options: Option<Vec<ast::SequenceOptions>> = None;
                    for o in &column_def.options {
                        match &o.option {
                            ast::ColumnOption::NotNull => col.not_null = true,
                            ast::ColumnOption::Null => {}
                            ast::ColumnOption::Default(e) => col.default = Some(e.to_string()),
                            ast::ColumnOption::PrimaryKey(pk) => {
                                let mut pk = pk.clone();
                                pk.columns = vec![index_col(&column_def.name)];
                                extra.push(ast::TableConstraint::PrimaryKey(pk));
                            }
                            ast::ColumnOption::Unique(u) => {
                                let mut u = u.clone();
                                u.columns = vec![index_col(&column_def.name)];
                                extra.push(ast::TableConstraint::Unique(u));
                            }
                            ast::ColumnOption::ForeignKey(fk) => {
                                let mut fk = fk.clone();
                                fk.columns = vec![column_def.name.clone()];
                                extra.push(ast::TableConstraint::ForeignKey(fk));
                            }
                            ast::ColumnOption::Check(ck) => {
                                extra.push(ast::TableConstraint::Check(ck.clone()))
                            }
                            ast::ColumnOption::Generated {
                                generated_as,
                                generation_expr: None,
                                sequence_options,
                                ..
                            } => {
                                col.identity = true;
                                col.identity_always =
                                    matches!(generated_as, ast::GeneratedAs::Always);
                                identity_options =
                                    Some(sequence_options.clone().unwrap_or_default());
                            }
                            other => {
                                return Err(Error::unsupported(format!("column option {other}")))
                            }
                        }
                    }
                    if serial.is_some() || identity_options.is_some() {
                        let seq_name = format!("{}_{cname}_seq", nt.name);
                        let soid = new_oid(self.db).await?;
                        let mut s =
                            Self::sequence_def(soid, nt.schema, seq_name.clone(), ty.clone(), 1);
                        apply_sequence_options(&mut s, identity_options.as_deref().unwrap_or(&[]))?;
                        s.owned_by = Some((nt.oid, nt.columns.len()));
                        col.default = Some(serial_default(self.catalog, nt.schema, &seq_name));
                        col.not_null = true;
                        // Existing rows are numbered from the new sequence
                        // (not in the catalog yet): its first values, in
                        // scan order; nextval goes on after them.
                        let arc = Arc::new(nt.clone());
                        let rows = self.all_rows(&arc).await?;
                        let mut next = s.start;
                        for r in rows {
                            if next < s.min || next > s.max {
                                return Err(Error::new(
                                    ErrorCode::SequenceGeneratorLimitExceeded,
                                    format!("nextval: reached maximum value of sequence \"{seq_name}\" ({})", s.max),
                                ));
                            }
                            let mut vals = r[..arc.columns.len()].to_vec();
                            vals.push(crate::types::cast::cast(
                                &Value::Int8(next),
                                &ty,
                                crate::types::cast::CastKind::Assignment,
                                &self.fctx.format,
                            )?);
                            if let Value::Bytea(k) = &r[arc.columns.len()] {
                                self.txn.put(k.clone(), encode_row(&vals));
                            }
                            next = next.saturating_add(s.increment);
                        }
                        s.base = next;
                        store::put(self.txn, Kind::Sequence, soid, &s)?;
                    } else if let Some(d) = &col.default {
                        // Existing rows read the default as it is now.
                        let e = crate::parser::parse_expr(d)?;
                        let path = self.search_path();
                        let fmt = self.fctx.format.clone();
                        let mut b = Binder::new(self.catalog, &path, &fmt, vec![]);
                        let (x, xt) = b.expr(&e, &Scope::default())?;
                        let x = b.coerce(x, &xt, &ty)?;
                        let slots = b.slots.clone();
                        if slots.is_empty() {
                            let v = self.eval(&x, &[], &[])?;
                            col.missing = Some(crate::types::cast::cast(
                                &v,
                                &ty,
                                crate::types::cast::CastKind::Assignment,
                                &self.fctx.format,
                            )?);
                        } else {
                            // Volatile defaults (nextval): rewrite the rows.
                            let arc = Arc::new(nt.clone());
                            let rows = self.all_rows(&arc).await?;
                            let mut inner = Ctx::new(
                                self.txn,
                                self.db,
                                self.catalog,
                                &[],
                                &slots,
                                self.state,
                                self.fctx.clone(),
                                self.cancel.clone(),
                                self.deadline,
                            );
                            let mut writes = Vec::new();
                            for r in rows {
                                let v = inner.eval_full(&x, &[], &[]).await?;
                                let mut vals = r[..arc.columns.len()].to_vec();
                                vals.push(v);
                                if let Value::Bytea(k) = &r[arc.columns.len()] {
                                    writes.push((k.clone(), encode_row(&vals)));
                                }
                            }
                            for (k, v) in writes {
                                self.txn.put(k, v);
                            }
                        }
                    }
                    if col.not_null && col.missing.is_none() && col.default.is_none() {
                        let arc = Arc::new(nt.clone());
                        if !self.all_rows(&arc).await?.is_empty() {
                            return Err(Error::new(
                                ErrorCode::NotNullViolation,
                                format!(
                                    "column \"{cname}\" of relation \"{}\" contains null values",
                                    nt.name
                                ),
                            ));
                        }
                    }
                    nt.columns.push(col);
                    for c in &extra {
                        self.add_constraint(&mut nt, c, false).await?;
                    }
                }
                ast::AlterTableOperation::DropColumn {
                    column_names,
                    if_exists,
                    ..
                } => {
                    for cn in column_names {
                        let cname = ident(cn);
                        let Some(i) = nt.column(&cname) else {
                            if *if_exists {
                                self.state.notices.push(notice(format!("column \"{cname}\" of relation \"{}\" does not exist, skipping", nt.name)));
                                continue;
                            }
                            return Err(Error::new(
                                ErrorCode::UndefinedColumn,
                                format!(
                                    "column \"{cname}\" of relation \"{}\" does not exist",
                                    nt.name
                                ),
                            ));
                        };
                        if nt.pk.contains(&i) {
                            return Err(Error::unsupported("dropping a primary key column"));
                        }
                        let dropped: Vec<IndexDef> = nt
                            .indexes
                            .iter()
                            .filter(|x| x.columns.contains(&i))
                            .cloned()
                            .collect();
                        for ix in dropped {
                            self.delete_prefix(keys::index_prefix(ix.oid)).await?;
                        }
                        nt.indexes.retain(|x| !x.columns.contains(&i));
                        nt.foreign_keys.retain(|f| !f.columns.contains(&i));
                        nt.columns[i].dropped = true;
                        nt.columns[i].not_null = false;
                        nt.columns[i].default = None;
                    }
                }
                ast::AlterTableOperation::RenameColumn {
                    old_column_name,
                    new_column_name,
                } => {
                    let old = ident(old_column_name);
                    let new = ident(new_column_name);
                    let i = nt.column_or_err(&old)?;
                    if nt.column(&new).is_some() {
                        return Err(Error::new(
                            ErrorCode::DuplicateColumn,
                            format!(
                                "column \"{new}\" of relation \"{}\" already exists",
                                nt.name
                            ),
                        ));
                    }
                    nt.columns[i].name = new;
                }
                ast::AlterTableOperation::RenameTable { table_name } => {
                    let new = match table_name {
                        ast::RenameTableNameKind::As(n) | ast::RenameTableNameKind::To(n) => {
                            object_name(n)?.1
                        }
                    };
                    if self.name_taken(nt.schema, &new).await? {
                        return Err(exists_err(&new));
                    }
                    nt.name = new;
                }
                ast::AlterTableOperation::AddConstraint { constraint, .. } => {
                    self.add_constraint(&mut nt, constraint, false).await?;
                    if let Some(fk) = nt.foreign_keys.last().cloned() {
                        if matches!(constraint, ast::TableConstraint::ForeignKey(_)) {
                            self.validate_fk(&nt, &fk).await?;
                        }
                    }
                }
                ast::AlterTableOperation::DropConstraint {
                    name, if_exists, ..
                } => {
                    let cn = ident(name);
                    let before = (nt.indexes.len(), nt.checks.len(), nt.foreign_keys.len());
                    if let Some(ix) = nt
                        .indexes
                        .iter()
                        .find(|i| i.name == cn && i.constraint)
                        .cloned()
                    {
                        if ix.primary {
                            return Err(Error::unsupported("dropping a primary key"));
                        }
                        self.delete_prefix(keys::index_prefix(ix.oid)).await?;
                    }
                    nt.indexes.retain(|i| !(i.name == cn && i.constraint));
                    nt.checks.retain(|c| c.name != cn);
                    nt.foreign_keys.retain(|f| f.name != cn);
                    if before == (nt.indexes.len(), nt.checks.len(), nt.foreign_keys.len()) {
                        if *if_exists {
                            self.state.notices.push(notice(format!(
                                "constraint \"{cn}\" of relation \"{}\" does not exist, skipping",
                                nt.name
                            )));
                            continue;
                        }
                        return Err(Error::new(
                            ErrorCode::UndefinedObject,
                            format!(
                                "constraint \"{cn}\" of relation \"{}\" does not exist",
                                nt.name
                            ),
                        ));
                    }
                }
                ast::AlterTableOperation::AlterColumn { column_name, op } => {
                    let i = nt.column_or_err(&ident(column_name))?;
                    match op {
                        ast::AlterColumnOperation::SetNotNull => {
                            let arc = Arc::new(nt.clone());
                            if self.all_rows(&arc).await?.iter().any(|r| r[i].is_null()) {
                                return Err(Error::new(
                                    ErrorCode::NotNullViolation,
                                    format!(
                                        "column \"{}\" of relation \"{}\" contains null values",
                                        nt.columns[i].name, nt.name
                                    ),
                                ));
                            }
                            nt.columns[i].not_null = true;
                        }
                        ast::AlterColumnOperation::DropNotNull => nt.columns[i].not_null = false,
                        ast::AlterColumnOperation::SetDefault { value } => {
                            nt.columns[i].default = Some(value.to_string())
                        }
                        ast::AlterColumnOperation::DropDefault => nt.columns[i].default = None,
                        ast::AlterColumnOperation::SetDataType {
                            data_type,
                            using: None,
                            ..
                        } => {
                            let ty = DataType::from_sql(data_type)?;
                            nt = self.change_column_type(nt, i, ty).await?;
                        }
                        other => return Err(Error::unsupported(format!("ALTER COLUMN {other}"))),
                    }
                }
                other => return Err(Error::unsupported(format!("ALTER TABLE {other}"))),
            }
        }
        store::put(self.txn, Kind::Table, nt.oid, &nt)?;
        self.dirty();
        Ok("ALTER TABLE".into())
    }

    /// ALTER COLUMN ... TYPE: every row's value is cast (as an assignment
    /// would) and written back, the row keys too when the column is in the
    /// primary key, and the indexes over the column are rebuilt.
    async fn change_column_type(
        &mut self,
        mut nt: TableDef,
        i: usize,
        ty: DataType,
    ) -> Result<TableDef> {
        use crate::types::cast::{can_cast, cast, CastKind};
        let from = nt.columns[i].ty.clone();
        let name = nt.columns[i].name.clone();
        if !can_cast(&from, &ty, CastKind::Assignment) {
            return Err(Error::new(
                ErrorCode::DatatypeMismatch,
                format!(
                    "column \"{name}\" cannot be cast automatically to type {}",
                    ty.display_name()
                ),
            )
            .with_hint(format!(
                "You might need to specify \"USING {name}::{}\".",
                ty.display_name()
            )));
        }
        if nt.foreign_keys.iter().any(|f| f.columns.contains(&i))
            || self.catalog.referencing(nt.oid).iter().any(|c| {
                c.foreign_keys
                    .iter()
                    .any(|f| f.ref_table == nt.oid && f.ref_columns.contains(&i))
            })
        {
            return Err(Error::unsupported(
                "changing the type of a column used by a foreign key",
            ));
        }
        let old = Arc::new(nt.clone());
        let rows = self.all_rows(&old).await?;
        nt.columns[i].ty = ty.clone();
        if let Some(m) = nt.columns[i].missing.take() {
            nt.columns[i].missing = Some(cast(&m, &ty, CastKind::Assignment, &self.fctx.format)?);
        }
        let in_pk = nt.pk.contains(&i);
        for ix in old.secondary() {
            self.delete_prefix(keys::index_prefix(ix.oid)).await?;
        }
        let n = old.columns.len();
        let mut keys_seen = std::collections::HashSet::new();
        let mut writes = Vec::new();
        for r in rows {
            let Value::Bytea(key) = &r[n] else { continue };
            let mut vals = r[..n].to_vec();
            vals[i] = cast(&vals[i], &ty, CastKind::Assignment, &self.fctx.format)?;
            let new_key = if in_pk {
                let pk: Vec<&Value> = nt.pk.iter().map(|c| &vals[*c]).collect();
                keys::row_key(nt.oid, &pk)
            } else {
                key.clone()
            };
            // Casting may make two primary keys equal (2.4 and 2.2 as
            // integer): refuse rather than lose a row.
            if in_pk && !keys_seen.insert(new_key.clone()) {
                let pk_name = nt
                    .primary_index()
                    .map(|x| x.name.clone())
                    .unwrap_or_else(|| format!("{}_pkey", nt.name));
                return Err(Error::new(
                    ErrorCode::UniqueViolation,
                    format!("could not create unique index \"{pk_name}\""),
                ));
            }
            writes.push((key.clone(), new_key, encode_row(&vals)));
        }
        // Old keys go first, so a new key equal to another row's old key
        // is not deleted after it was written.
        for (old_key, new_key, _) in &writes {
            if new_key != old_key {
                self.txn.delete(old_key.clone());
            }
        }
        for (_, new_key, row) in writes {
            self.txn.put(new_key, row);
        }
        for ix in nt.secondary() {
            let ix = ix.clone();
            self.build_index(&nt, &ix).await?;
        }
        Ok(nt)
    }

    async fn validate_fk(&mut self, t: &TableDef, fk: &ForeignKeyDef) -> Result<()> {
        let arc = Arc::new(t.clone());
        let rows = self.all_rows(&arc).await?;
        let parent = if fk.ref_table == t.oid {
            arc.clone()
        } else {
            match self.catalog.table_by_oid(fk.ref_table) {
                Some(p) => p.clone(),
                None => return Ok(()),
            }
        };
        let prows = self.all_rows(&parent).await?;
        let keys: std::collections::HashSet<Vec<u8>> = prows
            .iter()
            .map(|r| {
                super::ops::hash_key(
                    &fk.ref_columns
                        .iter()
                        .map(|c| r[*c].clone())
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        for r in rows {
            let vals: Vec<Value> = fk.columns.iter().map(|c| r[*c].clone()).collect();
            if vals.iter().any(|v| v.is_null()) {
                continue;
            }
            if !keys.contains(&super::ops::hash_key(&vals)) {
                let shown: Vec<String> = vals
                    .iter()
                    .map(|v| v.to_text(&self.fctx.format).unwrap_or_default())
                    .collect();
                let names: Vec<String> = fk
                    .columns
                    .iter()
                    .map(|c| t.columns[*c].name.clone())
                    .collect();
                return Err(Error::new(
                    ErrorCode::ForeignKeyViolation,
                    format!(
                        "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
                        t.name, fk.name
                    ),
                )
                .with_detail(format!(
                    "Key ({})=({}) is not present in table \"{}\".",
                    names.join(", "),
                    shown.join(", "),
                    parent.name
                )));
            }
        }
        Ok(())
    }

    /// Rows of `t` decoded from raw key/values (used by COPY).
    pub fn decode(&self, t: &TableDef, k: &[u8], v: &[u8]) -> Result<Vec<Value>> {
        decode_table_row(t, k, v)
    }
}

fn index_col(name: &ast::Ident) -> ast::IndexColumn {
    ast::IndexColumn {
        column: ast::OrderByExpr {
            expr: ast::Expr::Identifier(name.clone()),
            options: ast::OrderByOptions {
                sort: None,
                nulls_first: None,
            },
            with_fill: None,
        },
        operator_class: None,
    }
}

impl Ctx<'_> {
    fn password_of(p: &Option<ast::Password>) -> Result<Option<Option<String>>> {
        match p {
            None => Ok(None),
            Some(ast::Password::NullPassword) => Ok(Some(None)),
            Some(ast::Password::Password(e)) => {
                let text = match e {
                    ast::Expr::Value(v) => match &v.value {
                        ast::Value::SingleQuotedString(s) => s.clone(),
                        other => other.to_string(),
                    },
                    other => other.to_string(),
                };
                Ok(Some(Some(crate::session::auth::verifier(&text)?)))
            }
        }
    }

    pub async fn create_role(&mut self, cr: &ast::CreateRole) -> Result<String> {
        let tag = match cr.keyword {
            ast::RoleKeyword::Role => "CREATE ROLE",
            _ => "CREATE ROLE",
        };
        for n in &cr.names {
            let name = object_name(n)?.1;
            if self.catalog.role(&name).is_some() {
                return Err(Error::new(
                    ErrorCode::DuplicateObject,
                    format!("role \"{name}\" already exists"),
                ));
            }
            let oid = new_oid(self.db).await?;
            let login =
                cr.login.unwrap_or(false) || cr.keyword.to_string().eq_ignore_ascii_case("user");
            let role = RoleDef {
                oid,
                name,
                superuser: cr.superuser.unwrap_or(false),
                login,
                password: Self::password_of(&cr.password)?.flatten(),
            };
            store::put(self.txn, Kind::Role, oid, &role)?;
        }
        self.dirty();
        Ok(tag.into())
    }

    pub async fn alter_role(
        &mut self,
        name: &ast::Ident,
        op: &ast::AlterRoleOperation,
    ) -> Result<String> {
        let n = ident(name);
        let Some(r) = self.catalog.role(&n) else {
            return Err(Error::new(
                ErrorCode::UndefinedObject,
                format!("role \"{n}\" does not exist"),
            ));
        };
        let mut r = r.clone();
        match op {
            ast::AlterRoleOperation::WithOptions { options } => {
                for o in options {
                    match o {
                        ast::RoleOption::Login(b) => r.login = *b,
                        ast::RoleOption::SuperUser(b) => r.superuser = *b,
                        ast::RoleOption::Password(p) => {
                            if let Some(v) = Self::password_of(&Some(p.clone()))? {
                                r.password = v;
                            }
                        }
                        _ => {}
                    }
                }
            }
            ast::AlterRoleOperation::RenameRole { role_name } => r.name = ident(role_name),
            _ => {}
        }
        store::put(self.txn, Kind::Role, r.oid, &r)?;
        self.dirty();
        Ok("ALTER ROLE".into())
    }
}

/// A sequence option's number (`INCREMENT BY -3`).
fn num(e: &ast::Expr) -> Result<i64> {
    let t = e.to_string().replace(' ', "");
    t.parse::<i64>()
        .map_err(|_| Error::syntax(format!("invalid sequence option value {t}")))
}

/// The values a sequence of type `ty` can reach.
fn type_range(ty: &DataType) -> (i64, i64) {
    match ty {
        DataType::Int2 => (i16::MIN as i64, i16::MAX as i64),
        DataType::Int4 => (i32::MIN as i64, i32::MAX as i64),
        _ => (i64::MIN, i64::MAX),
    }
}

/// Applies CREATE SEQUENCE / identity options to `s` (PostgreSQL's
/// defaults: ascending from MINVALUE 1, descending from MAXVALUE -1).
fn apply_sequence_options(s: &mut SequenceDef, opts: &[ast::SequenceOptions]) -> Result<()> {
    let mut start = None;
    let mut min = None;
    let mut max = None;
    for o in opts {
        match o {
            ast::SequenceOptions::IncrementBy(e, _) => s.increment = num(e)?,
            ast::SequenceOptions::StartWith(e, _) => start = Some(num(e)?),
            ast::SequenceOptions::MinValue(Some(e)) => min = Some(num(e)?),
            ast::SequenceOptions::MaxValue(Some(e)) => max = Some(num(e)?),
            ast::SequenceOptions::Cache(e) => s.cache = num(e)?,
            // sqlparser's flag is true for NO CYCLE.
            ast::SequenceOptions::Cycle(no) => s.cycle = !no,
            ast::SequenceOptions::DataType(dt) => {
                s.ty = DataType::from_sql(dt)?;
                s.max = type_range(&s.ty).1;
            }
            _ => {}
        }
    }
    if s.increment == 0 {
        return Err(Error::new(
            ErrorCode::InvalidParameterValue,
            "INCREMENT must not be zero",
        ));
    }
    if s.increment < 0 {
        s.max = max.unwrap_or(-1);
        s.min = min.unwrap_or(type_range(&s.ty).0);
        s.start = start.unwrap_or(s.max);
    } else {
        s.min = min.unwrap_or(1);
        if let Some(m) = max {
            s.max = m;
        }
        s.start = start.unwrap_or(s.min);
    }
    if s.min > s.max {
        return Err(Error::new(
            ErrorCode::InvalidParameterValue,
            format!(
                "MINVALUE ({}) must be less than MAXVALUE ({})",
                s.min, s.max
            ),
        ));
    }
    if s.start < s.min {
        return Err(Error::new(
            ErrorCode::InvalidParameterValue,
            format!(
                "START value ({}) cannot be less than MINVALUE ({})",
                s.start, s.min
            ),
        ));
    }
    if s.start > s.max {
        return Err(Error::new(
            ErrorCode::InvalidParameterValue,
            format!(
                "START value ({}) cannot be greater than MAXVALUE ({})",
                s.start, s.max
            ),
        ));
    }
    s.base = s.start;
    s.counter_base = 1;
    Ok(())
}

/// A serial column's default: nextval of its sequence, named with its
/// schema unless that is public (the default's text is resolved on the
/// search path when it runs, which need not hold the table's schema;
/// PostgreSQL prints it so, as regclass, when public is on the path).
fn serial_default(cat: &Catalog, schema: u32, seq: &str) -> String {
    let schema_name = cat.schema_name(schema);
    let name = if schema_name == "public" {
        crate::func::quote_ident(seq)
    } else {
        format!(
            "{}.{}",
            crate::func::quote_ident(schema_name),
            crate::func::quote_ident(seq)
        )
    };
    format!("nextval('{}'::regclass)", name.replace('\'', "''"))
}
