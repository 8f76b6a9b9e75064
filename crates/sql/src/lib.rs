//! The SQL layer (DESIGN.md section 3): parser, binder, planner, executor,
//! catalog, types and the `pg_catalog` subset.
//!
//! The life of one statement, say `UPDATE t SET v = v + $1 WHERE id = $2`:
//!
//! 1. The wire layer splits the query text with [`session::parse`]
//!    ([`parser::parse`], sqlparser's PostgreSQL dialect) into
//!    [`session::Parsed`] statements, and calls [`session::Session::execute`].
//! 2. `Session::execute` handles transaction control itself
//!    (`session::txn`: BEGIN, COMMIT, savepoints, the failed-block state)
//!    and settings (`session::dispatch::without_transaction`: SET, SHOW);
//!    anything else runs through `Session::run_in_transaction`, which
//!    begins a transaction when none is open (autocommit), reads the
//!    catalog ([`session::Engine::catalog`], reloaded when
//!    `Database::catalog_version` moves) and calls
//!    `Transaction::begin_statement` for the statement's snapshot.
//! 3. `session::dispatch::execute` binds the statement:
//!    [`binder::Binder`] resolves names against the [`catalog::Catalog`]
//!    and types expressions (`binder::expr`), producing a
//!    [`planner::plan::Plan`] (`binder::query`, `exec::dml::Binder::bind_update`).
//!    While binding, [`planner::push_filter`] pushes WHERE conjuncts into
//!    scans and [`planner::choose_access`] (`planner::index`) turns
//!    `id = $2` into a primary-key point lookup.
//! 4. The executor ([`exec::Ctx`]) runs the plan: `Ctx::run` recurses over
//!    the tree; the scan (`exec::scan`) does one `Transaction::get` for the
//!    point lookup, locks the candidate rows in one `Transaction::lock`
//!    call, re-reads them with `Transaction::get_latest` and re-checks the
//!    WHERE (EvalPlanQual); `Ctx::modify` (`exec::dml`) evaluates the SET
//!    expressions (`exec::expr`, operators from [`func`]), casts and checks
//!    the new row, maintains indexes and `put`s it ([`keys`] is the layout).
//! 5. `run_in_transaction` commits (autocommit) or keeps the block open,
//!    and the result becomes an [`session::Output`] (`UPDATE 1`).
//!
//! Modules:
//! - [`types`]: data types, values, their wire formats, casts, key and row encodings.
//! - [`error`]: errors with PostgreSQL error codes.
//! - [`func`]: operators, scalar functions and aggregates.
//! - [`session`]: what the wire layer drives: one per client connection.
//! - [`parser`]: statement splitting and syntax errors.
//! - [`catalog`]: schema objects stored as rows, and their bootstrap.
//! - [`binder`]: name resolution and typing.
//! - [`planner`]: plan nodes, filter pushdown, access paths, EXPLAIN.
//! - [`exec`]: the executor, DML, DDL and COPY.
//! - [`pg_catalog`]: system views for drivers and tools.
//! - [`keys`]: the key layout of rows, indexes and the catalog.

pub mod binder;
pub mod catalog;
pub mod error;
pub mod exec;
pub mod func;
pub mod keys;
pub mod parser;
pub mod pg_catalog;
pub mod planner;
pub mod session;
pub mod types;

pub use error::{Error, ErrorCode, Result};
pub use session::{Engine, EngineOptions, Session};
pub use types::{DataType, Interval, Value};
