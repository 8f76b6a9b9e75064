//! Starts `shoal dev` as a real child process for tests that talk to it
//! over the PostgreSQL protocol, and kills it when the test ends.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `shoal dev` process and its frontends' addresses.
pub struct DevCluster {
    child: Child,
    pub frontends: Vec<SocketAddr>,
    _data: Option<tempfile::TempDir>,
}

impl DevCluster {
    /// `shoal dev` on `memory://` with `frontends` frontends on free ports.
    pub fn start(frontends: u16) -> DevCluster {
        Self::start_with(frontends, Some("memory://".to_string()), &[])
    }

    /// `shoal dev` over `store` (None: a fresh temporary directory), with
    /// extra arguments.
    pub fn start_with(frontends: u16, store: Option<String>, extra: &[&str]) -> DevCluster {
        let (store, data) = match store {
            Some(s) => (s, None),
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                (format!("file://{}", dir.path().display()), Some(dir))
            }
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_shoal"))
            .args([
                "dev",
                "--store",
                &store,
                "--port",
                "0",
                "--coordinator-port",
                "0",
            ])
            .args(["--frontends", &frontends.to_string()])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start shoal dev");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut addrs = Vec::new();
        while addrs.len() < frontends as usize {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("shoal dev did not print its frontends in time");
            if let Some(rest) = line.split("postgresql://postgres@").nth(1) {
                let addr = rest.split('/').next().expect("address");
                addrs.push(addr.parse().expect("frontend address"));
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        DevCluster {
            child,
            frontends: addrs,
            _data: data,
        }
    }

    /// A libpq-style connection string for frontend `i`.
    pub fn conn_str(&self, i: usize) -> String {
        let a = self.frontends[i];
        format!(
            "host={} port={} user=postgres dbname=postgres",
            a.ip(),
            a.port()
        )
    }

    /// Connects tokio-postgres to frontend `i`.
    pub async fn connect(&self, i: usize) -> tokio_postgres::Client {
        connect(&self.conn_str(i)).await
    }

    /// Sends SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for DevCluster {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Connects with tokio-postgres, driving the connection on a task.
pub async fn connect(conn: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(conn, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to {conn}: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}
