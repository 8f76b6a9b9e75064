//! Criterion benchmarks of group commit: commits per second, p50/p99 commit
//! latency and CPU per commit for 1, 8 and 64 concurrent committers, each
//! committing one small transaction at a time (as a SQL session does),
//! against a local directory (`file://`, fsynced) and against an in-memory
//! store with 10 ms added to every PUT (roughly S3 Express). Criterion's
//! time per iteration is wall time per commit; the table printed at the end
//! adds what criterion cannot: latency percentiles, segment sizes and CPU.
//!
//! CPU per commit is the process's user + system time (`/proc/self/stat`,
//! 10 ms ticks, read around every measured routine) divided by the commits
//! made. It counts everything in the process: the committers (trivial), the
//! sequencer, the store's encoding and memtable inserts, the object store
//! and tokio. It reads zero where /proc is missing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::ObjectStore;
use shoal_coordinator::group_commit::{GroupCommit, GroupCommitConfig};
use shoal_storage::db::{Store, StoreOptions};
use shoal_storage::object::FaultyStore;
use shoal_storage::Write;

const COMMITTERS: [usize; 4] = [1, 8, 64, 256];
const VALUE: &[u8] = &[b'v'; 100];

/// What one configuration measured across all its routine runs (warm-up
/// included: it is the same steady state).
#[derive(Default)]
struct Tally {
    commits: u64,
    wall: Duration,
    cpu: Duration,
    latencies: Vec<Duration>,
}

struct Row {
    backend: &'static str,
    committers: usize,
    tally: Tally,
    txns_per_batch: f64,
}

/// User + system CPU time of this process so far.
fn process_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name start at field 3 (state);
    // utime and stime are fields 14 and 15, in USER_HZ (100 on Linux) ticks.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => Duration::from_millis((user + system) * 10),
        _ => Duration::ZERO,
    }
}

/// Opens a fresh store on `backend`; the temporary directory (if any)
/// must live as long as the store.
async fn fresh_store(backend: &str) -> (Arc<Store>, Option<tempfile::TempDir>) {
    let (objects, root, dir): (Arc<dyn ObjectStore>, Path, _) = match backend {
        "file" => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("file://{}", dir.path().display());
            let (objects, root) = shoal_storage::object::open_url(&url).expect("open file store");
            (objects, root, Some(dir))
        }
        _ => {
            let faulty = FaultyStore::new(Arc::new(InMemory::new()));
            faulty.faults().set_put_latency(Duration::from_millis(10));
            (Arc::new(faulty), Path::default(), None)
        }
    };
    let store = Store::open(objects, root, StoreOptions::default())
        .await
        .expect("open store");
    (Arc::new(store), dir)
}

/// `commits` commits spread over `committers` tasks; returns the wall time.
async fn commit_round(
    gc: &GroupCommit,
    committers: usize,
    commits: u64,
    round: u64,
    tally: &Mutex<Tally>,
) -> Duration {
    let cpu_before = process_cpu();
    let started = Instant::now();
    let tasks: Vec<_> = (0..committers as u64)
        .map(|c| {
            let gc = gc.clone();
            // Committer c makes every committers-th commit of the round.
            let mine = (c..commits).step_by(committers).count();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(mine);
                for i in 0..mine {
                    let key = format!("r{round:08}/c{c:03}/{i:08}");
                    let t = Instant::now();
                    gc.commit(vec![Write::put(key, VALUE)])
                        .await
                        .expect("commit");
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(commits as usize);
    for task in tasks {
        latencies.extend(task.await.expect("committer"));
    }
    let wall = started.elapsed();
    let cpu = process_cpu().saturating_sub(cpu_before);
    let mut tally = tally.lock().expect("tally");
    tally.commits += commits;
    tally.wall += wall;
    tally.cpu += cpu;
    tally.latencies.extend(latencies);
    wall
}

fn bench_backend(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    backend: &'static str,
) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut group = c.benchmark_group(format!("commit/{backend}"));
    group
        .throughput(Throughput::Elements(1))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for committers in COMMITTERS {
        let (store, _dir) = rt.block_on(fresh_store(backend));
        let (gc, task) =
            rt.block_on(async { GroupCommit::start(store, GroupCommitConfig::default()) });
        let tally = Mutex::new(Tally::default());
        let mut round = 0u64;
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{committers}_committers")),
            &committers,
            |b, &committers| {
                b.to_async(rt).iter_custom(|commits| {
                    round += 1;
                    commit_round(&gc, committers, commits, round, &tally)
                })
            },
        );
        rt.block_on(gc.shutdown());
        rt.block_on(task).expect("join").expect("sequencer");
        let stats = gc.stats();
        rows.push(Row {
            backend,
            committers,
            tally: tally.into_inner().expect("tally"),
            txns_per_batch: stats.txns as f64 / stats.batches.max(1) as f64,
        });
    }
    group.finish();
    rows
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn print_table(rows: &mut [Row]) {
    println!();
    println!(
        "{:<12} {:>10} {:>11} {:>9} {:>9} {:>11} {:>12}",
        "backend", "committers", "commits/s", "p50 ms", "p99 ms", "txns/batch", "CPU µs/cmt"
    );
    for row in rows.iter_mut() {
        let t = &mut row.tally;
        t.latencies.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{:<12} {:>10} {:>11.0} {:>9.2} {:>9.2} {:>11.1} {:>12.1}",
            row.backend,
            row.committers,
            t.commits as f64 / t.wall.as_secs_f64().max(1e-9),
            ms(percentile(&t.latencies, 0.50)),
            ms(percentile(&t.latencies, 0.99)),
            row.txns_per_batch,
            t.cpu.as_secs_f64() * 1e6 / t.commits.max(1) as f64,
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    // As many workers as the benchmark machine has cores (2 in CI).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut rows = bench_backend(&mut c, &rt, "file");
    rows.extend(bench_backend(&mut c, &rt, "put+10ms"));
    c.final_summary();
    print_table(&mut rows);
}
