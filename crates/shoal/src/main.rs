//! The `shoal` binary. Today it runs the storage layer (`shoal dev`) and
//! inspects stores (`shoal store inspect`); the coordinator, frontend,
//! standby and ctl roles arrive with the crates that implement them.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use shoal_storage::db::{Store, StoreOptions};

#[derive(Parser)]
#[command(
    name = "shoal",
    version,
    about = "Shoal: a shared-storage, multi-frontend SQL database on object storage"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs an embedded single-process cluster on a local directory.
    ///
    /// Today this opens (creating or recovering) the store and keeps it open
    /// until Ctrl-C: the SQL frontend is not built yet.
    Dev {
        /// Directory of the local store.
        #[arg(long, default_value = "./shoal-data", env = "SHOAL_DATA")]
        data: PathBuf,
        /// A store URL (`file:///path`, `memory://`, `s3://bucket/prefix`); replaces --data.
        #[arg(long, env = "SHOAL_STORE")]
        store: Option<String>,
    },
    /// Works on a store directly.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Prints the current manifest, its SSTs and the WAL above it.
    Inspect {
        /// The store URL (`file:///path`, `s3://bucket/prefix`).
        #[arg(long, env = "SHOAL_STORE")]
        store: String,
    },
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

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Dev { data, store } => {
            let url = store_url(&data, store)?;
            let store = Store::open_url(&url, StoreOptions::default())
                .await
                .with_context(|| format!("open store {url}"))?;
            println!("Shoal store open at {url}");
            print_store(&store);
            println!("The SQL frontend is not built yet; press Ctrl-C to stop.");
            tokio::signal::ctrl_c().await.context("wait for Ctrl-C")?;
            println!("stopped");
        }
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
