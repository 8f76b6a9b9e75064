//! The PostgreSQL v3 wire protocol front door (DESIGN.md section 3): what
//! psql, drivers and pgbench talk to. Messages are encoded with the
//! `pgwire` crate's message types; the connection loop is our own, so that
//! portal suspension, COPY, ParameterStatus mid-session, cancellation and
//! the ReadyForQuery status follow PostgreSQL 15 exactly.
//!
//! Modules:
//! - `codec`: framing (with the message size limit) and a bounds-checked
//!   decoder for frontend messages; buffered backend output.
//! - `startup`: SSL/GSS negotiation, StartupMessage, CancelRequest,
//!   authentication (trust, SCRAM-SHA-256 via `scram`); `tls` loads
//!   the certificate.
//! - `connection`: one connection's life and its message loop: simple
//!   query, COPY, errors and notices, ReadyForQuery.
//! - `extended`: Parse/Bind/Describe/Execute/Close/Sync, prepared
//!   statements and portals.
//! - `values`: Bind parameter decoding, DataRow/RowDescription encoding.
//! - `cancel`: the process-wide (pid, secret) → session map.
//! - `error`: `sqlstate`, the only place ErrorCodes become SQLSTATEs.
//!
//! The flow: [`serve`] accepts and spawns `connection::handle` per
//! socket → `startup::negotiate` (TLS upgrade) → `startup::authenticate`
//! → `Engine::new_session` → ParameterStatus, BackendKeyData,
//! ReadyForQuery → loop: read a message → `Session::execute` (simple
//! query: `parse` and each statement in turn; extended: `describe` at
//! Parse, decode at Bind, `execute` at the first Execute of a portal,
//! whose rows are then handed out `max_rows` at a time) → the output as
//! RowDescription/DataRow/CommandComplete, CopyIn/CopyOut sub-protocols,
//! NoticeResponse, ParameterStatus → ReadyForQuery with the session's
//! transaction status. On disconnect `Session::close`.

mod cancel;
mod codec;
mod connection;
mod error;
mod extended;
mod scram;
mod startup;
mod tls;
mod values;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use shoal_sql::session::Engine;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_rustls::TlsAcceptor;

pub use error::sqlstate;

/// How clients prove who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// Anyone may connect as any existing role (local development).
    #[default]
    Trust,
    /// SCRAM-SHA-256 against the role's stored verifier.
    Scram,
}

/// The PEM files of the server certificate (chain) and its private key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Options of the wire server.
#[derive(Clone, Debug)]
pub struct WireOptions {
    pub auth: AuthMode,
    /// With TLS files, SSLRequest is answered 'S'; without, 'N'.
    pub tls: Option<TlsFiles>,
    /// The largest message a client may send; a bigger one ends the
    /// connection (FATAL 08P01), as PostgreSQL does past its own limit.
    pub max_message_bytes: usize,
    /// Connections beyond this are refused with 53300 (cancel requests
    /// are still served).
    pub max_connections: usize,
}

impl Default for WireOptions {
    fn default() -> Self {
        WireOptions {
            auth: AuthMode::Trust,
            tls: None,
            max_message_bytes: 64 << 20,
            max_connections: 100,
        }
    }
}

/// What every connection shares, fixed at startup.
pub(crate) struct Shared {
    pub auth: AuthMode,
    pub tls: Option<TlsAcceptor>,
    pub max_message_bytes: usize,
}

/// How long [`serve`] waits on shutdown for connections to finish their
/// statement and say goodbye.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves PostgreSQL clients on `listener` until `shutdown` completes:
/// one task per connection, at most `max_connections` sessions. On
/// shutdown it stops accepting, tells idle connections to close (FATAL
/// 57P01, as a PostgreSQL "fast" shutdown does), waits briefly for busy
/// ones, and returns.
pub async fn serve(
    listener: TcpListener,
    engine: Arc<Engine>,
    opts: WireOptions,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let tls = opts.tls.as_ref().map(tls::acceptor).transpose()?;
    let shared = Arc::new(Shared {
        auth: opts.auth,
        tls,
        max_message_bytes: opts.max_message_bytes,
    });
    let slots = Arc::new(Semaphore::new(opts.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a sender; when all are dropped, the
    // receiver sees the channel close (mini-redis's shutdown_complete).
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Usually out of file descriptors: back off instead
                    // of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        tracing::debug!(%peer, "connection accepted");
        let permit = slots.clone().try_acquire_owned().ok();
        let (engine, shared, stop, done) = (
            engine.clone(),
            shared.clone(),
            stop_rx.clone(),
            done_tx.clone(),
        );
        tokio::spawn(async move {
            connection::handle(stream, engine, shared, stop, permit).await;
            drop(done);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(done_tx);
    if tokio::time::timeout(SHUTDOWN_GRACE, done_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("connections still busy at shutdown; leaving them");
    }
    Ok(())
}
