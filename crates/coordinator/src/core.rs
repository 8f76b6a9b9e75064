//! The coordinator's core: one task that owns the state machines (locks,
//! membership, visibility) and the store, driven by [`Command`]s from the
//! gRPC service and from its own timers and WAL writes.
//!
//! The life of one commit:
//!
//! 1. [`Command::Commit`] puts the transaction in the open batch.
//! 2. When no WAL write is in flight, the core seals the open batch: it assigns LSNs,
//!    delivers it to every subscribed frontend (`Deliver` effects of
//!    [`Visibility::batch_sealed`]) and spawns its WAL write
//!    (`Store::append`, one create-if-absent PUT). Commits arriving while
//!    that PUT is in flight fill the next batch: that is group commit. The
//!    next batch is sealed no sooner than `max_batch_delay` after the PUT
//!    ends, so the committers it just answered can join it (see
//!    [`CoreConfig::max_batch_delay`]).
//! 3. [`Command::WalDone`] and [`Command::Ack`]s feed [`Visibility`]; once the
//!    batch is durable and every frontend live at seal time holds it, it is
//!    visible: its locks are released with its LSN, its committers are
//!    answered, and every frontend is told the new visible LSN.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rustc_hash::{FxHashMap, FxHashSet};
use shoal_storage::db::Store;
use shoal_storage::{CommittedTxn, Error as StorageError, Lsn, Write};
use tokio::sync::{mpsc, oneshot};
use tonic::Status;
use tracing::Instrument;

use crate::error::{status, ErrorKind};
use crate::locks::{LockEffect, LockRequest, LockTable, TxnId, WaitPolicy};
use crate::membership::{
    Heartbeat, Join, MemberId, Membership, MembershipConfig, MembershipEffect,
};
use crate::metrics::{inc, secs, CoordinatorMetrics};
use crate::proto as pb;
use crate::visibility::{Visibility, VisibilityEffect};

/// Tunables of the coordinator core.
#[derive(Clone, Debug)]
pub struct CoreConfig {
    pub membership: MembershipConfig,
    /// How long this leader trusts that it still leads after checking that
    /// no newer epoch exists; frontend leases never outlast it.
    pub leader_lease: Duration,
    /// The most one batch (WAL segment) holds, in bytes of keys and
    /// values; a larger transaction is a batch of its own.
    pub max_batch_bytes: usize,
    /// The largest transaction accepted, in bytes of keys and values.
    pub max_transaction_bytes: usize,
    /// After a WAL write ends, the next batch is sealed once the committers
    /// of the batch just written are back in it (it holds what waited
    /// already plus as many again as that batch had), or after this delay,
    /// whichever comes first. Sealing at once splits the committers into two
    /// groups that take turns, each waiting for two PUTs.
    pub max_batch_delay: Duration,
    /// How many WAL PUTs may be in flight at once (1 to
    /// [`shoal_storage::wal::MAX_PIPELINE`]): batch `n + 1` is sealed and
    /// written while batch `n`'s PUT is still running, so the commit rate
    /// is not bounded by committers / PUT latency. Batches still become
    /// visible in LSN order. With 1, the batch gate (`max_batch_delay`)
    /// decides when the next batch is sealed; with more, a batch is sealed
    /// as soon as a PUT may start (more, smaller PUTs under load).
    pub wal_pipeline: usize,
    /// How often timers (lock timeouts, leases, flush checks) run.
    pub tick: Duration,
    /// Sequence high-water marks are raised this many blocks ahead, so most
    /// block requests need no WAL write (RAC's sequence cache).
    pub sequence_cache_blocks: u64,
    /// Subscriber stream depth; a frontend that falls this far behind is
    /// evicted rather than letting it stall every commit.
    pub subscriber_queue: usize,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            membership: MembershipConfig::default(),
            leader_lease: Duration::from_secs(2),
            max_batch_bytes: 8 << 20,
            max_transaction_bytes: 512 << 20,
            max_batch_delay: Duration::from_millis(5),
            wal_pipeline: 1,
            tick: Duration::from_millis(10),
            sequence_cache_blocks: 16,
            subscriber_queue: 4096,
        }
    }
}

/// How many aborted transaction ids the core remembers. The race it guards
/// against (a commit overtaken by its own abort) spans one round trip;
/// 65,536 aborts is far more than can happen in one.
const ABORTED_REMEMBERED: usize = 1 << 16;

pub type Reply<T> = oneshot::Sender<Result<T, Status>>;
pub type EventSender = mpsc::Sender<Result<pb::Event, Status>>;

/// What the core is asked to do.
pub enum Command {
    Join(pb::JoinRequest, Reply<pb::JoinResponse>),
    Heartbeat(pb::HeartbeatRequest, Reply<pb::HeartbeatResponse>),
    Subscribe(MemberId, u64, EventSender, Reply<()>),
    Ack(MemberId, Vec<u64>),
    Lock(LockCall),
    Commit(MemberId, TxnId, Vec<Write>, Reply<Lsn>),
    Abort(MemberId, TxnId),
    Leave(MemberId, Reply<()>),
    Sequence(MemberId, u64, u64, Reply<(u64, u64)>),
    Status(Reply<pb::StatusResponse>),
    /// Internal: a batch's WAL write finished.
    WalDone(u64, Result<(), StorageError>),
    /// [`Store::repair_wal`] finished.
    WalRepaired(Result<(), StorageError>),
    /// Internal: a flush (and maybe compaction) finished.
    Flushed(Result<(u64, Lsn), StorageError>),
    /// Internal: the batch gate after a WAL write has passed.
    GateOpen,
    /// Internal: the periodic check that no newer epoch exists.
    LeaderChecked {
        checked_at_ms: u64,
        still_leader: bool,
    },
}

/// One statement's lock request.
pub struct LockCall {
    pub member: MemberId,
    pub txn: TxnId,
    pub request_id: u64,
    pub locks: Vec<LockRequest>,
    pub policy: WaitPolicy,
    pub reply: Reply<pb::LockResponse>,
}

/// A transaction waiting in the open batch.
struct OpenTxn {
    txn: TxnId,
    writes: Vec<Write>,
    bytes: usize,
    reply: Reply<Lsn>,
}

/// A sequence block waiting for the high-water mark that covers it.
struct SequenceWaiter {
    block: (u64, u64),
    reply: Reply<(u64, u64)>,
}

#[derive(Default)]
struct OpenBatch {
    txns: Vec<OpenTxn>,
    bytes: usize,
    sequences: Vec<(u64, u64)>,
    sequence_waiters: Vec<SequenceWaiter>,
}

/// A sealed batch, until it is visible or failed.
struct SealedBatch {
    batch: Arc<pb::Batch>,
    sealed_at: Instant,
    committers: Vec<(TxnId, Lsn, Reply<Lsn>)>,
    sequences: Vec<(u64, u64)>,
    sequence_waiters: Vec<SequenceWaiter>,
}

#[derive(Clone, Copy)]
struct SequenceState {
    /// The next value to hand out.
    next: u64,
    /// Durable: no value at or below it is ever handed out again.
    durable_hwm: u64,
    /// Logged in a sealed or open batch, maybe not yet durable.
    logged_hwm: u64,
}

/// The coordinator core. Run it with [`Core::run`].
pub struct Core {
    cfg: CoreConfig,
    store: Arc<Store>,
    epoch: u64,
    started: Instant,
    /// When [`Core::tick`] last ran (ms on the core clock), to notice the
    /// core itself stalled.
    last_tick_ms: u64,
    locks: LockTable,
    members: Membership,
    vis: Visibility,
    subscribers: HashMap<MemberId, EventSender>,
    open: OpenBatch,
    sealed: BTreeMap<u64, SealedBatch>,
    /// The sealed batches whose WAL PUT started, in LSN order, until their
    /// outcome has been handed to [`Visibility`] (in that order, so that a
    /// batch counts as durable only once every earlier one is).
    pipeline: VecDeque<PipelinedWrite>,
    /// A WAL PUT failed: no batch is sealed until the pipeline has drained
    /// and [`Store::repair_wal`] has voided the failed segments.
    wal_repair: WalRepair,
    /// Closed for `max_batch_delay` after each WAL write (see there).
    gate_open: bool,
    /// While the gate is closed, the open batch size that opens it early.
    gate_target: usize,
    next_batch_id: u64,
    /// The last LSN handed out (failed batches leave gaps; that is fine).
    last_lsn: Lsn,
    visible_lsn: Lsn,
    /// Visible batches above `history_floor`, for catching frontends up.
    history: VecDeque<Arc<pb::Batch>>,
    /// Frontends that hold less than this must reload from the store.
    history_floor: Lsn,
    committing: FxHashSet<TxnId>,
    /// The most recently aborted transactions, oldest first, so that a
    /// commit or lock request arriving after its own transaction's abort is
    /// refused: a
    /// frontend gives up on a commit that got no answer (its lease ran
    /// out) and aborts, and the two requests may reach the core in either
    /// order. The abort released the locks; the commit must not follow.
    aborted: FxHashSet<TxnId>,
    aborted_order: VecDeque<TxnId>,
    lock_waiters: FxHashMap<(TxnId, u64), Reply<pb::LockResponse>>,
    sequences: BTreeMap<u64, SequenceState>,
    flushing: bool,
    leader_valid_until_ms: u64,
    /// Why the core stopped (deposed), once it has.
    stopped: Option<String>,
    tx: mpsc::Sender<Command>,
    metrics: Arc<CoordinatorMetrics>,
}

/// One WAL PUT of [`Core::pipeline`].
struct PipelinedWrite {
    batch_id: u64,
    started: Instant,
    /// Its outcome, once the PUT ended.
    done: Option<Result<(), StorageError>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WalRepair {
    None,
    /// A PUT failed; the repair starts once the pipeline is empty.
    Needed,
    Running,
}

impl Core {
    /// A core over an opened store, leading in `epoch`. `hold_until` is set
    /// by a new leader that must wait out the leases of the previous one.
    pub async fn new(
        cfg: CoreConfig,
        store: Arc<Store>,
        epoch: u64,
        hold_visibility_for: Duration,
        tx: mpsc::Sender<Command>,
        metrics: Arc<CoordinatorMetrics>,
    ) -> Core {
        let last_lsn = store.last_lsn();
        let sequences = store
            .sequences()
            .await
            .into_iter()
            .map(|(id, hwm)| {
                let s = SequenceState {
                    next: hwm + 1,
                    durable_hwm: hwm,
                    logged_hwm: hwm,
                };
                (id, s)
            })
            .collect();
        // The batches above the last flush, as replayed from the WAL:
        // frontends re-joining this leader catch up from them, instead of
        // reading the WAL again themselves (`Reload`).
        let replayed = store.take_replayed();
        let history_floor = if replayed.is_empty() {
            last_lsn
        } else {
            store.manifest().flushed_lsn
        };
        let history: VecDeque<Arc<pb::Batch>> = replayed
            .iter()
            .zip(1..)
            .map(|(txns, batch_id)| {
                Arc::new(pb::Batch {
                    batch_id,
                    txns: txns.iter().map(Into::into).collect(),
                })
            })
            .collect();
        let next_batch_id = history.len() as u64 + 1;
        let mut vis = Visibility::new(last_lsn);
        if !hold_visibility_for.is_zero() {
            vis.new_leader_hold_until(hold_visibility_for.as_millis() as u64);
        }
        Core {
            members: Membership::new(cfg.membership.clone()),
            leader_valid_until_ms: cfg.leader_lease.as_millis() as u64,
            cfg,
            store,
            epoch,
            started: Instant::now(),
            last_tick_ms: 0,
            locks: LockTable::new(),
            vis,
            subscribers: HashMap::new(),
            open: OpenBatch::default(),
            sealed: BTreeMap::new(),
            pipeline: VecDeque::new(),
            wal_repair: WalRepair::None,
            gate_open: true,
            gate_target: 0,
            next_batch_id,
            last_lsn,
            visible_lsn: last_lsn,
            history,
            history_floor,
            committing: FxHashSet::default(),
            aborted: FxHashSet::default(),
            aborted_order: VecDeque::new(),
            lock_waiters: FxHashMap::default(),
            sequences,
            flushing: false,
            stopped: None,
            tx,
            metrics,
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Runs until `stop` fires or every command sender is gone (Ok), or
    /// the leader is deposed (Err, saying why).
    pub async fn run(
        mut self,
        mut rx: mpsc::Receiver<Command>,
        mut stop: oneshot::Receiver<()>,
    ) -> Result<(), String> {
        let mut ticker = tokio::time::interval(self.cfg.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut leader_check = tokio::time::interval(self.cfg.leader_lease / 2);
        leader_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.handle(cmd),
                    None => return Ok(()),
                },
                _ = ticker.tick() => self.tick(),
                _ = leader_check.tick() => self.check_leadership(),
                _ = &mut stop => return Ok(()),
            }
            if let Some(why) = &self.stopped {
                return Err(why.clone());
            }
        }
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Join(req, reply) => {
                let _ = reply.send(Ok(self.join(req)));
            }
            Command::Heartbeat(req, reply) => {
                let _ = reply.send(self.heartbeat(req));
            }
            Command::Subscribe(member, from_lsn, events, reply) => {
                let _ = reply.send(self.subscribe(member, from_lsn, events));
            }
            Command::Ack(member, batch_ids) => {
                for id in batch_ids {
                    let effects = self.vis.acked(member, id);
                    self.apply_visibility(effects);
                }
            }
            Command::Lock(call) => self.lock(call),
            Command::Commit(member, txn, writes, reply) => self.commit(member, txn, writes, reply),
            Command::Abort(member, txn) => {
                if self.check_member(member, txn).is_ok() && !self.committing.contains(&txn) {
                    let now = self.now_ms();
                    self.locks.release_all(txn, None, now);
                    self.drain_lock_effects();
                    self.remember_aborted(txn);
                }
            }
            Command::Leave(member, reply) => {
                let now = self.now_ms();
                let effects = self.members.leave(member, now);
                if !effects.is_empty() {
                    tracing::info!(%member, "frontend left");
                }
                self.apply_membership(effects);
                let _ = reply.send(Ok(()));
            }
            Command::Sequence(member, seq, block, reply) => {
                self.sequence(member, seq, block, reply)
            }
            Command::Status(reply) => {
                let _ = reply.send(Ok(self.status()));
            }
            Command::WalDone(batch_id, result) => self.wal_done(batch_id, result),
            Command::WalRepaired(result) => self.wal_repaired(result),
            Command::GateOpen => self.gate_open = true,
            Command::Flushed(result) => self.flushed(result),
            Command::LeaderChecked {
                checked_at_ms,
                still_leader,
            } => {
                if still_leader {
                    let until = checked_at_ms + self.cfg.leader_lease.as_millis() as u64;
                    self.leader_valid_until_ms = self.leader_valid_until_ms.max(until);
                } else {
                    self.stop(format!("a newer epoch than {} exists: deposed", self.epoch));
                }
            }
        }
        self.maybe_seal();
    }

    fn join(&mut self, req: pb::JoinRequest) -> pb::JoinResponse {
        let now = self.now_ms();
        let joined = self.members.join(
            Join {
                frontend_id: req.frontend_id,
                address: req.address,
                highest_lsn_held: req.highest_lsn_held,
            },
            now,
        );
        self.apply_membership(joined.effects);
        let manifest = self.store.manifest();
        tracing::info!(member = %joined.member, "frontend joined");
        pb::JoinResponse {
            member: Some(member_pb(joined.member)),
            epoch: self.epoch,
            lease_ms: self.cfg.membership.lease.as_millis() as u64,
            visible_lsn: self.visible_lsn,
            manifest_version: manifest.version,
            flushed_lsn: manifest.flushed_lsn,
        }
    }

    fn heartbeat(&mut self, req: pb::HeartbeatRequest) -> Result<pb::HeartbeatResponse, Status> {
        let member = member_id(req.member.as_ref())?;
        let now = self.now_ms();
        let grant = self
            .members
            .heartbeat(
                Heartbeat {
                    member,
                    sent_at: req.sent_at_ms,
                    oldest_snapshot_lsn: req.oldest_snapshot_lsn,
                    received_lsn: req.received_lsn,
                    visible_lsn: req.visible_lsn,
                },
                now,
                self.leader_valid_until_ms,
            )
            .map_err(|e| status(ErrorKind::NotMember, e.to_string()))?;
        Ok(pb::HeartbeatResponse {
            sent_at_ms: grant.sent_at,
            lease_ms: grant.lease.as_millis() as u64,
            epoch: self.epoch,
        })
    }

    fn subscribe(
        &mut self,
        member: MemberId,
        from_lsn: Lsn,
        events: EventSender,
    ) -> Result<(), Status> {
        if !self.members.is_serving(member) {
            return Err(status(
                ErrorKind::NotMember,
                format!("{member} is not a live member; join first"),
            ));
        }
        if from_lsn > self.last_lsn {
            // It holds batches this leader never made durable (pending ones
            // of a deposed leader): they must be dropped by reloading.
            return Err(status(
                ErrorKind::Reload,
                format!(
                    "held LSN {from_lsn} is beyond the durable end {}; reload from the store",
                    self.last_lsn
                ),
            ));
        }
        if from_lsn < self.history_floor {
            return Err(status(
                ErrorKind::Reload,
                format!(
                    "batches at or below LSN {} are only in the store; reload it (held {from_lsn})",
                    self.history_floor
                ),
            ));
        }
        for batch in &self.history {
            if batch.txns.last().is_some_and(|t| t.lsn > from_lsn) {
                send_event(&events, batch_event(batch));
            }
        }
        send_event(
            &events,
            pb::Event {
                kind: Some(pb::event::Kind::Visible(pb::Visible {
                    lsn: self.visible_lsn,
                })),
            },
        );
        if let Some(old) = self.subscribers.insert(member, events) {
            drop(old); // a re-subscription replaces the old stream
        }
        let effects = self
            .vis
            .member_joined(member, self.visible_lsn.max(from_lsn));
        self.apply_visibility(effects);
        Ok(())
    }

    fn check_member(&self, member: MemberId, txn: TxnId) -> Result<(), Status> {
        if !self.members.is_serving(member) {
            return Err(status(
                ErrorKind::NotMember,
                format!("{member} is not a live member; join again"),
            ));
        }
        if txn.frontend != member.frontend_id {
            return Err(status(
                ErrorKind::InvalidArgument,
                format!("transaction {txn} does not belong to {member}"),
            ));
        }
        Ok(())
    }

    fn lock(&mut self, call: LockCall) {
        let LockCall {
            member,
            txn,
            request_id,
            locks,
            policy,
            reply,
        } = call;
        if let Err(e) = self.check_member(member, txn) {
            let _ = reply.send(Err(e));
            return;
        }
        if self.committing.contains(&txn) {
            let _ = reply.send(Err(status(
                ErrorKind::InvalidArgument,
                format!("transaction {txn} is committing"),
            )));
            return;
        }
        if self.aborted.contains(&txn) {
            // Overtaken by its own abort (a request the frontend gave up
            // on): granting it would leave locks no one will release.
            let _ = reply.send(Err(status(
                ErrorKind::Aborted,
                format!("transaction {txn} was aborted before this lock request arrived"),
            )));
            return;
        }
        if self.lock_waiters.contains_key(&(txn, request_id)) {
            let _ = reply.send(Err(status(
                ErrorKind::InvalidArgument,
                format!("lock request {request_id} of transaction {txn} is already waiting"),
            )));
            return;
        }
        let now = self.now_ms();
        inc(&self.metrics.lock_requests);
        self.lock_waiters.insert((txn, request_id), reply);
        self.locks.acquire(txn, request_id, locks, policy, now);
        self.drain_lock_effects();
        if self.lock_waiters.contains_key(&(txn, request_id)) {
            inc(&self.metrics.lock_waits);
        }
    }

    fn drain_lock_effects(&mut self) {
        let effects: Vec<LockEffect> = self.locks.drain_effects().collect();
        for effect in effects {
            let (key, answer) = match effect {
                LockEffect::Granted {
                    txn,
                    request_id,
                    released_at_lsn,
                    skipped,
                } => (
                    (txn, request_id),
                    Ok(pb::LockResponse {
                        released_at_lsn,
                        skipped: skipped.into_iter().map(|i| i as u32).collect(),
                    }),
                ),
                LockEffect::Failed {
                    txn,
                    request_id,
                    error,
                } => {
                    match error {
                        crate::locks::LockError::Deadlock { .. } => inc(&self.metrics.deadlocks),
                        crate::locks::LockError::Timeout { .. } => inc(&self.metrics.lock_timeouts),
                        _ => {}
                    }
                    ((txn, request_id), Err(crate::error::lock_status(&error)))
                }
            };
            if let Some(reply) = self.lock_waiters.remove(&key) {
                let _ = reply.send(answer);
            }
        }
    }

    fn commit(&mut self, member: MemberId, txn: TxnId, writes: Vec<Write>, reply: Reply<Lsn>) {
        if let Err(e) = self.check_member(member, txn) {
            let _ = reply.send(Err(e));
            return;
        }
        if self.aborted.contains(&txn) {
            let _ = reply.send(Err(status(
                ErrorKind::Aborted,
                format!("transaction {txn} was aborted before its commit arrived"),
            )));
            return;
        }
        if !self.committing.insert(txn) {
            let _ = reply.send(Err(status(
                ErrorKind::InvalidArgument,
                format!("transaction {txn} is already committing"),
            )));
            return;
        }
        if writes.is_empty() {
            // Nothing to make durable: a read-only commit just ends.
            self.committing.remove(&txn);
            let now = self.now_ms();
            self.locks.release_all(txn, None, now);
            self.drain_lock_effects();
            let _ = reply.send(Ok(self.visible_lsn));
            return;
        }
        let bytes: usize = writes
            .iter()
            .map(|w| w.key.len() + w.value.as_ref().map_or(0, Bytes::len) + 16)
            .sum();
        if bytes > self.cfg.max_transaction_bytes {
            self.committing.remove(&txn);
            let _ = reply.send(Err(status(
                ErrorKind::InvalidArgument,
                format!(
                    "transaction {txn} writes {bytes} bytes, over the {} byte transaction limit",
                    self.cfg.max_transaction_bytes
                ),
            )));
            return;
        }
        self.open.bytes += bytes;
        self.open.txns.push(OpenTxn {
            txn,
            writes,
            bytes,
            reply,
        });
    }

    /// Remembers an aborted transaction (the last [`ABORTED_REMEMBERED`]).
    fn remember_aborted(&mut self, txn: TxnId) {
        if self.aborted.insert(txn) {
            self.aborted_order.push_back(txn);
        }
        while self.aborted_order.len() > ABORTED_REMEMBERED {
            if let Some(old) = self.aborted_order.pop_front() {
                self.aborted.remove(&old);
            }
        }
    }

    fn sequence(&mut self, member: MemberId, seq: u64, block: u64, reply: Reply<(u64, u64)>) {
        if !self.members.is_serving(member) {
            let _ = reply.send(Err(status(
                ErrorKind::NotMember,
                format!("{member} is not a live member"),
            )));
            return;
        }
        if block == 0 || block > 1 << 20 {
            let _ = reply.send(Err(status(
                ErrorKind::InvalidArgument,
                format!("sequence block size {block} is outside 1..={}", 1 << 20),
            )));
            return;
        }
        let state = self.sequences.entry(seq).or_insert(SequenceState {
            next: 1,
            durable_hwm: 0,
            logged_hwm: 0,
        });
        let Some(last) = state.next.checked_add(block - 1) else {
            let _ = reply.send(Err(status(
                ErrorKind::InvalidArgument,
                format!("sequence {seq} is exhausted"),
            )));
            return;
        };
        let first = state.next;
        state.next = last + 1;
        if last <= state.durable_hwm {
            let _ = reply.send(Ok((first, last)));
            return;
        }
        if last > state.logged_hwm {
            let cache = block.saturating_mul(self.cfg.sequence_cache_blocks);
            state.logged_hwm = last.saturating_add(cache);
            self.open.sequences.push((seq, state.logged_hwm));
        }
        self.open.sequence_waiters.push(SequenceWaiter {
            block: (first, last),
            reply,
        });
    }

    /// Seals the open batch if a WAL PUT may start.
    fn maybe_seal(&mut self) {
        if self.pipeline.len() >= self.cfg.wal_pipeline
            || self.wal_repair != WalRepair::None
            || self.stopped.is_some()
            || self.vis.is_halted()
        {
            return;
        }
        if self.cfg.wal_pipeline <= 1 && !self.gate_open && self.open.txns.len() < self.gate_target
        {
            return;
        }
        if self.open.txns.is_empty()
            && self.open.sequences.is_empty()
            && self.open.sequence_waiters.is_empty()
        {
            return;
        }
        self.seal();
    }

    fn seal(&mut self) {
        let mut open = std::mem::take(&mut self.open);
        // A batch holds at most `max_batch_bytes`: the rest waits for the
        // next one, in order.
        let mut size = 0;
        let fits = open
            .txns
            .iter()
            .position(|t| {
                size += t.bytes;
                size > self.cfg.max_batch_bytes
            })
            .unwrap_or(open.txns.len())
            .max(1)
            .min(open.txns.len());
        let rest = open.txns.split_off(fits);
        self.open.bytes = rest.iter().map(|t| t.bytes).sum();
        self.open.txns = rest;
        let batch_id = self.next_batch_id;
        self.next_batch_id += 1;
        let mut txns = Vec::with_capacity(open.txns.len().max(1));
        let mut committers = Vec::with_capacity(open.txns.len());
        for t in open.txns {
            self.last_lsn += 1;
            txns.push(CommittedTxn {
                lsn: self.last_lsn,
                writes: t.writes,
            });
            committers.push((t.txn, self.last_lsn, t.reply));
        }
        if txns.is_empty() {
            // A batch of sequence marks only still takes an LSN, so it is
            // ordered and made visible like any other.
            self.last_lsn += 1;
            txns.push(CommittedTxn {
                lsn: self.last_lsn,
                writes: vec![],
            });
        }
        let batch = Arc::new(pb::Batch {
            batch_id,
            txns: txns.iter().map(Into::into).collect(),
        });
        let members: Vec<MemberId> = self.subscribers.keys().copied().collect();
        let effects = match self.vis.batch_sealed(batch_id, self.last_lsn, &members) {
            Ok(effects) => effects,
            Err(e) => {
                let msg = format!("commit not sequenced: {e}");
                for (txn, _, reply) in committers {
                    self.committing.remove(&txn);
                    let _ = reply.send(Err(status(ErrorKind::Unavailable, msg.clone())));
                }
                for w in open.sequence_waiters {
                    let _ = w
                        .reply
                        .send(Err(status(ErrorKind::Unavailable, msg.clone())));
                }
                return;
            }
        };
        inc(&self.metrics.batches);
        self.metrics.batch_txns.observe(batch.txns.len() as f64);
        self.sealed.insert(
            batch_id,
            SealedBatch {
                sealed_at: Instant::now(),
                batch: batch.clone(),
                committers,
                sequences: open.sequences.clone(),
                sequence_waiters: open.sequence_waiters,
            },
        );
        self.apply_visibility(effects);
        self.pipeline.push_back(PipelinedWrite {
            batch_id,
            started: Instant::now(),
            done: None,
        });
        let n_txns = txns.len();
        let reserved = match self.store.reserve(txns, open.sequences) {
            Ok(reserved) => reserved,
            Err(e) => {
                self.wal_done(batch_id, Err(e));
                return;
            }
        };
        let store = self.store.clone();
        let tx = self.tx.clone();
        let span = tracing::debug_span!(
            "wal_write",
            batch_id,
            segment = reserved.segment,
            txns = n_txns
        );
        tokio::spawn(
            async move {
                let result = store.write_reserved(reserved).await.map(drop);
                let _ = tx.send(Command::WalDone(batch_id, result)).await;
            }
            .instrument(span),
        );
    }

    /// A WAL PUT ended. Outcomes are handed on in LSN order: a batch is
    /// durable only once every earlier one is, and a failed one fails every
    /// later one (their PUTs may land, but the repair voids them).
    fn wal_done(&mut self, batch_id: u64, result: Result<(), StorageError>) {
        let Some(write) = self.pipeline.iter_mut().find(|w| w.batch_id == batch_id) else {
            return;
        };
        self.metrics
            .wal_put_seconds
            .observe(secs(write.started.elapsed()));
        if let Err(StorageError::Fenced { object }) = &result {
            // Decisive whatever came before: another coordinator leads.
            let object = object.clone();
            let effects = self.vis.wal_fenced(batch_id);
            self.apply_visibility(effects);
            self.stop(format!(
                "lost the WAL race at {object}: another coordinator leads"
            ));
            return;
        }
        write.done = Some(result);
        while self.pipeline.front().is_some_and(|w| w.done.is_some()) {
            let Some(write) = self.pipeline.pop_front() else {
                break;
            };
            let Some(result) = write.done else { break };
            if self.wal_repair != WalRepair::None {
                // Already failed with an earlier batch.
                continue;
            }
            let effects = match result {
                Ok(()) => {
                    if let Some(sealed) = self.sealed.get(&write.batch_id) {
                        for &(seq, hwm) in &sealed.sequences {
                            if let Some(s) = self.sequences.get_mut(&seq) {
                                s.durable_hwm = s.durable_hwm.max(hwm);
                            }
                        }
                    }
                    self.vis.wal_written(write.batch_id)
                }
                Err(e) => {
                    tracing::warn!(batch_id = write.batch_id, error = %e, "WAL write failed");
                    self.wal_repair = WalRepair::Needed;
                    self.vis.wal_failed(write.batch_id, e.to_string())
                }
            };
            self.apply_visibility(effects);
            if self.stopped.is_some() {
                return;
            }
        }
        if self.cfg.wal_pipeline <= 1 {
            let written = self.sealed.get(&batch_id).map_or(0, |b| b.committers.len());
            self.gate_target = self.open.txns.len() + written;
            self.close_gate();
        }
        self.maybe_repair();
    }

    /// Starts the WAL repair once a failed PUT's pipeline has drained.
    fn maybe_repair(&mut self) {
        if self.wal_repair != WalRepair::Needed || !self.pipeline.is_empty() {
            return;
        }
        self.wal_repair = WalRepair::Running;
        let store = self.store.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let result = store.repair_wal().await;
            let _ = tx.send(Command::WalRepaired(result)).await;
        });
    }

    fn wal_repaired(&mut self, result: Result<(), StorageError>) {
        match result {
            Ok(()) => {
                self.wal_repair = WalRepair::None;
                // The failed batches were answered; later ones may go on.
                if !self.vis.is_fenced() {
                    let _ = self.vis.reset();
                }
            }
            Err(StorageError::Fenced { object }) => {
                let effects = self.vis.wal_fenced(0);
                self.apply_visibility(effects);
                self.stop(format!(
                    "lost the WAL race at {object}: another coordinator leads"
                ));
            }
            Err(e) => {
                // The store is still failing: try again shortly. Commits
                // wait meanwhile (the leadership check stops this
                // coordinator if it is deposed).
                tracing::warn!(error = %e, "WAL repair failed; retrying");
                let tx = self.tx.clone();
                let store = self.store.clone();
                self.wal_repair = WalRepair::Running;
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let result = store.repair_wal().await;
                    let _ = tx.send(Command::WalRepaired(result)).await;
                });
            }
        }
    }

    /// Closes the batch gate for `max_batch_delay` (see there).
    fn close_gate(&mut self) {
        let delay = self.cfg.max_batch_delay;
        if delay.is_zero() {
            return;
        }
        self.gate_open = false;
        let tx = self.tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = tx.send(Command::GateOpen).await;
        });
    }

    fn apply_visibility(&mut self, effects: Vec<VisibilityEffect>) {
        for effect in effects {
            match effect {
                VisibilityEffect::Deliver { member, batch_id } => {
                    if let Some(sealed) = self.sealed.get(&batch_id) {
                        let event = batch_event(&sealed.batch);
                        self.send_to(member, event);
                    }
                }
                VisibilityEffect::Visible { batch_id, last_lsn } => {
                    self.made_visible(batch_id, last_lsn)
                }
                VisibilityEffect::HoldReleased { visible_lsn } => {
                    self.visible_lsn = self.visible_lsn.max(visible_lsn);
                    self.broadcast_visible();
                }
                VisibilityEffect::Failed { batch_ids, reason } => {
                    self.batches_failed(
                        &batch_ids,
                        &format!("commit failed, not durable: {reason}"),
                    );
                }
                VisibilityEffect::Fenced {
                    abandoned_batch_ids,
                } => {
                    self.batches_failed(
                        &abandoned_batch_ids,
                        "the coordinator was deposed; the commit's outcome is unknown",
                    );
                }
            }
        }
    }

    fn made_visible(&mut self, batch_id: u64, last_lsn: Lsn) {
        let Some(sealed) = self.sealed.remove(&batch_id) else {
            return;
        };
        let now = self.now_ms();
        self.metrics
            .visible_seconds
            .observe(secs(sealed.sealed_at.elapsed()));
        self.metrics.commits.fetch_add(
            sealed.committers.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        tracing::debug!(
            batch_id,
            last_lsn,
            txns = sealed.committers.len(),
            "batch visible"
        );
        for (txn, lsn, reply) in sealed.committers {
            self.committing.remove(&txn);
            self.locks.release_all(txn, Some(lsn), now);
            let _ = reply.send(Ok(lsn));
        }
        for w in sealed.sequence_waiters {
            let _ = w.reply.send(Ok(w.block));
        }
        self.drain_lock_effects();
        self.visible_lsn = self.visible_lsn.max(last_lsn);
        self.history.push_back(sealed.batch);
        self.broadcast_visible();
    }

    fn batches_failed(&mut self, batch_ids: &[u64], reason: &str) {
        let now = self.now_ms();
        for id in batch_ids {
            let Some(sealed) = self.sealed.remove(id) else {
                continue;
            };
            self.metrics.commit_failures.fetch_add(
                sealed.committers.len() as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
            for (txn, _, reply) in sealed.committers {
                self.committing.remove(&txn);
                self.locks.release_all(txn, None, now);
                let _ = reply.send(Err(status(ErrorKind::CommitFailed, reason.to_string())));
            }
            for w in sealed.sequence_waiters {
                let _ = w
                    .reply
                    .send(Err(status(ErrorKind::Unavailable, reason.to_string())));
            }
        }
        self.drain_lock_effects();
        let event = pb::Event {
            kind: Some(pb::event::Kind::Failed(pb::BatchesFailed {
                batch_ids: batch_ids.to_vec(),
                reason: reason.to_string(),
            })),
        };
        self.broadcast(event);
    }

    fn broadcast_visible(&mut self) {
        let event = pb::Event {
            kind: Some(pb::event::Kind::Visible(pb::Visible {
                lsn: self.visible_lsn,
            })),
        };
        self.broadcast(event);
    }

    fn broadcast(&mut self, event: pb::Event) {
        let members: Vec<MemberId> = self.subscribers.keys().copied().collect();
        for m in members {
            self.send_to(m, event.clone());
        }
    }

    /// Sends to one subscriber. One that cannot keep up, or whose stream is
    /// gone, loses its stream and its lease renewals: it is evicted when the
    /// lease it may still believe in runs out (until then commits wait for
    /// it, since it may still serve reads), and it must join again.
    fn send_to(&mut self, member: MemberId, event: pb::Event) {
        let Some(tx) = self.subscribers.get(&member) else {
            return;
        };
        if tx.try_send(Ok(event)).is_err() {
            tracing::warn!(%member, "subscriber stream full or closed: revoking its lease");
            self.subscribers.remove(&member);
            self.members.revoke(member);
        }
    }

    fn apply_membership(&mut self, effects: Vec<MembershipEffect>) {
        for MembershipEffect::Evict { member, cause } in effects {
            tracing::info!(%member, ?cause, "evicting frontend");
            self.evict(member);
        }
    }

    /// Forgets a frontend incarnation: its stream, its votes in pending
    /// batches, its unsealed commits, and the locks of its transactions —
    /// except those whose commit is sealed, which keep their locks until
    /// their batch is visible (or failed), so nobody reads around them.
    fn evict(&mut self, member: MemberId) {
        inc(&self.metrics.evictions);
        if let Some(tx) = self.subscribers.remove(&member) {
            let _ = tx.try_send(Err(status(
                ErrorKind::NotMember,
                format!("{member} was evicted"),
            )));
        }
        let effects = self.vis.member_evicted(member);
        self.apply_visibility(effects);
        let frontend = member.frontend_id;
        let mut kept = Vec::new();
        for t in std::mem::take(&mut self.open.txns) {
            if t.txn.frontend == frontend {
                self.committing.remove(&t.txn);
                let _ = t.reply.send(Err(status(
                    ErrorKind::NotMember,
                    format!("{member} was evicted"),
                )));
            } else {
                kept.push(t);
            }
        }
        self.open.txns = kept;
        let sealed: FxHashSet<TxnId> = self
            .sealed
            .values()
            .flat_map(|s| s.committers.iter().map(|(t, _, _)| *t))
            .collect();
        let txns: FxHashSet<TxnId> = self
            .locks
            .holders_and_waiters()
            .into_iter()
            .map(|l| l.txn)
            .filter(|t| t.frontend == frontend && !sealed.contains(t))
            .collect();
        let now = self.now_ms();
        for txn in txns {
            self.locks.release_all(txn, None, now);
        }
        self.drain_lock_effects();
    }

    fn tick(&mut self) {
        let now = self.now_ms();
        // The core did not run for a while (one huge batch to encode, a
        // stalled machine): the heartbeats of that time may be waiting
        // unread. Evicting for them would punish the members for the
        // coordinator's own stall; waiting longer is always safe.
        let gap = now.saturating_sub(self.last_tick_ms);
        let stall = (self.cfg.membership.lease.as_millis() as u64 / 4).max(100);
        if gap > stall {
            tracing::warn!(
                stalled_ms = gap,
                "the coordinator stalled; postponing evictions"
            );
            self.members.postpone(gap);
        }
        self.last_tick_ms = now;
        self.locks.tick(now);
        self.drain_lock_effects();
        let evictions = self.members.tick(now);
        self.apply_membership(evictions);
        let effects = self.vis.tick(now);
        self.apply_visibility(effects);
        self.maybe_flush();
        self.maybe_seal();
    }

    fn maybe_flush(&mut self) {
        if self.flushing || !self.store.needs_flush() {
            return;
        }
        self.flushing = true;
        let store = self.store.clone();
        let tx = self.tx.clone();
        let gc_lsn = self.members.gc_lsn(self.visible_lsn);
        tokio::spawn(async move {
            let result = async {
                store.flush().await?;
                store.compact(gc_lsn, false).await?;
                store.collect_garbage().await?;
                let m = store.manifest();
                Ok((m.version, m.flushed_lsn))
            }
            .await;
            let _ = tx.send(Command::Flushed(result)).await;
        });
    }

    fn flushed(&mut self, result: Result<(u64, Lsn), StorageError>) {
        self.flushing = false;
        match result {
            Ok((version, flushed_lsn)) => {
                // Frontends drop what is flushed from their memtables and
                // re-read the manifest; catching up below it means reloading.
                while self
                    .history
                    .front()
                    .is_some_and(|b| b.txns.last().is_none_or(|t| t.lsn <= flushed_lsn))
                {
                    self.history.pop_front();
                }
                self.history_floor = self.history_floor.max(flushed_lsn);
                let event = pb::Event {
                    kind: Some(pb::event::Kind::Manifest(pb::ManifestChanged {
                        version,
                        flushed_lsn,
                    })),
                };
                self.broadcast(event);
            }
            Err(StorageError::Fenced { object }) => {
                self.stop(format!(
                    "lost a manifest race at {object}: another coordinator leads"
                ));
            }
            Err(e) => tracing::warn!(error = %e, "flush failed; will retry"),
        }
    }

    fn check_leadership(&mut self) {
        let store = self.store.clone();
        let tx = self.tx.clone();
        let epoch = self.epoch;
        let checked_at_ms = self.now_ms();
        tokio::spawn(async move {
            let still_leader = match crate::leader::newer_epoch_exists(&store, epoch).await {
                Ok(newer) => !newer,
                Err(e) => {
                    // Unknown: do not extend the lease, but do not abdicate.
                    tracing::warn!(error = %e, "leadership check failed");
                    return;
                }
            };
            let _ = tx
                .send(Command::LeaderChecked {
                    checked_at_ms,
                    still_leader,
                })
                .await;
        });
    }

    fn stop(&mut self, why: String) {
        tracing::error!(reason = %why, "coordinator stopping");
        let msg = why.clone();
        for t in std::mem::take(&mut self.open.txns) {
            let _ = t
                .reply
                .send(Err(status(ErrorKind::Unavailable, msg.clone())));
        }
        let ids: Vec<u64> = self.sealed.keys().copied().collect();
        self.batches_failed(
            &ids,
            "the coordinator was deposed; the commit's outcome is unknown",
        );
        for (_, reply) in self.lock_waiters.drain() {
            let _ = reply.send(Err(status(ErrorKind::Unavailable, msg.clone())));
        }
        self.stopped = Some(why);
    }

    fn status(&self) -> pb::StatusResponse {
        let manifest = self.store.manifest();
        pb::StatusResponse {
            epoch: self.epoch,
            last_lsn: self.last_lsn,
            visible_lsn: self.visible_lsn,
            flushed_lsn: manifest.flushed_lsn,
            manifest_version: manifest.version,
            members: self
                .members
                .members()
                .into_iter()
                .map(|m| pb::MemberStatus {
                    member: Some(member_pb(m.member)),
                    subscribed: self.subscribers.contains_key(&m.member),
                    address: m.address,
                    lease_deadline_ms: m.lease_deadline_ms,
                    received_lsn: m.received_lsn,
                    visible_lsn: m.visible_lsn,
                    oldest_snapshot_lsn: m.oldest_snapshot_lsn,
                })
                .collect(),
            locks: self
                .locks
                .holders_and_waiters()
                .into_iter()
                .map(|l| pb::LockStatus {
                    txn: Some(pb::TxnId {
                        frontend: l.txn.frontend,
                        txn: l.txn.txn,
                    }),
                    resource: l.resource.to_string(),
                    mode: l.mode.to_string(),
                    granted: l.granted,
                })
                .collect(),
            now_ms: self.now_ms(),
        }
    }
}

fn send_event(tx: &EventSender, event: pb::Event) {
    let _ = tx.try_send(Ok(event));
}

fn batch_event(batch: &pb::Batch) -> pb::Event {
    pb::Event {
        kind: Some(pb::event::Kind::Batch(batch.clone())),
    }
}

pub(crate) fn member_pb(m: MemberId) -> pb::Member {
    pb::Member {
        frontend_id: m.frontend_id,
        incarnation: m.incarnation,
    }
}

pub(crate) fn member_id(m: Option<&pb::Member>) -> Result<MemberId, Status> {
    let m = m.ok_or_else(|| status(ErrorKind::InvalidArgument, "request names no member"))?;
    Ok(MemberId {
        frontend_id: m.frontend_id,
        incarnation: m.incarnation,
    })
}
