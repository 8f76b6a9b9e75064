//! A coordinator inside this process, for `shoal dev` and for tests: the
//! real gRPC service on a loopback port. Frontends of other processes (and
//! of this one, by default) reach it over gRPC as in a multi-process
//! cluster; with [`CoordinatorOptions::in_process`] the frontends of this
//! process call the service directly instead (the same calls, the same
//! replies, without the encoding, the connection and the tasks between).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::{path::Path, ObjectStore};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::client::endpoint_url;
use crate::proto as pb;
use crate::server::{run, CoordinatorOptions};

/// A coordinator running as a task of this process.
pub struct LocalCoordinator {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), String>>,
}

impl LocalCoordinator {
    /// Starts a coordinator over `root` of `objects` on `listener` and waits
    /// until it serves (it has claimed its epoch and fenced its predecessor).
    pub async fn start(
        listener: TcpListener,
        objects: Arc<dyn ObjectStore>,
        root: Path,
        opts: CoordinatorOptions,
    ) -> Result<LocalCoordinator, String> {
        let addr = listener
            .local_addr()
            .map_err(|e| format!("coordinator address: {e}"))?;
        let opts = CoordinatorOptions {
            advertise: if opts.advertise.is_empty() {
                addr.to_string()
            } else {
                opts.advertise
            },
            ..opts
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run(listener, objects, root, opts, async {
            let _ = stopped.await;
        }));
        let local = LocalCoordinator {
            addr,
            stop: Some(stop),
            task,
        };
        let endpoint = local.endpoint();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if local.task.is_finished() {
                let why = match local.task.await {
                    Ok(Err(e)) => e,
                    Ok(Ok(())) => "it stopped".to_string(),
                    Err(e) => e.to_string(),
                };
                return Err(format!("the coordinator did not start: {why}"));
            }
            if let Ok(mut c) =
                pb::coordinator_client::CoordinatorClient::connect(endpoint.clone()).await
            {
                if c.status(pb::StatusRequest {}).await.is_ok() {
                    return Ok(local);
                }
            }
            if Instant::now() > deadline {
                return Err("the coordinator did not start within 30 s".to_string());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Its gRPC endpoint URL.
    pub fn endpoint(&self) -> String {
        endpoint_url(&self.addr.to_string())
    }

    /// Stops it and waits for it to finish.
    pub async fn stop(mut self) -> Result<(), String> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.finished().await
    }

    /// Whether it has stopped (by itself, or on `stop`).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for it to end by itself (a deposed leader stops at once).
    pub async fn finished(self) -> Result<(), String> {
        self.task.await.map_err(|e| e.to_string())?
    }
}
