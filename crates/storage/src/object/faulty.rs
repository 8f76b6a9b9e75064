//! [`FaultyStore`]: injects latency and transient failures into the store it
//! wraps, steered at run time through a shared [`FaultConfig`], so that tests
//! and benchmarks can make the object store slow or broken at chosen requests
//! (Neon's unreliable wrapper, SlateDB's failing store).
//!
//! Every request is numbered (see [`FaultConfig::requests`]), so a crash test
//! can run a workload once, count its requests N, then rerun it failing at
//! request 1, 2, ..., N in turn. A failure comes in two flavours:
//! * *before*: the request never reaches the wrapped store (nothing is
//!   written) and a transient error is returned;
//! * *after* ([`FaultConfig::fail_after_nth`]): the request reaches the
//!   wrapped store and takes effect, then a transient error is returned, as
//!   when a response is lost on the way back.
//!
//! Requests fall into the classes of [`FailFilter`]: `Put` covers puts, the
//! start of multipart uploads (not their parts), copies and renames; `Get`
//! covers gets, heads and ranged reads; `List` covers every listing; `Delete`
//! counts one request per deleted location.

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::ready;
use futures::stream::{self, BoxStream};
use futures::StreamExt;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// Which requests a fault applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailFilter {
    Any,
    Put,
    Get,
    List,
    Delete,
}

impl FailFilter {
    /// Whether a fault with this filter applies to a request of `class`.
    fn matches(self, class: FailFilter) -> bool {
        self == FailFilter::Any || self == class
    }

    fn latency_slot(self) -> usize {
        match self {
            FailFilter::Any | FailFilter::Put => 0,
            FailFilter::Get => 1,
            FailFilter::List => 2,
            FailFilter::Delete => 3,
        }
    }
}

/// A one-shot failure at the `remaining`-th matching request from now.
#[derive(Debug)]
struct Nth {
    filter: FailFilter,
    remaining: u64,
    /// Let the request take effect before failing it.
    after: bool,
}

/// A seeded fraction of matching requests fails.
#[derive(Debug)]
struct Fraction {
    filter: FailFilter,
    probability: f64,
    seed: u64,
}

#[derive(Debug, Default)]
struct Faults {
    /// Added before each request, by class (put, get, list, delete).
    latency: [Duration; 4],
    nth: Vec<Nth>,
    fraction: Option<Fraction>,
    /// Every matching request fails: the store is down.
    all: Option<FailFilter>,
}

/// What to do to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    Before,
    /// Fail it after it took effect; carries the request's number.
    After(u64),
}

/// The faults a [`FaultyStore`] injects, changeable while the store is in use.
#[derive(Debug, Default)]
pub struct FaultConfig {
    faults: Mutex<Faults>,
    /// Requests seen so far, failed ones included.
    requests: AtomicU64,
    /// Failures injected so far.
    injected: AtomicU64,
}

impl FaultConfig {
    /// A configuration that injects nothing.
    pub fn new() -> Arc<FaultConfig> {
        Arc::default()
    }

    /// Requests seen so far (all classes, failed ones included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Failures injected so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }

    /// Adds `latency` before every request of class `filter` (`Any`: all).
    pub fn set_latency(&self, filter: FailFilter, latency: Duration) {
        let mut faults = self.lock();
        if filter == FailFilter::Any {
            faults.latency = [latency; 4];
        } else {
            faults.latency[filter.latency_slot()] = latency;
        }
    }

    pub fn set_put_latency(&self, latency: Duration) {
        self.set_latency(FailFilter::Put, latency);
    }

    pub fn set_get_latency(&self, latency: Duration) {
        self.set_latency(FailFilter::Get, latency);
    }

    /// Fails the `n`-th request matching `filter` from now (the next one is
    /// `n = 1`; 0 counts as 1) before it reaches the wrapped store. Calls add
    /// up: `fail_nth(1, ..)` then `fail_nth(2, ..)` fails the next two.
    pub fn fail_nth(&self, n: u64, filter: FailFilter) {
        self.push_nth(n, filter, false);
    }

    /// Like [`fail_nth`](Self::fail_nth), but the request reaches the wrapped
    /// store and takes effect before the error is returned.
    pub fn fail_after_nth(&self, n: u64, filter: FailFilter) {
        self.push_nth(n, filter, true);
    }

    /// Fails each request matching `filter` with probability `probability`,
    /// decided by hashing `seed` with the request's number, so a rerun that
    /// makes the same requests in the same order fails the same ones.
    pub fn fail_fraction(&self, probability: f64, seed: u64, filter: FailFilter) {
        self.lock().fraction = Some(Fraction {
            filter,
            probability,
            seed,
        });
    }

    /// Fails every request matching `filter` until [`heal`](Self::heal).
    pub fn fail_all(&self, filter: FailFilter) {
        self.lock().all = Some(filter);
    }

    /// Removes every pending failure; latency stays.
    pub fn heal(&self) {
        let mut faults = self.lock();
        faults.nth.clear();
        faults.fraction = None;
        faults.all = None;
    }

    /// Removes every failure and all latency.
    pub fn reset(&self) {
        *self.lock() = Faults::default();
    }

    fn push_nth(&self, n: u64, filter: FailFilter, after: bool) {
        self.lock().nth.push(Nth {
            filter,
            remaining: n.max(1),
            after,
        });
    }

    fn lock(&self) -> MutexGuard<'_, Faults> {
        // A test that panicked mid-update leaves plain data: still usable.
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Numbers a request of `class`, waits out its latency and decides its
    /// fate: `Err` if it must fail before reaching the store, else whether
    /// it must fail after.
    async fn admit(&self, class: FailFilter, op: &str, location: &Path) -> Result<Fault> {
        let number = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let (latency, fault) = {
            let mut faults = self.lock();
            let mut fault = Fault::None;
            for nth in faults
                .nth
                .iter_mut()
                .filter(|nth| nth.filter.matches(class))
            {
                nth.remaining -= 1;
                if nth.remaining == 0 {
                    fault = if nth.after {
                        Fault::After(number)
                    } else {
                        Fault::Before
                    };
                }
            }
            faults.nth.retain(|nth| nth.remaining > 0);
            if faults.all.is_some_and(|all| all.matches(class)) {
                fault = Fault::Before;
            }
            if let Some(fraction) = &faults.fraction {
                if fraction.filter.matches(class)
                    && unit_interval(fraction.seed, number) < fraction.probability
                {
                    fault = Fault::Before;
                }
            }
            (faults.latency[class.latency_slot()], fault)
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        match fault {
            Fault::Before => Err(self.injected_error(op, number, location, "before")),
            _ => Ok(fault),
        }
    }

    /// Turns a successful result into the injected error if the request
    /// was to fail after taking effect.
    fn conclude<T>(&self, fault: Fault, op: &str, location: &Path, result: Result<T>) -> Result<T> {
        match (fault, result) {
            (Fault::After(number), Ok(_)) => {
                Err(self.injected_error(op, number, location, "after"))
            }
            (_, result) => result,
        }
    }

    fn injected_error(
        &self,
        op: &str,
        number: u64,
        location: &Path,
        when: &str,
    ) -> object_store::Error {
        self.injected.fetch_add(1, Ordering::SeqCst);
        object_store::Error::Generic {
            store: "FaultyStore",
            source: format!("injected fault {when} {op} of {location} (request {number})").into(),
        }
    }
}

/// A deterministic number in [0, 1) from a seed and a request number
/// (splitmix64).
fn unit_interval(seed: u64, number: u64) -> f64 {
    let mut z = seed ^ number.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// An [`ObjectStore`] that injects the faults of its [`FaultConfig`] into
/// the store it wraps; see the [module documentation](self).
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    faults: Arc<FaultConfig>,
}

impl FaultyStore {
    /// Wraps `inner` with a fresh configuration that injects nothing yet.
    pub fn new(inner: Arc<dyn ObjectStore>) -> FaultyStore {
        FaultyStore::with_config(inner, FaultConfig::new())
    }

    /// Wraps `inner`, sharing `faults` with whoever else holds it.
    pub fn with_config(inner: Arc<dyn ObjectStore>, faults: Arc<FaultConfig>) -> FaultyStore {
        FaultyStore { inner, faults }
    }

    /// The handle that steers this store's faults.
    pub fn faults(&self) -> Arc<FaultConfig> {
        Arc::clone(&self.faults)
    }
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let fault = self.faults.admit(FailFilter::Put, "put", location).await?;
        let result = self.inner.put_opts(location, payload, opts).await;
        self.faults.conclude(fault, "put", location, result)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        let op = "put_multipart";
        let fault = self.faults.admit(FailFilter::Put, op, location).await?;
        let result = self.inner.put_multipart_opts(location, opts).await;
        self.faults.conclude(fault, op, location, result)
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let fault = self.faults.admit(FailFilter::Get, "get", location).await?;
        let result = self.inner.get_opts(location, options).await;
        self.faults.conclude(fault, "get", location, result)
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let fault = self.faults.admit(FailFilter::Get, "get", location).await?;
        let result = self.inner.get_ranges(location, ranges).await;
        self.faults.conclude(fault, "get", location, result)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let inner = Arc::clone(&self.inner);
        let faults = Arc::clone(&self.faults);
        locations
            .then(move |location| {
                let inner = Arc::clone(&inner);
                let faults = Arc::clone(&faults);
                async move {
                    let location = location?;
                    let fault = faults
                        .admit(FailFilter::Delete, "delete", &location)
                        .await?;
                    let result = inner.delete(&location).await;
                    faults.conclude(fault, "delete", &location, result)?;
                    Ok(location)
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let inner = Arc::clone(&self.inner);
        let prefix = prefix.cloned();
        self.faulty_listing(move || inner.list(prefix.as_ref()))
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let inner = Arc::clone(&self.inner);
        let prefix = prefix.cloned();
        let offset = offset.clone();
        self.faulty_listing(move || inner.list_with_offset(prefix.as_ref(), &offset))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let location = prefix.cloned().unwrap_or_default();
        let fault = self
            .faults
            .admit(FailFilter::List, "list", &location)
            .await?;
        let result = self.inner.list_with_delimiter(prefix).await;
        self.faults.conclude(fault, "list", &location, result)
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        let fault = self.faults.admit(FailFilter::Put, "copy", to).await?;
        let result = self.inner.copy_opts(from, to, options).await;
        self.faults.conclude(fault, "copy", to, result)
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        let fault = self.faults.admit(FailFilter::Put, "rename", to).await?;
        let result = self.inner.rename_opts(from, to, options).await;
        self.faults.conclude(fault, "rename", to, result)
    }
}

impl FaultyStore {
    /// A listing that counts as one request, admitted when first polled.
    fn faulty_listing<F>(&self, open: F) -> BoxStream<'static, Result<ObjectMeta>>
    where
        F: FnOnce() -> BoxStream<'static, Result<ObjectMeta>> + Send + 'static,
    {
        let faults = Arc::clone(&self.faults);
        stream::once(async move {
            let location = Path::default();
            match faults.admit(FailFilter::List, "list", &location).await {
                Err(err) => stream::once(ready(Err(err))).boxed(),
                // Listing has no effect to let through: fail it outright.
                Ok(Fault::After(number)) => {
                    let err = faults.injected_error("list", number, &location, "after");
                    stream::once(ready(Err(err))).boxed()
                }
                Ok(_) => open(),
            }
        })
        .flatten()
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    fn store() -> (Arc<InMemory>, FaultyStore) {
        let inner = Arc::new(InMemory::new());
        (Arc::clone(&inner), FaultyStore::new(inner))
    }

    #[tokio::test]
    async fn fail_nth_counts_matching_requests_and_blocks_the_write() {
        let (inner, store) = store();
        let faults = store.faults();
        faults.fail_nth(2, FailFilter::Put);
        let (a, b, c) = (Path::from("a"), Path::from("b"), Path::from("c"));
        store.put(&a, "1".into()).await.expect("first put");
        store.head(&a).await.expect("a get does not count");
        assert!(store.put(&b, "2".into()).await.is_err());
        store.put(&c, "3".into()).await.expect("one-shot");
        assert!(inner.head(&b).await.is_err(), "the failed put never landed");
        assert_eq!((faults.requests(), faults.injected()), (4, 1));
    }

    #[tokio::test]
    async fn fail_after_nth_lets_the_write_land() {
        let (inner, store) = store();
        store.faults().fail_after_nth(1, FailFilter::Any);
        let a = Path::from("a");
        assert!(store.put(&a, "1".into()).await.is_err());
        inner.head(&a).await.expect("the write landed");
    }

    #[tokio::test]
    async fn fail_fraction_is_deterministic() {
        let mut outcomes = Vec::new();
        for _ in 0..2 {
            let (_, store) = store();
            store.faults().fail_fraction(0.5, 7, FailFilter::Any);
            let mut run = Vec::new();
            for i in 0..64 {
                run.push(
                    store
                        .put(&Path::from(format!("k{i}")), "v".into())
                        .await
                        .is_ok(),
                );
            }
            outcomes.push(run);
        }
        assert_eq!(outcomes[0], outcomes[1]);
        let failed = outcomes[0].iter().filter(|ok| !**ok).count();
        assert!((16..=48).contains(&failed), "{failed} of 64 failed");
    }

    #[tokio::test]
    async fn fail_all_until_healed() {
        let (_, store) = store();
        let faults = store.faults();
        faults.fail_all(FailFilter::List);
        let listed: Vec<_> = store.list(None).collect().await;
        assert!(matches!(listed.as_slice(), [Err(_)]));
        store
            .put(&Path::from("a"), "1".into())
            .await
            .expect("puts pass");
        faults.heal();
        let listed: Vec<_> = store.list(None).collect().await;
        assert!(matches!(listed.as_slice(), [Ok(_)]));
    }

    #[tokio::test]
    async fn latency_is_per_class() {
        let (_, store) = store();
        let latency = Duration::from_millis(200);
        store.faults().set_put_latency(latency);
        let started = std::time::Instant::now();
        store.put(&Path::from("a"), "1".into()).await.expect("put");
        assert!(started.elapsed() >= latency);
        let started = std::time::Instant::now();
        store.head(&Path::from("a")).await.expect("head");
        assert!(started.elapsed() < latency);
    }
}
