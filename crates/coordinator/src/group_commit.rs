//! Commit sequencing with group commit (DESIGN.md section 2, item 3): one
//! task hands out LSNs in arrival order and writes the transactions that
//! arrive close together as one WAL segment, with one create-if-absent PUT.
//!
//! The life of one commit:
//!
//! 1. [`GroupCommit::commit`] measures the transaction (alone over
//!    `max_batch_bytes` it is [`CommitError::TooLarge`] and never gets an
//!    LSN) and sends it to the sequencer task.
//! 2. The task gives it the next LSN and puts it in the open batch. The
//!    batch is sealed once `max_batch_delay` has passed since its first
//!    transaction, or once it holds `max_batch_txns` transactions or
//!    `max_batch_bytes` bytes, but never while the previous batch's PUT is
//!    in flight: meanwhile the open batch keeps filling. That is what keeps
//!    throughput from being bounded by PUT latency.
//! 3. Sealing shows the batch to [`BatchStage::sealed`] (where deliver will
//!    stream it to the frontends, in parallel with the PUT) and spawns
//!    `Store::append`: one segment, one PUT, then the memtable.
//! 4. Once the segment is durable, [`BatchStage::durable`] gets a
//!    [`DurableBatch`]. The default stage, [`AnswerWhenDurable`], answers its
//!    committers at once. This is the seam for deliver/visible: that stage
//!    will keep the batch until every live frontend has acked it and only
//!    then call [`DurableBatch::acknowledge`].
//!
//! # One PUT in flight, not a pipeline
//!
//! `Store::append` writes segment n before n + 1 under its own lock, and a
//! segment must not be acknowledged before every earlier one is durable, so
//! several PUTs in flight would need the store to split "reserve segment n"
//! from "PUT it" and to apply segments in order. With one PUT in flight
//! none of that is needed, and the numbers say it costs little: a committer
//! that waits for its answer before committing again (every SQL session
//! does) can never commit faster than once per PUT, so `N` committers are
//! bounded by `N / PUT latency` whatever the pipeline depth, and one PUT in
//! flight reaches that bound as long as a whole round of them fits in one
//! batch. Measured by `benches/commit.rs` on a 2-core VM, with 10 ms added to
//! every PUT (FaultyStore over InMemory): 64 committers do about 5,900
//! commits/s (bound 6,400) at p50 10.6 ms and p99 21 ms, with about 60
//! transactions per segment; 8 committers about 760/s (bound 800). A
//! pipeline would help only when one batch cannot hold what arrives during
//! one PUT (past `max_batch_txns / PUT latency`, about 100,000 commits/s
//! with the defaults), and it would shorten the worst case for a commit that
//! arrives just after a PUT started (up to two PUT latencies here, one with a
//! pipeline: the p99 above). Revisit if either starts to matter.
//!
//! # Failures
//!
//! * A failed PUT fails exactly the transactions of its batch with
//!   [`CommitError::Storage`]; the next batch is written as usual. Their
//!   LSNs are not reused: an LSN, once assigned, may already have left the
//!   coordinator (deliver streams sealed batches to frontends, which hold
//!   them as pending until told otherwise), so it must never name a second
//!   transaction. The store accepts the gap (it wants LSNs increasing, not
//!   dense), and [`crate::visibility`] wants LSNs to keep increasing across
//!   failed batches for the same reason.
//! * A lost create-if-absent race ([`CommitError::Fenced`]) means another
//!   coordinator writes the WAL now. The sequencer fails the batch, answers
//!   everything queued or arriving later with `Fenced`, and its task ends
//!   with `Err(Fenced)`.
//! * [`GroupCommit::shutdown`], or dropping every handle, seals the open
//!   batch at once, waits for its PUT, and ends the task with `Ok(())`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use shoal_storage::db::Store;
use shoal_storage::{CommittedTxn, ErrorKind, Lsn, Write};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinError, JoinHandle};
use tokio::time::{Instant, Sleep};
use tracing::Instrument;

/// The granularity of tokio's timer; see [`BatchTimer`].
const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// Tunables of the sequencer.
#[derive(Clone, Debug)]
pub struct GroupCommitConfig {
    /// How long a batch waits for company after its first transaction
    /// arrives. Longer means fewer, larger segments, and that much more
    /// latency for a commit that arrives while no PUT is in flight.
    pub max_batch_delay: Duration,
    /// A batch with this many transactions is sealed at once: it bounds
    /// the work (and memory) of one segment. At least 1.
    pub max_batch_txns: usize,
    /// A batch whose transactions encode to this many bytes is sealed at
    /// once; a single transaction above it is [`CommitError::TooLarge`].
    /// Capped at 4 GiB, the largest field the WAL format can hold.
    pub max_batch_bytes: usize,
}

impl Default for GroupCommitConfig {
    fn default() -> Self {
        GroupCommitConfig {
            max_batch_delay: Duration::from_micros(200),
            max_batch_txns: 1024,
            max_batch_bytes: 4 << 20,
        }
    }
}

/// Why a commit was not acknowledged. The variant tells the caller what
/// to do next.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// Another coordinator writes the WAL now; this one has stopped. The
    /// transaction was not written here: the client should retry against
    /// the new leader.
    #[error("fenced: another coordinator now writes the WAL")]
    Fenced,
    /// The WAL write of the transaction's batch failed. The store reads a
    /// failed segment back before it says so, so the transaction did not
    /// commit; if it cannot tell, it fences itself and later commits get
    /// `Fenced` (recovery then decides). Retrying may succeed.
    #[error("WAL write failed: {0}")]
    Storage(String),
    /// The transaction alone encodes to more than `max_batch_bytes`.
    #[error("transaction of {bytes} bytes exceeds the batch limit of {limit} bytes")]
    TooLarge { bytes: usize, limit: usize },
    /// The sequencer was shut down before it took the transaction.
    #[error("commit sequencer has shut down")]
    ShutDown,
}

/// A sealed batch whose WAL PUT starts now, as [`BatchStage::sealed`] sees it.
#[derive(Debug)]
pub struct SealedBatch<'a> {
    /// Numbers batches in seal order; never reused, also after a failure.
    pub batch_id: u64,
    /// In LSN order; never empty.
    pub txns: &'a [CommittedTxn],
    /// Sequence high-water marks logged with this batch.
    pub sequences: &'a [(u64, u64)],
}

/// A sender of one committer's answer.
type Reply = oneshot::Sender<Result<Lsn, CommitError>>;

/// A batch whose WAL segment is durable, with its committers still
/// waiting. Dropping it without [`acknowledge`](Self::acknowledge) answers
/// them [`CommitError::ShutDown`].
#[derive(Debug)]
pub struct DurableBatch {
    pub batch_id: u64,
    /// The WAL segment that holds it.
    pub segment: u64,
    pub first_lsn: Lsn,
    pub last_lsn: Lsn,
    /// Each committer's LSN and where its answer goes.
    waiters: Vec<(Lsn, Reply)>,
}

impl DurableBatch {
    /// Answers every committer of the batch with its LSN.
    pub fn acknowledge(self) {
        for (lsn, reply) in self.waiters {
            // A committer that gave up waiting is no error: its transaction
            // is committed all the same.
            let _ = reply.send(Ok(lsn));
        }
    }

    /// The number of transactions in the batch.
    pub fn len(&self) -> usize {
        self.waiters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }
}

/// What happens to a batch around its WAL write: the seam where
/// deliver/visible plugs in. Called on the sequencer task, so each call
/// must return quickly (hand work to another task instead of awaiting).
pub trait BatchStage: Send + 'static {
    /// The batch is sealed and its PUT is starting.
    fn sealed(&mut self, _batch: &SealedBatch<'_>) {}

    /// The batch is durable. Answer its committers, now or later, with
    /// [`DurableBatch::acknowledge`]. Batches arrive in LSN order.
    fn durable(&mut self, batch: DurableBatch);

    /// The batch's PUT failed and its committers were answered `error`.
    fn failed(&mut self, _batch_id: u64, _error: &CommitError) {}
}

/// The stage that answers committers as soon as their batch is durable.
#[derive(Clone, Copy, Debug, Default)]
pub struct AnswerWhenDurable;

impl BatchStage for AnswerWhenDurable {
    fn durable(&mut self, batch: DurableBatch) {
        batch.acknowledge();
    }
}

/// Counts of what the sequencer has written so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Segments written (durable).
    pub batches: u64,
    /// Transactions in those segments.
    pub txns: u64,
    /// Encoded bytes of those transactions.
    pub bytes: u64,
    /// Batches whose PUT failed.
    pub failed_batches: u64,
}

/// What the handles and the task share. Counters are updated once per
/// batch, so they cost nothing per commit.
#[derive(Debug, Default)]
struct Shared {
    /// Set before the task drops any committer's reply sender, so that a
    /// committer whose answer never came can tell fenced from shut down.
    fenced: AtomicBool,
    batches: AtomicU64,
    txns: AtomicU64,
    bytes: AtomicU64,
    failed_batches: AtomicU64,
}

impl Shared {
    fn stopped(&self) -> CommitError {
        if self.fenced.load(Ordering::Acquire) {
            CommitError::Fenced
        } else {
            CommitError::ShutDown
        }
    }
}

struct Request {
    writes: Vec<Write>,
    sequences: Vec<(u64, u64)>,
    /// Encoded size, measured by the committer so the task need not.
    bytes: usize,
    reply: Reply,
}

enum Message {
    Commit(Request),
    /// Seal the open batch now, finish, then say so here.
    Shutdown(oneshot::Sender<()>),
}

/// A handle on the commit sequencer; cheap to clone. When every handle is
/// gone the sequencer flushes its open batch and stops.
#[derive(Clone, Debug)]
pub struct GroupCommit {
    tx: mpsc::Sender<Message>,
    shared: Arc<Shared>,
    max_batch_bytes: usize,
}

impl GroupCommit {
    /// Starts the sequencer on the current tokio runtime. LSNs start right
    /// after `store.last_lsn()`; nothing else may append to `store` while it
    /// runs. The task ends with `Ok(())` after a shutdown and with
    /// `Err(Fenced)` once fenced.
    pub fn start(
        store: Arc<Store>,
        config: GroupCommitConfig,
    ) -> (GroupCommit, JoinHandle<Result<(), CommitError>>) {
        GroupCommit::start_with_stage(store, config, AnswerWhenDurable)
    }

    /// Like [`start`](Self::start), handing durable batches to `stage`.
    pub fn start_with_stage<S: BatchStage>(
        store: Arc<Store>,
        mut config: GroupCommitConfig,
        stage: S,
    ) -> (GroupCommit, JoinHandle<Result<(), CommitError>>) {
        config.max_batch_txns = config.max_batch_txns.max(1);
        config.max_batch_bytes = config.max_batch_bytes.min(u32::MAX as usize);
        // One batch's worth of queue: enough to fill the next batch while a
        // PUT is in flight; beyond that committers wait (backpressure).
        let (tx, rx) = mpsc::channel(config.max_batch_txns);
        let shared = Arc::new(Shared::default());
        let handle = GroupCommit {
            tx,
            shared: Arc::clone(&shared),
            max_batch_bytes: config.max_batch_bytes,
        };
        let sequencer = Sequencer {
            next_lsn: store.last_lsn() + 1,
            store,
            stage,
            shared,
            rx,
            next_batch_id: 1,
            open: OpenBatch::default(),
            carry: None,
            timer: BatchTimer::new(),
            in_flight: None,
            closing: false,
            shutdown_waiters: Vec::new(),
            config,
        };
        (handle, tokio::spawn(sequencer.run()))
    }

    /// Commits `writes` as one transaction: resolves to its LSN once its WAL
    /// segment is durable (and the batch stage has let it through). The
    /// future does not borrow the handle.
    pub fn commit(
        &self,
        writes: Vec<Write>,
    ) -> impl Future<Output = Result<Lsn, CommitError>> + Send + 'static {
        self.commit_with_sequences(writes, Vec::new())
    }

    /// Like [`commit`](Self::commit), also logging sequence high-water
    /// marks `(sequence id, mark)` in the same segment: the way to make a
    /// block of sequence values durable before handing it out (with no
    /// writes, that costs an LSN for an empty transaction).
    pub fn commit_with_sequences(
        &self,
        writes: Vec<Write>,
        sequences: Vec<(u64, u64)>,
    ) -> impl Future<Output = Result<Lsn, CommitError>> + Send + 'static {
        let tx = self.tx.clone();
        let shared = Arc::clone(&self.shared);
        let limit = self.max_batch_bytes;
        async move {
            let bytes = encoded_size(&writes, &sequences);
            if bytes > limit {
                return Err(CommitError::TooLarge { bytes, limit });
            }
            if shared.fenced.load(Ordering::Acquire) {
                return Err(CommitError::Fenced);
            }
            let (reply, answer) = oneshot::channel();
            let request = Request {
                writes,
                sequences,
                bytes,
                reply,
            };
            if tx.send(Message::Commit(request)).await.is_err() {
                return Err(shared.stopped());
            }
            // Let go of the sender while waiting, so that dropping every
            // handle still closes the channel and flushes this batch.
            drop(tx);
            answer.await.unwrap_or_else(|_| Err(shared.stopped()))
        }
    }

    /// Seals the open batch now and stops the sequencer; returns once every
    /// transaction sent before it has been answered. Commits sent later
    /// get [`CommitError::ShutDown`].
    pub async fn shutdown(&self) {
        let (done, finished) = oneshot::channel();
        if self.tx.send(Message::Shutdown(done)).await.is_ok() {
            // An error here means the task ended some other way: also done.
            let _ = finished.await;
        }
    }

    /// Whether the sequencer has been fenced (and stopped).
    pub fn is_fenced(&self) -> bool {
        self.shared.fenced.load(Ordering::Acquire)
    }

    /// What has been written so far.
    pub fn stats(&self) -> GroupCommitStats {
        let s = &self.shared;
        GroupCommitStats {
            batches: s.batches.load(Ordering::Relaxed),
            txns: s.txns.load(Ordering::Relaxed),
            bytes: s.bytes.load(Ordering::Relaxed),
            failed_batches: s.failed_batches.load(Ordering::Relaxed),
        }
    }
}

/// The encoded size of one transaction in a WAL segment (see `wal.rs`):
/// `lsn u64 | n_writes u32`, then per write a length-prefixed key and a
/// presence byte with an optional length-prefixed value; 16 bytes per
/// sequence mark.
fn encoded_size(writes: &[Write], sequences: &[(u64, u64)]) -> usize {
    let writes: usize = writes
        .iter()
        .map(|w| 4 + w.key.len() + 1 + w.value.as_ref().map_or(0, |v| 4 + v.len()))
        .sum();
    12 + writes + 16 * sequences.len()
}

/// The batch being filled.
#[derive(Default)]
struct OpenBatch {
    txns: Vec<CommittedTxn>,
    sequences: Vec<(u64, u64)>,
    waiters: Vec<(Lsn, Reply)>,
    bytes: usize,
}

impl OpenBatch {
    fn with_capacity(txns: usize) -> Self {
        OpenBatch {
            txns: Vec::with_capacity(txns),
            sequences: Vec::new(),
            waiters: Vec::with_capacity(txns),
            bytes: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.txns.is_empty()
    }
}

/// The batch whose PUT is in flight.
struct InFlight {
    task: JoinHandle<shoal_storage::Result<u64>>,
    batch_id: u64,
    first_lsn: Lsn,
    last_lsn: Lsn,
    bytes: usize,
    waiters: Vec<(Lsn, Reply)>,
    span: tracing::Span,
    started: Instant,
}

/// What woke the sequencer.
enum Event {
    PutDone(Result<shoal_storage::Result<u64>, JoinError>),
    Deadline,
    Message(Option<Message>),
}

/// The sequencer task's state.
struct Sequencer<S> {
    store: Arc<Store>,
    config: GroupCommitConfig,
    stage: S,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Message>,
    /// The LSN the next transaction gets. Only ever increases.
    next_lsn: Lsn,
    next_batch_id: u64,
    open: OpenBatch,
    /// A transaction that arrived but did not fit in the open batch: it
    /// starts the next one. While it waits, nothing more is received.
    carry: Option<Request>,
    /// Armed with the open batch's deadline; disarmed while it is empty.
    timer: BatchTimer,
    in_flight: Option<InFlight>,
    /// Shutdown asked for, or every handle dropped: seal at once, receive
    /// nothing more, end when nothing is left.
    closing: bool,
    shutdown_waiters: Vec<oneshot::Sender<()>>,
}

impl<S: BatchStage> Sequencer<S> {
    async fn run(mut self) -> Result<(), CommitError> {
        loop {
            if self.in_flight.is_none() && self.should_seal() {
                self.seal();
            }
            if self.closing && self.in_flight.is_none() && self.open.is_empty() {
                break;
            }
            // At least one branch is always enabled: if nothing can be
            // received (closing, a carried request or a full batch) and no
            // PUT is in flight, the open batch was just sealed above.
            let put_in_flight = self.in_flight.is_some();
            let waiting = !put_in_flight && self.timer.is_armed();
            let accepting = !self.closing && self.carry.is_none() && !self.open_is_full();
            let event = tokio::select! {
                biased;
                joined = wait_for_put(&mut self.in_flight), if put_in_flight => {
                    Event::PutDone(joined)
                }
                () = self.timer.wait(), if waiting => Event::Deadline,
                message = self.rx.recv(), if accepting => Event::Message(message),
            };
            match event {
                Event::PutDone(joined) => {
                    if let Err(error) = self.put_done(joined) {
                        self.fence();
                        return Err(error);
                    }
                }
                // The batch is sealed at the top of the loop.
                Event::Deadline => {}
                Event::Message(message) => {
                    self.receive(message);
                    // Take whatever else is queued without a trip through
                    // `select!` per commit.
                    while !self.closing && self.carry.is_none() && !self.open_is_full() {
                        match self.rx.try_recv() {
                            Ok(message) => self.receive(Some(message)),
                            Err(mpsc::error::TryRecvError::Empty) => break,
                            Err(mpsc::error::TryRecvError::Disconnected) => self.receive(None),
                        }
                    }
                }
            }
        }
        for done in self.shutdown_waiters.drain(..) {
            let _ = done.send(());
        }
        // Dropping `self.rx` answers anything sent after the shutdown with
        // `ShutDown` (its reply sender is dropped unanswered).
        Ok(())
    }

    fn receive(&mut self, message: Option<Message>) {
        match message {
            Some(Message::Commit(request)) => self.admit(request),
            Some(Message::Shutdown(done)) => {
                self.shutdown_waiters.push(done);
                self.closing = true;
                self.rx.close();
            }
            // Every handle is gone.
            None => self.closing = true,
        }
    }

    /// Puts a request in the open batch, or carries it over to the next
    /// batch if it would push this one over the byte limit.
    fn admit(&mut self, request: Request) {
        if !self.open.is_empty() && self.open.bytes + request.bytes > self.config.max_batch_bytes {
            self.carry = Some(request);
            return;
        }
        if self.open.is_empty() {
            self.timer.arm(Instant::now() + self.config.max_batch_delay);
        }
        let lsn = self.next_lsn;
        self.next_lsn += 1;
        let open = &mut self.open;
        open.bytes += request.bytes;
        open.txns.push(CommittedTxn {
            lsn,
            writes: request.writes,
        });
        open.sequences.extend(request.sequences);
        open.waiters.push((lsn, request.reply));
    }

    fn open_is_full(&self) -> bool {
        self.open.txns.len() >= self.config.max_batch_txns
            || self.open.bytes >= self.config.max_batch_bytes
    }

    fn should_seal(&self) -> bool {
        !self.open.is_empty()
            && (self.closing || self.carry.is_some() || self.open_is_full() || self.timer.is_due())
    }

    /// Seals the open batch and starts its PUT. The open batch is not empty.
    fn seal(&mut self) {
        let size_hint = self.open.txns.len();
        let batch = std::mem::replace(&mut self.open, OpenBatch::with_capacity(size_hint));
        self.timer.disarm();
        let batch_id = self.next_batch_id;
        self.next_batch_id += 1;
        let (first_lsn, last_lsn) = match (batch.txns.first(), batch.txns.last()) {
            (Some(first), Some(last)) => (first.lsn, last.lsn),
            _ => return,
        };
        self.stage.sealed(&SealedBatch {
            batch_id,
            txns: &batch.txns,
            sequences: &batch.sequences,
        });
        let span = tracing::debug_span!(
            "wal_batch",
            batch_id,
            segment = tracing::field::Empty,
            txns = batch.txns.len(),
            bytes = batch.bytes,
            first_lsn,
            last_lsn,
        );
        let store = Arc::clone(&self.store);
        let (txns, sequences) = (batch.txns, batch.sequences);
        // A task of its own, so that encoding the segment and applying it to
        // the memtable run beside the sequencer on a multi-threaded runtime.
        let task = tokio::spawn(
            async move { store.append(txns, sequences).await }.instrument(span.clone()),
        );
        self.in_flight = Some(InFlight {
            task,
            batch_id,
            first_lsn,
            last_lsn,
            bytes: batch.bytes,
            waiters: batch.waiters,
            span,
            started: Instant::now(),
        });
        if let Some(request) = self.carry.take() {
            self.admit(request);
        }
    }

    /// Settles the batch whose PUT finished: hands it to the stage, or
    /// fails its committers. `Err(Fenced)` means the sequencer must stop.
    fn put_done(
        &mut self,
        joined: Result<shoal_storage::Result<u64>, JoinError>,
    ) -> Result<(), CommitError> {
        let Some(batch) = self.in_flight.take() else {
            return Ok(());
        };
        // The committers this PUT answers will mostly commit again at once:
        // give them `max_batch_delay` to join the open batch. Sealing it
        // right away would split the committers into two cohorts that take
        // turns, each waiting two PUTs per commit (measured: 8 committers
        // at 10 ms per PUT did 500 commits/s instead of 700).
        if !self.open.is_empty() {
            self.timer.arm(Instant::now() + self.config.max_batch_delay);
        }
        let result = match joined {
            Ok(Ok(segment)) => Ok(segment),
            Ok(Err(e)) if e.kind() == ErrorKind::Fenced => Err(CommitError::Fenced),
            Ok(Err(e)) => Err(CommitError::Storage(e.to_string())),
            // A panic inside the append: the store checks the segment
            // number on the next append, so carrying on is safe.
            Err(e) => Err(CommitError::Storage(format!("WAL append task failed: {e}"))),
        };
        let shared = &self.shared;
        match result {
            Ok(segment) => {
                batch.span.record("segment", segment);
                tracing::debug!(
                    parent: &batch.span,
                    put_us = batch.started.elapsed().as_micros() as u64,
                    "batch durable"
                );
                shared.batches.fetch_add(1, Ordering::Relaxed);
                shared
                    .txns
                    .fetch_add(batch.waiters.len() as u64, Ordering::Relaxed);
                shared
                    .bytes
                    .fetch_add(batch.bytes as u64, Ordering::Relaxed);
                self.stage.durable(DurableBatch {
                    batch_id: batch.batch_id,
                    segment,
                    first_lsn: batch.first_lsn,
                    last_lsn: batch.last_lsn,
                    waiters: batch.waiters,
                });
                Ok(())
            }
            Err(error) => {
                tracing::warn!(parent: &batch.span, %error, "WAL batch failed");
                shared.failed_batches.fetch_add(1, Ordering::Relaxed);
                if error == CommitError::Fenced {
                    // Before any reply is sent or dropped: see `Shared`.
                    shared.fenced.store(true, Ordering::Release);
                }
                for (_, reply) in batch.waiters {
                    let _ = reply.send(Err(error.clone()));
                }
                self.stage.failed(batch.batch_id, &error);
                match error {
                    CommitError::Fenced => Err(error),
                    _ => Ok(()),
                }
            }
        }
    }

    /// Stops for good after a lost race: everything waiting is answered
    /// `Fenced` (explicitly here, or by dropping the receiver with the
    /// flag already set).
    fn fence(&mut self) {
        self.shared.fenced.store(true, Ordering::Release);
        self.rx.close();
        let open = std::mem::take(&mut self.open);
        let carried = self.carry.take().map(|request| request.reply);
        for reply in open.waiters.into_iter().map(|(_, r)| r).chain(carried) {
            let _ = reply.send(Err(CommitError::Fenced));
        }
        for done in self.shutdown_waiters.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Waits for the PUT in flight; never resolves when there is none.
async fn wait_for_put(
    in_flight: &mut Option<InFlight>,
) -> Result<shoal_storage::Result<u64>, JoinError> {
    match in_flight {
        Some(batch) => (&mut batch.task).await,
        None => std::future::pending().await,
    }
}

/// Wakes the sequencer at the open batch's deadline. tokio's timer ticks in
/// whole milliseconds, so on it a 200 µs delay really waits 0.2 to 1.2 ms;
/// a shorter wait is slept out on a blocking-pool thread instead, whose
/// `thread::sleep` is accurate to tens of µs. Measured with 64 committers
/// at 10 ms per PUT: 4,800 commits/s at p50 12.6 ms on tokio's timer, 5,000
/// at 11.9 ms but 50% more CPU when yielding until the deadline, 5,300 at
/// 11.8 ms and no more CPU on the blocking pool.
struct BatchTimer {
    deadline: Option<Instant>,
    /// Reset rather than made per wait: the loop turns once per burst.
    coarse: Pin<Box<Sleep>>,
    /// A blocking-pool sleep for the last millisecond. It may belong to an
    /// earlier deadline and end early: the caller re-checks `is_due`.
    fine: Option<JoinHandle<()>>,
}

impl BatchTimer {
    fn new() -> Self {
        BatchTimer {
            deadline: None,
            coarse: Box::pin(tokio::time::sleep(Duration::ZERO)),
            fine: None,
        }
    }

    fn arm(&mut self, deadline: Instant) {
        self.deadline = Some(deadline);
        // Wakes up to a tick early (never late); `wait` sleeps out the rest.
        let early = deadline.checked_sub(TIMER_RESOLUTION).unwrap_or(deadline);
        self.coarse.as_mut().reset(early);
    }

    fn disarm(&mut self) {
        self.deadline = None;
    }

    fn is_armed(&self) -> bool {
        self.deadline.is_some()
    }

    fn is_due(&self) -> bool {
        self.deadline.is_some_and(|d| d <= Instant::now())
    }

    /// Resolves at the deadline or somewhat before; never while disarmed.
    async fn wait(&mut self) {
        let Some(deadline) = self.deadline else {
            return std::future::pending().await;
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return;
        }
        if remaining >= TIMER_RESOLUTION {
            return (&mut self.coarse).await;
        }
        let fine = self.fine.get_or_insert_with(|| {
            tokio::task::spawn_blocking(move || std::thread::sleep(remaining))
        });
        // Only a panic of `thread::sleep` could fail it: then `is_due` decides.
        let _ = fine.await;
        // No await between the sleep's end and this: cancelling `wait` can
        // never leave a finished handle behind to be polled again.
        self.fine = None;
    }
}
