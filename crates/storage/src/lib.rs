//! Shoal's versioned key-value store, whose every durable byte lives in
//! object storage (DESIGN.md sections 1 and 6).
//!
//! Data flows through it like this:
//!
//! 1. The coordinator appends a group-commit batch of [`CommittedTxn`]s as one
//!    [`wal::WalSegment`] (create-if-absent of the next number; losing the race
//!    is [`Error::Fenced`]), and every holder of the store applies the batch to
//!    its [`memtable::Memtable`].
//! 2. Reads at a snapshot LSN merge the memtables with the live SSTs named by
//!    the current [`manifest::Manifest`] ([`iter`] and [`db::Store`]). SST pages
//!    come through the byte-weighted [`cache::PageCache`].
//! 3. A flush writes frozen memtables into an L0 [`sst`] file and publishes a
//!    new manifest with a higher `flushed_lsn`; compaction ([`compaction`])
//!    merges SSTs and drops versions no snapshot can see.
//! 4. Recovery opens the newest manifest and replays WAL segments above its
//!    `flushed_lsn`.
//!
//! 5. The page cache may keep a second tier of pages on local disk
//!    ([`cache::disk`]); the store's random id ([`store_id`]) ties that
//!    directory to this one store.
//!
//! The object store itself is chosen by URL ([`object::open_url`]) and
//! wrapped in decorators for retries, metrics and, in tests, fault
//! injection ([`object`]).

pub mod cache;
pub mod codec;
pub mod compaction;
pub mod db;
pub mod error;
pub mod iter;
pub mod layout;
pub mod manifest;
pub mod memtable;
pub mod object;
pub mod sst;
pub mod store_id;
pub mod types;
pub mod wal;

pub use error::{Error, ErrorKind, Result};
pub use types::{CommittedTxn, Direction, Entry, Lsn, Write};
