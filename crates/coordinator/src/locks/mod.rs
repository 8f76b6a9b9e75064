//! The global lock manager (DESIGN.md section 2, item 2): row and table locks
//! for every transaction on every frontend, as a deterministic state machine.
//!
//! Like toydb's Raft node it does no I/O and reads no clock: the async shell
//! feeds it inputs ([`LockTable::acquire`], [`LockTable::release_all`],
//! [`LockTable::release_frontend`], [`LockTable::tick`]), each with the
//! current time in milliseconds, and drains the answers as [`LockEffect`]s
//! ([`LockTable::drain_effects`]), routing each by `(txn, request_id)`.
//!
//! The life of one statement's lock request:
//!
//! 1. The frontend sends the statement's whole batch of [`LockRequest`]s in
//!    one round trip, with a [`WaitPolicy`].
//! 2. [`LockTable::acquire`] takes the locks in order (`table.rs`). A lock the
//!    transaction already holds as strongly is granted at once; a stronger
//!    one is an upgrade to the supremum of the two modes (`mode.rs`).
//! 3. If a lock must wait, the request parks in that resource's FIFO wait
//!    queue (upgraders at the front) and the wait-for graph is searched for
//!    a cycle through it (`deadlock.rs`); a cycle fails the youngest member's
//!    request with [`LockError::Deadlock`].
//! 4. When holders leave ([`LockTable::release_all`] at commit or abort,
//!    [`LockTable::release_frontend`] at eviction) or waiters give up
//!    ([`LockTable::tick`] for `lock_timeout`), the queues are granted in
//!    order and parked requests resume with their next lock.
//! 5. When the last lock of the batch is granted, [`LockEffect::Granted`]
//!    carries an LSN at or above every commit that released one of those
//!    locks, the version the writer must at least read (PostgreSQL's
//!    re-check).

mod deadlock;
mod mode;
mod table;

use std::fmt;
use std::time::Duration;

pub use mode::{LockMode, RowMode, TableMode};
pub use table::LockTable;

/// A transaction, named by the frontend that runs it and that frontend's
/// own transaction number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxnId {
    pub frontend: u64,
    pub txn: u64,
}

impl fmt::Display for TxnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.frontend, self.txn)
    }
}

/// Something lockable. Rows are named by a hash of their key, so two keys
/// may share a lock; that costs only needless waits, never correctness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    Table { table_id: u64 },
    Row { table_id: u64, key_hash: u64 },
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Table { table_id } => write!(f, "table {table_id}"),
            Resource::Row { table_id, key_hash } => {
                write!(f, "row {key_hash:#018x} of table {table_id}")
            }
        }
    }
}

/// One lock of a statement's batch. Table modes go with tables and row
/// modes with rows, by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockRequest {
    Table {
        table_id: u64,
        mode: TableMode,
    },
    Row {
        table_id: u64,
        key_hash: u64,
        mode: RowMode,
    },
}

impl LockRequest {
    pub fn table(table_id: u64, mode: TableMode) -> Self {
        LockRequest::Table { table_id, mode }
    }

    pub fn row(table_id: u64, key_hash: u64, mode: RowMode) -> Self {
        LockRequest::Row {
            table_id,
            key_hash,
            mode,
        }
    }

    pub fn resource(&self) -> Resource {
        match *self {
            LockRequest::Table { table_id, .. } => Resource::Table { table_id },
            LockRequest::Row {
                table_id, key_hash, ..
            } => Resource::Row { table_id, key_hash },
        }
    }

    pub fn mode(&self) -> LockMode {
        match *self {
            LockRequest::Table { mode, .. } => LockMode::Table(mode),
            LockRequest::Row { mode, .. } => LockMode::Row(mode),
        }
    }
}

/// What to do when a lock of the batch is not free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitPolicy {
    /// Wait in line. `timeout` is PostgreSQL's `lock_timeout`: it bounds each
    /// wait for one lock, not the whole batch; `None` waits for ever (until a
    /// deadlock or the end of the transaction). A zero timeout expires at the
    /// next [`LockTable::tick`].
    Wait { timeout: Option<Duration> },
    /// `NOWAIT`: fail with [`LockError::NotAvailable`] if any lock would
    /// wait, keeping nothing the batch took.
    NoWait,
    /// `SKIP LOCKED`: take the locks that are free, report the others in
    /// [`LockEffect::Granted::skipped`]. This applies to every lock of the
    /// batch, so take the table's intent lock in an earlier `Wait` request.
    SkipLocked,
}

/// What [`LockTable::acquire`] did with a request; its answer is a
/// [`LockEffect`] either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcquireStatus {
    /// The answer is among the effects now.
    Answered,
    /// The request waits; its answer will come from a later input.
    Waiting,
}

/// An answer to a lock request, for the shell to send to the frontend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockEffect {
    /// Every lock of the batch is held, except those in `skipped`.
    Granted {
        txn: TxnId,
        request_id: u64,
        /// An LSN at or above the commit LSN of every committed transaction
        /// that released one of these locks: the version the new holder
        /// must at least read (PostgreSQL's re-check). It is the exact
        /// highest such commit for resources someone held or awaited
        /// throughout; the table drops idle resources, and one it had
        /// dropped reports the highest LSN the table forgot, a little
        /// conservative. `None`: no committed transaction released any of
        /// them since the table started.
        released_at_lsn: Option<u64>,
        /// Indexes into the request's batch of the locks skipped under
        /// [`WaitPolicy::SkipLocked`], ascending; empty otherwise.
        skipped: Vec<usize>,
    },
    /// The request failed; locks the batch took before it are still held
    /// until the transaction ends, as in PostgreSQL.
    Failed {
        txn: TxnId,
        request_id: u64,
        error: LockError,
    },
}

/// Why a lock request failed. All but `RequestPending` end the statement
/// and, in practice, the transaction, which should then call
/// [`LockTable::release_all`]; the client may retry the transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// `NOWAIT` found a lock taken (SQLSTATE 55P03).
    #[error("could not obtain lock on {resource}")]
    NotAvailable { resource: Resource },
    /// The wait for one lock outlasted `lock_timeout` (SQLSTATE 55P03).
    #[error("lock timeout while waiting for {resource}")]
    Timeout { resource: Resource },
    /// This request closed a cycle of waits and its transaction was chosen
    /// to break it (SQLSTATE 40P01).
    #[error("deadlock detected: {cycle}")]
    Deadlock { cycle: DeadlockCycle },
    /// The transaction released its locks while this request waited.
    #[error("transaction ended while its lock request waited")]
    OwnerAborted,
    /// The transaction's frontend was evicted (its lease expired).
    #[error("frontend {frontend} was evicted")]
    OwnerEvicted { frontend: u64 },
    /// The transaction sent a request while another of its own still
    /// waits: a frontend bug, since a transaction runs one statement at a
    /// time. The waiting request is unaffected.
    #[error("transaction already waits on lock request {pending_request_id}")]
    RequestPending { pending_request_id: u64 },
}

/// One wait in a deadlock cycle: `waiter` wants `resource` in `mode` and
/// `holder` is in its way (holding it, or queued ahead in a conflicting mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitEdge {
    pub waiter: TxnId,
    pub resource: Resource,
    pub mode: LockMode,
    pub holder: TxnId,
}

/// The waits of a deadlock, each blocked by the next, the last by the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlockCycle(pub Vec<WaitEdge>);

impl fmt::Display for DeadlockCycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, edge) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(
                f,
                "transaction {} waits for {} on {}, blocked by transaction {}",
                edge.waiter, edge.mode, edge.resource, edge.holder
            )?;
        }
        Ok(())
    }
}

/// One row of the future `shoal_locks` view (like `pg_locks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    pub resource: Resource,
    pub txn: TxnId,
    /// The mode held, or for a waiter the mode it will hold once granted.
    pub mode: LockMode,
    pub granted: bool,
    /// When the lock was granted, or when the wait began (milliseconds, the
    /// shell's clock).
    pub since_ms: u64,
}
