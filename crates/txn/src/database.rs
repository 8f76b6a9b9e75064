//! The frontend's view of the database: its read copy of the store (SSTs
//! through the page cache, and a memtable fed by the coordinator's visible
//! batches) and its coordinator connection.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use shoal_coordinator::client::{endpoint_url, CoordinatorClient, Follow};
use shoal_storage::cache::DiskCacheOptions;
use shoal_storage::db::{Store, StoreOptions};
use shoal_storage::{CommittedTxn, Lsn};

use shoal_coordinator::error::ErrorKind as CoordKind;

use crate::error::{Error, ErrorKind, Result};
use crate::transaction::{Isolation, Transaction};
use crate::CATALOG_PREFIX;

/// How a frontend reaches the cluster.
#[derive(Clone, Debug)]
pub struct DatabaseOptions {
    /// This frontend's id, unique in the cluster.
    pub frontend_id: u64,
    /// The coordinators' gRPC addresses (`host:port` or URLs, comma
    /// separated), tried in order; the leader named in the store is tried
    /// after them.
    pub coordinator: String,
    /// The address clients reach this frontend at (for cluster status).
    pub address: String,
    /// Page cache size in bytes.
    pub cache_bytes: u64,
    /// The page cache's disk tier, if any (a restarted frontend then
    /// starts warm).
    pub disk_cache: Option<DiskCacheOptions>,
}

/// Counts the snapshots in use, so heartbeats can report the oldest.
#[derive(Default)]
pub(crate) struct Snapshots {
    counts: Mutex<BTreeMap<Lsn, usize>>,
}

impl Snapshots {
    pub(crate) fn register(&self, lsn: Lsn) {
        *self
            .counts
            .lock()
            .expect("snapshots lock")
            .entry(lsn)
            .or_default() += 1;
    }

    pub(crate) fn release(&self, lsn: Lsn) {
        let mut counts = self.counts.lock().expect("snapshots lock");
        if let Some(n) = counts.get_mut(&lsn) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&lsn);
            }
        }
    }

    fn oldest(&self) -> Option<Lsn> {
        self.counts
            .lock()
            .expect("snapshots lock")
            .keys()
            .next()
            .copied()
    }
}

/// One frontend's database: shared by all of its sessions.
///
/// The coordinator membership behind it is replaced when it is lost (the
/// lease ran out, the coordinator died or evicted this frontend): a
/// background task joins again, at whichever coordinator leads now, and
/// catches up before anything is served. Transactions keep the membership
/// they began under, so one that spans a loss fails instead of mixing two.
pub struct Database {
    pub(crate) store: Arc<Store>,
    client: RwLock<Arc<CoordinatorClient>>,
    opts: DatabaseOptions,
    follow: Follow,
    /// Set once the frontend is shutting down: no more re-joins.
    leaving: std::sync::atomic::AtomicBool,
    rejoins: AtomicU64,
    pub(crate) frontend_id: u64,
    next_txn: AtomicU64,
    catalog_version: Arc<AtomicU64>,
    pub(crate) snapshots: Arc<Snapshots>,
    /// Cached sequence blocks: sequence id -> (next, last) counter values.
    sequences: tokio::sync::Mutex<HashMap<u64, (u64, u64)>>,
}

impl Database {
    /// Opens the store at `store_url` read-only and joins the coordinator.
    pub async fn open(store_url: &str, opts: DatabaseOptions) -> Result<Arc<Database>> {
        let store = Store::open_url(
            store_url,
            StoreOptions {
                cache_bytes: opts.cache_bytes,
                disk_cache: opts.disk_cache.clone(),
                // Caught up by the coordinator's stream, not the WAL.
                replay_wal: false,
                warm_cache: true,
                ..StoreOptions::default()
            },
        )
        .await?;
        Database::join(Arc::new(store), opts).await
    }

    /// Opens the store under `root` of `objects` read-only and joins the
    /// coordinator (a frontend sharing an object store with others in
    /// this process, such as `memory://` in tests).
    pub async fn open_on(
        objects: Arc<dyn object_store::ObjectStore>,
        root: object_store::path::Path,
        opts: DatabaseOptions,
    ) -> Result<Arc<Database>> {
        let store = Store::open(
            objects,
            root,
            StoreOptions {
                cache_bytes: opts.cache_bytes,
                disk_cache: opts.disk_cache.clone(),
                // Caught up by the coordinator's stream, not the WAL.
                replay_wal: false,
                warm_cache: true,
                ..StoreOptions::default()
            },
        )
        .await?;
        Database::join(Arc::new(store), opts).await
    }

    /// Joins the coordinator with an already opened `store`, which this
    /// frontend then only reads and feeds with visible batches.
    pub async fn join(store: Arc<Store>, opts: DatabaseOptions) -> Result<Arc<Database>> {
        let catalog_version = Arc::new(AtomicU64::new(1));
        let snapshots = Arc::new(Snapshots::default());
        let follow = {
            let apply_store = store.clone();
            let version = catalog_version.clone();
            let manifest_store = store.clone();
            let oldest = snapshots.clone();
            Follow {
                apply: Some(Arc::new(move |txns: &[CommittedTxn]| {
                    apply_store.apply(txns);
                    let catalog = txns.iter().any(|t| {
                        t.writes
                            .iter()
                            .any(|w| w.key.first() == Some(&CATALOG_PREFIX))
                    });
                    if catalog {
                        version.fetch_add(1, Ordering::AcqRel);
                    }
                })),
                manifest: Some(Arc::new(move |v: u64, _flushed: Lsn| {
                    let store = manifest_store.clone();
                    tokio::spawn(async move {
                        if let Err(e) = store.follow_manifest(v).await {
                            tracing::warn!(version = v, error = %e, "install manifest");
                        }
                    });
                })),
                oldest_snapshot: Some(Arc::new(move || oldest.oldest())),
            }
        };
        let client = join(&store, &opts, &follow).await?;
        let db = Arc::new(Database {
            store,
            client: RwLock::new(Arc::new(client)),
            frontend_id: opts.frontend_id,
            opts,
            follow,
            leaving: Default::default(),
            rejoins: AtomicU64::new(0),
            // Transaction ids name locks at the coordinator together with
            // the frontend id; starting from the clock keeps a restarted
            // frontend from reusing its previous life's ids.
            next_txn: AtomicU64::new(first_txn_id()),
            catalog_version,
            snapshots,
            sequences: tokio::sync::Mutex::new(HashMap::new()),
        });
        tokio::spawn(rejoin_when_lost(Arc::downgrade(&db)));
        Ok(db)
    }

    /// Leaves the cluster cleanly (a frontend shutting down, after its
    /// sessions ended): the coordinator drops this member at once.
    pub async fn leave(&self) -> Result<()> {
        self.leaving.store(true, Ordering::Release);
        self.client().leave().await?;
        Ok(())
    }

    /// How many times this frontend has joined the cluster again after
    /// losing its membership.
    pub fn rejoins(&self) -> u64 {
        self.rejoins.load(Ordering::Relaxed)
    }

    /// Starts a transaction at the current snapshot.
    pub async fn begin(self: &Arc<Self>, isolation: Isolation) -> Result<Transaction> {
        let txn = self.next_txn.fetch_add(1, Ordering::Relaxed);
        Transaction::begin(self.clone(), txn, isolation).await
    }

    /// Bumped whenever a visible batch writes a catalog key: a schema cache
    /// built at an older version must reload.
    pub fn catalog_version(&self) -> u64 {
        self.catalog_version.load(Ordering::Acquire)
    }

    /// The next value of counter `seq` (1, 2, 3... cluster-wide, never twice,
    /// not ordered across frontends), drawing blocks of `block` values from
    /// the coordinator.
    pub async fn next_sequence_value(&self, seq: u64, block: u64) -> Result<u64> {
        let mut cache = self.sequences.lock().await;
        if let Some((next, last)) = cache.get_mut(&seq) {
            if *next <= *last {
                let v = *next;
                *next += 1;
                return Ok(v);
            }
        }
        let (first, last) = self.client().sequence_block(seq, block.max(1)).await?;
        cache.insert(seq, (first + 1, last));
        Ok(first)
    }

    /// Whether this frontend holds a valid lease and is caught up, so it
    /// may serve.
    pub fn is_serving(&self) -> bool {
        self.client().is_serving()
    }

    /// The store this frontend reads.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The current coordinator membership.
    pub fn client(&self) -> Arc<CoordinatorClient> {
        self.client.read().expect("client lock").clone()
    }

    /// This frontend's id in the cluster.
    pub fn frontend_id(&self) -> u64 {
        self.frontend_id
    }
}

/// Joins a coordinator: the configured ones in order (`--coordinator`
/// may list several, comma-separated), then the one named in the store's
/// newest `epochs/<n>`, where a spare that took over writes its address.
async fn join(store: &Store, opts: &DatabaseOptions, follow: &Follow) -> Result<CoordinatorClient> {
    let leader =
        shoal_coordinator::leader::current_epoch(store.object_store().as_ref(), store.layout())
            .await
            .ok()
            .flatten()
            .map(|(_, address)| address);
    let mut addresses: Vec<&str> = opts
        .coordinator
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .collect();
    if let Some(leader) = leader.as_deref().filter(|a| !a.is_empty()) {
        if !addresses.contains(&leader) {
            addresses.push(leader);
        }
    }
    let mut last_error = None;
    for address in addresses {
        for reloaded in [false, true] {
            let joined = CoordinatorClient::join_following(
                &endpoint_url(address),
                opts.frontend_id,
                &opts.address,
                store.last_lsn(),
                follow.clone(),
            )
            .await;
            match joined {
                Ok(client) => return Ok(client),
                // What this frontend holds is older than the coordinator's
                // memory (or beyond its durable end): read the store again.
                Err(e) if e.kind == Some(CoordKind::Reload) && !reloaded => {
                    tracing::info!(reason = %e, "reloading the store before joining");
                    store.reload().await?;
                }
                Err(e) => {
                    last_error = Some(e);
                    break;
                }
            }
        }
    }
    Err(last_error
        .map(Into::into)
        .unwrap_or_else(|| Error::new(ErrorKind::Unavailable, "no coordinator to join")))
}

/// Watches the membership and, when it is lost, joins again (with backoff,
/// for as long as the frontend runs), then swaps the new membership in.
/// Until then every new transaction fails with a clear error and /health
/// answers 503, so nothing is served from state that may be stale.
async fn rejoin_when_lost(db: std::sync::Weak<Database>) {
    loop {
        let Some(client) = db.upgrade().map(|db| db.client()) else {
            return;
        };
        let why = client.lost().await;
        drop(client);
        let started = Instant::now();
        let mut backoff = Duration::from_millis(20);
        loop {
            let Some(db) = db.upgrade() else { return };
            if db.leaving.load(Ordering::Acquire) {
                return;
            }
            match join(&db.store, &db.opts, &db.follow).await {
                Ok(client) => {
                    if let Err(e) = db.store.follow_manifest(client.joined_manifest()).await {
                        tracing::warn!(error = %e, "install the current manifest after re-joining");
                    }
                    *db.client.write().expect("client lock") = Arc::new(client);
                    db.rejoins.fetch_add(1, Ordering::Relaxed);
                    // The schema may have changed while this frontend was
                    // away (a reload brings catalog rows without the hook).
                    db.catalog_version.fetch_add(1, Ordering::AcqRel);
                    let manifest = db.store.manifest().version;
                    tracing::info!(
                        frontend = db.frontend_id,
                        reason = %why,
                        took_ms = started.elapsed().as_millis() as u64,
                        manifest,
                        "re-joined the cluster"
                    );
                    break;
                }
                Err(e) => {
                    tracing::warn!(frontend = db.frontend_id, error = %e, "re-join failed; retrying");
                }
            }
            drop(db);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
    }
}

/// Where a frontend's transaction ids start: microseconds since the Unix
/// epoch, so that ids keep growing across restarts.
fn first_txn_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_micros() as u64)
        .max(1)
}
