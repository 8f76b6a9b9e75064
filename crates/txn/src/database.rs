//! The frontend's view of the database: its read copy of the store (SSTs
//! through the page cache, and a memtable fed by the coordinator's visible
//! batches) and its coordinator connection.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use shoal_coordinator::client::{endpoint_url, CoordinatorClient, Follow};
use shoal_storage::db::{Store, StoreOptions};
use shoal_storage::{CommittedTxn, Lsn};

use crate::error::Result;
use crate::transaction::{Isolation, Transaction};
use crate::CATALOG_PREFIX;

/// How a frontend reaches the cluster.
#[derive(Clone, Debug)]
pub struct DatabaseOptions {
    /// This frontend's id, unique in the cluster.
    pub frontend_id: u64,
    /// The coordinator's gRPC address (`host:port` or a URL).
    pub coordinator: String,
    /// The address clients reach this frontend at (for cluster status).
    pub address: String,
    /// Page cache size in bytes.
    pub cache_bytes: u64,
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
pub struct Database {
    pub(crate) store: Arc<Store>,
    pub(crate) client: CoordinatorClient,
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
        let client = CoordinatorClient::join_following(
            &endpoint_url(&opts.coordinator),
            opts.frontend_id,
            &opts.address,
            store.last_lsn(),
            follow,
        )
        .await?;
        Ok(Arc::new(Database {
            store,
            client,
            frontend_id: opts.frontend_id,
            next_txn: AtomicU64::new(1),
            catalog_version,
            snapshots,
            sequences: tokio::sync::Mutex::new(HashMap::new()),
        }))
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
        let (first, last) = self.client.sequence_block(seq, block.max(1)).await?;
        cache.insert(seq, (first + 1, last));
        Ok(first)
    }

    /// Whether this frontend holds a valid lease and may serve.
    pub fn is_serving(&self) -> bool {
        self.client.is_serving()
    }

    /// The store this frontend reads.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The coordinator connection.
    pub fn client(&self) -> &CoordinatorClient {
        &self.client
    }

    /// This frontend's id in the cluster.
    pub fn frontend_id(&self) -> u64 {
        self.frontend_id
    }
}
