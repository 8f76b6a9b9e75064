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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::Result;
use crate::types::{DataType, Value};

/// One statement, parsed (syntax only: names are resolved when it is
/// described or executed, so a simple query's later statements may use
/// what its earlier ones create).
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The statement's own text (for logs and `pg_stat_activity`).
    pub text: String,
    pub(crate) statement: Option<sqlparser::ast::Statement>,
}

impl Parsed {
    /// Whether this is the empty query (`;` or only comments).
    pub fn is_empty(&self) -> bool {
        self.statement.is_none()
    }
}

/// Splits `sql` into statements. An empty string gives an empty vector.
pub fn parse(sql: &str) -> Result<Vec<Parsed>> {
    let _ = sql;
    Err(crate::Error::unsupported("parse: not built yet"))
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

/// One frontend's SQL engine, shared by all of its sessions.
pub struct Engine {
    _private: (),
}

impl Engine {
    /// How `role` authenticates; `None` if there is no such role (or it
    /// may not log in).
    pub async fn role_auth(&self, role: &str) -> Result<Option<RoleAuth>> {
        let _ = role;
        Err(crate::Error::unsupported("not built yet"))
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
        let _ = (user, database, params);
        Err(crate::Error::unsupported("not built yet"))
    }
}

/// One client connection's state: settings, the open transaction, and
/// what the wire layer needs to report.
pub struct Session {
    _private: (),
}

impl Session {
    /// The ParameterStatus values to send after authentication
    /// (server_version, server_encoding, client_encoding, DateStyle,
    /// TimeZone, integer_datetimes, standard_conforming_strings,
    /// application_name, IntervalStyle, is_superuser, session_authorization).
    pub fn startup_parameters(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Parameters whose value changed since the last call (PostgreSQL
    /// sends ParameterStatus when `SET` changes a reported parameter).
    pub fn take_parameter_changes(&mut self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Notices raised since the last call.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        Vec::new()
    }

    /// The handle a CancelRequest uses to stop this session's statement.
    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle::default()
    }

    /// The state ReadyForQuery reports.
    pub fn transaction_status(&self) -> TransactionStatus {
        TransactionStatus::Idle
    }

    /// Parameter types (`param_types[i]` is `None` where the client left
    /// it to the server) and result columns of `stmt`, for Parse/Describe.
    pub async fn describe(
        &mut self,
        stmt: &Parsed,
        param_types: &[Option<DataType>],
    ) -> Result<Description> {
        let _ = (stmt, param_types);
        Err(crate::Error::unsupported("not built yet"))
    }

    /// Runs `stmt` with `params` (already decoded for the described types).
    /// Inside a failed transaction block anything but ROLLBACK fails with
    /// InFailedTransaction; a failing statement in a block fails the block.
    pub async fn execute(&mut self, stmt: &Parsed, params: &[Value]) -> Result<Output> {
        let _ = (stmt, params);
        Err(crate::Error::unsupported("not built yet"))
    }

    /// Loads the data of a COPY ... FROM STDIN (all CopyData bytes
    /// concatenated); returns the number of rows (tag `COPY n`).
    pub async fn copy_in(&mut self, copy: &CopyIn, data: &[u8]) -> Result<u64> {
        let _ = (copy, data);
        Err(crate::Error::unsupported("not built yet"))
    }

    /// Tells the session that COPY FROM STDIN was abandoned (CopyFail) or
    /// another error ended it outside `execute`: fails the transaction
    /// block as PostgreSQL does.
    pub fn fail_transaction(&mut self) {}

    /// Ends the session (the client disconnected): rolls back its
    /// transaction and releases its locks.
    pub async fn close(&mut self) {}
}
