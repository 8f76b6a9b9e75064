//! The object store under Shoal: opening one by URL, and the decorators
//! stacked on it (DESIGN.md section 1, CONVENTIONS.md point 4).
//!
//! Every decorator is itself an [`ObjectStore`] wrapping an
//! `Arc<dyn ObjectStore>`, so they stack in any order. [`open_url`] builds
//! the production stack:
//!
//! ```text
//! MetricsStore        counts requests, errors, bytes and latency per operation
//!   RetryStore        retries transient failures with backoff and jitter, and
//!                     resolves a retried create-if-absent write that had landed
//!     base store      LocalStore (file://: LocalFileSystem, create-if-absent
//!                     writes into files made ahead), InMemory (memory://),
//!                     AmazonS3 (s3://)
//! ```
//!
//! Tests and benchmarks slot a [`FaultyStore`] under the [`RetryStore`] to
//! inject latency and failures at chosen requests.
//!
//! Modules:
//! * [`url`]: [`open_url`], [`open`] and the [`check_conditional_put`] probe.
//! * [`retry`]: [`RetryStore`] and [`RetryConfig`].
//! * [`metrics`]: [`MetricsStore`] and its [`StoreMetrics`] snapshot.
//! * [`faulty`]: [`FaultyStore`] and its run-time [`FaultConfig`].
//! * [`local`]: [`LocalStore`], the `file://` base store.

pub mod faulty;
pub mod local;
pub mod metrics;
pub mod retry;
pub mod url;

pub use faulty::{FailFilter, FaultConfig, FaultyStore};
pub use local::LocalStore;
pub use metrics::{MetricsStore, Op, OpMetrics, StoreMetrics};
pub use retry::{is_transient, RetryConfig, RetryStore};
pub use url::{check_conditional_put, open, open_url, open_url_checked, OpenedStore};

pub use object_store::path::Path;
pub use object_store::ObjectStore;

use bytes::Bytes;
use object_store::{ObjectStoreExt, PutMode, PutPayload};

use crate::error::{Error, Result};

/// Writes `bytes` at `path` only if nothing is there: the one way Shoal
/// mutates a store. An existing object is [`Error::Fenced`].
pub async fn create(store: &dyn ObjectStore, path: &Path, bytes: Bytes) -> Result<()> {
    store
        .put_opts(path, PutPayload::from(bytes), PutMode::Create.into())
        .await
        .map_err(|e| Error::store("put", path, e))?;
    Ok(())
}

/// Reads the whole object at `path`; `None` if it does not exist.
pub async fn read_if_exists(store: &dyn ObjectStore, path: &Path) -> Result<Option<Bytes>> {
    let got = match store.get(path).await {
        Ok(got) => got,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(Error::store("get", path, e)),
    };
    got.bytes()
        .await
        .map(Some)
        .map_err(|e| Error::store("get", path, e))
}
