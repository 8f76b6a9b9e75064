//! Running a frontend: join the cluster (read view of the store + the
//! coordinator connection), open the SQL engine, serve the PostgreSQL
//! protocol, and serve HTTP `/health` and `/metrics` for load balancers.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use shoal_sql::session::Engine;
use shoal_txn::{Database, DatabaseOptions};
use shoal_wire::{AuthMode, TlsFiles, WireOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How one frontend runs.
pub struct FrontendConfig {
    pub frontend_id: u64,
    /// The coordinator's gRPC address.
    pub coordinator: String,
    /// The PostgreSQL listener.
    pub listener: TcpListener,
    /// Where to serve `/health` and `/metrics`, if anywhere.
    pub http: Option<TcpListener>,
    /// `None`: trust on loopback, SCRAM-SHA-256 elsewhere.
    pub auth: Option<AuthMode>,
    pub tls: Option<TlsFiles>,
    pub cache_bytes: u64,
    /// The page cache's disk tier, if any.
    pub disk_cache: Option<shoal_storage::cache::DiskCacheOptions>,
    pub max_connections: usize,
}

/// Trust is the default only where nobody else can connect.
pub fn default_auth(addr: &SocketAddr) -> AuthMode {
    if addr.ip().is_loopback() {
        AuthMode::Trust
    } else {
        AuthMode::Scram
    }
}

/// Where a frontend reads the store: its own handle on the URL, or (in
/// `shoal dev`) the object store the coordinator also uses.
pub enum StoreSource {
    Url(String),
    Shared(Arc<dyn object_store::ObjectStore>, object_store::path::Path),
}

/// Joins the cluster and serves until `shutdown` turns true.
pub async fn run(
    source: StoreSource,
    cfg: FrontendConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let addr = cfg.listener.local_addr().context("frontend address")?;
    let db_opts = DatabaseOptions {
        frontend_id: cfg.frontend_id,
        coordinator: cfg.coordinator.clone(),
        address: addr.to_string(),
        cache_bytes: cfg.cache_bytes,
        disk_cache: cfg.disk_cache.clone(),
    };
    let db = match source {
        StoreSource::Url(url) => Database::open(&url, db_opts).await,
        StoreSource::Shared(objects, root) => Database::open_on(objects, root, db_opts).await,
    }
    .map_err(|e| anyhow::anyhow!("join the cluster: {e}"))?;
    let engine = Engine::open(db.clone(), Default::default())
        .await
        .map_err(|e| anyhow::anyhow!("open the SQL engine: {e}"))?;
    if let Some(http) = cfg.http {
        tokio::spawn(serve_http(http, db.clone()));
    }
    let wire = WireOptions {
        auth: cfg.auth.unwrap_or_else(|| default_auth(&addr)),
        tls: cfg.tls,
        max_connections: cfg.max_connections,
        ..WireOptions::default()
    };
    let stop = async move {
        let _ = shutdown.wait_for(|s| *s).await;
    };
    // On shutdown `serve` stops accepting, lets sessions finish their
    // current statement and closes them (open transactions roll back);
    // then this frontend leaves, so its locks are free at once instead of
    // after its lease.
    shoal_wire::serve(cfg.listener, engine, wire, stop).await?;
    if let Err(e) = db.leave().await {
        tracing::warn!(error = %e, "leave the cluster");
    }
    tracing::info!(frontend = cfg.frontend_id, "frontend stopped");
    Ok(())
}

/// `/health`: 200 while this frontend holds a lease (a load balancer
/// routes around it otherwise); `/metrics`: Prometheus text.
async fn serve_http(listener: TcpListener, db: Arc<Database>) {
    use axum::http::StatusCode;
    use axum::routing::get;

    let health_db = db.clone();
    let app = axum::Router::new()
        .route(
            "/health",
            get(move || {
                let db = health_db.clone();
                async move {
                    if db.is_serving() {
                        (StatusCode::OK, "serving\n")
                    } else {
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            "no valid lease: not a caught-up cluster member\n",
                        )
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let db = db.clone();
                async move { metrics_text(&db) }
            }),
        );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::warn!(error = %e, "frontend HTTP server stopped");
    }
}

fn metrics_text(db: &Database) -> String {
    let store = db.store();
    let cache = store.cache();
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, v: u64| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n"
        ));
    };
    gauge(
        "shoal_frontend_serving",
        "1 while this frontend holds a valid lease",
        u64::from(db.is_serving()),
    );
    gauge(
        "shoal_frontend_rejoins",
        "times this frontend joined the cluster again after losing its membership",
        db.rejoins(),
    );
    gauge(
        "shoal_frontend_visible_lsn",
        "the highest visible LSN applied here",
        db.client().visible_lsn(),
    );
    gauge(
        "shoal_frontend_memtable_bytes",
        "bytes of not-yet-flushed data held in memory",
        store.memtable_bytes() as u64,
    );
    gauge(
        "shoal_frontend_manifest_version",
        "the manifest this frontend reads",
        store.manifest().version,
    );
    let stats = cache.stats();
    gauge(
        "shoal_page_cache_hits",
        "page cache lookups answered from memory",
        stats.hits,
    );
    gauge(
        "shoal_page_cache_misses",
        "page cache lookups that missed memory (answered from disk or the object store)",
        stats.misses,
    );
    gauge(
        "shoal_page_cache_warmed",
        "pages read into the page cache ahead of any lookup (new SSTs, when all fit)",
        stats.warmed,
    );
    gauge(
        "shoal_page_cache_bytes",
        "bytes held by the page cache in memory",
        stats.weighted_bytes,
    );
    gauge(
        "shoal_page_cache_disk_hits",
        "page cache lookups answered from the disk tier (--cache-dir)",
        stats.disk.hits,
    );
    gauge(
        "shoal_page_cache_disk_misses",
        "disk tier lookups that went on to the object store",
        stats.disk.misses,
    );
    gauge(
        "shoal_page_cache_disk_bytes",
        "bytes of page files held by the disk tier",
        stats.disk.bytes,
    );
    gauge(
        "shoal_page_cache_disk_errors",
        "disk tier files that failed to verify (deleted and refetched) or to be written",
        stats.disk.errors,
    );
    out
}
