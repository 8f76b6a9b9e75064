//! Transactions over the versioned store (DESIGN.md section 3, `txn`).
//!
//! A frontend holds one [`Database`]: its read view of the store (SSTs
//! through the page cache, plus a memtable fed by the coordinator's visible
//! batches) and its coordinator connection. A [`Transaction`] reads at a
//! snapshot LSN, sees its own writes (kept in its write set until commit),
//! takes row and table locks through the coordinator, and commits its
//! write set as one coordinator `Commit`.
//!
//! Modules:
//! - [`database`]: the frontend's view of the store and the coordinator.
//! - [`transaction`]: snapshots, the write set, savepoints, locks, commit.
//! - [`error`]: what went wrong and what the caller should do.

pub mod database;
pub mod error;
pub mod transaction;

pub use database::{Database, DatabaseOptions};
pub use error::{Error, ErrorKind, Result};
pub use transaction::{Isolation, Latest, LockMode, RowIter, Savepoint, Transaction, WaitPolicy};

/// The first byte of every catalog key. A visible batch that writes such a
/// key bumps [`Database::catalog_version`], so schema caches reload.
pub const CATALOG_PREFIX: u8 = 0x01;
