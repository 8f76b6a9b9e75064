//! The gRPC shell: translates requests into [`Command`]s for the core and
//! its answers back, and starts a coordinator (active, or a spare that
//! takes over when the active one stops answering).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_storage::db::{Store, StoreOptions};
use shoal_storage::{Lsn, Write};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status};

use crate::core::{member_id, Command, Core, CoreConfig, LockCall};
use crate::error::{status, ErrorKind};
use crate::locks::{LockRequest, RowMode, TableMode, TxnId, WaitPolicy};
use crate::metrics::CoordinatorMetrics;
use crate::proto as pb;
use crate::proto::coordinator_server::{Coordinator, CoordinatorServer};

/// The tonic service: a handle on the core's command queue.
#[derive(Clone)]
pub struct CoordinatorService {
    tx: mpsc::Sender<Command>,
    /// Depth of each subscriber's event stream (`CoreConfig::subscriber_queue`).
    subscriber_queue: usize,
}

impl CoordinatorService {
    async fn do_lock(&self, req: pb::LockRequest) -> Result<pb::LockResponse, Status> {
        let member = member_id(req.member.as_ref())?;
        let txn = txn_id(req.txn.as_ref())?;
        let locks = req
            .locks
            .iter()
            .map(lock_request)
            .collect::<Result<Vec<_>, _>>()?;
        let policy = match pb::WaitPolicy::try_from(req.policy) {
            Ok(pb::WaitPolicy::Wait) => WaitPolicy::Wait {
                timeout: (req.timeout_ms > 0).then(|| Duration::from_millis(req.timeout_ms)),
            },
            Ok(pb::WaitPolicy::NoWait) => WaitPolicy::NoWait,
            Ok(pb::WaitPolicy::SkipLocked) => WaitPolicy::SkipLocked,
            Err(_) => {
                return Err(status(
                    ErrorKind::InvalidArgument,
                    format!("unknown wait policy {}", req.policy),
                ))
            }
        };
        let request_id = req.request_id;
        self.ask(|reply| {
            Command::Lock(LockCall {
                member,
                txn,
                request_id,
                locks,
                policy,
                reply,
            })
        })
        .await
    }

    async fn do_commit(&self, req: pb::CommitRequest) -> Result<pb::CommitResponse, Status> {
        let member = member_id(req.member.as_ref())?;
        let txn = txn_id(req.txn.as_ref())?;
        let writes: Vec<Write> = req.writes.into_iter().map(Into::into).collect();
        let lsn: Lsn = self
            .ask(|r| Command::Commit(member, txn, writes, r))
            .await?;
        Ok(pb::CommitResponse { lsn })
    }

    async fn do_abort(&self, req: pb::AbortRequest) -> Result<pb::AbortResponse, Status> {
        let member = member_id(req.member.as_ref())?;
        let txn = txn_id(req.txn.as_ref())?;
        self.tx
            .send(Command::Abort(member, txn))
            .await
            .map_err(|_| status(ErrorKind::Unavailable, "the coordinator is stopping"))?;
        Ok(pb::AbortResponse {})
    }

    /// Serves one `Pipe` stream: runs every call as its unary RPC would,
    /// concurrently, and sends replies as they are ready, all that are
    /// ready in one message. A clean end of the inbound stream lets the
    /// calls in progress finish; a broken one drops them, as a broken
    /// connection drops unary calls. When the core stops (deposed, shutting
    /// down) the stream takes no more calls, sends the answers the core
    /// gave the calls in progress (a deposed leader refuses its commits
    /// before it stops), and ends.
    async fn serve_pipe(
        self,
        mut inbound: tonic::Streaming<pb::PipeRequest>,
        replies: mpsc::Sender<Result<pb::PipeResponse, Status>>,
    ) {
        use futures::stream::FuturesUnordered;
        use futures::{FutureExt, StreamExt};
        let mut running = FuturesUnordered::new();
        let mut open = true;
        let mut core_stopped = false;
        loop {
            if (core_stopped || !open) && running.is_empty() {
                return;
            }
            tokio::select! {
                message = inbound.message(), if open && !core_stopped => match message {
                    Ok(Some(request)) => {
                        for call in request.calls {
                            running.push(self.clone().pipe_call(call));
                        }
                    }
                    Ok(None) => open = false,
                    Err(_) => return,
                },
                Some(first) = running.next(), if !running.is_empty() => {
                    let mut ready = vec![first];
                    while let Some(Some(reply)) = running.next().now_or_never() {
                        ready.push(reply);
                    }
                    let response = pb::PipeResponse { replies: ready };
                    if replies.send(Ok(response)).await.is_err() {
                        return;
                    }
                }
                // The core stopped: every call in progress has its answer
                // or fails at once ("stopped before answering").
                () = self.tx.closed(), if !core_stopped => core_stopped = true,
                else => return,
            }
        }
    }

    async fn pipe_call(self, call: pb::PipeCall) -> pb::PipeReply {
        use pb::pipe_reply::Reply;
        let reply = match call.call {
            Some(call) => self.call(call).await,
            None => Err(status(
                ErrorKind::InvalidArgument,
                "a pipe call names no request",
            )),
        };
        pb::PipeReply {
            id: call.id,
            reply: Some(reply.unwrap_or_else(|s| Reply::Error(crate::error::pipe_error(&s)))),
        }
    }

    /// Runs one lock, commit or abort call as its unary RPC would.
    pub(crate) async fn call(
        &self,
        call: pb::pipe_call::Call,
    ) -> Result<pb::pipe_reply::Reply, Status> {
        use pb::pipe_call::Call;
        use pb::pipe_reply::Reply;
        match call {
            Call::Lock(req) => self.do_lock(req).await.map(Reply::Lock),
            Call::Commit(req) => self.do_commit(req).await.map(Reply::Commit),
            Call::Abort(req) => self.do_abort(req).await.map(Reply::Abort),
        }
    }

    /// Records acked batches (the body of the `Ack` RPC).
    pub(crate) async fn do_ack(&self, req: pb::AckRequest) -> Result<pb::AckResponse, Status> {
        let member = member_id(req.member.as_ref())?;
        self.tx
            .send(Command::Ack(member, req.batch_ids))
            .await
            .map_err(|_| status(ErrorKind::Unavailable, "the coordinator is stopping"))?;
        Ok(pb::AckResponse {})
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, Status>>) -> Command,
    ) -> Result<T, Status> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| status(ErrorKind::Unavailable, "the coordinator is stopping"))?;
        answer.await.map_err(|_| {
            status(
                ErrorKind::Unavailable,
                "the coordinator stopped before answering",
            )
        })?
    }
}

fn txn_id(t: Option<&pb::TxnId>) -> Result<TxnId, Status> {
    let t = t.ok_or_else(|| status(ErrorKind::InvalidArgument, "request names no transaction"))?;
    Ok(TxnId {
        frontend: t.frontend,
        txn: t.txn,
    })
}

fn lock_request(spec: &pb::LockSpec) -> Result<LockRequest, Status> {
    use pb::LockMode as M;
    let mode = M::try_from(spec.mode).map_err(|_| {
        status(
            ErrorKind::InvalidArgument,
            format!("unknown lock mode {}", spec.mode),
        )
    })?;
    let table = |m| Ok(LockRequest::table(spec.table_id, m));
    let row = |m| match spec.key_hash {
        Some(h) => Ok(LockRequest::row(spec.table_id, h, m)),
        None => Err(status(
            ErrorKind::InvalidArgument,
            "a row lock needs a key hash",
        )),
    };
    if spec.key_hash.is_some()
        && matches!(
            mode,
            M::TableIs | M::TableIx | M::TableS | M::TableSix | M::TableX
        )
    {
        return Err(status(
            ErrorKind::InvalidArgument,
            "a table lock takes no key hash",
        ));
    }
    match mode {
        M::Unspecified => Err(status(ErrorKind::InvalidArgument, "lock mode unspecified")),
        M::TableIs => table(TableMode::IntentShare),
        M::TableIx => table(TableMode::IntentExclusive),
        M::TableS => table(TableMode::Share),
        M::TableSix => table(TableMode::ShareIntentExclusive),
        M::TableX => table(TableMode::Exclusive),
        M::RowKeyShare => row(RowMode::KeyShare),
        M::RowShare => row(RowMode::Share),
        M::RowNoKeyExclusive => row(RowMode::NoKeyExclusive),
        M::RowExclusive => row(RowMode::Exclusive),
    }
}

#[tonic::async_trait]
impl Coordinator for CoordinatorService {
    async fn join(
        &self,
        req: Request<pb::JoinRequest>,
    ) -> Result<Response<pb::JoinResponse>, Status> {
        let req = req.into_inner();
        self.ask(|r| Command::Join(req, r)).await.map(Response::new)
    }

    async fn heartbeat(
        &self,
        req: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        let req = req.into_inner();
        self.ask(|r| Command::Heartbeat(req, r))
            .await
            .map(Response::new)
    }

    type SubscribeStream = ReceiverStream<Result<pb::Event, Status>>;

    async fn subscribe(
        &self,
        req: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let req = req.into_inner();
        let member = member_id(req.member.as_ref())?;
        let (events, stream) = mpsc::channel(self.subscriber_queue.max(1));
        self.ask(|r| Command::Subscribe(member, req.from_lsn, events, r))
            .await?;
        Ok(Response::new(ReceiverStream::new(stream)))
    }

    async fn ack(&self, req: Request<pb::AckRequest>) -> Result<Response<pb::AckResponse>, Status> {
        self.do_ack(req.into_inner()).await.map(Response::new)
    }

    async fn lock(
        &self,
        req: Request<pb::LockRequest>,
    ) -> Result<Response<pb::LockResponse>, Status> {
        self.do_lock(req.into_inner()).await.map(Response::new)
    }

    async fn commit(
        &self,
        req: Request<pb::CommitRequest>,
    ) -> Result<Response<pb::CommitResponse>, Status> {
        self.do_commit(req.into_inner()).await.map(Response::new)
    }

    async fn abort(
        &self,
        req: Request<pb::AbortRequest>,
    ) -> Result<Response<pb::AbortResponse>, Status> {
        self.do_abort(req.into_inner()).await.map(Response::new)
    }

    type PipeStream = ReceiverStream<Result<pb::PipeResponse, Status>>;

    async fn pipe(
        &self,
        req: Request<tonic::Streaming<pb::PipeRequest>>,
    ) -> Result<Response<Self::PipeStream>, Status> {
        let inbound = req.into_inner();
        let (replies, stream) = mpsc::channel(64);
        tokio::spawn(self.clone().serve_pipe(inbound, replies));
        Ok(Response::new(ReceiverStream::new(stream)))
    }

    async fn leave(
        &self,
        req: Request<pb::LeaveRequest>,
    ) -> Result<Response<pb::LeaveResponse>, Status> {
        let member = member_id(req.into_inner().member.as_ref())?;
        self.ask(|r| Command::Leave(member, r)).await?;
        Ok(Response::new(pb::LeaveResponse {}))
    }

    async fn next_sequence_block(
        &self,
        req: Request<pb::SequenceRequest>,
    ) -> Result<Response<pb::SequenceResponse>, Status> {
        let req = req.into_inner();
        let member = member_id(req.member.as_ref())?;
        let (first, last) = self
            .ask(|r| Command::Sequence(member, req.sequence_id, req.block_size, r))
            .await?;
        Ok(Response::new(pb::SequenceResponse { first, last }))
    }

    async fn status(
        &self,
        _req: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        self.ask(Command::Status).await.map(Response::new)
    }
}

/// How a coordinator process starts.
#[derive(Debug)]
pub struct CoordinatorOptions {
    pub core: CoreConfig,
    pub store: StoreOptions,
    /// The address frontends reach this coordinator at (written into its epoch).
    pub advertise: String,
    /// For a spare: the active coordinator to watch; it takes over once that
    /// one has not answered for `takeover_after`.
    pub watch: Option<String>,
    pub takeover_after: Duration,
    /// Where to serve HTTP `/metrics` (Prometheus) and `/health`.
    pub http: Option<TcpListener>,
    /// Frontends of this process that join at this coordinator's address
    /// call its service directly instead of over gRPC: the same requests
    /// and answers, without the encoding, the loopback connection and the
    /// tasks between. For `shoal dev`, where both run in one process.
    pub in_process: bool,
}

impl Default for CoordinatorOptions {
    fn default() -> Self {
        CoordinatorOptions {
            core: CoreConfig::default(),
            store: StoreOptions::default(),
            advertise: String::new(),
            watch: None,
            takeover_after: Duration::from_secs(1),
            http: None,
            in_process: false,
        }
    }
}

/// The coordinators of this process that frontends of this process may
/// call directly, by the addresses they serve at, each with a
/// registration number (so a stopping one removes only its own entry).
static IN_PROCESS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<String, (u64, CoordinatorService)>>,
> = std::sync::LazyLock::new(Default::default);

/// The coordinator serving at `addr` (`host:port`) in this process, if
/// one runs here with [`CoordinatorOptions::in_process`] and is active.
/// A frontend calls it directly: the same requests and answers as over
/// gRPC, without the encoding, the loopback connection and the tasks on
/// either side of it.
pub(crate) fn in_process(addr: &str) -> Option<CoordinatorService> {
    let addr = addr
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/');
    let registry = IN_PROCESS.lock().expect("in-process registry");
    registry.get(addr).map(|(_, service)| service.clone())
}

/// An active coordinator's entries in [`IN_PROCESS`], removed when it
/// stops (or its task is dropped).
struct Registered {
    id: u64,
    addrs: Vec<String>,
}

impl Registered {
    fn new(addrs: Vec<String>, service: &CoordinatorService) -> Registered {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut registry = IN_PROCESS.lock().expect("in-process registry");
        for addr in &addrs {
            registry.insert(addr.clone(), (id, service.clone()));
        }
        Registered { id, addrs }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut registry = IN_PROCESS.lock().expect("in-process registry");
        for addr in &self.addrs {
            if registry.get(addr).is_some_and(|(id, _)| *id == self.id) {
                registry.remove(addr);
            }
        }
    }
}

/// Waits until the coordinator at `peer` has not answered a status request
/// for `after` (a spare's watch).
pub async fn wait_for_failure(peer: &str, after: Duration) {
    let url = crate::client::endpoint_url(peer);
    let mut last_ok = Instant::now();
    loop {
        let ok = async {
            let mut client =
                crate::proto::coordinator_client::CoordinatorClient::connect(url.clone())
                    .await
                    .ok()?;
            client.status(pb::StatusRequest {}).await.ok()
        };
        if tokio::time::timeout(Duration::from_millis(300), ok)
            .await
            .ok()
            .flatten()
            .is_some()
        {
            last_ok = Instant::now();
        } else if last_ok.elapsed() >= after {
            tracing::warn!(
                peer,
                "the active coordinator stopped answering: taking over"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs a coordinator on `listener` over the store at `objects`/`root`
/// until `shutdown` resolves (Ok) or it is deposed (Err). A spare first
/// watches the active coordinator and serves nothing until it takes over.
/// The largest gRPC message either side accepts: a transaction's write set
/// travels in one `Commit` and a batch in one event (tonic's default, 4 MiB,
/// would cap a COPY or a large UPDATE).
pub const MAX_MESSAGE_BYTES: usize = 1 << 30;

pub async fn run(
    listener: TcpListener,
    objects: Arc<dyn object_store::ObjectStore>,
    root: object_store::path::Path,
    mut opts: CoordinatorOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let metrics = Arc::new(CoordinatorMetrics::default());
    let (tx, rx) = mpsc::channel(65_536);
    if let Some(http) = opts.http.take() {
        tokio::spawn(serve_http(http, tx.clone(), metrics.clone()));
    }
    if let Some(peer) = &opts.watch {
        let watching = wait_for_failure(peer, opts.takeover_after);
        tokio::pin!(watching);
        loop {
            tokio::select! {
                () = &mut watching => break,
                // A spare serves nothing yet. Left in the backlog, a
                // connection would look accepted and its requests would
                // hang until the client's timeout; closed at once, a
                // frontend trying this address moves straight on to the
                // leader (the address in the newest epoch).
                accepted = listener.accept() => drop(accepted),
            }
        }
    }
    if opts.advertise.is_empty() || opts.advertise.ends_with(":0") {
        // Frontends find the leader by the address in its epoch: make it
        // one they can reach.
        if let Ok(addr) = listener.local_addr() {
            opts.advertise = addr.to_string();
        }
    }
    let layout = shoal_storage::layout::Layout::new(root.clone());
    let (epoch, had_leader) =
        crate::leader::claim_epoch(objects.as_ref(), &layout, &opts.advertise)
            .await
            .map_err(|e| format!("claim an epoch: {e}"))?;
    // The replayed batches seed the core's memory of batches.
    let store_opts = StoreOptions {
        epoch,
        keep_replayed: true,
        ..opts.store.clone()
    };
    let store = Store::open(objects, root, store_opts)
        .await
        .map_err(|e| format!("open the store: {e}"))?;
    // The epoch-change record: takes the next WAL segment number, so the
    // previous leader's next append loses the race and it stops.
    store
        .begin_epoch()
        .await
        .map_err(|e| format!("write the epoch-change record: {e}"))?;
    // Frontends' disk caches are tied to the store's id; made here, they
    // only read it (read-only credentials are enough for them).
    let objects = store.object_store().as_ref();
    if let Err(e) = shoal_storage::store_id::load_or_create(objects, store.layout()).await {
        tracing::warn!(error = %e, "could not read or create the store's id");
    }
    let hold = if had_leader {
        opts.core.leader_lease + opts.core.membership.max_clock_drift_margin
    } else {
        Duration::ZERO
    };
    tracing::info!(
        epoch,
        last_lsn = store.last_lsn(),
        hold_ms = hold.as_millis() as u64,
        "coordinator active"
    );
    let core = Core::new(
        opts.core.clone(),
        Arc::new(store),
        epoch,
        hold,
        tx.clone(),
        metrics,
    )
    .await;
    let service = CoordinatorService {
        tx,
        subscriber_queue: opts.core.subscriber_queue,
    };
    let local: Option<SocketAddr> = listener.local_addr().ok();
    let registered = opts.in_process.then(|| {
        let mut addrs = vec![opts.advertise.clone()];
        addrs.extend(local.map(|a| a.to_string()));
        addrs.dedup();
        Registered::new(addrs, &service)
    });
    let (core_stop, core_stopped) = oneshot::channel::<()>();
    let core_task = tokio::spawn(core.run(rx, core_stopped));
    tokio::spawn(async move {
        shutdown.await;
        let _ = core_stop.send(());
    });
    tracing::info!(?local, "serving gRPC");
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tonic::transport::Server::builder()
        .add_service(
            CoordinatorServer::new(service)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .serve_with_incoming_shutdown(nodelay(listener), async move {
            let _ = stop_rx.await;
        });
    let server_task = tokio::spawn(server);
    let outcome = match core_task.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(why)) => Err(why),
        Err(e) => Err(format!("coordinator core panicked: {e}")),
    };
    // A stopped core takes no calls: frontends of this process that join
    // again go through gRPC to whoever leads now.
    drop(registered);
    let _ = stop_tx.send(());
    let _ = server_task.await;
    outcome
}

/// Serves `/metrics` (Prometheus text) and `/health` (200 while this
/// coordinator is active and answering, 503 otherwise, e.g. a spare).
async fn serve_http(
    listener: TcpListener,
    tx: mpsc::Sender<Command>,
    metrics: Arc<CoordinatorMetrics>,
) {
    use axum::http::StatusCode;
    use axum::routing::get;

    async fn ask_status(tx: &mpsc::Sender<Command>) -> Option<pb::StatusResponse> {
        let (reply, answer) = oneshot::channel();
        tx.send(Command::Status(reply)).await.ok()?;
        tokio::time::timeout(Duration::from_secs(2), answer)
            .await
            .ok()?
            .ok()?
            .ok()
    }
    let metrics_tx = tx.clone();
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let (tx, metrics) = (metrics_tx.clone(), metrics.clone());
                async move {
                    match ask_status(&tx).await {
                        Some(status) => (StatusCode::OK, metrics.render(&status)),
                        None => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            "coordinator not active\n".to_string(),
                        ),
                    }
                }
            }),
        )
        .route(
            "/health",
            get(move || {
                let tx = tx.clone();
                async move {
                    match ask_status(&tx).await {
                        Some(s) => (StatusCode::OK, format!("active, epoch {}\n", s.epoch)),
                        None => (StatusCode::SERVICE_UNAVAILABLE, "not active\n".to_string()),
                    }
                }
            }),
        );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::warn!(error = %e, "HTTP endpoint stopped");
    }
}

/// Accepted connections with Nagle's algorithm off: commit, ack and lock
/// messages are small and latency-bound; batching them in the kernel adds
/// tens of milliseconds.
fn nodelay(
    listener: TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use futures::StreamExt;
    TcpListenerStream::new(listener).map(|conn| {
        let conn = conn?;
        conn.set_nodelay(true)?;
        Ok(conn)
    })
}
