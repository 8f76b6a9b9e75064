//! The frontend's side of the coordinator protocol: join, keep the lease
//! alive, follow the event stream (ack delivered batches, learn visible
//! LSNs), and take locks, commit, abort and draw sequence blocks.
//!
//! [`CoordinatorClient::snapshot`] implements the snapshot rule of DESIGN.md:
//! a transaction takes the highest visible LSN, but if a delivered batch is
//! still pending it first waits for that batch's visible notice, so once any
//! client anywhere has seen a commit, every later snapshot includes it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shoal_storage::{CommittedTxn, Lsn, Write};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic::Status;

use crate::error::ErrorKind;
use crate::locks::TxnId;
use crate::membership::MemberId;
use crate::proto as pb;
use crate::proto::coordinator_client::CoordinatorClient as Grpc;
use crate::proto::coordinator_server::Coordinator as _;
use crate::server::CoordinatorService;
use crate::visibility::{Delivered, FrontendView, SnapshotDecision};

/// The gRPC endpoint URL of a coordinator given as `host:port` (or
/// already as a URL).
pub fn endpoint_url(addr: &str) -> String {
    if addr.starts_with("http") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    }
}

/// A failed coordinator call.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct ClientError {
    /// What kind of failure, when the coordinator said (None: transport).
    pub kind: Option<ErrorKind>,
    pub message: String,
}

impl From<Status> for ClientError {
    fn from(s: Status) -> Self {
        ClientError {
            kind: ErrorKind::of(&s),
            message: s.message().to_string(),
        }
    }
}

impl ClientError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ClientError {
            kind: Some(kind),
            message: message.into(),
        }
    }
}

/// Applies visible batches to the frontend's own copy of the data (its
/// memtable); called in LSN order, once per transaction.
pub type Applier = Arc<dyn Fn(&[CommittedTxn]) + Send + Sync>;

/// What a frontend does with the event stream beyond acking it.
#[derive(Clone, Default)]
pub struct Follow {
    /// Receives visible batches, in LSN order.
    pub apply: Option<Applier>,
    /// Told each new manifest `(version, flushed_lsn)`: the frontend
    /// installs it and drops memtable entries it covers.
    pub manifest: Option<Arc<dyn Fn(u64, Lsn) + Send + Sync>>,
    /// The oldest snapshot any transaction here still reads at, reported
    /// in heartbeats so compaction keeps the versions it needs.
    pub oldest_snapshot: Option<Arc<dyn Fn() -> Option<Lsn> + Send + Sync>>,
}

/// What the event and heartbeat tasks share with callers.
struct Shared {
    view: Mutex<FrontendView>,
    /// Delivered batches not yet visible, to apply when they become visible.
    /// As `(batch id, last LSN, transactions)`, in delivery order.
    pending: Mutex<Vec<(u64, u64, Vec<CommittedTxn>)>>,
    /// The end of the lease as this frontend counts it (from each
    /// heartbeat's send time); no snapshot is served past it.
    lease_until: Mutex<Option<Instant>>,
    /// Set when the stream or lease is lost: the member must join again.
    lost: watch::Sender<Option<String>>,
}

/// A call for the `Pipe` stream and where its reply goes.
type PipedCall = (
    pb::pipe_call::Call,
    oneshot::Sender<Result<pb::pipe_reply::Reply, Status>>,
);

/// The events of a subscription, as they arrive.
type EventStream = std::pin::Pin<Box<dyn futures::Stream<Item = Result<pb::Event, Status>> + Send>>;

/// How a frontend reaches its coordinator.
#[derive(Clone)]
enum Link {
    /// Over gRPC: a connection of its own.
    Grpc(Grpc<Channel>),
    /// The coordinator runs in this process ([`crate::server::in_process`]):
    /// its service, called directly. The same requests and answers, and
    /// the same failures when it stops (its calls fail as unavailable, its
    /// event stream ends), without protobuf encoding, HTTP/2 and the
    /// loopback connection, and the tasks on either side of them.
    Local(CoordinatorService),
}

impl Link {
    /// Connects to the coordinator at `endpoint`: directly when it runs in
    /// this process, else over a new gRPC connection.
    async fn connect(endpoint: &str) -> Result<Link, ClientError> {
        match crate::server::in_process(endpoint) {
            Some(service) => Ok(Link::Local(service)),
            None => Ok(Link::Grpc(connect(endpoint).await?)),
        }
    }

    async fn join(&self, req: pb::JoinRequest) -> Result<pb::JoinResponse, Status> {
        match self {
            Link::Grpc(grpc) => grpc.clone().join(req).await.map(|r| r.into_inner()),
            Link::Local(service) => service
                .join(tonic::Request::new(req))
                .await
                .map(|r| r.into_inner()),
        }
    }

    async fn heartbeat(&self, req: pb::HeartbeatRequest) -> Result<pb::HeartbeatResponse, Status> {
        match self {
            Link::Grpc(grpc) => grpc.clone().heartbeat(req).await.map(|r| r.into_inner()),
            Link::Local(service) => service
                .heartbeat(tonic::Request::new(req))
                .await
                .map(|r| r.into_inner()),
        }
    }

    async fn subscribe(&self, req: pb::SubscribeRequest) -> Result<EventStream, Status> {
        match self {
            Link::Grpc(grpc) => {
                let stream = grpc.clone().subscribe(req).await?.into_inner();
                Ok(Box::pin(stream))
            }
            Link::Local(service) => {
                let stream = service
                    .subscribe(tonic::Request::new(req))
                    .await?
                    .into_inner();
                Ok(Box::pin(stream))
            }
        }
    }

    async fn ack(&self, req: pb::AckRequest) -> Result<(), Status> {
        match self {
            Link::Grpc(grpc) => grpc.clone().ack(req).await.map(drop),
            Link::Local(service) => service.do_ack(req).await.map(drop),
        }
    }

    async fn leave(&self, req: pb::LeaveRequest) -> Result<(), Status> {
        match self {
            Link::Grpc(grpc) => grpc.clone().leave(req).await.map(drop),
            Link::Local(service) => service.leave(tonic::Request::new(req)).await.map(drop),
        }
    }

    async fn next_sequence_block(
        &self,
        req: pb::SequenceRequest,
    ) -> Result<pb::SequenceResponse, Status> {
        match self {
            Link::Grpc(grpc) => grpc
                .clone()
                .next_sequence_block(req)
                .await
                .map(|r| r.into_inner()),
            Link::Local(service) => service
                .next_sequence_block(tonic::Request::new(req))
                .await
                .map(|r| r.into_inner()),
        }
    }

    async fn status(&self) -> Result<pb::StatusResponse, Status> {
        let req = pb::StatusRequest {};
        match self {
            Link::Grpc(grpc) => grpc.clone().status(req).await.map(|r| r.into_inner()),
            Link::Local(service) => service
                .status(tonic::Request::new(req))
                .await
                .map(|r| r.into_inner()),
        }
    }
}

/// A joined frontend's connection to the coordinator.
pub struct CoordinatorClient {
    link: Link,
    /// Over gRPC, lock, commit and abort calls go out on one `Pipe` stream
    /// ([`run_pipe`]); in process they are calls of the service.
    pipe: Option<mpsc::UnboundedSender<PipedCall>>,
    member: MemberId,
    shared: Arc<Shared>,
    visible: watch::Receiver<Lsn>,
    /// The manifest the coordinator had published when this member joined.
    joined_manifest: u64,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for CoordinatorClient {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl CoordinatorClient {
    /// Joins the coordinator at `endpoint` (`http://host:port`) as frontend
    /// `frontend_id`, holding everything up to `held_lsn` already, and
    /// starts following its events. `apply` receives visible batches.
    pub async fn join(
        endpoint: &str,
        frontend_id: u64,
        address: &str,
        held_lsn: Lsn,
        apply: Option<Applier>,
    ) -> Result<CoordinatorClient, ClientError> {
        let follow = Follow {
            apply,
            ..Follow::default()
        };
        Self::join_following(endpoint, frontend_id, address, held_lsn, follow).await
    }

    /// [`CoordinatorClient::join`] with every hook of [`Follow`].
    pub async fn join_following(
        endpoint: &str,
        frontend_id: u64,
        address: &str,
        held_lsn: Lsn,
        follow_hooks: Follow,
    ) -> Result<CoordinatorClient, ClientError> {
        let link = Link::connect(endpoint).await?;
        // Heartbeats get a connection of their own: on the shared one they
        // queue behind a large commit's writes and the batch coming back on
        // the event stream (HTTP/2 flow control), and a statement writing a
        // few hundred thousand rows cost the frontend its lease.
        let heartbeat_link = Link::connect(endpoint).await?;
        // A coordinator that accepts connections but does not answer (a
        // spare still watching, a stopped process) must not hold a joining
        // frontend forever.
        let join = link.join(pb::JoinRequest {
            frontend_id,
            address: address.to_string(),
            highest_lsn_held: held_lsn,
        });
        let joined = answered(endpoint, "the join", join).await??;
        let member = crate::core::member_id(joined.member.as_ref())?;
        let lease = Duration::from_millis(joined.lease_ms);
        let shared = Arc::new(Shared {
            view: Mutex::new(FrontendView::new(held_lsn)),
            pending: Mutex::new(Vec::new()),
            // Until the first heartbeat answers, the lease counts from now,
            // which is before the coordinator's own count began.
            lease_until: Mutex::new(None),
            lost: watch::Sender::new(None),
        });
        let (visible_tx, visible) = watch::channel(held_lsn);
        // The same bound for the stream: an attempt stuck here would never
        // heartbeat, be evicted, and never be retried.
        let subscribe = link.subscribe(pb::SubscribeRequest {
            member: Some(crate::core::member_pb(member)),
            from_lsn: held_lsn,
        });
        let stream = answered(endpoint, "the subscription", subscribe).await??;
        let events = tokio::spawn(follow(
            link.clone(),
            member,
            stream,
            shared.clone(),
            visible_tx,
            follow_hooks.clone(),
        ));
        let heartbeats = tokio::spawn(heartbeat(
            heartbeat_link,
            member,
            lease,
            shared.clone(),
            follow_hooks.oldest_snapshot,
        ));
        let mut tasks = vec![events, heartbeats];
        let pipe = match &link {
            Link::Grpc(grpc) => {
                let (pipe, calls) = mpsc::unbounded_channel();
                tasks.push(tokio::spawn(run_pipe(grpc.clone(), calls)));
                Some(pipe)
            }
            Link::Local(_) => None,
        };
        let client = CoordinatorClient {
            link,
            pipe,
            member,
            shared,
            visible,
            joined_manifest: joined.manifest_version,
            tasks,
        };
        // Serve nothing before the first lease arrives and the catch-up
        // events up to the visible LSN at join time have been applied.
        let deadline = Instant::now() + lease;
        let caught_up = joined.visible_lsn.max(held_lsn);
        while !client.is_serving() || client.visible_lsn() < caught_up {
            if let Some(why) = client.shared.lost.borrow().clone() {
                return Err(ClientError::new(
                    ErrorKind::Unavailable,
                    format!("lost the coordinator while joining: {why}"),
                ));
            }
            if Instant::now() >= deadline {
                return Err(ClientError::new(
                    ErrorKind::Unavailable,
                    "no lease granted after joining",
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(client)
    }

    pub fn member(&self) -> MemberId {
        self.member
    }

    /// Whether this member calls a coordinator of this process directly
    /// (not over gRPC).
    pub fn is_in_process(&self) -> bool {
        matches!(self.link, Link::Local(_))
    }

    /// The manifest version current when this member joined: a frontend
    /// that was away installs it (its own may be older).
    pub fn joined_manifest(&self) -> u64 {
        self.joined_manifest
    }

    /// Whether this frontend may serve: it holds a lease and its stream is up.
    pub fn is_serving(&self) -> bool {
        self.check_serving().is_ok()
    }

    fn check_serving(&self) -> Result<(), ClientError> {
        if let Some(why) = self.shared.lost.borrow().clone() {
            return Err(ClientError::new(
                ErrorKind::NotMember,
                format!("this frontend lost its cluster membership ({why}); it is re-joining"),
            ));
        }
        match *self.shared.lease_until.lock().expect("lease lock") {
            Some(until) if Instant::now() < until => Ok(()),
            _ => Err(ClientError::new(
                ErrorKind::NotMember,
                "this frontend holds no valid lease from the coordinator",
            )),
        }
    }

    /// Waits until this membership is lost (the event stream broke, a
    /// heartbeat was refused, or the lease ran out with no coordinator
    /// answering) and says why. The frontend must then join again.
    pub async fn lost(&self) -> String {
        let mut lost = self.shared.lost.subscribe();
        let why = match lost.wait_for(Option::is_some).await {
            Ok(why) => why.clone().unwrap_or_default(),
            Err(_) => "the membership was dropped".to_string(),
        };
        why
    }

    /// Leaves the cluster cleanly: the coordinator removes this member at
    /// once (its transactions abort, its locks are released) instead of
    /// waiting out its lease. Nothing is served through it afterwards.
    pub async fn leave(&self) -> Result<(), ClientError> {
        lose(&self.shared, "left the cluster".to_string());
        let req = pb::LeaveRequest {
            member: Some(crate::core::member_pb(self.member)),
        };
        self.link.leave(req).await?;
        Ok(())
    }

    /// The highest visible LSN known here.
    pub fn visible_lsn(&self) -> Lsn {
        *self.visible.borrow()
    }

    /// A snapshot LSN for a new transaction (see the module docs). Fails
    /// when the lease is not valid, so no stale read is ever served.
    pub async fn snapshot(&self) -> Result<Lsn, ClientError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut visible = self.visible.clone();
        loop {
            self.check_serving()?;
            let decision = self.shared.view.lock().expect("view lock").snapshot_lsn();
            match decision {
                SnapshotDecision::Ready(lsn) => return Ok(lsn),
                SnapshotDecision::WaitFor(lsn) => {
                    if Instant::now() >= deadline {
                        return Err(ClientError::new(
                            ErrorKind::Unavailable,
                            format!("batch {lsn} did not become visible in time"),
                        ));
                    }
                    // Wake up now and then to look at the lease again: cut
                    // off from the coordinator, this waits for a notice that
                    // may never come, and must fail once the lease is over.
                    let slice = (Instant::now() + Duration::from_millis(50)).min(deadline);
                    let wait = visible.wait_for(|v| *v >= lsn);
                    let _ = tokio::time::timeout_at(slice.into(), wait).await;
                }
            }
        }
    }

    /// Waits until batches up to `lsn` are visible and applied here. A
    /// commit's answer can overtake the visible notice on the event
    /// stream; waiting for it gives the committing session its own writes.
    pub async fn wait_visible(&self, lsn: Lsn) -> Result<(), ClientError> {
        let mut visible = self.visible.clone();
        let reached = tokio::time::timeout(Duration::from_secs(10), async {
            visible.wait_for(|v| *v >= lsn).await.is_ok()
        })
        .await;
        match reached {
            Ok(true) => Ok(()),
            _ => Err(ClientError::new(
                ErrorKind::Unavailable,
                format!("commit {lsn} did not become visible here in time"),
            )),
        }
    }

    /// Takes `locks` for `txn` (one statement's batch) under `policy`.
    pub async fn lock(
        &self,
        txn: TxnId,
        request_id: u64,
        locks: Vec<pb::LockSpec>,
        policy: pb::WaitPolicy,
        timeout: Option<Duration>,
    ) -> Result<pb::LockResponse, ClientError> {
        self.check_serving()?;
        let req = pb::LockRequest {
            member: Some(crate::core::member_pb(self.member)),
            txn: Some(txn_pb(txn)),
            request_id,
            locks,
            policy: policy as i32,
            timeout_ms: timeout.map_or(0, |t| t.as_millis().max(1) as u64),
        };
        let call = self.piped(pb::pipe_call::Call::Lock(req));
        match self.while_member(call).await {
            Some(Ok(pb::pipe_reply::Reply::Lock(reply))) => Ok(reply),
            Some(Ok(other)) => Err(unexpected(&other)),
            Some(Err(status)) => Err(status.into()),
            None => Err(self.gave_up("waiting for locks").await),
        }
    }

    /// Commits `txn`'s writes; returns its LSN once visible everywhere.
    pub async fn commit(&self, txn: TxnId, writes: Vec<Write>) -> Result<Lsn, ClientError> {
        self.check_serving()?;
        let req = pb::CommitRequest {
            member: Some(crate::core::member_pb(self.member)),
            txn: Some(txn_pb(txn)),
            writes: writes.iter().map(Into::into).collect(),
        };
        let unknown = |why: String| {
            ClientError::new(
                ErrorKind::OutcomeUnknown,
                format!("{why}; whether the transaction committed is unknown"),
            )
        };
        let answer = self
            .while_member(self.piped(pb::pipe_call::Call::Commit(req)))
            .await;
        match answer {
            Some(Ok(pb::pipe_reply::Reply::Commit(reply))) => Ok(reply.lsn),
            Some(Ok(other)) => Err(unexpected(&other)),
            // No answer from a coordinator: the request may have landed.
            Some(Err(status)) if ErrorKind::of(&status).is_none() => Err(unknown(format!(
                "the commit request to the coordinator failed: {}",
                status.message()
            ))),
            Some(Err(status)) => Err(status.into()),
            None => Err(unknown(
                self.gave_up("waiting for its commit").await.message,
            )),
        }
    }

    /// Runs a request to the coordinator for as long as this membership
    /// holds: `None` once it is lost (no heartbeat answered for a lease past
    /// the lease, or the event stream broke) with no answer. Cut off from
    /// the coordinator, a request can hang on a dead link until TCP gives
    /// up; once the membership is gone, no answer is coming, and the
    /// coordinator evicts this member (aborting its transactions, releasing
    /// its locks). Not bounded by the lease itself: a coordinator busy
    /// with a large batch answers heartbeats late, and a lock or commit
    /// given up on then could still be granted (or applied) after the
    /// frontend had moved on. A lock wait longer than the lease is fine:
    /// heartbeats keep the membership meanwhile.
    async fn while_member<T>(&self, request: impl std::future::Future<Output = T>) -> Option<T> {
        tokio::pin!(request);
        tokio::select! {
            biased;
            answer = &mut request => Some(answer),
            _ = self.lost() => {
                // A coordinator that closes the stream (deposed, stopping)
                // may still be answering: take an answer that follows at
                // once.
                tokio::time::timeout(ANSWER_GRACE, &mut request).await.ok()
            }
        }
    }

    /// Sends `call` on the `Pipe` stream (or to the service in this
    /// process); its reply, or the status the unary RPC would have failed
    /// with.
    async fn piped(&self, call: pb::pipe_call::Call) -> Result<pb::pipe_reply::Reply, Status> {
        let Some(pipe) = &self.pipe else {
            return match &self.link {
                Link::Local(service) => service.call(call).await,
                Link::Grpc(_) => Err(Status::internal("a gRPC link without its pipe")),
            };
        };
        let (reply, answer) = oneshot::channel();
        if pipe.send((call, reply)).is_err() {
            return Err(Status::unavailable("the coordinator stream is closed"));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(Status::unavailable("the coordinator stream ended")))
    }

    /// The error for a request cut short by the loss of the membership.
    async fn gave_up(&self, doing: &str) -> ClientError {
        ClientError::new(
            ErrorKind::NotMember,
            format!("this frontend stopped {doing}: {}", self.lost().await),
        )
    }

    /// Ends `txn` without writing, releasing its locks.
    pub async fn abort(&self, txn: TxnId) -> Result<(), ClientError> {
        let req = pb::AbortRequest {
            member: Some(crate::core::member_pb(self.member)),
            txn: Some(txn_pb(txn)),
        };
        match self
            .while_member(self.piped(pb::pipe_call::Call::Abort(req)))
            .await
        {
            Some(Ok(pb::pipe_reply::Reply::Abort(_))) => Ok(()),
            Some(Ok(other)) => Err(unexpected(&other)),
            Some(Err(status)) => Err(status.into()),
            // The membership is gone: the coordinator evicts this member,
            // which aborts the transaction and releases its locks anyway.
            None => Err(self.gave_up("aborting").await),
        }
    }

    /// A block of `n` values of sequence `seq` never handed out before.
    pub async fn sequence_block(&self, seq: u64, n: u64) -> Result<(u64, u64), ClientError> {
        self.check_serving()?;
        let req = pb::SequenceRequest {
            member: Some(crate::core::member_pb(self.member)),
            sequence_id: seq,
            block_size: n,
        };
        let reply = self.while_member(self.link.next_sequence_block(req)).await;
        let Some(reply) = reply else {
            return Err(self.gave_up("allocating sequence values").await);
        };
        let r = reply?;
        Ok((r.first, r.last))
    }

    /// The coordinator's status.
    pub async fn status(&self) -> Result<pb::StatusResponse, ClientError> {
        Ok(self.link.status().await?)
    }
}

/// A reply of the wrong type for its call: a coordinator bug.
fn unexpected(reply: &pb::pipe_reply::Reply) -> ClientError {
    ClientError::new(
        ErrorKind::InvalidArgument,
        format!("the coordinator answered with the wrong reply: {reply:?}"),
    )
}

/// Runs the `Pipe` stream: sends every call queued meanwhile in one
/// message and hands each reply to its caller. Calls without a reply when
/// the stream breaks fail with a status carrying no kind, as a broken
/// unary call would (a commit's outcome is then unknown); so do later ones.
async fn run_pipe(mut grpc: Grpc<Channel>, mut calls: mpsc::UnboundedReceiver<PipedCall>) {
    use std::collections::HashMap;
    let (requests, outbound) = mpsc::channel::<pb::PipeRequest>(64);
    let opened = grpc
        .pipe(tokio_stream::wrappers::ReceiverStream::new(outbound))
        .await;
    let mut waiting: HashMap<u64, oneshot::Sender<Result<pb::pipe_reply::Reply, Status>>> =
        HashMap::new();
    let why = match opened {
        Err(status) => format!(
            "could not open the coordinator stream: {}",
            status.message()
        ),
        Ok(response) => {
            let mut inbound = response.into_inner();
            let mut next_id = 0u64;
            loop {
                tokio::select! {
                    call = calls.recv() => {
                        let Some(first) = call else { return };
                        let mut batch = Vec::new();
                        let mut next = Some(first);
                        while let Some((call, reply)) = next {
                            next_id += 1;
                            waiting.insert(next_id, reply);
                            batch.push(pb::PipeCall { id: next_id, call: Some(call) });
                            next = if batch.len() < 1024 { calls.try_recv().ok() } else { None };
                        }
                        if requests.send(pb::PipeRequest { calls: batch }).await.is_err() {
                            break "the coordinator stream closed".to_string();
                        }
                    }
                    message = inbound.message() => match message {
                        Ok(Some(response)) => {
                            for r in response.replies {
                                let reply = match r.reply {
                                    Some(pb::pipe_reply::Reply::Error(e)) => {
                                        Err(crate::error::pipe_status(e))
                                    }
                                    Some(reply) => Ok(reply),
                                    None => Err(Status::internal("an empty reply")),
                                };
                                if let Some(to) = waiting.remove(&r.id) {
                                    let _ = to.send(reply);
                                }
                            }
                        }
                        Ok(None) => break "the coordinator ended the stream".to_string(),
                        Err(status) => break format!("the coordinator stream failed: {}", status.message()),
                    },
                }
            }
        }
    };
    for (_, to) in waiting.drain() {
        let _ = to.send(Err(Status::unavailable(why.clone())));
    }
    while let Some((_, to)) = calls.recv().await {
        let _ = to.send(Err(Status::unavailable(why.clone())));
    }
}

/// A gRPC client on a new connection to the coordinator at `endpoint`.
/// `call` to the coordinator at `endpoint`, or Unavailable naming `what`
/// if it has not answered within 5 s.
async fn answered<T>(
    endpoint: &str,
    what: &str,
    call: impl std::future::Future<Output = T>,
) -> Result<T, ClientError> {
    tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .map_err(|_| {
            ClientError::new(
                ErrorKind::Unavailable,
                format!("the coordinator at {endpoint} did not answer {what}"),
            )
        })
}

async fn connect(endpoint: &str) -> Result<Grpc<Channel>, ClientError> {
    let channel = tonic::transport::Endpoint::from_shared(endpoint.to_string())
        .map_err(|e| {
            ClientError::new(
                ErrorKind::InvalidArgument,
                format!("bad endpoint {endpoint}: {e}"),
            )
        })?
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .map_err(|e| ClientError {
            kind: None,
            message: format!("connect to {endpoint}: {e}"),
        })?;
    Ok(Grpc::new(channel)
        .max_decoding_message_size(crate::server::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(crate::server::MAX_MESSAGE_BYTES))
}

fn txn_pb(t: TxnId) -> pb::TxnId {
    pb::TxnId {
        frontend: t.frontend,
        txn: t.txn,
    }
}

fn lose(shared: &Shared, why: String) {
    shared.lost.send_modify(|lost| {
        if lost.is_none() {
            tracing::warn!(reason = %why, "lost the cluster membership");
            *lost = Some(why);
        }
    });
}

/// Follows the event stream: holds delivered batches as pending and acks
/// them; applies and publishes what becomes visible.
async fn follow(
    link: Link,
    member: MemberId,
    mut stream: EventStream,
    shared: Arc<Shared>,
    visible: watch::Sender<Lsn>,
    hooks: Follow,
) {
    use futures::StreamExt;
    // Over gRPC, acks go out from their own task, many batches per
    // request: awaiting each ack's round trip here would cap the batches
    // this frontend can take (and so every commit of the cluster) at one
    // per round trip. In process an ack is a send on the core's queue,
    // made here.
    let (acks, mut to_ack) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let mut _stop_acker = None;
    let local = match link {
        Link::Local(service) => Some(service),
        grpc @ Link::Grpc(_) => {
            let ack_shared = shared.clone();
            let acker = tokio::spawn(async move {
                while let Some(first) = to_ack.recv().await {
                    let mut batch_ids = vec![first];
                    while let Ok(id) = to_ack.try_recv() {
                        batch_ids.push(id);
                    }
                    let ack = pb::AckRequest {
                        member: Some(crate::core::member_pb(member)),
                        batch_ids,
                    };
                    if let Err(s) = grpc.ack(ack).await {
                        return lose(&ack_shared, format!("ack failed: {}", s.message()));
                    }
                }
            });
            _stop_acker = Some(AbortOnDrop(acker));
            None
        }
    };
    loop {
        let event = match stream.next().await {
            Some(Ok(e)) => e,
            None => return lose(&shared, "the coordinator closed the event stream".into()),
            Some(Err(s)) => return lose(&shared, format!("event stream failed: {}", s.message())),
        };
        match event.kind {
            Some(pb::event::Kind::Batch(batch)) => {
                let txns: Vec<CommittedTxn> = batch.txns.into_iter().map(Into::into).collect();
                let last = txns.last().map_or(0, |t| t.lsn);
                let delivered = shared
                    .view
                    .lock()
                    .expect("view lock")
                    .on_deliver(batch.batch_id, last);
                if delivered == Delivered::Pending {
                    shared
                        .pending
                        .lock()
                        .expect("pending lock")
                        .push((batch.batch_id, last, txns));
                }
                if let Some(service) = &local {
                    let ack = pb::AckRequest {
                        member: Some(crate::core::member_pb(member)),
                        batch_ids: vec![batch.batch_id],
                    };
                    if let Err(s) = service.do_ack(ack).await {
                        return lose(&shared, format!("ack failed: {}", s.message()));
                    }
                } else if acks.send(batch.batch_id).is_err() {
                    return; // the ack task failed and said why
                }
            }
            Some(pb::event::Kind::Visible(v)) => {
                // Apply first, then publish: a snapshot that includes these
                // batches must find them in the memtable (the view answers
                // snapshots without waiting once it knows the LSN visible).
                let ready: Vec<(u64, u64, Vec<CommittedTxn>)> = {
                    let mut pending = shared.pending.lock().expect("pending lock");
                    let (ready, later) = pending.drain(..).partition(|(_, last, _)| *last <= v.lsn);
                    *pending = later;
                    ready
                };
                if let Some(apply) = &hooks.apply {
                    for (_, _, txns) in &ready {
                        apply(txns);
                    }
                }
                shared.view.lock().expect("view lock").on_visible(v.lsn);
                visible.send_if_modified(|cur| {
                    let changed = v.lsn > *cur;
                    *cur = (*cur).max(v.lsn);
                    changed
                });
            }
            Some(pb::event::Kind::Failed(f)) => {
                // A failure fails that batch and every later one; earlier
                // pending batches are durable and become visible later.
                let Some(&first_failed) = f.batch_ids.iter().min() else {
                    continue;
                };
                let mut view = shared.view.lock().expect("view lock");
                let mut pending = shared.pending.lock().expect("pending lock");
                pending.retain(|(id, _, _)| *id < first_failed);
                let kept = pending.iter().map(|(_, last, _)| *last).max().unwrap_or(0);
                let visible = view.visible_lsn();
                view.discard_pending_above(kept.max(visible));
                tracing::debug!(batches = ?f.batch_ids, reason = %f.reason, "batches failed");
            }
            Some(pb::event::Kind::Manifest(m)) => {
                if let Some(hook) = &hooks.manifest {
                    hook(m.version, m.flushed_lsn);
                }
            }
            None => {}
        }
    }
}

/// How long a request still waits for its answer once the membership is
/// lost (see `CoordinatorClient::while_member`).
const ANSWER_GRACE: Duration = Duration::from_millis(250);

/// Aborts a task when dropped (with the task that owns it).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renews the lease every quarter lease; the lease counts from each
/// request's send time, as DESIGN.md asks.
async fn heartbeat(
    link: Link,
    member: MemberId,
    lease: Duration,
    shared: Arc<Shared>,
    oldest_snapshot: Option<Arc<dyn Fn() -> Option<Lsn> + Send + Sync>>,
) {
    let origin = Instant::now();
    let every = (lease / 4).max(Duration::from_millis(10));
    loop {
        let sent = Instant::now();
        let (received, visible) = {
            let view = shared.view.lock().expect("view lock");
            (view.received_lsn(), view.visible_lsn())
        };
        let req = pb::HeartbeatRequest {
            member: Some(crate::core::member_pb(member)),
            sent_at_ms: sent.duration_since(origin).as_millis() as u64,
            oldest_snapshot_lsn: oldest_snapshot
                .as_ref()
                .and_then(|f| f())
                .map_or(visible, |o| o.min(visible)),
            received_lsn: received,
            visible_lsn: visible,
        };
        match tokio::time::timeout(lease, link.heartbeat(req)).await {
            Ok(Ok(resp)) => {
                let granted = Duration::from_millis(resp.lease_ms);
                let mut until = shared.lease_until.lock().expect("lease lock");
                let new = sent + granted;
                if until.is_none_or(|u| new > u) {
                    *until = Some(new);
                }
            }
            Ok(Err(s)) if ErrorKind::of(&s) == Some(ErrorKind::NotMember) => {
                return lose(&shared, format!("heartbeat refused: {}", s.message()));
            }
            Ok(Err(s)) => tracing::warn!(error = %s.message(), "heartbeat failed"),
            Err(_) => tracing::warn!("heartbeat timed out"),
        }
        // A whole lease past the end of the last one and still no answer:
        // the coordinator is gone or unreachable (a spare may lead by now),
        // and this member has surely been evicted. Give it up and re-join.
        let expired_long_ago = shared
            .lease_until
            .lock()
            .expect("lease lock")
            .is_some_and(|until| Instant::now() > until + lease);
        if expired_long_ago {
            return lose(
                &shared,
                "no heartbeat answered for a whole lease after it expired".to_string(),
            );
        }
        tokio::time::sleep(every).await;
    }
}
