//! `shoal-commit-load`: a frontend-like load generator for the coordinator.
//! Concurrent committers each lock a row and commit a write, for a while,
//! then it prints commits/s and latency percentiles as one JSON line. It is
//! also the client process of the multi-process tests: `--hold` takes a lock
//! and waits (to be killed), `--ack-log` records every acknowledged commit.
//!
//! With several coordinators (`--coordinator a,b`) it re-joins whichever
//! answers after a failover, like a frontend.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use shoal_coordinator::client::{endpoint_url, CoordinatorClient};
use shoal_coordinator::locks::TxnId;
use shoal_coordinator::proto as pb;
use shoal_storage::Write;

#[derive(Parser, Clone)]
#[command(about = "Commit load against a Shoal coordinator")]
struct Args {
    /// Coordinator gRPC addresses, comma separated (active first).
    #[arg(long, default_value = "127.0.0.1:5440")]
    coordinator: String,
    /// This load generator's frontend id.
    #[arg(long, default_value_t = 1)]
    frontend_id: u64,
    /// Concurrent committers.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Rows to spread writes over (fewer rows: more lock conflicts).
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Appends `lsn key value` for every acknowledged commit to this file.
    #[arg(long)]
    ack_log: Option<String>,
    /// Instead of load: lock this row, print `holding`, and wait forever.
    #[arg(long)]
    hold: Option<u64>,
    /// Instead of load: wait for this row's lock, print how long it took.
    #[arg(long)]
    lock: Option<u64>,
    /// Only lock and abort (measures the lock path without commits).
    #[arg(long)]
    lock_only: bool,
}

fn row_lock(key: u64) -> pb::LockSpec {
    pb::LockSpec {
        table_id: 1,
        key_hash: Some(key),
        mode: pb::LockMode::RowExclusive as i32,
    }
}

/// Joins whichever coordinator answers, as a frontend holding what is
/// durable (it keeps no data of its own), retrying for up to `within`.
async fn join_any(args: &Args, within: Duration) -> Result<CoordinatorClient> {
    let deadline = Instant::now() + within;
    loop {
        for addr in args.coordinator.split(',') {
            let ep = endpoint_url(addr.trim());
            let held = async {
                let mut c = pb::coordinator_client::CoordinatorClient::connect(ep.clone())
                    .await
                    .ok()?;
                Some(
                    c.status(pb::StatusRequest {})
                        .await
                        .ok()?
                        .into_inner()
                        .last_lsn,
                )
            };
            let Ok(Some(held)) = tokio::time::timeout(Duration::from_millis(500), held).await
            else {
                continue;
            };
            match CoordinatorClient::join(&ep, args.frontend_id, "load", held, None).await {
                Ok(c) => return Ok(c),
                Err(e) => eprintln!("join {ep}: {e}"),
            }
        }
        if Instant::now() >= deadline {
            bail!("no coordinator of {} answered", args.coordinator);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(key) = args.hold {
        let c = join_any(&args, Duration::from_secs(10)).await?;
        let txn = TxnId {
            frontend: args.frontend_id,
            txn: 1,
        };
        c.lock(txn, 1, vec![row_lock(key)], pb::WaitPolicy::Wait, None)
            .await
            .context("take the lock")?;
        println!("holding");
        std::io::stdout().flush()?;
        std::future::pending::<()>().await;
    }
    if let Some(key) = args.lock {
        let c = join_any(&args, Duration::from_secs(10)).await?;
        let txn = TxnId {
            frontend: args.frontend_id,
            txn: 1,
        };
        let started = Instant::now();
        c.lock(
            txn,
            1,
            vec![row_lock(key)],
            pb::WaitPolicy::Wait,
            Some(Duration::from_secs(30)),
        )
        .await
        .context("wait for the lock")?;
        println!("{{\"waited_ms\":{}}}", started.elapsed().as_millis());
        return Ok(());
    }

    let ack_log = match &args.ack_log {
        Some(path) => Some(Arc::new(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("open {path}"))?,
        ))),
        None => None,
    };
    let client = Arc::new(tokio::sync::RwLock::new(Arc::new(
        join_any(&args, Duration::from_secs(10)).await?,
    )));
    let deadline = Instant::now() + Duration::from_secs_f64(args.duration);
    let next_txn = Arc::new(AtomicU64::new(1));
    let failed = Arc::new(AtomicU64::new(0));
    let cpu_start = cpu_seconds();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..args.clients {
        let (client, next_txn, failed, ack_log, args) = (
            client.clone(),
            next_txn.clone(),
            failed.clone(),
            ack_log.clone(),
            args.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut rng_state = (worker as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            while Instant::now() < deadline {
                rng_state ^= rng_state << 13;
                rng_state ^= rng_state >> 7;
                rng_state ^= rng_state << 17;
                let key = rng_state % args.keys;
                let c = client.read().await.clone();
                let txn = TxnId {
                    frontend: args.frontend_id,
                    txn: next_txn.fetch_add(1, Ordering::Relaxed),
                };
                let value = format!("{}-{}", txn.txn, worker);
                let t0 = Instant::now();
                let result = async {
                    c.lock(
                        txn,
                        1,
                        vec![row_lock(key)],
                        pb::WaitPolicy::Wait,
                        Some(Duration::from_secs(5)),
                    )
                    .await?;
                    if args.lock_only {
                        c.abort(txn).await?;
                        return Ok(0);
                    }
                    c.commit(txn, vec![Write::put(format!("row{key}"), value.clone())])
                        .await
                }
                .await;
                match result {
                    Ok(lsn) => {
                        latencies.push(t0.elapsed());
                        if let (Some(log), false) = (&ack_log, args.lock_only) {
                            let mut f = log.lock().expect("ack log lock");
                            let _ = writeln!(f, "{lsn} row{key} {value}");
                        }
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        let _ = c.abort(txn).await;
                        if !c.is_serving() {
                            // Lost the coordinator (failover): re-join once
                            // for everybody.
                            let mut shared = client.write().await;
                            if Arc::ptr_eq(&shared, &c) {
                                match join_any(&args, Duration::from_secs(15)).await {
                                    Ok(new) => *shared = Arc::new(new),
                                    Err(e) => eprintln!("rejoin: {e}"),
                                }
                            }
                        } else {
                            tracing_error(&e.to_string());
                        }
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.context("worker")?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_start;
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
    };
    let us = |d: Option<&Duration>| d.map_or(0, |d| d.as_micros());
    println!(
        "{{\"clients\":{},\"commits\":{},\"failed\":{},\"seconds\":{:.2},\"commits_per_s\":{:.0},\"p50_us\":{},\"p99_us\":{},\"client_cpu_s\":{:.2}}}",
        args.clients,
        latencies.len(),
        failed.load(Ordering::Relaxed),
        elapsed,
        latencies.len() as f64 / elapsed,
        us(pct(0.50)),
        us(pct(0.99)),
        cpu
    );
    Ok(())
}

fn tracing_error(msg: &str) {
    if std::env::var_os("SHOAL_LOAD_VERBOSE").is_some() {
        eprintln!("commit failed: {msg}");
    }
}

/// This process's CPU time (user + system) in seconds, from /proc.
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses).
    let Some(rest) = stat.rsplit(')').next() else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    (ticks(11) + ticks(12)) / 100.0
}
