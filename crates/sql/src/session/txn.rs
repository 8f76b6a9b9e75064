//! Transaction control: autocommit per statement, BEGIN/COMMIT/ROLLBACK,
//! savepoints, SET TRANSACTION, and the failed-block state (25P02).

use std::sync::Arc;

use shoal_txn::Isolation;
use sqlparser::ast::{self, Statement};

use super::{dispatch, Notice, Output, Session};
use crate::error::{Error, ErrorCode, Result};
use crate::types::Value;

/// What runs inside the session's transaction.
pub(crate) enum Work<'a> {
    /// A statement, its parameters, and where its plan is kept.
    Statement(&'a Statement, &'a [Value], &'a super::plan_cache::PlanCache),
    CopyIn(Arc<dyn std::any::Any + Send + Sync>, Vec<u8>),
    /// The foreign key checks deferred to COMMIT.
    DeferredChecks,
}

fn command(tag: &str) -> Output {
    Output::Command {
        tag: tag.to_string(),
    }
}

/// READ ONLY / READ WRITE among transaction modes.
pub(crate) fn read_only_of(modes: &[ast::TransactionMode]) -> Option<bool> {
    modes.iter().find_map(|m| match m {
        ast::TransactionMode::AccessMode(ast::TransactionAccessMode::ReadOnly) => Some(true),
        ast::TransactionMode::AccessMode(ast::TransactionAccessMode::ReadWrite) => Some(false),
        _ => None,
    })
}

/// The isolation named by transaction modes, if any.
pub(crate) fn isolation_of(modes: &[ast::TransactionMode]) -> Option<(Isolation, &'static str)> {
    modes.iter().find_map(|m| match m {
        ast::TransactionMode::IsolationLevel(l) => Some(match l {
            ast::TransactionIsolationLevel::ReadUncommitted => {
                (Isolation::ReadCommitted, "read uncommitted")
            }
            ast::TransactionIsolationLevel::ReadCommitted => {
                (Isolation::ReadCommitted, "read committed")
            }
            ast::TransactionIsolationLevel::RepeatableRead => {
                (Isolation::RepeatableRead, "repeatable read")
            }
            ast::TransactionIsolationLevel::Serializable
            | ast::TransactionIsolationLevel::Snapshot => {
                (Isolation::RepeatableRead, "serializable")
            }
        }),
        _ => None,
    })
}

fn parse_isolation(s: &str) -> Isolation {
    match s {
        "repeatable read" | "serializable" => Isolation::RepeatableRead,
        _ => Isolation::ReadCommitted,
    }
}

impl Session {
    fn warn(&mut self, code: &str, message: &str) {
        self.state.notices.push(Notice {
            severity: "WARNING".into(),
            code: code.into(),
            message: message.into(),
        });
    }

    async fn begin_txn(&mut self) -> Result<()> {
        let level = self
            .state
            .settings
            .get("default_transaction_isolation")
            .unwrap_or_else(|_| "read committed".into());
        let _ = self.state.settings.set("transaction_isolation", &level);
        let ro = self
            .state
            .settings
            .get("default_transaction_read_only")
            .unwrap_or_else(|_| "off".into());
        let _ = self.state.settings.set("transaction_read_only", &ro);
        let txn = self.engine.db.begin(parse_isolation(&level)).await?;
        self.txn = Some(txn);
        self.started = false;
        self.txn_start = super::state::now_micros();
        Ok(())
    }

    fn end_txn(&mut self) {
        let saves = std::mem::take(&mut self.state.local_saves);
        self.state.settings.undo_local(saves);
        self.state.block_settings = None;
        self.state.table_locks.clear();
        self.state.deferred_checks.clear();
        self.state.constraints_deferred = None;
        self.txn = None;
        self.block = false;
        self.failed = false;
        self.started = false;
        self.savepoints.clear();
        self.state.catalog_dirty = false;
        let level = self
            .state
            .settings
            .get("default_transaction_isolation")
            .unwrap_or_else(|_| "read committed".into());
        let _ = self.state.settings.set("transaction_isolation", &level);
        let ro = self
            .state
            .settings
            .get("default_transaction_read_only")
            .unwrap_or_else(|_| "off".into());
        let _ = self.state.settings.set("transaction_read_only", &ro);
    }

    /// A rolled-back block's SETs are undone.
    fn restore_block_settings(&mut self) {
        if let Some(saved) = self.state.block_settings.take() {
            self.state.local_saves.clear();
            self.state.settings.restore(&saved);
        }
    }

    /// Runs BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, SET TRANSACTION;
    /// `None` for other statements.
    pub(crate) async fn transaction_control(&mut self, s: &Statement) -> Result<Option<Output>> {
        let out = match s {
            Statement::StartTransaction { modes, .. } => {
                if self.failed {
                    return Err(in_failed());
                }
                if self.block {
                    self.warn("25001", "there is already a transaction in progress");
                } else {
                    self.begin_txn().await?;
                    self.block = true;
                    self.state.block_settings = Some(self.state.settings.clone());
                    if let Some((iso, name)) = isolation_of(modes) {
                        if let Some(t) = self.txn.as_mut() {
                            t.set_isolation(iso)?;
                        }
                        let _ = self.state.settings.set("transaction_isolation", name);
                    }
                    if let Some(ro) = read_only_of(modes) {
                        let _ = self
                            .state
                            .settings
                            .set("transaction_read_only", if ro { "on" } else { "off" });
                    }
                }
                command("BEGIN")
            }
            Statement::Commit { .. } => {
                if !self.block {
                    self.warn("25P01", "there is no transaction in progress");
                    return Ok(Some(command("COMMIT")));
                }
                if !self.failed && !self.state.deferred_checks.is_empty() {
                    // A deferred constraint that fails aborts the commit.
                    if let Err(e) = self.run_statement(Work::DeferredChecks).await {
                        let txn = self.txn.take();
                        self.restore_block_settings();
                        self.end_txn();
                        if let Some(t) = txn {
                            let _ = t.rollback().await;
                        }
                        return Err(e);
                    }
                }
                let failed = self.failed;
                let txn = self.txn.take();
                if failed {
                    self.restore_block_settings();
                }
                self.end_txn();
                if failed {
                    if let Some(t) = txn {
                        t.rollback().await?;
                    }
                    command("ROLLBACK")
                } else {
                    if let Some(t) = txn {
                        t.commit().await?;
                    }
                    command("COMMIT")
                }
            }
            Statement::Rollback {
                savepoint: None, ..
            } => {
                if !self.block {
                    self.warn("25P01", "there is no transaction in progress");
                    return Ok(Some(command("ROLLBACK")));
                }
                let txn = self.txn.take();
                self.restore_block_settings();
                self.end_txn();
                if let Some(t) = txn {
                    t.rollback().await?;
                }
                command("ROLLBACK")
            }
            Statement::Rollback {
                savepoint: Some(name),
                ..
            } => {
                let name = crate::binder::ident(name);
                if !self.block {
                    return Err(Error::new(
                        ErrorCode::NoActiveSqlTransaction,
                        "ROLLBACK TO SAVEPOINT can only be used in transaction blocks",
                    ));
                }
                let Some(pos) = self.savepoints.iter().rposition(|(n, _, _, _)| *n == name) else {
                    if !self.failed {
                        self.failed = true;
                    }
                    return Err(Error::new(
                        ErrorCode::InvalidSavepoint,
                        format!("savepoint \"{name}\" does not exist"),
                    ));
                };
                self.savepoints.truncate(pos + 1);
                let (_, sp, dirty, settings) = &self.savepoints[pos];
                if let Some(t) = self.txn.as_mut() {
                    t.rollback_to(sp);
                }
                self.state.catalog_dirty = *dirty;
                let settings = settings.clone();
                self.state.settings.restore(&settings);
                self.failed = false;
                command("ROLLBACK")
            }
            Statement::Savepoint { name } => {
                if self.failed {
                    return Err(in_failed());
                }
                if !self.block {
                    return Err(Error::new(
                        ErrorCode::NoActiveSqlTransaction,
                        "SAVEPOINT can only be used in transaction blocks",
                    ));
                }
                let sp = match self.txn.as_ref() {
                    Some(t) => t.savepoint(),
                    None => return Err(Error::internal("transaction block without a transaction")),
                };
                let settings = self.state.settings.clone();
                self.savepoints.push((
                    crate::binder::ident(name),
                    sp,
                    self.state.catalog_dirty,
                    settings,
                ));
                command("SAVEPOINT")
            }
            Statement::ReleaseSavepoint { name } => {
                if self.failed {
                    return Err(in_failed());
                }
                let name = crate::binder::ident(name);
                if !self.block {
                    return Err(Error::new(
                        ErrorCode::NoActiveSqlTransaction,
                        "RELEASE SAVEPOINT can only be used in transaction blocks",
                    ));
                }
                let Some(pos) = self.savepoints.iter().rposition(|(n, _, _, _)| *n == name) else {
                    self.failed = true;
                    return Err(Error::new(
                        ErrorCode::InvalidSavepoint,
                        format!("savepoint \"{name}\" does not exist"),
                    ));
                };
                self.savepoints.truncate(pos);
                command("RELEASE")
            }
            Statement::Set(ast::Set::SingleAssignment {
                variable, values, ..
            }) if variable.to_string() == crate::parser::SET_CONSTRAINTS => {
                if self.failed {
                    return Err(in_failed());
                }
                if !self.block {
                    self.warn(
                        "25P01",
                        "SET CONSTRAINTS can only be used in transaction blocks",
                    );
                    return Ok(Some(command("SET CONSTRAINTS")));
                }
                let deferred =
                    values.first().map(|v| v.to_string()).as_deref() == Some("'deferred'");
                self.state.constraints_deferred = Some(deferred);
                if !deferred && !self.state.deferred_checks.is_empty() {
                    // IMMEDIATE checks what was deferred so far, now.
                    if let Err(e) = self.run_statement(Work::DeferredChecks).await {
                        self.failed = true;
                        return Err(e);
                    }
                }
                command("SET CONSTRAINTS")
            }
            Statement::Set(ast::Set::SetTransaction { modes, session, .. }) => {
                if self.failed {
                    return Err(in_failed());
                }
                let Some((iso, name)) = isolation_of(modes) else {
                    if let Some(ro) = read_only_of(modes) {
                        let v = if ro { "on" } else { "off" };
                        if *session {
                            self.state
                                .settings
                                .set("default_transaction_read_only", v)?;
                        } else if self.block {
                            self.state.settings.set("transaction_read_only", v)?;
                        }
                    }
                    return Ok(Some(command("SET")));
                };
                if *session {
                    self.state
                        .settings
                        .set("default_transaction_isolation", name)?;
                } else if !self.block {
                    self.warn(
                        "25P01",
                        "SET TRANSACTION can only be used in transaction blocks",
                    );
                } else {
                    if self.started {
                        return Err(Error::new(
                            ErrorCode::ActiveSqlTransaction,
                            "SET TRANSACTION ISOLATION LEVEL must be called before any query",
                        ));
                    }
                    if let Some(t) = self.txn.as_mut() {
                        t.set_isolation(iso)?;
                    }
                    self.state.settings.set("transaction_isolation", name)?;
                }
                command("SET")
            }
            _ => return Ok(None),
        };
        Ok(Some(out))
    }

    /// Runs `work` in the block's transaction, or in its own (autocommit).
    pub(crate) async fn run_in_transaction(&mut self, work: Work<'_>) -> Result<Output> {
        let autocommit = !self.block;
        if self.txn.is_none() {
            self.begin_txn().await?;
        }
        let mut r = self.run_statement(work).await;
        if r.is_ok() && autocommit && !self.state.deferred_checks.is_empty() {
            if let Err(e) = self.run_statement(Work::DeferredChecks).await {
                r = Err(e);
            }
        }
        match r {
            Ok(out) => {
                if autocommit {
                    let txn = self.txn.take();
                    self.end_txn();
                    if let Some(t) = txn {
                        t.commit().await?;
                    }
                }
                Ok(out)
            }
            Err(e) => {
                if autocommit {
                    let txn = self.txn.take();
                    self.end_txn();
                    if let Some(t) = txn {
                        let _ = t.rollback().await;
                    }
                } else {
                    self.failed = true;
                    // PostgreSQL aborts the transaction at the error and
                    // releases its locks at once (a deadlock victim's waiters
                    // must go on); only ROLLBACK TO a savepoint can resume,
                    // so the transaction is kept only when one exists.
                    if self.savepoints.is_empty() {
                        if let Some(t) = self.txn.take() {
                            let _ = t.rollback().await;
                        }
                    }
                }
                Err(e)
            }
        }
    }

    async fn run_statement(&mut self, work: Work<'_>) -> Result<Output> {
        // The catalog version is read before the statement's snapshot.
        let catalog_first = !self.state.catalog_dirty;
        self.state.statement_catalog = self.engine.database().catalog_version();
        let cached = if catalog_first {
            Some(self.engine.catalog().await?)
        } else {
            None
        };
        match self.txn.as_mut() {
            Some(t) => t.begin_statement().await?,
            None => return Err(Error::internal("no transaction")),
        }
        self.started = true;
        let mut catalog = match cached {
            Some(c) => c,
            None => self.catalog().await?,
        };
        match work {
            Work::Statement(s, params, cache) => {
                // DDL that commits while the statement waits for its first
                // table lock makes the plan stale: undo the statement's
                // writes, bind it again against the new catalog, rerun.
                let mut tries = 0;
                loop {
                    let before = self.txn.as_ref().map(|t| t.savepoint());
                    self.state.stale_plan = false;
                    let result = dispatch::execute(self, &catalog, s, params, cache).await;
                    let retry = result.is_err() && self.state.stale_plan && tries < 3;
                    self.state.stale_plan = false;
                    if !retry {
                        return result;
                    }
                    tries += 1;
                    tracing::debug!(tries, "rerunning a statement bound to an older catalog");
                    if let (Some(t), Some(sp)) = (self.txn.as_mut(), before.as_ref()) {
                        t.rollback_to(sp);
                        // READ COMMITTED: a snapshot that includes the DDL,
                        // so a new index is read where it has entries.
                        t.begin_statement().await?;
                    }
                    // Only a statement read through the shared catalog can
                    // be stale (`check_plan_current`), so reload that one.
                    self.state.statement_catalog = self.engine.database().catalog_version();
                    catalog = self.engine.catalog().await?;
                }
            }
            Work::CopyIn(plan, data) => dispatch::copy_in(self, &catalog, plan, data).await,
            Work::DeferredChecks => dispatch::check_deferred(self, &catalog).await,
        }
    }

    /// Pieces the dispatcher needs at once.
    pub(crate) fn parts(
        &mut self,
    ) -> Result<(
        &mut shoal_txn::Transaction,
        &Arc<shoal_txn::Database>,
        &mut super::state::SessionState,
        super::CancelHandle,
        i64,
    )> {
        let txn = self
            .txn
            .as_mut()
            .ok_or_else(|| Error::internal("no transaction"))?;
        Ok((
            txn,
            &self.engine.db,
            &mut self.state,
            self.cancel.clone(),
            self.txn_start,
        ))
    }
}

fn in_failed() -> Error {
    Error::new(
        ErrorCode::InFailedTransaction,
        "current transaction is aborted, commands ignored until end of transaction block",
    )
}
