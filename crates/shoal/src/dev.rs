//! `shoal dev`: a coordinator and N frontends in one process over one
//! store, the embedded default. Every role is the same code that runs as
//! its own process in a real deployment; here they share the object store
//! handle (so `memory://` works too).

use std::time::Duration;

use anyhow::{Context, Result};
use shoal_coordinator::core::CoreConfig;
use shoal_coordinator::local::LocalCoordinator;
use shoal_coordinator::server::CoordinatorOptions;
use shoal_storage::db::StoreOptions;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cache::DiskCacheArgs;
use crate::frontend::{self, FrontendConfig, StoreSource};
use crate::AccessArgs;

pub struct DevConfig {
    pub url: String,
    pub host: String,
    pub port: u16,
    pub frontends: u16,
    pub coordinator_port: u16,
    /// How long a frontend's lease lasts without a heartbeat.
    pub lease: Duration,
    /// The memtable size at which the coordinator flushes.
    pub flush_bytes: usize,
    /// Each frontend gets its own subdirectory of `--cache-dir`.
    pub disk_cache: DiskCacheArgs,
    pub access: AccessArgs,
}

/// Ctrl-C or SIGTERM.
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub async fn run(cfg: DevConfig) -> Result<()> {
    let (objects, root) = shoal_storage::object::open_url_checked(&cfg.url)
        .await
        .with_context(|| format!("open store {}", cfg.url))?;
    let coordinator_addr = format!("127.0.0.1:{}", cfg.coordinator_port);
    let listener = TcpListener::bind(&coordinator_addr)
        .await
        .with_context(|| format!("listen on {coordinator_addr} (the coordinator)"))?;
    let coordinator_http = match cfg.coordinator_port {
        0 => None,
        p => {
            let addr = format!("127.0.0.1:{}", p + 1);
            TcpListener::bind(&addr).await.ok()
        }
    };
    let lease = cfg.lease;
    let mut core = CoreConfig::default();
    core.membership.lease = lease;
    core.leader_lease = lease;
    let coordinator = LocalCoordinator::start(
        listener,
        objects.clone(),
        root.clone(),
        CoordinatorOptions {
            core,
            store: StoreOptions {
                flush_bytes: cfg.flush_bytes,
                ..StoreOptions::default()
            },
            http: coordinator_http,
            // The frontends below call it directly, not over loopback gRPC.
            in_process: true,
            ..CoordinatorOptions::default()
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("start the coordinator: {e}"))?;

    let (stop, stopped) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let mut addrs = Vec::new();
    for i in 0..cfg.frontends.max(1) {
        let port = if cfg.port == 0 { 0 } else { cfg.port + i };
        let addr = format!("{}:{port}", cfg.host);
        let listener = TcpListener::bind(&addr)
            .await
            .with_context(|| format!("listen on {addr} (frontend {})", i + 1))?;
        addrs.push(listener.local_addr().context("frontend address")?);
        let fcfg = FrontendConfig {
            frontend_id: u64::from(i) + 1,
            coordinator: coordinator.addr.to_string(),
            listener,
            http: None,
            auth: cfg.access.auth(),
            tls: cfg.access.tls(),
            cache_bytes: 256 << 20,
            disk_cache: cfg.disk_cache.options(Some(&format!("frontend-{}", i + 1))),
            max_connections: cfg.access.max_connections,
        };
        let source = StoreSource::Shared(objects.clone(), root.clone());
        let stopped = stopped.clone();
        tasks.spawn(async move { frontend::run(source, fcfg, stopped).await });
    }
    println!("Shoal dev cluster on {}", cfg.url);
    println!("  coordinator: {}", coordinator.addr);
    for (i, a) in addrs.iter().enumerate() {
        println!(
            "  frontend {}: postgresql://postgres@{a}/postgres   (psql -h {} -p {} -U postgres)",
            i + 1,
            a.ip(),
            a.port()
        );
    }
    println!("Press Ctrl-C to stop.");

    let mut failure = None;
    tokio::select! {
        _ = wait_for_signal() => {}
        Some(done) = tasks.join_next() => {
            failure = Some(match done {
                Ok(Ok(())) => anyhow::anyhow!("a frontend stopped"),
                Ok(Err(e)) => e,
                Err(e) => anyhow::anyhow!("a frontend panicked: {e}"),
            });
        }
    }
    let _ = stop.send(true);
    while let Some(done) = tasks.join_next().await {
        if let Ok(Err(e)) = done {
            tracing::warn!(error = %e, "frontend stopped with an error");
        }
    }
    coordinator
        .stop()
        .await
        .map_err(|e| anyhow::anyhow!("stop the coordinator: {e}"))?;
    match failure {
        Some(e) => Err(e),
        None => {
            println!("stopped");
            Ok(())
        }
    }
}
