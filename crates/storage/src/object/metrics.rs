//! [`MetricsStore`]: counts requests, errors, bytes and latency per
//! operation of the store it wraps, for `/metrics` and for tests that assert
//! how many requests an algorithm makes.
//!
//! Counting rules, chosen so that every number is cheap and unambiguous:
//! * A request is one call into the wrapped store; for `delete_stream`, one
//!   location; for a multipart upload, its start, each part, and its
//!   completion or abort. A listing is one request however many pages the
//!   backend fetches.
//! * Bytes read are the length of the range a GET returned (counted when the
//!   response arrives, whether or not the caller reads the whole body); bytes
//!   written are the payload of puts and parts.
//! * Latency is the time until the response arrives, not including reading
//!   the body. For a stream (list, delete) it runs until the stream ends.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::ready;
use futures::stream::{self, BoxStream};
use futures::StreamExt;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result, UploadPart,
};

/// The operations counted apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Put,
    PutMultipart,
    Get,
    Head,
    Delete,
    List,
    Copy,
    Rename,
}

impl Op {
    pub const ALL: [Op; 8] = [
        Op::Put,
        Op::PutMultipart,
        Op::Get,
        Op::Head,
        Op::Delete,
        Op::List,
        Op::Copy,
        Op::Rename,
    ];

    /// The name used as the `op` label.
    pub fn name(self) -> &'static str {
        match self {
            Op::Put => "put",
            Op::PutMultipart => "put_multipart",
            Op::Get => "get",
            Op::Head => "head",
            Op::Delete => "delete",
            Op::List => "list",
            Op::Copy => "copy",
            Op::Rename => "rename",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The counts of one operation at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpMetrics {
    pub requests: u64,
    /// Requests that returned an error (of any kind, AlreadyExists included).
    pub errors: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// The sum of all requests' latencies.
    pub latency: Duration,
}

impl OpMetrics {
    fn add(&mut self, other: &OpMetrics) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.bytes_read += other.bytes_read;
        self.bytes_written += other.bytes_written;
        self.latency += other.latency;
    }
}

/// A snapshot of a [`MetricsStore`]'s counters, one entry per [`Op`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreMetrics {
    pub ops: BTreeMap<Op, OpMetrics>,
}

impl StoreMetrics {
    /// The counts of `op` (zero if it never ran).
    pub fn op(&self, op: Op) -> OpMetrics {
        self.ops.get(&op).copied().unwrap_or_default()
    }

    /// The counts of all operations together.
    pub fn total(&self) -> OpMetrics {
        let mut total = OpMetrics::default();
        for metrics in self.ops.values() {
            total.add(metrics);
        }
        total
    }

    /// The snapshot in the Prometheus text exposition format.
    pub fn prometheus_text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for StoreMetrics {
    /// Renders the Prometheus text exposition format, every operation listed
    /// so that the series exist from the start.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        type Field = fn(&OpMetrics) -> String;
        let families: [(&str, &str, Field); 5] = [
            ("requests_total", "Object store requests.", |m| {
                m.requests.to_string()
            }),
            ("errors_total", "Object store requests that failed.", |m| {
                m.errors.to_string()
            }),
            (
                "read_bytes_total",
                "Bytes read from the object store.",
                |m| m.bytes_read.to_string(),
            ),
            (
                "written_bytes_total",
                "Bytes written to the object store.",
                |m| m.bytes_written.to_string(),
            ),
            (
                "request_seconds_total",
                "Time spent waiting for object store responses.",
                |m| m.latency.as_secs_f64().to_string(),
            ),
        ];
        for (name, help, value) in families {
            writeln!(f, "# HELP shoal_object_store_{name} {help}")?;
            writeln!(f, "# TYPE shoal_object_store_{name} counter")?;
            for op in Op::ALL {
                let metrics = self.op(op);
                writeln!(
                    f,
                    "shoal_object_store_{name}{{op=\"{op}\"}} {}",
                    value(&metrics)
                )?;
            }
        }
        Ok(())
    }
}

/// Live counters of one operation.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    errors: AtomicU64,
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
    latency_nanos: AtomicU64,
}

/// Live counters of every operation, shared with the streams and uploads
/// that outlive a call.
#[derive(Debug, Default)]
struct Meters([Counters; Op::ALL.len()]);

impl Meters {
    fn get(&self, op: Op) -> &Counters {
        &self.0[op.index()]
    }

    fn request(&self, op: Op) {
        self.get(op).requests.fetch_add(1, Ordering::Relaxed);
    }

    fn error(&self, op: Op) {
        self.get(op).errors.fetch_add(1, Ordering::Relaxed);
    }

    fn latency(&self, op: Op, started: Instant) {
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.get(op)
            .latency_nanos
            .fetch_add(nanos, Ordering::Relaxed);
    }

    /// Counts one finished request.
    fn finish<T>(&self, op: Op, started: Instant, result: &Result<T>) {
        self.request(op);
        self.latency(op, started);
        if result.is_err() {
            self.error(op);
        }
    }

    fn read(&self, op: Op, bytes: u64) {
        self.get(op).bytes_read.fetch_add(bytes, Ordering::Relaxed);
    }

    fn written(&self, op: Op, bytes: usize) {
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        self.get(op)
            .bytes_written
            .fetch_add(bytes, Ordering::Relaxed);
    }

    fn snapshot(&self) -> StoreMetrics {
        let ops = Op::ALL
            .into_iter()
            .map(|op| {
                let c = self.get(op);
                let metrics = OpMetrics {
                    requests: c.requests.load(Ordering::Relaxed),
                    errors: c.errors.load(Ordering::Relaxed),
                    bytes_read: c.bytes_read.load(Ordering::Relaxed),
                    bytes_written: c.bytes_written.load(Ordering::Relaxed),
                    latency: Duration::from_nanos(c.latency_nanos.load(Ordering::Relaxed)),
                };
                (op, metrics)
            })
            .collect();
        StoreMetrics { ops }
    }
}

/// An [`ObjectStore`] that counts what passes through it. Keep the
/// `Arc<MetricsStore>` from [`MetricsStore::new`] to read the counts while the
/// same `Arc`, coerced to `Arc<dyn ObjectStore>`, serves requests.
#[derive(Debug)]
pub struct MetricsStore {
    inner: Arc<dyn ObjectStore>,
    meters: Arc<Meters>,
}

impl MetricsStore {
    pub fn new(inner: Arc<dyn ObjectStore>) -> Arc<MetricsStore> {
        Arc::new(MetricsStore {
            inner,
            meters: Arc::default(),
        })
    }

    /// The counts so far.
    pub fn snapshot(&self) -> StoreMetrics {
        self.meters.snapshot()
    }

    /// The counts so far in the Prometheus text exposition format.
    pub fn prometheus_text(&self) -> String {
        self.snapshot().prometheus_text()
    }

    /// Counts one request per call, errors per failed item, and latency
    /// until the stream ends.
    fn observe_listing<T: Send + 'static>(
        &self,
        op: Op,
        items: BoxStream<'static, Result<T>>,
    ) -> BoxStream<'static, Result<T>> {
        let started = Instant::now();
        self.meters.request(op);
        let on_item = Arc::clone(&self.meters);
        let on_end = Arc::clone(&self.meters);
        items
            .inspect(move |item| {
                if item.is_err() {
                    on_item.error(op);
                }
            })
            .chain(
                stream::once(async move { on_end.latency(op, started) })
                    .filter_map(|()| ready(None)),
            )
            .boxed()
    }
}

impl fmt::Display for MetricsStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MetricsStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for MetricsStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let started = Instant::now();
        let len = payload.content_length();
        let result = self.inner.put_opts(location, payload, opts).await;
        self.meters.finish(Op::Put, started, &result);
        if result.is_ok() {
            self.meters.written(Op::Put, len);
        }
        result
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        let started = Instant::now();
        let result = self.inner.put_multipart_opts(location, opts).await;
        self.meters.finish(Op::PutMultipart, started, &result);
        let upload = result?;
        Ok(Box::new(MeteredUpload {
            upload,
            meters: Arc::clone(&self.meters),
        }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let op = if options.head { Op::Head } else { Op::Get };
        let started = Instant::now();
        let result = self.inner.get_opts(location, options).await;
        self.meters.finish(op, started, &result);
        if let Ok(got) = &result {
            if op == Op::Get {
                self.meters
                    .read(op, got.range.end.saturating_sub(got.range.start));
            }
        }
        result
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let started = Instant::now();
        let result = self.inner.get_ranges(location, ranges).await;
        self.meters.finish(Op::Get, started, &result);
        if let Ok(parts) = &result {
            let len: usize = parts.iter().map(Bytes::len).sum();
            self.meters
                .read(Op::Get, u64::try_from(len).unwrap_or(u64::MAX));
        }
        result
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let started = Instant::now();
        let on_item = Arc::clone(&self.meters);
        let on_end = Arc::clone(&self.meters);
        self.inner
            .delete_stream(locations)
            .inspect(move |item| {
                on_item.request(Op::Delete);
                if item.is_err() {
                    on_item.error(Op::Delete);
                }
            })
            .chain(
                stream::once(async move { on_end.latency(Op::Delete, started) })
                    .filter_map(|()| ready(None)),
            )
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.observe_listing(Op::List, self.inner.list(prefix))
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.observe_listing(Op::List, self.inner.list_with_offset(prefix, offset))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let started = Instant::now();
        let result = self.inner.list_with_delimiter(prefix).await;
        self.meters.finish(Op::List, started, &result);
        result
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        let started = Instant::now();
        let result = self.inner.copy_opts(from, to, options).await;
        self.meters.finish(Op::Copy, started, &result);
        result
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        let started = Instant::now();
        let result = self.inner.rename_opts(from, to, options).await;
        self.meters.finish(Op::Rename, started, &result);
        result
    }
}

/// A multipart upload whose parts and completion are counted.
#[derive(Debug)]
struct MeteredUpload {
    upload: Box<dyn MultipartUpload>,
    meters: Arc<Meters>,
}

#[async_trait]
impl MultipartUpload for MeteredUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let started = Instant::now();
        let len = data.content_length();
        let part = self.upload.put_part(data);
        let meters = Arc::clone(&self.meters);
        Box::pin(async move {
            let result = part.await;
            meters.finish(Op::PutMultipart, started, &result);
            if result.is_ok() {
                meters.written(Op::PutMultipart, len);
            }
            result
        })
    }

    async fn complete(&mut self) -> Result<PutResult> {
        let started = Instant::now();
        let result = self.upload.complete().await;
        self.meters.finish(Op::PutMultipart, started, &result);
        result
    }

    async fn abort(&mut self) -> Result<()> {
        let started = Instant::now();
        let result = self.upload.abort().await;
        self.meters.finish(Op::PutMultipart, started, &result);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;
    use object_store::memory::InMemory;
    use object_store::{ObjectStoreExt, PutMode, WriteMultipart};

    #[tokio::test]
    async fn counts_requests_errors_and_bytes() {
        let metrics = MetricsStore::new(Arc::new(InMemory::new()));
        let store: Arc<dyn ObjectStore> = metrics.clone();
        let path = Path::from("a/b");
        store.put(&path, "hello".into()).await.expect("put");
        let create = store
            .put_opts(&path, "again".into(), PutMode::Create.into())
            .await;
        assert!(matches!(
            create,
            Err(object_store::Error::AlreadyExists { .. })
        ));
        assert_eq!(store.get(&path).await.expect("get").meta.size, 5);
        store.get_range(&path, 1..3).await.expect("get_range");
        store.head(&path).await.expect("head");
        let listed: Vec<_> = store.list(None).try_collect().await.expect("list");
        assert_eq!(listed.len(), 1);
        store.delete(&path).await.expect("delete");

        let mut upload = WriteMultipart::new(store.put_multipart(&path).await.expect("start"));
        upload.write(b"12345678");
        upload.finish().await.expect("finish");

        let snap = metrics.snapshot();
        let put = snap.op(Op::Put);
        assert_eq!((put.requests, put.errors, put.bytes_written), (2, 1, 5));
        let get = snap.op(Op::Get);
        assert_eq!((get.requests, get.bytes_read), (2, 7));
        assert_eq!(snap.op(Op::Head).requests, 1);
        assert_eq!(snap.op(Op::List).requests, 1);
        assert_eq!(snap.op(Op::Delete).requests, 1);
        let multipart = snap.op(Op::PutMultipart);
        assert_eq!((multipart.requests, multipart.bytes_written), (3, 8));
        assert_eq!(snap.total().requests, 10);
        assert!(snap.total().latency > Duration::ZERO);
    }

    #[test]
    fn renders_prometheus_text() {
        let mut snap = StoreMetrics::default();
        snap.ops.insert(
            Op::Put,
            OpMetrics {
                requests: 3,
                errors: 1,
                bytes_written: 42,
                latency: Duration::from_millis(1500),
                ..Default::default()
            },
        );
        let text = snap.prometheus_text();
        assert!(text.contains("# TYPE shoal_object_store_requests_total counter\n"));
        assert!(text.contains("shoal_object_store_requests_total{op=\"put\"} 3\n"));
        assert!(text.contains("shoal_object_store_errors_total{op=\"put\"} 1\n"));
        assert!(text.contains("shoal_object_store_written_bytes_total{op=\"put\"} 42\n"));
        assert!(text.contains("shoal_object_store_request_seconds_total{op=\"put\"} 1.5\n"));
        assert!(text.contains("shoal_object_store_requests_total{op=\"get\"} 0\n"));
    }
}
