//! Helpers shared by the coordinator's service tests: a real coordinator on
//! 127.0.0.1 over a given object store, raw gRPC clients, lock specs.
//! Each test binary uses a subset, hence the `allow(dead_code)`s.

use std::sync::Arc;

use object_store::{path::Path, ObjectStore};
use shoal_coordinator::local::LocalCoordinator;
use shoal_coordinator::proto as pb;
use shoal_coordinator::server::CoordinatorOptions;
use tokio::net::TcpListener;

/// A raw gRPC client (no lease, no event stream).
#[allow(dead_code)]
pub type Raw = pb::coordinator_client::CoordinatorClient<tonic::transport::Channel>;

/// A coordinator running in this process.
#[allow(dead_code)]
pub struct Running {
    pub endpoint: String,
    pub addr: std::net::SocketAddr,
    pub objects: Arc<dyn ObjectStore>,
    pub local: LocalCoordinator,
}

#[allow(dead_code)]
impl Running {
    /// Stops the coordinator and checks it stopped cleanly.
    pub async fn shutdown(self) {
        self.local.stop().await.expect("clean stop");
    }
}

/// Starts a coordinator over `objects` (root `db`) and waits until it
/// answers, that is until it has claimed its epoch and written its
/// epoch-change record.
#[allow(dead_code)]
pub async fn start_with(objects: Arc<dyn ObjectStore>, opts: CoordinatorOptions) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let local = LocalCoordinator::start(listener, objects.clone(), Path::from("db"), opts)
        .await
        .expect("coordinator did not start");
    Running {
        endpoint: local.endpoint(),
        addr: local.addr,
        objects,
        local,
    }
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
