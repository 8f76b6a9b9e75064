//! Multi-process tests of the coordinator: real `shoal coordinator`
//! processes and real `shoal-commit-load` client processes on 127.0.0.1,
//! killed with SIGKILL.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shoal_storage::db::{Store, StoreOptions};

/// A child process killed (SIGKILL) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn kill9(&mut self) {
        self.0.kill().expect("SIGKILL");
        let _ = self.0.wait();
    }
}

fn free_addr() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").to_string()
}

fn coordinator(store: &str, listen: &str, watch: Option<&str>) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shoal"));
    cmd.args(["coordinator", "--store", store, "--listen", listen]);
    if let Some(w) = watch {
        cmd.args(["--spare", "--watch", w]);
    }
    cmd.env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    Proc(cmd.spawn().expect("start shoal coordinator"))
}

fn load(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shoal-commit-load"));
    cmd.args(args).stderr(Stdio::inherit());
    cmd
}

/// Waits until `shoal ctl status` answers at `addr`.
fn wait_ready(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let ok = Command::new(env!("CARGO_BIN_EXE_shoal"))
            .args(["ctl", "status", "--coordinator", addr])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("coordinator at {addr} did not come up");
}

fn store_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// Checks every acknowledged commit of an ack log against the store: the
/// value is there at its LSN.
fn check_acks(dir: &Path, logs: &[std::path::PathBuf]) -> usize {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let opts = StoreOptions {
            epoch: u64::MAX,
            ..StoreOptions::default()
        };
        let store = Store::open_url(&store_url(dir), opts)
            .await
            .expect("open store");
        let mut n = 0;
        for log in logs {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            for line in text.lines() {
                let mut parts = line.split(' ');
                let (Some(lsn), Some(key), Some(value)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    panic!("bad ack line {line:?}");
                };
                let lsn: u64 = lsn.parse().expect("lsn");
                let got = store.get(key.as_bytes(), lsn).await.expect("get");
                assert_eq!(
                    got.as_deref(),
                    Some(value.as_bytes()),
                    "acknowledged commit {line:?} is not in the store"
                );
                n += 1;
            }
        }
        n
    })
}

#[test]
fn a_killed_clients_locks_are_released_within_one_lease() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = free_addr();
    let _coord = coordinator(&store_url(dir.path()), &addr, None);
    wait_ready(&addr);

    let mut holder = Proc(
        load(&["--coordinator", &addr, "--frontend-id", "1", "--hold", "42"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start holder"),
    );
    let mut line = String::new();
    BufReader::new(holder.0.stdout.as_mut().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    assert_eq!(line.trim(), "holding");

    let waiter = load(&["--coordinator", &addr, "--frontend-id", "2", "--lock", "42"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start waiter");
    std::thread::sleep(Duration::from_millis(500));
    let killed = Instant::now();
    holder.kill9();
    let out = waiter.wait_with_output().expect("waiter");
    assert!(out.status.success(), "waiter failed");
    let since_kill = killed.elapsed();
    // Lease 2 s plus the coordinator's 0.5 s drift margin, plus slack for
    // process start-up on a loaded machine.
    assert!(
        since_kill <= Duration::from_millis(4000),
        "lock freed {since_kill:?} after the kill"
    );
    assert!(
        since_kill >= Duration::from_millis(1000),
        "freed before the lease could expire: {since_kill:?}"
    );
}

#[test]
fn three_clients_commit_concurrently_and_survive_a_coordinator_kill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs_dir = tempfile::tempdir().expect("tempdir");
    let store = store_url(dir.path());
    let active_addr = free_addr();
    let spare_addr = free_addr();
    let mut active = coordinator(&store, &active_addr, None);
    wait_ready(&active_addr);
    let _spare = coordinator(&store, &spare_addr, Some(&active_addr));

    let both = format!("{active_addr},{spare_addr}");
    let logs: Vec<_> = (1..=3)
        .map(|i| logs_dir.path().join(format!("acks-{i}")))
        .collect();
    let clients: Vec<_> = (1..=3)
        .map(|i| {
            let id = i.to_string();
            let log = logs[i - 1].to_string_lossy().to_string();
            load(&[
                "--coordinator",
                &both,
                "--frontend-id",
                &id,
                "--clients",
                "4",
                "--duration",
                "8",
                "--keys",
                "200",
                "--ack-log",
                &log,
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start load")
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let acked_before_kill = check_lines(&logs);
    assert!(
        acked_before_kill > 0,
        "commits were acknowledged before the kill"
    );
    active.kill9();
    let killed = Instant::now();

    let mut total = 0;
    for c in clients {
        let out = c.wait_with_output().expect("load");
        assert!(out.status.success(), "load client failed");
        let json = String::from_utf8_lossy(&out.stdout);
        let commits: u64 = field(&json, "commits");
        assert!(commits > 0, "{json}");
        total += commits;
    }
    // Commits resumed on the spare: acknowledgements after the kill.
    let acked = check_lines(&logs);
    assert!(
        acked > acked_before_kill,
        "the spare took over and commits went on"
    );
    let _ = killed;
    // Every acknowledged commit is durable in the store.
    let checked = check_acks(dir.path(), &logs);
    assert_eq!(checked as u64, total);
}

#[test]
fn a_second_coordinator_on_the_same_store_deposes_the_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_url(dir.path());
    let first_addr = free_addr();
    let mut first = coordinator(&store, &first_addr, None);
    wait_ready(&first_addr);
    let second_addr = free_addr();
    let _second = coordinator(&store, &second_addr, None);
    wait_ready(&second_addr);
    // The first finds the newer epoch within half a lease and stops.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = first.0.try_wait().expect("wait") {
            assert!(
                !status.success(),
                "a deposed coordinator exits with an error"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the deposed coordinator kept running"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn check_lines(logs: &[std::path::PathBuf]) -> usize {
    logs.iter()
        .map(|l| {
            std::fs::read_to_string(l)
                .unwrap_or_default()
                .lines()
                .count()
        })
        .sum()
}

fn field(json: &str, name: &str) -> u64 {
    let key = format!("\"{name}\":");
    let start = json
        .find(&key)
        .unwrap_or_else(|| panic!("{name} missing in {json}"))
        + key.len();
    json[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("{name} unreadable in {json}"))
}
