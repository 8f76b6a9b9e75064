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
//!     base store      LocalFileSystem (file://), InMemory (memory://), AmazonS3 (s3://)
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

pub mod faulty;
pub mod metrics;
pub mod retry;
pub mod url;

pub use faulty::{FailFilter, FaultConfig, FaultyStore};
pub use metrics::{MetricsStore, Op, OpMetrics, StoreMetrics};
pub use retry::{is_transient, RetryConfig, RetryStore};
pub use url::{check_conditional_put, open, open_url, OpenedStore};

pub use object_store::path::Path;
pub use object_store::ObjectStore;
