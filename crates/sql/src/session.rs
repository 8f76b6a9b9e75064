//! The interface the wire layer drives: an [`Engine`] per frontend and a
//! [`Session`] per client connection.
//!
//! The wire layer:
//! 1. authenticates with [`Engine::role_auth`] and opens a session with
//!    [`Engine::new_session`];
//! 2. for a simple query, splits it with [`parse`] (a syntax error fails the
//!    whole message) and runs each statement with [`Session::execute`],
//!    text results;
//! 3. for the extended protocol, keeps a [`Parsed`] per prepared statement,
//!    asks [`Session::describe`] for parameter and result types, decodes the
//!    Bind parameters with [`Value::from_text`]/[`Value::from_binary`] for
//!    those types, and calls [`Session::execute`] at Execute;
//! 4. reports [`Session::transaction_status`] in every ReadyForQuery.

pub mod auth;
pub(crate) mod dispatch;
mod plan_cache;
pub mod state;
mod txn;

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use shoal_txn::{Database, Savepoint, Transaction};

use crate::catalog::{self, Catalog};
use crate::error::{Error, ErrorCode, Result};
use crate::types::{DataType, FormatOptions, Value};
use state::SessionState;

/// One statement, parsed (syntax only: names are resolved when it is
/// described or executed, so a simple query's later statements may use
/// what its earlier ones create).
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The statement's own text (for logs and `pg_stat_activity`).
    pub text: String,
    pub(crate) statement: Option<sqlparser::ast::Statement>,
    /// The plan of its last execution, run again while it stays valid
    /// (a clone starts without one).
    plan: plan_cache::PlanCache,
}

impl Parsed {
    pub(crate) fn new(text: String, statement: Option<sqlparser::ast::Statement>) -> Parsed {
        Parsed {
            text,
            statement,
            plan: Default::default(),
        }
    }

    /// Whether this is the empty query (`;` or only comments).
    pub fn is_empty(&self) -> bool {
        self.statement.is_none()
    }
}

/// Splits `sql` into statements. An empty string gives an empty vector.
pub fn parse(sql: &str) -> Result<Vec<Parsed>> {
    crate::parser::parse(sql)
}

/// A result column as RowDescription reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub data_type: DataType,
    /// The table and column it comes from, when it is a plain column (0 otherwise).
    pub table_oid: u32,
    pub column_id: i16,
    /// The type modifier as PostgreSQL reports it (-1 when none).
    pub type_modifier: i32,
}

/// What [`Session::describe`] learns about a statement.
#[derive(Clone, Debug)]
pub struct Description {
    /// One type per `$n`, given or inferred (`$1` is index 0).
    pub params: Vec<DataType>,
    /// The result columns; `None` when the statement returns no rows (NoData).
    pub columns: Option<Vec<Column>>,
}

/// The transaction state ReadyForQuery reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionStatus {
    /// `I`
    Idle,
    /// `T`
    InBlock,
    /// `E`: a statement failed; only ROLLBACK is accepted.
    Failed,
}

/// COPY's data formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyFormat {
    Text,
    Csv,
    Binary,
}

/// A COPY ... FROM STDIN waiting for its data.
#[derive(Clone, Debug)]
pub struct CopyIn {
    pub format: CopyFormat,
    /// How many columns each row has (CopyInResponse reports it).
    pub columns: usize,
    pub(crate) plan: Arc<dyn std::any::Any + Send + Sync>,
}

/// What a statement produced.
#[derive(Debug)]
pub enum Output {
    /// Rows with their description, and the command tag (`SELECT 3`,
    /// `INSERT 0 2` for `INSERT ... RETURNING`).
    Rows {
        columns: Vec<Column>,
        rows: Vec<Vec<Value>>,
        tag: String,
    },
    /// A command without rows: its complete tag (`CREATE TABLE`, `UPDATE 5`,
    /// `BEGIN`, `SET`).
    Command { tag: String },
    /// The empty query (EmptyQueryResponse).
    Empty,
    /// COPY ... FROM STDIN: the wire layer answers CopyInResponse, collects
    /// CopyData until CopyDone and calls [`Session::copy_in`].
    CopyIn(CopyIn),
    /// COPY ... TO STDOUT: the data, already formatted, one `Vec<u8>` per
    /// row (CopyData each), and the tag (`COPY n`).
    CopyOut {
        format: CopyFormat,
        columns: usize,
        data: Vec<Vec<u8>>,
        tag: String,
    },
}

/// A notice for the client (NoticeResponse), e.g. "table does not exist,
/// skipping" for `DROP TABLE IF EXISTS`.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    /// `NOTICE`, `WARNING`, `INFO`...
    pub severity: String,
    /// Five-character SQLSTATE (`00000` for plain notices).
    pub code: String,
    pub message: String,
}

/// How a role proves who it is.
#[derive(Clone, Debug)]
pub enum RoleAuth {
    /// The role has no password (only trust authentication can log it in).
    NoPassword,
    /// A SCRAM-SHA-256 verifier in PostgreSQL's format
    /// (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`).
    Scram(String),
}

/// Cancels the running statement of one session (CancelRequest).
#[derive(Clone, Debug, Default)]
pub struct CancelHandle {
    flag: Arc<AtomicBool>,
}

impl CancelHandle {
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Release);
    }

    /// Takes the cancel request, if one came.
    pub fn take(&self) -> bool {
        self.flag.swap(false, Ordering::AcqRel)
    }
}

/// How the engine runs (fixed per frontend).
#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    /// Default for every session's `statement_timeout` (None: off).
    pub statement_timeout: Option<std::time::Duration>,
}

/// One frontend's SQL engine, shared by all of its sessions.
pub struct Engine {
    pub(crate) db: Arc<Database>,
    opts: EngineOptions,
    /// The shared catalog snapshot and the catalog version it was read at.
    cache: Mutex<Option<(u64, Arc<Catalog>)>>,
    next_pid: AtomicI32,
}

impl Engine {
    /// Opens the engine over a frontend's database, creating the initial
    /// catalog (database `postgres`, schemas, role `postgres`) if this is
    /// a fresh cluster. Safe when several frontends start at once.
    pub async fn open(db: Arc<Database>, opts: EngineOptions) -> Result<Arc<Engine>> {
        catalog::bootstrap::bootstrap(&db).await?;
        Ok(Arc::new(Engine {
            db,
            opts,
            cache: Mutex::new(None),
            next_pid: AtomicI32::new(1000 + (std::process::id() % 1000) as i32 * 100),
        }))
    }

    /// The frontend's database.
    pub fn database(&self) -> &Arc<Database> {
        &self.db
    }

    /// The current catalog: the shared snapshot, reloaded when a visible
    /// batch changed the catalog. The version is read before the snapshot,
    /// so what is loaded includes every change the version counts.
    pub async fn catalog(&self) -> Result<Arc<Catalog>> {
        let version = self.db.catalog_version();
        if let Some((v, c)) = self
            .cache
            .lock()
            .map_err(|_| Error::internal("catalog cache poisoned"))?
            .as_ref()
        {
            if *v == version {
                return Ok(c.clone());
            }
        }
        let mut txn = self.db.begin(shoal_txn::Isolation::ReadCommitted).await?;
        txn.begin_statement().await?;
        let loaded = Arc::new(catalog::store::load(&txn).await?);
        txn.rollback().await?;
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| Error::internal("catalog cache poisoned"))?;
        if cache.as_ref().map(|(v, _)| *v <= version).unwrap_or(true) {
            *cache = Some((version, loaded.clone()));
        }
        Ok(loaded)
    }

    /// How `role` authenticates; `None` if there is no such role (or it
    /// may not log in).
    pub async fn role_auth(&self, role: &str) -> Result<Option<RoleAuth>> {
        let cat = self.catalog().await?;
        Ok(cat
            .role(role)
            .filter(|r| r.login)
            .map(|r| match &r.password {
                Some(v) => RoleAuth::Scram(v.clone()),
                None => RoleAuth::NoPassword,
            }))
    }

    /// Sets (or with `None` clears) a role's password, storing its SCRAM
    /// verifier.
    pub async fn set_password(&self, role: &str, password: Option<&str>) -> Result<()> {
        let cat = self.catalog().await?;
        let Some(r) = cat.role(role) else {
            return Err(Error::new(
                ErrorCode::UndefinedObject,
                format!("role \"{role}\" does not exist"),
            ));
        };
        let mut r = r.clone();
        r.password = match password {
            Some(p) => Some(auth::verifier(p)?),
            None => None,
        };
        let mut txn = self.db.begin(shoal_txn::Isolation::ReadCommitted).await?;
        txn.begin_statement().await?;
        catalog::store::put(&mut txn, crate::keys::Kind::Role, r.oid, &r)?;
        txn.commit().await?;
        Ok(())
    }

    /// Opens a session for `user` on `database` with the startup
    /// parameters the client sent (`application_name`, `client_encoding`,
    /// `DateStyle`, `options`...). Fails with UndefinedDatabase or
    /// InvalidAuthorization as PostgreSQL would.
    pub async fn new_session(
        self: &Arc<Self>,
        user: &str,
        database: &str,
        params: &[(String, String)],
    ) -> Result<Session> {
        let cat = self.catalog().await?;
        if cat.database(database).is_none() {
            return Err(Error::new(
                ErrorCode::UndefinedDatabase,
                format!("database \"{database}\" does not exist"),
            ));
        }
        let Some(role) = cat.role(user) else {
            return Err(Error::new(
                ErrorCode::InvalidAuthorization,
                format!("role \"{user}\" does not exist"),
            ));
        };
        let mut settings = state::Settings::default();
        let _ = settings.set("session_authorization", user);
        let _ = settings.set("is_superuser", if role.superuser { "on" } else { "off" });
        if let Some(t) = self.opts.statement_timeout {
            let _ = settings.set("statement_timeout", &t.as_millis().to_string());
        }
        for (k, v) in params {
            match k.as_str() {
                "user" | "database" | "replication" => {}
                "options" => {
                    // -c name=value / --name=value
                    let mut words = v.split_whitespace().peekable();
                    while let Some(w) = words.next() {
                        let kv = if w == "-c" {
                            words.next().unwrap_or("")
                        } else {
                            w.trim_start_matches("--").trim_start_matches("-c")
                        };
                        if let Some((n, val)) = kv.split_once('=') {
                            settings.set(&n.replace('-', "_"), val)?;
                        }
                    }
                }
                _ => {
                    if let Err(e) = settings.set(k, v) {
                        if e.code != ErrorCode::UndefinedObject {
                            return Err(e);
                        }
                    }
                }
            }
        }
        settings.commit_defaults();
        let pid = self.next_pid.fetch_add(1, Ordering::Relaxed);
        Ok(Session {
            engine: self.clone(),
            state: SessionState {
                settings,
                user: user.to_string(),
                database: database.to_string(),
                superuser: role.superuser,
                pid,
                currval: Default::default(),
                lastval: None,
                catalog_dirty: false,
                statement_catalog: 0,
                stale_plan: false,
                notices: Vec::new(),
                block_settings: None,
                local_saves: Vec::new(),
                table_locks: Default::default(),
                deferred_checks: Vec::new(),
                constraints_deferred: None,
            },
            txn: None,
            block: false,
            failed: false,
            started: false,
            savepoints: Vec::new(),
            cancel: CancelHandle::default(),
            txn_start: 0,
        })
    }
}

/// One client connection's state: settings, the open transaction, and
/// what the wire layer needs to report.
pub struct Session {
    engine: Arc<Engine>,
    pub(crate) state: SessionState,
    /// The open transaction: a block's, or the running statement's.
    txn: Option<Transaction>,
    /// Inside BEGIN ... COMMIT.
    block: bool,
    /// A statement of the block failed: only ROLLBACK is accepted.
    failed: bool,
    /// A statement ran in the block (isolation is fixed from then on).
    started: bool,
    /// Savepoints: name, write set, whether the catalog was dirty, settings.
    savepoints: Vec<(String, Savepoint, bool, state::Settings)>,
    cancel: CancelHandle,
    /// The transaction's start (now()).
    txn_start: i64,
}

impl Session {
    /// The ParameterStatus values to send after authentication
    /// (server_version, server_encoding, client_encoding, DateStyle,
    /// TimeZone, integer_datetimes, standard_conforming_strings,
    /// application_name, IntervalStyle, is_superuser, session_authorization).
    pub fn startup_parameters(&self) -> Vec<(String, String)> {
        self.state.settings.reported()
    }

    /// Parameters whose value changed since the last call (PostgreSQL
    /// sends ParameterStatus when `SET` changes a reported parameter).
    pub fn take_parameter_changes(&mut self) -> Vec<(String, String)> {
        self.state.settings.take_changes()
    }

    /// Notices raised since the last call.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.state.notices)
    }

    /// The handle a CancelRequest uses to stop this session's statement.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// The settings that drive text output (TimeZone, DateStyle,
    /// extra_float_digits, bytea_output).
    pub fn format_options(&self) -> &FormatOptions {
        &self.state.settings.format
    }

    /// The backend process id this session reports (BackendKeyData).
    pub fn backend_pid(&self) -> i32 {
        self.state.pid
    }

    /// The state ReadyForQuery reports.
    pub fn transaction_status(&self) -> TransactionStatus {
        if self.failed {
            TransactionStatus::Failed
        } else if self.block {
            TransactionStatus::InBlock
        } else {
            TransactionStatus::Idle
        }
    }

    /// Parameter types (`param_types[i]` is `None` where the client left
    /// it to the server) and result columns of `stmt`, for Parse/Describe.
    pub async fn describe(
        &mut self,
        stmt: &Parsed,
        param_types: &[Option<DataType>],
    ) -> Result<Description> {
        let Some(s) = &stmt.statement else {
            return Ok(Description {
                params: vec![],
                columns: None,
            });
        };
        let catalog = self.catalog().await?;
        dispatch::describe(self, &catalog, s, param_types)
    }

    /// Runs `stmt` with `params` (already decoded for the described types).
    /// Inside a failed transaction block anything but ROLLBACK fails with
    /// InFailedTransaction; a failing statement in a block fails the block.
    pub async fn execute(&mut self, stmt: &Parsed, params: &[Value]) -> Result<Output> {
        let Some(s) = &stmt.statement else {
            return Ok(Output::Empty);
        };
        self.cancel.take();
        if let Some(out) = self.transaction_control(s).await? {
            return Ok(out);
        }
        if self.failed {
            return Err(Error::new(
                ErrorCode::InFailedTransaction,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        if let Some(out) = dispatch::without_transaction(self, s).await? {
            return Ok(out);
        }
        self.run_in_transaction(txn::Work::Statement(s, params, &stmt.plan))
            .await
    }

    /// Loads the data of a COPY ... FROM STDIN (all CopyData bytes
    /// concatenated); returns the number of rows (tag `COPY n`).
    pub async fn copy_in(&mut self, copy: &CopyIn, data: &[u8]) -> Result<u64> {
        if self.failed {
            return Err(Error::new(
                ErrorCode::InFailedTransaction,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        let plan = copy.plan.clone();
        let data = data.to_vec();
        let out = self
            .run_in_transaction(txn::Work::CopyIn(plan, data))
            .await?;
        match out {
            Output::Command { tag } => Ok(tag.trim_start_matches("COPY ").parse().unwrap_or(0)),
            _ => Ok(0),
        }
    }

    /// Tells the session that COPY FROM STDIN was abandoned (CopyFail) or
    /// another error ended it outside `execute`: fails the transaction
    /// block as PostgreSQL does.
    pub fn fail_transaction(&mut self) {
        if self.block {
            self.failed = true;
        }
    }

    /// Ends the session (the client disconnected): rolls back its
    /// transaction and releases its locks.
    pub async fn close(&mut self) {
        if let Some(txn) = self.txn.take() {
            let _ = txn.rollback().await;
        }
        self.block = false;
        self.failed = false;
    }

    /// The catalog this session's statements see (its own uncommitted
    /// DDL included).
    pub(crate) async fn catalog(&mut self) -> Result<Arc<Catalog>> {
        if self.state.catalog_dirty {
            if let Some(txn) = &self.txn {
                return Ok(Arc::new(catalog::store::load(txn).await?));
            }
        }
        self.engine.catalog().await
    }
}
