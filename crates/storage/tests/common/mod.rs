//! Shared helpers for the storage crate's integration tests: the object
//! stores every test should pass on, opened through `open` so that the real
//! URL parsing and decorator stack are under test.
//!
//! Each test binary uses a subset of these helpers, hence the
//! `allow(dead_code)`s.

use std::sync::{Arc, Once};
use std::time::Duration;

use object_store::path::Path;
use object_store::ObjectStore;
use shoal_storage::object::{self, MetricsStore, RetryConfig};
use tempfile::TempDir;

/// The environment variable naming the S3 URL (`s3://bucket[/prefix]`) to
/// test against; `scripts/test.sh` sets it to a moto server's bucket.
pub const S3_ENV: &str = "SHOAL_TEST_S3";

/// One store to run a test on.
#[allow(dead_code)]
pub struct TestStore {
    /// `memory`, `file` or `s3`, for assertion messages.
    pub name: &'static str,
    /// The full stack `open_url` builds.
    pub store: Arc<dyn ObjectStore>,
    /// The prefix the test must keep its objects under.
    pub root: Path,
    /// The top of `store`, to assert request counts.
    pub metrics: Arc<MetricsStore>,
    /// Keeps a `file` store's directory alive until the test ends.
    pub _dir: Option<TempDir>,
}

/// A fresh memory store, a fresh local directory and, when `SHOAL_TEST_S3`
/// is set, a fresh random prefix in that S3 bucket.
#[allow(dead_code)]
pub fn test_stores() -> Vec<TestStore> {
    let mut stores = vec![memory_store(), file_store()];
    match std::env::var(S3_ENV) {
        Ok(url) if !url.is_empty() => stores.push(s3_store(&url)),
        _ => {
            static NOTICE: Once = Once::new();
            NOTICE.call_once(|| {
                eprintln!(
                    "note: {S3_ENV} is unset, so the S3 variants of the storage tests are \
                     skipped; scripts/test.sh runs them against moto"
                );
            });
        }
    }
    stores
}

#[allow(dead_code)]
pub fn memory_store() -> TestStore {
    open("memory", "memory://", None)
}

#[allow(dead_code)]
pub fn file_store() -> TestStore {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let url = url::Url::from_directory_path(dir.path()).expect("temporary directory is absolute");
    open("file", url.as_str(), Some(dir))
}

/// A store under a unique prefix of `base`, so that tests running at once
/// (and reruns against a long-lived bucket) never see each other's objects.
#[allow(dead_code)]
pub fn s3_store(base: &str) -> TestStore {
    let url = format!(
        "{}/test-{:016x}",
        base.trim_end_matches('/'),
        rand::random::<u64>()
    );
    open("s3", &url, None)
}

fn open(name: &'static str, url: &str, dir: Option<TempDir>) -> TestStore {
    let opened = object::open(url, RetryConfig::default())
        .unwrap_or_else(|err| panic!("open the {name} test store at {url}: {err}"));
    TestStore {
        name,
        store: opened.store,
        root: opened.root,
        metrics: opened.metrics,
        _dir: dir,
    }
}

/// Retries fast enough that tests exercising them stay quick.
#[allow(dead_code)]
pub fn fast_retries() -> RetryConfig {
    RetryConfig {
        max_retries: 3,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
    }
}

/// Every row of `store` at `lsn` by a full scan (which visits every page,
/// older versions in older SSTs included), checked against a point get of
/// every `step`-th row.
#[allow(dead_code)]
pub async fn read_all(
    store: &shoal_storage::db::Store,
    lsn: shoal_storage::Lsn,
    step: usize,
) -> shoal_storage::Result<Vec<(bytes::Bytes, bytes::Bytes)>> {
    let rows = store
        .scan(
            (std::ops::Bound::Unbounded, std::ops::Bound::Unbounded),
            lsn,
            shoal_storage::Direction::Forward,
        )
        .await?
        .collect(usize::MAX)
        .await?;
    for (k, v) in rows.iter().step_by(step) {
        assert_eq!(
            store.get(k, lsn).await?.as_ref(),
            Some(v),
            "get agrees with scan"
        );
    }
    Ok(rows)
}

/// Appends one transaction at `lsn` writing keys `k0000`..`k0199`, each
/// value `<prefix>-<i>-` and 40 `x`s, and flushes it into an SST.
#[allow(dead_code)]
pub async fn append_and_flush(
    writer: &shoal_storage::db::Store,
    lsn: shoal_storage::Lsn,
    prefix: &str,
) {
    let writes = (0..200)
        .map(|i| {
            shoal_storage::Write::put(
                format!("k{i:04}"),
                format!("{prefix}-{i}-{}", "x".repeat(40)),
            )
        })
        .collect();
    writer
        .append(vec![shoal_storage::CommittedTxn { lsn, writes }], vec![])
        .await
        .expect("append");
    assert!(writer.flush().await.expect("flush"));
}
