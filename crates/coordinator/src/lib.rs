//! The coordinator: Shoal's lock and cache-invalidation service (DESIGN.md
//! section 2).
//!
//! Built so far:
//!
//! * [`locks`]: the global lock manager. Row locks (PostgreSQL's four row
//!   modes, S and X among them) and table locks (IS, IX, S, SIX, X) for
//!   every transaction of every frontend, with FIFO wait queues, upgrades,
//!   `NOWAIT`, `SKIP LOCKED`, `lock_timeout`, global deadlock detection on
//!   the wait-for graph, eviction of a dead frontend's transactions, and
//!   the commit LSN that a released lock hands to its next holder. It is a
//!   deterministic state machine (inputs with the time, effects out) with no
//!   I/O, so it is tested with scripted sequences and property tests.
//!
//! Still to come, each as its own state machine beside [`locks`], and the
//! async gRPC shell that drives them all: membership and leases, commit
//! sequencing with group commit, the deliver/visible protocol, sequences,
//! flush and compaction, and leadership with epoch fencing. Until the shell
//! exists nothing calls the lock table outside tests and benchmarks.

pub mod locks;
pub mod membership;
pub mod visibility;
