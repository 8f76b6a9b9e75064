//! The `shoal` binary: `shoal dev` (a coordinator and frontends in one
//! process), `shoal frontend`, `shoal coordinator` (active or `--spare`),
//! `shoal ctl status` and `shoal store inspect`. Settings come from flags,
//! `SHOAL_*` environment variables and an optional TOML file (`config`).

mod cache;
mod config;
mod dev;
mod frontend;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::time::Duration;

use shoal_coordinator::core::CoreConfig;
use shoal_coordinator::proto as pb;
use shoal_coordinator::proto::coordinator_client::CoordinatorClient;
use shoal_coordinator::server::CoordinatorOptions;
use shoal_storage::db::{Store, StoreOptions};

/// mimalloc keeps freed memory for reuse in its per-thread heaps, where
/// glibc's allocator hands it back and faults it in again.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "shoal",
    version,
    about = "Shoal: a shared-storage, multi-frontend SQL database on object storage",
    after_long_help = CONFIG_HELP
)]
struct Cli {
    /// A TOML file of settings, one table per command (`[frontend]`), keys
    /// spelled like the long flags; flags and variables override it.
    #[arg(long, global = true, env = "SHOAL_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// The end of `shoal --help`: where settings come from.
const CONFIG_HELP: &str = "\
Settings: every setting of a command is a flag, an environment variable
(shown as [env: ...] in `shoal <COMMAND> --help`) and a key of the optional
TOML file named by --config or SHOAL_CONFIG. A flag overrides the variable,
the variable overrides the file, and the file overrides the built-in
default. The file has one table per command, its keys spelled exactly like
the long flags (kebab-case); an unknown key is an error:

    [frontend]
    store = \"file:///var/lib/shoal\"
    coordinator = \"10.0.0.1:5440\"
    cache-mb = 1024
    cache-dir = \"/var/cache/shoal\"
    cache-size = \"10GiB\"

    [coordinator]
    store = \"file:///var/lib/shoal\"
    listen = \"0.0.0.0:5440\"

`shoal <COMMAND> --help` lists every setting of that command.";

#[derive(Subcommand)]
enum Command {
    /// Runs an embedded cluster in one process: a coordinator and one or
    /// more frontends (PostgreSQL protocol) on a local directory, until Ctrl-C.
    #[command(
        after_help = "These settings can also come from the [dev] table of the --config file (keys spelled like the flags)."
    )]
    Dev {
        /// Directory of the local store.
        #[arg(long, default_value = "./shoal-data", env = "SHOAL_DATA")]
        data: PathBuf,
        /// A store URL (`file:///path`, `memory://`, `s3://bucket/prefix`); replaces --data.
        #[arg(long, env = "SHOAL_STORE")]
        store: Option<String>,
        /// The first frontend's PostgreSQL port; more frontends take the next ports.
        #[arg(long, default_value_t = 5433, env = "SHOAL_PORT")]
        port: u16,
        /// The address frontends listen on.
        #[arg(long, default_value = "127.0.0.1", env = "SHOAL_HOST")]
        host: String,
        /// How many frontends to run.
        #[arg(long, default_value_t = 1, env = "SHOAL_FRONTENDS")]
        frontends: u16,
        /// The coordinator's gRPC port (its HTTP /metrics is the next one).
        #[arg(long, default_value_t = 5440, env = "SHOAL_COORDINATOR_PORT")]
        coordinator_port: u16,
        /// Frontend lease length in milliseconds (longer for debug builds
        /// on a loaded machine, where one big statement can starve the
        /// heartbeats).
        #[arg(long, default_value_t = 2000, env = "SHOAL_LEASE_MS")]
        lease_ms: u64,
        /// The coordinator flushes the memtable into an SST once it holds
        /// this many MiB.
        #[arg(
            long,
            default_value_t = 64,
            env = "SHOAL_FLUSH_MB",
            value_parser = clap::value_parser!(u64).range(1..)
        )]
        flush_mb: u64,
        #[command(flatten)]
        disk_cache: cache::DiskCacheArgs,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// Runs a frontend: the PostgreSQL protocol and SQL engine of one node.
    #[command(
        after_help = "These settings can also come from the [frontend] table of the --config file (keys spelled like the flags)."
    )]
    Frontend {
        /// The coordinators' gRPC addresses, comma separated (the active
        /// one and spares), tried in order; after them, the leader the
        /// store names (a spare that took over writes its address there).
        #[arg(long, default_value = "127.0.0.1:5440", env = "SHOAL_COORDINATOR")]
        coordinator: String,
        /// The store URL (`file:///path`, `memory://`, `s3://bucket/prefix`).
        #[arg(long, env = "SHOAL_STORE")]
        store: String,
        /// The PostgreSQL address to listen on.
        #[arg(long, default_value = "127.0.0.1:5433", env = "SHOAL_LISTEN")]
        listen: String,
        /// Where to serve HTTP /health and /metrics.
        #[arg(long, env = "SHOAL_HTTP")]
        http: Option<String>,
        /// This frontend's id in the cluster (default: random).
        #[arg(long, env = "SHOAL_FRONTEND_ID")]
        id: Option<u64>,
        /// Page cache size in MiB (the memory tier; see --cache-dir for the disk tier).
        #[arg(long, default_value_t = 256, env = "SHOAL_CACHE_MB")]
        cache_mb: u64,
        #[command(flatten)]
        disk_cache: cache::DiskCacheArgs,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// Runs a coordinator: the lock and cache-invalidation service.
    #[command(
        after_help = "These settings can also come from the [coordinator] table of the --config file (keys spelled like the flags)."
    )]
    Coordinator {
        /// The store URL (`file:///path`, `memory://`, `s3://bucket/prefix`).
        #[arg(long, env = "SHOAL_STORE")]
        store: String,
        /// The gRPC address to listen on.
        #[arg(
            long,
            default_value = "127.0.0.1:5440",
            env = "SHOAL_COORDINATOR_LISTEN"
        )]
        listen: String,
        /// The address frontends reach this coordinator at (default: --listen).
        #[arg(long, env = "SHOAL_COORDINATOR_ADVERTISE")]
        advertise: Option<String>,
        /// Run as a hot spare: watch the active coordinator at --watch and
        /// take over when it stops answering.
        #[arg(long, requires_if("true", "watch"), env = "SHOAL_SPARE")]
        spare: bool,
        /// The active coordinator a spare watches.
        #[arg(long, env = "SHOAL_COORDINATOR_WATCH")]
        watch: Option<String>,
        /// Frontend lease length in milliseconds.
        #[arg(long, default_value_t = 2000, env = "SHOAL_LEASE_MS")]
        lease_ms: u64,
        /// Flush the memtable into an SST once it holds this many MiB.
        #[arg(
            long,
            default_value_t = 64,
            env = "SHOAL_FLUSH_MB",
            value_parser = clap::value_parser!(u64).range(1..)
        )]
        flush_mb: u64,
        /// Where to serve HTTP /metrics (Prometheus) and /health.
        #[arg(long, env = "SHOAL_COORDINATOR_HTTP")]
        http: Option<String>,
        /// Group commit: after a WAL write ends, the next batch is sealed
        /// once as many committers as the last batch had are waiting, or
        /// after this many milliseconds. Longer means fewer, larger WAL
        /// PUTs (cheaper on S3) and slower commits at low load.
        /// Only with `--wal-pipeline 1`.
        #[arg(long, default_value_t = 5, env = "SHOAL_BATCH_DELAY_MS")]
        batch_delay_ms: u64,
        /// Group commit: how many WAL PUTs may be in flight at once (1 to
        /// 64). More lets the commit rate exceed committers / PUT latency on
        /// a slow store, at the price of more, smaller PUTs under load
        /// (and more WAL segments for a new leader to read at failover);
        /// batches still become visible in commit order.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64), env = "SHOAL_WAL_PIPELINE")]
        wal_pipeline: u64,
        /// Group commit: the most one batch (one WAL PUT) holds, in bytes of
        /// keys and values; a larger transaction is a batch of its own.
        #[arg(long, default_value_t = 8 << 20, value_parser = clap::value_parser!(u64).range(1..), env = "SHOAL_BATCH_MAX_BYTES")]
        batch_max_bytes: u64,
        /// For benchmarks and tests: adds this much latency to every
        /// object-store PUT (simulates a slow or distant object store).
        #[arg(long, default_value_t = 0, env = "SHOAL_FAULT_PUT_LATENCY_MS")]
        fault_put_latency_ms: u64,
        /// For tests: fails this fraction (0 to 1) of object-store PUTs
        /// (simulates a failing object store; commits in a batch whose WAL
        /// write fails get an error, and nothing is acknowledged).
        #[arg(long, default_value_t = 0.0, env = "SHOAL_FAULT_PUT_ERROR_RATE")]
        fault_put_error_rate: f64,
    },
    /// Asks a running cluster about itself.
    Ctl {
        #[command(subcommand)]
        command: CtlCommand,
    },
    /// Works on a store directly.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
}

/// Who may connect, and how.
#[derive(clap::Args, Clone, Debug)]
pub struct AccessArgs {
    /// Authentication: `trust`, or `scram-sha-256` (default: trust on
    /// loopback addresses, SCRAM-SHA-256 on any other).
    #[arg(long, env = "SHOAL_AUTH")]
    pub auth: Option<AuthArg>,
    /// TLS certificate (PEM); with --tls-key, clients may use SSL.
    #[arg(long, requires = "tls_key", env = "SHOAL_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert", env = "SHOAL_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// The most client connections per frontend.
    #[arg(long, default_value_t = 1000, env = "SHOAL_MAX_CONNECTIONS")]
    pub max_connections: usize,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum AuthArg {
    Trust,
    #[value(name = "scram-sha-256")]
    ScramSha256,
}

impl AccessArgs {
    fn auth(&self) -> Option<shoal_wire::AuthMode> {
        self.auth.map(|a| match a {
            AuthArg::Trust => shoal_wire::AuthMode::Trust,
            AuthArg::ScramSha256 => shoal_wire::AuthMode::Scram,
        })
    }

    fn tls(&self) -> Option<shoal_wire::TlsFiles> {
        Some(shoal_wire::TlsFiles {
            cert: self.tls_cert.clone()?,
            key: self.tls_key.clone()?,
        })
    }
}

#[derive(Subcommand)]
enum CtlCommand {
    /// Prints the coordinator's epoch, LSNs, members with their leases, and locks.
    #[command(
        after_help = "These settings can also come from the [ctl.status] table of the --config file (keys spelled like the flags)."
    )]
    Status {
        /// The coordinator's gRPC address.
        #[arg(long, default_value = "127.0.0.1:5440", env = "SHOAL_COORDINATOR")]
        coordinator: String,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Prints the current manifest, its SSTs and the WAL above it.
    #[command(
        after_help = "These settings can also come from the [store.inspect] table of the --config file (keys spelled like the flags)."
    )]
    Inspect {
        /// The store URL (`file:///path`, `s3://bucket/prefix`).
        #[arg(long, env = "SHOAL_STORE")]
        store: String,
    },
}

/// `n` MiB in bytes, saturating (a huge setting means "never").
fn mib(n: u64) -> usize {
    usize::try_from(n.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
}

fn store_url(data: &std::path::Path, store: Option<String>) -> Result<String> {
    if let Some(url) = store {
        return Ok(url);
    }
    std::fs::create_dir_all(data)
        .with_context(|| format!("create data directory {}", data.display()))?;
    let abs = data
        .canonicalize()
        .with_context(|| format!("resolve data directory {}", data.display()))?;
    Ok(format!("file://{}", abs.display()))
}

fn print_store(store: &Store) {
    let m = store.manifest();
    println!(
        "manifest version {} (epoch {}, timeline {})",
        m.version, m.epoch, m.timeline
    );
    println!(
        "flushed LSN {}, last LSN {}",
        m.flushed_lsn,
        store.last_lsn()
    );
    println!("WAL replayed from segment {}", m.wal_segment);
    for (n, level) in m.levels.iter().enumerate() {
        let bytes: u64 = level.iter().map(|s| s.size).sum();
        println!("L{n}: {} SSTs, {bytes} bytes", level.len());
        for s in level {
            println!(
                "  sst {:>6}  {:>10} bytes  {:>8} versions  LSN {}..={}",
                s.id, s.size, s.entries, s.min_lsn, s.max_lsn
            );
        }
    }
    println!("memtable: {} bytes", store.memtable_bytes());
}

/// Binds a service's main listener and its optional HTTP listener.
async fn bind(
    listen: &str,
    http: Option<&str>,
) -> Result<(tokio::net::TcpListener, Option<tokio::net::TcpListener>)> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listen on {listen}"))?;
    let http = match http {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("listen for HTTP on {addr}"))?,
        ),
        None => None,
    };
    Ok((listener, http))
}

/// How `shoal coordinator` was asked to run.
struct CoordinatorArgs {
    advertise: Option<String>,
    watch: Option<String>,
    lease_ms: u64,
    flush_bytes: usize,
    http: Option<String>,
    batch_delay: Duration,
    batch_max_bytes: usize,
    wal_pipeline: usize,
    fault_put_latency: Duration,
    fault_put_error_rate: f64,
}

impl Default for CoordinatorArgs {
    fn default() -> Self {
        CoordinatorArgs {
            advertise: None,
            watch: None,
            lease_ms: 2000,
            flush_bytes: StoreOptions::default().flush_bytes,
            http: None,
            batch_delay: CoreConfig::default().max_batch_delay,
            batch_max_bytes: CoreConfig::default().max_batch_bytes,
            wal_pipeline: CoreConfig::default().wal_pipeline,
            fault_put_latency: Duration::ZERO,
            fault_put_error_rate: 0.0,
        }
    }
}

async fn run_coordinator(url: &str, listen: &str, args: CoordinatorArgs) -> Result<()> {
    let CoordinatorArgs {
        advertise,
        watch,
        lease_ms,
        flush_bytes,
        http,
        batch_delay,
        batch_max_bytes,
        wal_pipeline,
        fault_put_latency,
        fault_put_error_rate,
    } = args;
    if !(0.0..=1.0).contains(&fault_put_error_rate) {
        anyhow::bail!("--fault-put-error-rate must be between 0 and 1, not {fault_put_error_rate}");
    }
    let (mut objects, root) = shoal_storage::object::open_url_checked(url)
        .await
        .with_context(|| format!("open store {url}"))?;
    if !fault_put_latency.is_zero() || fault_put_error_rate > 0.0 {
        let faulty = shoal_storage::object::FaultyStore::new(objects);
        faulty.faults().set_put_latency(fault_put_latency);
        if fault_put_error_rate > 0.0 {
            let seed = rand::random();
            faulty.faults().fail_fraction(
                fault_put_error_rate,
                seed,
                shoal_storage::object::FailFilter::Put,
            );
        }
        // Under a retry layer, as S3's 500s and 503s are: injected errors
        // are retried with backoff, and a PUT that keeps failing fails the
        // commits of its batch.
        objects = std::sync::Arc::new(shoal_storage::object::RetryStore::new(
            std::sync::Arc::new(faulty),
            shoal_storage::object::RetryConfig::default(),
        ));
    }
    let (listener, http) = bind(listen, http.as_deref()).await?;
    let lease = Duration::from_millis(lease_ms);
    let mut core = CoreConfig::default();
    core.membership.lease = lease;
    core.leader_lease = lease;
    core.max_batch_delay = batch_delay;
    core.max_batch_bytes = batch_max_bytes;
    core.wal_pipeline = wal_pipeline;
    let opts = CoordinatorOptions {
        core,
        store: StoreOptions {
            flush_bytes,
            ..StoreOptions::default()
        },
        advertise: advertise.unwrap_or_else(|| listen.to_string()),
        takeover_after: lease / 2,
        watch,
        http,
        in_process: false,
    };
    let shutdown = dev::wait_for_signal();
    shoal_coordinator::server::run(listener, objects, root, opts, shutdown)
        .await
        .map_err(|why| anyhow::anyhow!("coordinator stopped: {why}"))
}

async fn ctl_status(coordinator: &str) -> Result<()> {
    let url = shoal_coordinator::client::endpoint_url(coordinator);
    let mut client = CoordinatorClient::connect(url.clone())
        .await
        .with_context(|| format!("connect to {url}"))?;
    let s = client
        .status(pb::StatusRequest {})
        .await
        .context("ask for status")?
        .into_inner();
    println!(
        "epoch {}  last LSN {}  visible LSN {}  flushed LSN {}  manifest {}",
        s.epoch, s.last_lsn, s.visible_lsn, s.flushed_lsn, s.manifest_version
    );
    println!("members:");
    for m in &s.members {
        let id = m.member.unwrap_or_default();
        println!(
            "  frontend {:>4} (incarnation {:>3})  {:<22} lease {:>6} ms  received {:>8}  visible {:>8}  {}",
            id.frontend_id,
            id.incarnation,
            m.address,
            m.lease_deadline_ms.saturating_sub(s.now_ms) as i64,
            m.received_lsn,
            m.visible_lsn,
            if m.subscribed { "subscribed" } else { "not subscribed" }
        );
    }
    println!("locks:");
    for l in &s.locks {
        let t = l.txn.unwrap_or_default();
        println!(
            "  {}/{}  {:<40} {:<20} {}",
            t.frontend,
            t.txn,
            l.resource,
            l.mode,
            if l.granted { "granted" } else { "waiting" }
        );
    }
    Ok(())
}

/// The stack of each runtime worker thread of a frontend (see `main`).
const WORKER_STACK_BYTES: usize = 16 << 20;

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli: Cli = config::parse();
    if let Some(path) = &cli.config {
        tracing::info!(file = %path.display(), "settings read from the config file");
    }
    // The coordinator runs on one thread: its work is many small messages,
    // and on a multi-threaded runtime most of its CPU went to waking
    // threads (measured: 31.5 -> 19.5 CPU-µs per lock request and 65 -> 45
    // per commit at 64 clients, at the same throughput). Frontends run SQL
    // and use every core.
    let runtime = match cli.command {
        Command::Coordinator { .. } | Command::Ctl { .. } | Command::Store { .. } => {
            tokio::runtime::Builder::new_current_thread()
        }
        Command::Dev { .. } | Command::Frontend { .. } => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            // Sessions run plans recursively (expressions, subqueries,
            // the catalog views clients query) on the worker threads; the
            // 2 MiB default was overflowed by a debug build running
            // SQLAlchemy's and pgjdbc's index reflection queries. The
            // stack is reserved, not committed: unused pages cost nothing.
            builder.thread_stack_size(WORKER_STACK_BYTES);
            builder
        }
    }
    .enable_all()
    .build()
    .context("start the runtime")?;
    runtime.block_on(run(cli.command))
}

async fn run(command: Command) -> Result<()> {
    match command {
        Command::Dev {
            data,
            store,
            port,
            host,
            frontends,
            coordinator_port,
            lease_ms,
            flush_mb,
            disk_cache,
            access,
        } => {
            let url = store_url(&data, store)?;
            dev::run(dev::DevConfig {
                url,
                host,
                port,
                frontends,
                coordinator_port,
                lease: Duration::from_millis(lease_ms.max(1)),
                flush_bytes: mib(flush_mb),
                disk_cache,
                access,
            })
            .await?;
        }
        Command::Frontend {
            coordinator,
            store,
            listen,
            http,
            id,
            cache_mb,
            disk_cache,
            access,
        } => {
            let (listener, http) = bind(&listen, http.as_deref()).await?;
            let (stop, stopped) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                dev::wait_for_signal().await;
                let _ = stop.send(true);
            });
            let cfg = frontend::FrontendConfig {
                frontend_id: id.unwrap_or_else(|| rand::random::<u32>() as u64 + 1000),
                coordinator,
                listener,
                http,
                auth: access.auth(),
                tls: access.tls(),
                cache_bytes: cache_mb << 20,
                disk_cache: disk_cache.options(None),
                max_connections: access.max_connections,
            };
            println!("Shoal frontend: postgresql://postgres@{listen}/postgres");
            frontend::run(frontend::StoreSource::Url(store), cfg, stopped).await?;
        }
        Command::Coordinator {
            store,
            listen,
            advertise,
            spare,
            watch,
            lease_ms,
            flush_mb,
            http,
            batch_delay_ms,
            batch_max_bytes,
            wal_pipeline,
            fault_put_latency_ms,
            fault_put_error_rate,
        } => {
            let watch = if spare { watch } else { None };
            let opts = CoordinatorArgs {
                advertise,
                watch,
                lease_ms,
                flush_bytes: mib(flush_mb),
                http,
                batch_delay: Duration::from_millis(batch_delay_ms),
                batch_max_bytes: usize::try_from(batch_max_bytes).unwrap_or(usize::MAX),
                wal_pipeline: wal_pipeline as usize,
                fault_put_latency: Duration::from_millis(fault_put_latency_ms),
                fault_put_error_rate,
            };
            run_coordinator(&store, &listen, opts).await?;
        }
        Command::Ctl {
            command: CtlCommand::Status { coordinator },
        } => ctl_status(&coordinator).await?,
        Command::Store {
            command: StoreCommand::Inspect { store },
        } => {
            let opened = Store::open_url(&store, StoreOptions::default())
                .await
                .with_context(|| format!("open store {store}"))?;
            print_store(&opened);
        }
    }
    Ok(())
}
