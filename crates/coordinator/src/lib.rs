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
//! Around them, the service:
//!
//! * [`core`]: one tokio task that owns the state machines and the store
//!   and runs commits: group commit (one WAL PUT in flight, the next batch
//!   filling meanwhile), deliver/visible, lock release with the commit LSN,
//!   sequences, flush and compaction, leadership checks.
//! * [`server`]: the tonic service of `proto/coordinator.proto`, HTTP
//!   `/metrics` and `/health`, and start-up: claim an epoch ([`leader`]),
//!   fence the previous leader with an epoch-change WAL record, or, as a
//!   spare, watch the active coordinator and take over.
//! * [`client`]: the frontend's side: join, leases, the event stream, the
//!   snapshot rule, locks, commits, sequence blocks.
//! * [`local`]: a coordinator inside this process (`shoal dev`, tests).
//! * [`error`]: the error kinds carried in gRPC status metadata;
//!   [`metrics`]: the Prometheus counters.
//!
//! See docs/coordinator.md for the walk-through and the measurements.

pub mod client;
pub mod core;
pub mod error;
pub mod leader;
pub mod local;
pub mod locks;
pub mod membership;
pub mod metrics;
pub mod proto;
pub mod server;
pub mod visibility;
