//! Helpers shared by the coordinator's service tests: a real coordinator on
//! 127.0.0.1 over a given object store, raw gRPC clients, lock specs.
//! Each test binary uses a subset, hence the `allow(dead_code)`s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::{path::Path, ObjectStore};
use shoal_coordinator::proto as pb;
use shoal_coordinator::server::{run, CoordinatorOptions};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A raw gRPC client (no lease, no event stream).
#[allow(dead_code)]
pub type Raw = pb::coordinator_client::CoordinatorClient<tonic::transport::Channel>;

/// A coordinator running in this process.
#[allow(dead_code)]
pub struct Running {
    pub endpoint: String,
    pub addr: std::net::SocketAddr,
    pub objects: Arc<dyn ObjectStore>,
    pub stop: Option<oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<Result<(), String>>,
}

#[allow(dead_code)]
impl Running {
    /// Stops the coordinator and checks it stopped cleanly.
    pub async fn shutdown(mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        self.task
            .await
            .expect("coordinator task")
            .expect("clean stop");
    }
}

/// Starts a coordinator over `objects` (root `db`) and waits until it
/// answers, that is until it has claimed its epoch and written its
/// epoch-change record.
#[allow(dead_code)]
pub async fn start_with(objects: Arc<dyn ObjectStore>, opts: CoordinatorOptions) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let opts = CoordinatorOptions {
        advertise: addr.to_string(),
        ..opts
    };
    let task = tokio::spawn(run(
        listener,
        objects.clone(),
        Path::from("db"),
        opts,
        async {
            let _ = stopped.await;
        },
    ));
    let running = Running {
        endpoint: format!("http://{addr}"),
        addr,
        objects,
        stop: Some(stop),
        task,
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(mut c) = Raw::connect(running.endpoint.clone()).await {
            if c.status(pb::StatusRequest {}).await.is_ok() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "coordinator did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running
}

#[allow(dead_code)]
pub async fn raw(endpoint: &str) -> Raw {
    Raw::connect(endpoint.to_string()).await.expect("connect")
}

#[allow(dead_code)]
pub async fn status(endpoint: &str) -> pb::StatusResponse {
    raw(endpoint)
        .await
        .status(pb::StatusRequest {})
        .await
        .expect("status")
        .into_inner()
}

/// An exclusive (FOR UPDATE) lock on row `key` of `table`.
#[allow(dead_code)]
pub fn row(table: u64, key: u64) -> pb::LockSpec {
    pb::LockSpec {
        table_id: table,
        key_hash: Some(key),
        mode: pb::LockMode::RowExclusive as i32,
    }
}
