//! A coordinator inside this process, for `shoal dev` and for tests: the
//! real gRPC service on a loopback port, so frontends use the same client
//! path as in a multi-process cluster.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::{path::Path, ObjectStore};
use shoal_coordinator::client::endpoint_url;
use shoal_coordinator::proto as pb;
use shoal_coordinator::server::{run, CoordinatorOptions};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::{Error, ErrorKind, Result};

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
    ) -> Result<LocalCoordinator> {
        let addr = listener
            .local_addr()
            .map_err(|e| Error::new(ErrorKind::Unavailable, format!("coordinator address: {e}")))?;
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
        let endpoint = endpoint_url(&addr.to_string());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if local.task.is_finished() {
                let why = match local.task.await {
                    Ok(Err(e)) => e,
                    Ok(Ok(())) => "it stopped".to_string(),
                    Err(e) => e.to_string(),
                };
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!("the coordinator did not start: {why}"),
                ));
            }
            if let Ok(mut c) =
                pb::coordinator_client::CoordinatorClient::connect(endpoint.clone()).await
            {
                if c.status(pb::StatusRequest {}).await.is_ok() {
                    return Ok(local);
                }
            }
            if Instant::now() > deadline {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    "the coordinator did not start within 30 s",
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops it and waits for it to finish.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::new(ErrorKind::Unavailable, e)),
            Err(e) => Err(Error::new(ErrorKind::Internal, e.to_string())),
        }
    }
}
