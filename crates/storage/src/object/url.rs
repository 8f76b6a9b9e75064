//! Opening the object store a URL names, wrapped in Shoal's decorators, and
//! checking that it can fence writers.

use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use url::Url;

use super::{LocalStore, MetricsStore, RetryConfig, RetryStore};
use crate::error::{Error, Result};

/// The URL forms [`open_url`] accepts, for error messages.
pub const ACCEPTED_URLS: &str =
    "file:///absolute/path, memory:// (a fresh empty store), s3://bucket/prefix";

/// A store opened by [`open`].
#[derive(Debug, Clone)]
pub struct OpenedStore {
    /// The whole decorator stack; every request goes through it.
    pub store: Arc<dyn ObjectStore>,
    /// The prefix under which this database's objects live: the URL's path
    /// for `s3://` and `memory://`, empty for `file://` (the directory is the
    /// store's own root).
    pub root: Path,
    /// The top of `store`, kept to serve its counts on `/metrics`.
    pub metrics: Arc<MetricsStore>,
}

/// Opens the store `url` names, with default retries, and returns it with
/// its root prefix. See [`open`].
pub fn open_url(url: &str) -> Result<(Arc<dyn ObjectStore>, Path)> {
    let opened = open(url, RetryConfig::default())?;
    Ok((opened.store, opened.root))
}

/// Opens the store `url` names, like [`open_url`], then checks with
/// [`check_conditional_put`] that it is reachable and fences writers. Every
/// process that writes to a store calls this at start, so that a missing
/// bucket, wrong credentials or a store that ignores `If-None-Match` stop it
/// with a clear error before it serves anything.
pub async fn open_url_checked(url: &str) -> Result<(Arc<dyn ObjectStore>, Path)> {
    let (store, root) = open_url(url)?;
    check_conditional_put(store.as_ref(), &root)
        .await
        .map_err(|err| match err {
            Error::InvalidInput(reason) => Error::InvalidInput(format!("store {url}: {reason}")),
            other => other,
        })?;
    Ok((store, root))
}

/// Opens the store `url` names as `MetricsStore` over `RetryStore` over the
/// base store:
///
/// * `file:///abs/path`: a local directory, created if missing, as a
///   [`LocalStore`]. Writes are fsynced, because an acknowledged commit must
///   survive a power cut.
/// * `memory://`: a fresh in-memory store, private to this call (no retries:
///   it never fails transiently).
/// * `s3://bucket/prefix`: S3 or an S3-compatible server, configured from the
///   `AWS_*` environment (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
///   `AWS_SECRET_ACCESS_KEY`, `AWS_REGION` (default us-east-1),
///   `AWS_ALLOW_HTTP`, ...). Create-if-absent writes send `If-None-Match: *`.
///
/// This does not talk to the store; call [`check_conditional_put`] to learn
/// whether it can fence writers before trusting it with a database.
pub fn open(url: &str, retry: RetryConfig) -> Result<OpenedStore> {
    let parsed = Url::parse(url).map_err(|err| invalid(url, err))?;
    let (base, root, retrying): (Arc<dyn ObjectStore>, Path, bool) = match parsed.scheme() {
        "file" => (open_local(url, &parsed)?, Path::default(), true),
        "memory" => (Arc::new(InMemory::new()), root_of(url, &parsed)?, false),
        "s3" => (open_s3(url, &parsed)?, root_of(url, &parsed)?, true),
        other => return Err(invalid(url, format!("unsupported scheme {other:?}"))),
    };
    let store: Arc<dyn ObjectStore> = if retrying {
        Arc::new(RetryStore::new(base, retry))
    } else {
        base
    };
    let metrics = MetricsStore::new(store);
    Ok(OpenedStore {
        store: metrics.clone(),
        root,
        metrics,
    })
}

fn open_local(url: &str, parsed: &Url) -> Result<Arc<dyn ObjectStore>> {
    let dir = parsed
        .to_file_path()
        .map_err(|()| invalid(url, "not an absolute local path"))?;
    std::fs::create_dir_all(&dir).map_err(|err| {
        invalid(
            url,
            format!("cannot create directory {}: {err}", dir.display()),
        )
    })?;
    let local = LocalStore::new(&dir).map_err(|err| Error::store("open", url, err))?;
    Ok(Arc::new(local))
}

fn open_s3(url: &str, parsed: &Url) -> Result<Arc<dyn ObjectStore>> {
    let bucket = parsed
        .host_str()
        .filter(|bucket| !bucket.is_empty())
        .ok_or_else(|| invalid(url, "no bucket named"))?;
    let s3 = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_conditional_put(S3ConditionalPut::ETagMatch)
        // RetryStore must be the only retry layer: a create retried inside
        // the client could meet its own landed write and look fenced.
        .with_retry(object_store::RetryConfig {
            max_retries: 0,
            ..Default::default()
        })
        .build()
        .map_err(|err| invalid(url, err))?;
    Ok(Arc::new(s3))
}

/// The URL's path as an object-store prefix.
fn root_of(url: &str, parsed: &Url) -> Result<Path> {
    Path::from_url_path(parsed.path()).map_err(|err| invalid(url, err))
}

fn invalid(url: &str, reason: impl std::fmt::Display) -> Error {
    Error::InvalidInput(format!(
        "object store URL {url:?}: {reason} (accepted: {ACCEPTED_URLS})"
    ))
}

/// The error for a store that cannot fence writers.
fn not_honoured() -> Error {
    Error::InvalidInput(
        "object store does not honour create-if-absent writes (If-None-Match); \
         Shoal cannot fence writers on it"
            .into(),
    )
}

/// Checks that `store` honours create-if-absent writes, the one primitive
/// Shoal fences writers with (DESIGN.md section 1): creates a probe object
/// under `<root>/probe/` twice, expects the second to fail with
/// AlreadyExists, and deletes the probe.
pub async fn check_conditional_put(store: &dyn ObjectStore, root: &Path) -> Result<()> {
    let probe = root
        .clone()
        .join("probe")
        .join(format!("{:016x}", rand::random::<u64>()));
    let create = || PutOptions::from(PutMode::Create);
    // Different bytes on each write, so that a retry layer below cannot
    // mistake the second create for the first one having landed.
    let first = store
        .put_opts(&probe, PutPayload::from_static(b"probe 1"), create())
        .await;
    match first {
        Ok(_) => {}
        Err(
            object_store::Error::NotImplemented { .. } | object_store::Error::NotSupported { .. },
        ) => return Err(not_honoured()),
        // S3 answers a PUT into a missing bucket with 404 NoSuchBucket.
        Err(object_store::Error::NotFound { source, .. }) => {
            return Err(Error::InvalidInput(format!(
                "the bucket does not exist (writing the probe object {probe} answered: {source})"
            )))
        }
        Err(
            err @ (object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. }),
        ) => {
            return Err(Error::InvalidInput(format!(
                "the credentials may not write to it (writing the probe object {probe}: {err})"
            )))
        }
        Err(err) => return Err(Error::store("put", &probe, err)),
    }
    let second = store
        .put_opts(&probe, PutPayload::from_static(b"probe 2"), create())
        .await;
    let verdict = match second {
        Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
        Ok(_)
        | Err(
            object_store::Error::NotImplemented { .. } | object_store::Error::NotSupported { .. },
        ) => Err(not_honoured()),
        Err(err) => Err(Error::store("put", &probe, err)),
    };
    if let Err(err) = store.delete(&probe).await {
        // A stray probe costs a few bytes; the verdict is what matters.
        tracing::warn!(%probe, error = %err, "could not delete the conditional-put probe");
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn reason(result: Result<OpenedStore>) -> String {
        match result {
            Err(Error::InvalidInput(reason)) => reason,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn rejects_unknown_and_malformed_urls() {
        let msg = reason(open("ftp://host/x", RetryConfig::default()));
        assert!(msg.contains("ftp://host/x") && msg.contains("s3://bucket/prefix"));
        let msg = reason(open("relative/dir", RetryConfig::default()));
        assert!(msg.contains("relative/dir"), "{msg}");
        let msg = reason(open("file://host/dir", RetryConfig::default()));
        assert!(msg.contains("not an absolute local path"), "{msg}");
        let msg = reason(open("s3:///prefix", RetryConfig::default()));
        assert!(msg.contains("no bucket"), "{msg}");
    }

    #[test]
    fn memory_url_path_is_the_root() {
        let opened = open("memory:///db/one/", RetryConfig::default()).expect("open");
        assert_eq!(opened.root, Path::from("db/one"));
    }

    #[tokio::test]
    async fn local_directory_is_created_and_fences() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/db");
        let url = Url::from_directory_path(&path).expect("url");
        let (store, root) = open_url(url.as_str()).expect("open");
        assert!(path.is_dir());
        check_conditional_put(store.as_ref(), &root)
            .await
            .expect("local directories honour create-if-absent");
    }

    #[tokio::test]
    async fn a_store_without_create_if_absent_is_refused() {
        // The S3 client with conditional puts disabled answers NotImplemented
        // before sending anything, so no server is needed.
        let s3 = AmazonS3Builder::new()
            .with_bucket_name("b")
            .with_region("us-east-1")
            .with_endpoint("http://127.0.0.1:9")
            .with_allow_http(true)
            .with_conditional_put(S3ConditionalPut::Disabled)
            .build()
            .expect("build");
        let err = check_conditional_put(&s3, &Path::default())
            .await
            .expect_err("must refuse");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("If-None-Match"), "{err}");
    }
}
