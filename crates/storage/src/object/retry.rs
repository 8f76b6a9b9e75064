//! [`RetryStore`]: retries transient object-store failures with exponential
//! backoff and jitter, and settles the ambiguous outcome of a retried
//! create-if-absent write.
//!
//! # What is retried
//!
//! Only errors for which [`is_transient`] holds: `object_store::Error::Generic`,
//! which is how every backend reports I/O failures, timeouts, 5xx responses
//! and throttling. A definite answer from the store (NotFound, AlreadyExists,
//! Precondition, NotModified, InvalidPath, NotSupported, NotImplemented,
//! PermissionDenied, ...) is returned at once: asking again would give the
//! same answer.
//!
//! * `put_opts`, `get_ranges`, `list_with_delimiter`, `copy_opts`: the whole
//!   call. A [`PutPayload`] is a list of reference-counted buffers, so every
//!   put can be replayed cheaply.
//! * `get_opts`: the request; and a body that breaks off mid-stream is resumed
//!   with a ranged GET of the remaining bytes, pinned to the same object by its
//!   ETag and version so that no other object is spliced in.
//! * `list`, `list_with_offset`: until the first entry arrives. A listing that
//!   fails after yielding entries is not restarted, because backends do not
//!   list in a stable order (LocalFileSystem walks directories), so a restart
//!   could neither skip nor repeat entries reliably; the caller lists again.
//! * `delete_stream`: each location on its own, a few at a time. A retried
//!   delete that finds the object gone counts as done (the failed attempt
//!   deleted it). This gives up S3 bulk deletes; Shoal deletes only while
//!   collecting garbage, where the request count hardly matters.
//! * `put_multipart_opts`: starting the upload. Parts are retried by the
//!   backend through a [`RetryPolicy`] installed on the options (one part may be
//!   sent twice; a part number is idempotent). Completing is not retried: a
//!   completed upload cannot be completed again.
//! * `rename_opts`: not retried: a rename that landed leaves no source behind
//!   for the retry. Shoal never renames; its objects are immutable.
//!
//! # Create-if-absent, and the write that landed anyway
//!
//! A `PutMode::Create` can fail transiently *after* the store wrote the object
//! (the response was lost, the connection dropped). The retry then meets
//! AlreadyExists from our own write, which looks exactly like a lost race and
//! would fence a writer that in fact won. So when a create that already failed
//! transiently then gets AlreadyExists, this store reads the object back and
//! compares it with the payload: identical bytes mean our write landed and the
//! put succeeds; different bytes mean another writer won and AlreadyExists
//! stands. `copy_opts` with `CopyMode::Create` does the same, comparing the
//! destination with the source. If the read-back fails, the outcome is unknown
//! and the put fails with a transient error that says so.
//!
//! This relies on two things. Different writers of one key write different
//! bytes: in Shoal, epochs, WAL segments and manifests carry the writer's epoch
//! or address, and SST ids are never reused. And this is the only retry layer:
//! a backend that retried a create by itself would hide the failed attempt, so
//! [`super::open_url`] turns the S3 client's own retries off.

use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::ready;
use futures::stream::{self, BoxStream};
use futures::StreamExt;
use object_store::path::Path;
use object_store::retry::{RetryContext, RetryFailure, RetryPolicy};
use object_store::{
    CopyMode, CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutMultipartOptions, PutOptions, PutPayload,
    PutResult, RenameOptions, Result,
};
use rand::Rng;

/// How many deletes of one `delete_stream` run at once.
const DELETE_CONCURRENCY: usize = 8;

/// How hard a [`RetryStore`] tries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryConfig {
    /// Retries after the first attempt; 0 turns retrying off.
    pub max_retries: u32,
    /// The pause before the first retry; it doubles for each later one.
    pub initial_backoff: Duration,
    /// The longest pause between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryConfig {
    /// 5 retries, 20 ms doubling to at most 1 s: about 1.3 s of waiting in
    /// all, long enough to ride out a dropped connection or a throttling burst,
    /// short enough that a commit fails with a clear error while its client is
    /// still waiting.
    fn default() -> Self {
        RetryConfig {
            max_retries: 5,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_secs(1),
        }
    }
}

impl RetryConfig {
    /// The pause before retry number `retry` (counting from 0): exponential
    /// and capped, with "equal jitter" (half fixed, half random), so that
    /// clients that failed together do not retry in lockstep, yet none retries
    /// at once.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
        let capped = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        let half = capped / 2;
        let spread = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(rand::rng().random_range(0..=spread))
    }
}

/// Whether asking the store again may give a different answer.
///
/// Backends report I/O failures, timeouts, 5xx responses and throttling as
/// `Generic`; every other variant is a definite answer about the object or
/// the request. (A few deterministic failures, such as a range past the end of
/// an object on the local store, are `Generic` too; they are retried in vain
/// and surface after the backoff.)
pub fn is_transient(err: &object_store::Error) -> bool {
    matches!(err, object_store::Error::Generic { .. })
}

/// An [`ObjectStore`] that retries transient failures of the store it wraps;
/// see the [module documentation](self) for what is retried and how.
#[derive(Debug)]
pub struct RetryStore {
    inner: Arc<dyn ObjectStore>,
    config: RetryConfig,
}

impl RetryStore {
    pub fn new(inner: Arc<dyn ObjectStore>, config: RetryConfig) -> Self {
        RetryStore { inner, config }
    }

    pub fn config(&self) -> &RetryConfig {
        &self.config
    }

    /// Settles a create that failed transiently and then met AlreadyExists:
    /// success if the object holds exactly `payload`, else `already`.
    async fn settle_create(
        &self,
        location: &Path,
        payload: &PutPayload,
        already: object_store::Error,
    ) -> Result<PutResult> {
        match self.read_whole(location).await {
            Ok((meta, bytes)) if payload_eq(payload, &bytes) => {
                tracing::info!(%location, "a create failed transiently but had landed: the object holds our bytes");
                Ok(PutResult {
                    e_tag: meta.e_tag,
                    version: meta.version,
                    extensions: Default::default(),
                })
            }
            Ok(_) => Err(already),
            Err(err) => Err(unknown_outcome(location, err)),
        }
    }

    /// The object at `location` and its bytes, with retries.
    async fn read_whole(&self, location: &Path) -> Result<(ObjectMeta, Bytes)> {
        let (result, _) = with_retries(&self.config, "get", location, || async {
            let got = self.inner.get_opts(location, GetOptions::default()).await?;
            let meta = got.meta.clone();
            Ok((meta, got.bytes().await?))
        })
        .await;
        result
    }

    /// A listing that retries until its first entry arrives.
    fn list_retrying<F>(&self, open: F) -> BoxStream<'static, Result<ObjectMeta>>
    where
        F: Fn() -> BoxStream<'static, Result<ObjectMeta>> + Send + 'static,
    {
        let config = self.config.clone();
        stream::once(async move {
            let mut retry = 0;
            loop {
                let mut listing = open();
                match listing.next().await {
                    Some(Err(err)) if is_transient(&err) && retry < config.max_retries => {
                        tracing::info!(retry, error = %err, "retrying an object store listing");
                        tokio::time::sleep(config.backoff(retry)).await;
                        retry += 1;
                    }
                    Some(first) => return stream::once(ready(first)).chain(listing).boxed(),
                    None => return stream::empty().boxed(),
                }
            }
        })
        .flatten()
        .boxed()
    }
}

impl fmt::Display for RetryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RetryStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for RetryStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let create = opts.mode == PutMode::Create;
        let (result, retried) = with_retries(&self.config, "put", location, || {
            self.inner.put_opts(location, payload.clone(), opts.clone())
        })
        .await;
        match result {
            Err(err @ object_store::Error::AlreadyExists { .. }) if create && retried => {
                self.settle_create(location, &payload, err).await
            }
            result => result,
        }
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        let opts = opts.with_retry_policy(Arc::new(PartRetryPolicy(self.config.clone())));
        let (result, _) = with_retries(&self.config, "put_multipart", location, || {
            self.inner.put_multipart_opts(location, opts.clone())
        })
        .await;
        result
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let (result, _) = with_retries(&self.config, "get", location, || {
            self.inner.get_opts(location, options.clone())
        })
        .await;
        let result = result?;
        let payload = match result.payload {
            GetResultPayload::Stream(body) if !options.head => {
                GetResultPayload::Stream(resume_body(Resume {
                    inner: Arc::clone(&self.inner),
                    config: self.config.clone(),
                    location: location.clone(),
                    e_tag: result.meta.e_tag.clone(),
                    version: result.meta.version.clone(),
                    next: result.range.start,
                    end: result.range.end,
                    body,
                    failures: 0,
                }))
            }
            // A local file is read by the caller from disk: no connection to lose.
            other => other,
        };
        Ok(GetResult { payload, ..result })
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let (result, _) = with_retries(&self.config, "get", location, || {
            self.inner.get_ranges(location, ranges)
        })
        .await;
        result
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let inner = Arc::clone(&self.inner);
        let config = self.config.clone();
        locations
            .map(move |location| {
                let inner = Arc::clone(&inner);
                let config = config.clone();
                async move {
                    let location = location?;
                    let (result, retried) =
                        with_retries(&config, "delete", &location, || inner.delete(&location))
                            .await;
                    match result {
                        Ok(()) => Ok(location),
                        // The attempt that failed transiently deleted it.
                        Err(object_store::Error::NotFound { .. }) if retried => Ok(location),
                        Err(err) => Err(err),
                    }
                }
            })
            .buffered(DELETE_CONCURRENCY)
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let inner = Arc::clone(&self.inner);
        let prefix = prefix.cloned();
        self.list_retrying(move || inner.list(prefix.as_ref()))
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let inner = Arc::clone(&self.inner);
        let prefix = prefix.cloned();
        let offset = offset.clone();
        self.list_retrying(move || inner.list_with_offset(prefix.as_ref(), &offset))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let location = prefix.cloned().unwrap_or_default();
        let (result, _) = with_retries(&self.config, "list", &location, || {
            self.inner.list_with_delimiter(prefix)
        })
        .await;
        result
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        let create = options.mode == CopyMode::Create;
        let (result, retried) = with_retries(&self.config, "copy", to, || {
            self.inner.copy_opts(from, to, options.clone())
        })
        .await;
        match result {
            Err(already @ object_store::Error::AlreadyExists { .. }) if create && retried => {
                // As for a create: the failed attempt may have copied it.
                let source = self.read_whole(from).await;
                let target = self.read_whole(to).await;
                match (source, target) {
                    (Ok((_, source)), Ok((_, target))) if source == target => Ok(()),
                    (Ok(_), Ok(_)) => Err(already),
                    (Err(err), _) | (_, Err(err)) => Err(unknown_outcome(to, err)),
                }
            }
            result => result,
        }
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

/// Runs `attempt` until it succeeds, fails for good, or the retries run out.
/// Returns the last attempt's result, and whether an earlier attempt failed
/// transiently (and so may have taken effect on the server).
async fn with_retries<T, F, Fut>(
    config: &RetryConfig,
    op: &'static str,
    location: &Path,
    mut attempt: F,
) -> (Result<T>, bool)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut retry = 0;
    loop {
        match attempt().await {
            Err(err) if is_transient(&err) && retry < config.max_retries => {
                let pause = config.backoff(retry);
                tracing::info!(op, %location, retry, ?pause, error = %err, "retrying an object store request");
                tokio::time::sleep(pause).await;
                retry += 1;
            }
            result => return (result, retry > 0),
        }
    }
}

/// The error for a create whose outcome could not be settled.
fn unknown_outcome(location: &Path, err: object_store::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "RetryStore",
        source: format!(
            "outcome unknown: a create of {location} failed transiently and then found an \
             object there, but reading it back to see whose it is failed: {err}"
        )
        .into(),
    }
}

/// Whether `bytes` are exactly the bytes of `payload`.
fn payload_eq(payload: &PutPayload, bytes: &[u8]) -> bool {
    if payload.content_length() != bytes.len() {
        return false;
    }
    let mut rest = bytes;
    for chunk in payload.iter() {
        match (rest.get(..chunk.len()), rest.get(chunk.len()..)) {
            (Some(head), Some(tail)) if head == chunk.as_ref() => rest = tail,
            _ => return false,
        }
    }
    rest.is_empty()
}

/// The state of a GET body that resumes after transient failures.
struct Resume {
    inner: Arc<dyn ObjectStore>,
    config: RetryConfig,
    location: Path,
    /// Pin resumed reads to the object first read, so that a different object
    /// written at the same name in between is an error, not a splice.
    e_tag: Option<String>,
    version: Option<String>,
    /// The absolute offset of the next byte owed to the caller.
    next: u64,
    /// The absolute end of the range the caller asked for.
    end: u64,
    body: BoxStream<'static, Result<Bytes>>,
    /// Transient failures since the last chunk that arrived.
    failures: u32,
}

fn resume_body(state: Resume) -> BoxStream<'static, Result<Bytes>> {
    stream::unfold(Some(state), |state| async move {
        let mut s = state?;
        loop {
            match s.body.next().await {
                Some(Ok(chunk)) => {
                    s.next += chunk.len() as u64;
                    s.failures = 0;
                    return Some((Ok(chunk), Some(s)));
                }
                Some(Err(err))
                    if is_transient(&err) && s.failures < s.config.max_retries && s.next < s.end =>
                {
                    tracing::info!(location = %s.location, offset = s.next, error = %err, "resuming a broken object store read");
                    tokio::time::sleep(s.config.backoff(s.failures)).await;
                    s.failures += 1;
                    let options = GetOptions::new()
                        .with_if_match(s.e_tag.clone())
                        .with_version(s.version.clone())
                        .with_range(Some(s.next..s.end));
                    s.body = match s.inner.get_opts(&s.location, options).await {
                        Ok(rest) => rest.into_stream(),
                        // Loops round to be retried or returned like a body error.
                        Err(err) => stream::once(ready(Err(err))).boxed(),
                    };
                }
                Some(Err(err)) => return Some((Err(err), None)),
                None => return None,
            }
        }
    })
    .boxed()
}

/// Retries failed multipart parts inside HTTP backends, with our backoff.
#[derive(Debug)]
struct PartRetryPolicy(RetryConfig);

#[async_trait]
impl RetryPolicy for PartRetryPolicy {
    async fn retry(&self, context: RetryContext) -> bool {
        let transient = match context.failure {
            RetryFailure::Status(status) => {
                status.is_server_error() || matches!(status.as_u16(), 408 | 429)
            }
            // A part is idempotent (same number, same bytes), so even a
            // timeout after sending is safe to repeat.
            RetryFailure::Transport(_) => true,
            _ => false,
        };
        let retry = u32::try_from(context.attempt.saturating_sub(1)).unwrap_or(u32::MAX);
        if !transient || retry >= self.0.max_retries {
            return false;
        }
        tokio::time::sleep(self.0.backoff(retry)).await;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_then_caps_with_jitter() {
        let config = RetryConfig::default();
        for _ in 0..100 {
            let first = config.backoff(0);
            assert!(first >= Duration::from_millis(10) && first <= Duration::from_millis(20));
            let third = config.backoff(2);
            assert!(third >= Duration::from_millis(40) && third <= Duration::from_millis(80));
            let late = config.backoff(40);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_secs(1));
        }
    }

    #[test]
    fn payload_comparison_spans_chunks() {
        let payload: PutPayload = [Bytes::from_static(b"ab"), Bytes::from_static(b"cd")]
            .into_iter()
            .collect();
        assert!(payload_eq(&payload, b"abcd"));
        assert!(!payload_eq(&payload, b"abce"));
        assert!(!payload_eq(&payload, b"abc"));
        assert!(payload_eq(&PutPayload::new(), b""));
    }

    /// A store whose first GET body breaks off after `cut` bytes.
    #[derive(Debug)]
    struct BreakingBody {
        inner: object_store::memory::InMemory,
        cut: usize,
        broken: std::sync::atomic::AtomicBool,
    }

    impl fmt::Display for BreakingBody {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("BreakingBody")
        }
    }

    #[async_trait]
    impl ObjectStore for BreakingBody {
        async fn put_opts(&self, l: &Path, p: PutPayload, o: PutOptions) -> Result<PutResult> {
            self.inner.put_opts(l, p, o).await
        }
        async fn put_multipart_opts(
            &self,
            l: &Path,
            o: PutMultipartOptions,
        ) -> Result<Box<dyn MultipartUpload>> {
            self.inner.put_multipart_opts(l, o).await
        }
        async fn get_opts(&self, l: &Path, o: GetOptions) -> Result<GetResult> {
            let got = self.inner.get_opts(l, o).await?;
            if self.broken.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return Ok(got);
            }
            let bytes = got.bytes().await?;
            let again = self.inner.get_opts(l, GetOptions::default()).await?;
            let head = bytes.slice(..self.cut);
            let err = object_store::Error::Generic {
                store: "BreakingBody",
                source: "connection reset".into(),
            };
            let body = stream::iter([Ok(head), Err(err)]).boxed();
            Ok(GetResult {
                payload: GetResultPayload::Stream(body),
                ..again
            })
        }
        fn delete_stream(
            &self,
            l: BoxStream<'static, Result<Path>>,
        ) -> BoxStream<'static, Result<Path>> {
            self.inner.delete_stream(l)
        }
        fn list(&self, p: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
            self.inner.list(p)
        }
        async fn list_with_delimiter(&self, p: Option<&Path>) -> Result<ListResult> {
            self.inner.list_with_delimiter(p).await
        }
        async fn copy_opts(&self, f: &Path, t: &Path, o: CopyOptions) -> Result<()> {
            self.inner.copy_opts(f, t, o).await
        }
    }

    #[tokio::test]
    async fn a_broken_body_resumes_where_it_stopped() {
        let inner = Arc::new(BreakingBody {
            inner: object_store::memory::InMemory::new(),
            cut: 4,
            broken: Default::default(),
        });
        let path = Path::from("sst/1.sst");
        inner.put(&path, "0123456789".into()).await.expect("put");
        let store = RetryStore::new(inner, RetryConfig::default());
        let got = store.get(&path).await.expect("get");
        assert_eq!(got.bytes().await.expect("whole body"), &b"0123456789"[..]);
    }

    #[test]
    fn only_generic_errors_are_transient() {
        let generic = object_store::Error::Generic {
            store: "test",
            source: "boom".into(),
        };
        assert!(is_transient(&generic));
        let exists = object_store::Error::AlreadyExists {
            path: "a".into(),
            source: "exists".into(),
        };
        assert!(!is_transient(&exists));
    }
}
