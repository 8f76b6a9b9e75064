//! `shoal frontend --cache-dir` end to end: real coordinator and frontend
//! processes on a local store. A frontend killed and started again on the
//! same cache directory answers the same query with every SST page and
//! tail from disk (its /metrics show no disk miss), while one without the
//! directory reads them all from the object store (ahead of the query:
//! without a disk tier the frontend warms its memory with every SST).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (SIGKILL) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_addr() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").to_string()
}

/// The body of an HTTP GET of `path` at `addr`, if it answered 200.
fn http_get(addr: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

/// A gauge from a frontend's /metrics.
fn metric(addr: &str, name: &str) -> u64 {
    let text = http_get(addr, "/metrics").expect("/metrics answers");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

fn until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn coordinator(store: &str, listen: &str) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["coordinator", "--store", store, "--listen", listen])
        .args(["--flush-mb", "1"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start shoal coordinator");
    until("the coordinator", || {
        Command::new(env!("CARGO_BIN_EXE_shoal"))
            .args(["ctl", "status", "--coordinator", listen])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    Proc(child)
}

/// A serving frontend: its process, PostgreSQL address and HTTP address.
fn frontend(
    store: &str,
    coordinator: &str,
    id: u64,
    cache_dir: Option<&Path>,
) -> (Proc, String, String) {
    let (listen, http) = (free_addr(), free_addr());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shoal"));
    cmd.args(["frontend", "--store", store, "--coordinator", coordinator])
        .args([
            "--listen",
            &listen,
            "--http",
            &http,
            "--id",
            &id.to_string(),
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(dir) = cache_dir {
        cmd.arg("--cache-dir")
            .arg(dir)
            .args(["--cache-size", "64MiB"]);
    }
    let mut child = cmd.spawn().expect("start shoal frontend");
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || for _ in BufReader::new(stdout).lines() {});
    let proc = Proc(child);
    until("the frontend's /health", || {
        http_get(&http, "/health").is_some()
    });
    (proc, listen, http)
}

async fn table_sums(pg: &str) -> (i64, i64) {
    let (host, port) = pg.split_once(':').expect("host:port");
    let c = common::connect(&format!(
        "host={host} port={port} user=postgres dbname=postgres"
    ))
    .await;
    let row = c
        .query_one("SELECT count(*), sum(length(body)) FROM t", &[])
        .await
        .expect("query");
    (row.get(0), row.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frontend_restarted_on_its_cache_dir_reads_pages_from_disk() {
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let store = format!("file://{}", data.path().display());
    let coord_addr = free_addr();
    let _coordinator = coordinator(&store, &coord_addr);

    let (first, pg, http) = frontend(&store, &coord_addr, 1, Some(cache.path()));
    {
        let (host, port) = pg.split_once(':').unwrap();
        let c = common::connect(&format!(
            "host={host} port={port} user=postgres dbname=postgres"
        ))
        .await;
        c.batch_execute("CREATE TABLE t (id int PRIMARY KEY, body text NOT NULL)")
            .await
            .unwrap();
        for chunk in 0..4 {
            let (lo, hi) = (chunk * 2000 + 1, chunk * 2000 + 2000);
            c.batch_execute(&format!(
                "INSERT INTO t SELECT g, repeat('x', 300) || g FROM generate_series({lo}, {hi}) g"
            ))
            .await
            .unwrap();
        }
    }
    // The coordinator flushes at 1 MiB; the frontend follows the manifest.
    // Wait until the flushes (and any compaction) are over, so every
    // frontend below reads the same SSTs.
    until("the flushes", || {
        metric(&http, "shoal_frontend_memtable_bytes") < 1 << 20
            && metric(&http, "shoal_frontend_manifest_version") >= 1
    });
    let mut version = metric(&http, "shoal_frontend_manifest_version");
    loop {
        std::thread::sleep(Duration::from_millis(1500));
        let now = metric(&http, "shoal_frontend_manifest_version");
        if now == version {
            break;
        }
        version = now;
    }
    let expected = table_sums(&pg).await;
    assert_eq!(expected.0, 8000);
    let cold_misses = metric(&http, "shoal_page_cache_disk_misses");
    assert!(cold_misses > 0, "the first frontend read SST pages");
    drop(first); // SIGKILL

    let (second, pg, http) = frontend(&store, &coord_addr, 2, Some(cache.path()));
    assert_eq!(table_sums(&pg).await, expected);
    assert_eq!(metric(&http, "shoal_frontend_manifest_version"), version);
    let warm_hits = metric(&http, "shoal_page_cache_disk_hits");
    let warm_misses = metric(&http, "shoal_page_cache_disk_misses");
    let warm_errors = metric(&http, "shoal_page_cache_disk_errors");
    drop(second);

    let (_third, pg, http) = frontend(&store, &coord_addr, 3, None);
    assert_eq!(table_sums(&pg).await, expected);
    // (A frontend without a disk tier reads the SSTs ahead into memory.)
    let no_dir_misses = metric(&http, "shoal_page_cache_misses");
    let no_dir_warmed = metric(&http, "shoal_page_cache_warmed");
    eprintln!(
        "cold: {cold_misses} object-store page/tail reads; restarted on the cache dir: \
         {warm_hits} from disk, {warm_misses} from the object store; without the dir: \
         {no_dir_misses} on demand and {no_dir_warmed} ahead from the object store"
    );
    assert_eq!(
        warm_misses, 0,
        "the restarted frontend read nothing from the store"
    );
    assert_eq!(warm_errors, 0);
    // The same reads as the first frontend's, all from disk this time.
    assert_eq!(warm_hits, cold_misses);
    // Without the directory every page is a GET again, on demand or ahead
    // (SST tails are fetched too, but only the disk tier counts those).
    assert!(
        no_dir_misses + no_dir_warmed > 0 && no_dir_misses <= cold_misses,
        "{no_dir_misses} + {no_dir_warmed}"
    );
    assert_eq!(metric(&http, "shoal_page_cache_disk_hits"), 0);
}
