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
//! * [`membership`]: frontends joining, heartbeating and being evicted.
//!   A frontend counts its lease from when it sent the heartbeat; the
//!   coordinator counts from when it received it, plus a clock-drift
//!   margin, so it evicts only after the frontend's own belief has expired,
//!   and it never grants more than what is left of its own leader lease.
//! * [`visibility`]: deliver, then visible. A sealed batch is delivered to
//!   every live member while its WAL segment is written; it becomes visible
//!   (in LSN order) once the write succeeded and every member live at seal
//!   time acked or was evicted. A new leader holds visibility until the old
//!   leases have run out. `FrontendView` is the frontend's side: a
//!   transaction that starts while a received batch is pending waits for it.
//!
//! Each is a deterministic state machine (inputs with the time, effects
//! out) with no I/O, tested with scripted sequences and property tests.
//!
//! * [`group_commit`]: commit sequencing, a tokio task that writes each batch as one WAL segment.
//!
//! Still to come: the async gRPC shell (`proto/`) that drives them, commit
//! sequencing with group commit over `shoal-storage`, catch-up, sequences,
//! flush and compaction scheduling, and leadership with epoch fencing and
//! hot spares. Until the shell exists nothing calls these state machines
//! outside tests and benchmarks.

pub mod client;
pub mod core;
pub mod error;
pub mod group_commit;
pub mod leader;
pub mod locks;
pub mod membership;
pub mod metrics;
pub mod proto;
pub mod server;
pub mod visibility;
