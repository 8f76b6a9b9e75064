//! The coordinator's Prometheus metrics: counters and histograms kept with
//! atomics by the core, rendered with the per-frontend gauges of a status
//! snapshot in the text exposition format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::proto as pb;

/// A histogram with fixed upper bounds.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    /// The sum in millionths of the unit, to stay in integer atomics.
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, v: f64) {
        for (b, bucket) in self.bounds.iter().zip(&self.buckets) {
            if v <= *b {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((v * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (b, bucket) in self.bounds.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{b}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}\n{name}_count {count}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
    }
}

/// How far one frontend is behind, from a status snapshot.
type MemberLag = fn(&pb::StatusResponse, &pb::MemberStatus) -> u64;

const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
const SIZES: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0, 4096.0,
];

/// Counters and histograms the core updates as it works.
#[derive(Debug)]
pub struct CoordinatorMetrics {
    pub commits: AtomicU64,
    pub commit_failures: AtomicU64,
    pub batches: AtomicU64,
    pub batch_txns: Histogram,
    pub wal_put_seconds: Histogram,
    /// From seal to visible: WAL write and every frontend's ack.
    pub visible_seconds: Histogram,
    pub lock_requests: AtomicU64,
    pub lock_waits: AtomicU64,
    pub deadlocks: AtomicU64,
    pub lock_timeouts: AtomicU64,
    pub evictions: AtomicU64,
}

impl Default for CoordinatorMetrics {
    fn default() -> Self {
        CoordinatorMetrics {
            commits: AtomicU64::new(0),
            commit_failures: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            batch_txns: Histogram::new(SIZES),
            wal_put_seconds: Histogram::new(SECONDS),
            visible_seconds: Histogram::new(SECONDS),
            lock_requests: AtomicU64::new(0),
            lock_waits: AtomicU64::new(0),
            deadlocks: AtomicU64::new(0),
            lock_timeouts: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }
}

pub fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl CoordinatorMetrics {
    /// The exposition text: these metrics plus the gauges of `status`.
    pub fn render(&self, status: &pb::StatusResponse) -> String {
        let mut out = String::with_capacity(4096);
        let counters = [
            (
                "shoal_commits_total",
                "Transactions committed (visible).",
                &self.commits,
            ),
            (
                "shoal_commit_failures_total",
                "Commits that failed or whose outcome is unknown.",
                &self.commit_failures,
            ),
            (
                "shoal_batches_total",
                "Group-commit batches written as WAL segments.",
                &self.batches,
            ),
            (
                "shoal_lock_requests_total",
                "Lock requests (one per statement batch).",
                &self.lock_requests,
            ),
            (
                "shoal_lock_waits_total",
                "Lock requests that had to wait.",
                &self.lock_waits,
            ),
            (
                "shoal_deadlocks_total",
                "Deadlock victims chosen.",
                &self.deadlocks,
            ),
            (
                "shoal_lock_timeouts_total",
                "Lock waits that hit lock_timeout.",
                &self.lock_timeouts,
            ),
            (
                "shoal_evictions_total",
                "Frontend incarnations evicted.",
                &self.evictions,
            ),
        ];
        for (name, help, c) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                c.load(Ordering::Relaxed)
            );
        }
        self.batch_txns.render(
            &mut out,
            "shoal_batch_transactions",
            "Transactions per group-commit batch.",
        );
        self.wal_put_seconds.render(
            &mut out,
            "shoal_wal_put_seconds",
            "Latency of WAL segment writes.",
        );
        self.visible_seconds.render(
            &mut out,
            "shoal_commit_visible_seconds",
            "From sealing a batch to it being visible.",
        );
        let gauges = [
            ("shoal_epoch", "The leadership epoch.", status.epoch),
            (
                "shoal_last_lsn",
                "The last LSN handed out.",
                status.last_lsn,
            ),
            (
                "shoal_visible_lsn",
                "The highest visible LSN.",
                status.visible_lsn,
            ),
            (
                "shoal_flushed_lsn",
                "Every LSN at or below it is in SSTs.",
                status.flushed_lsn,
            ),
            (
                "shoal_members",
                "Live frontend members.",
                status.members.len() as u64,
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        let lags: [(&str, &str, MemberLag); 2] = [
            (
                "shoal_frontend_received_lag",
                "LSNs the frontend has not yet received.",
                |s, m| s.last_lsn.saturating_sub(m.received_lsn),
            ),
            (
                "shoal_frontend_visible_lag",
                "LSNs visible at the coordinator but not yet at the frontend.",
                |s, m| s.visible_lsn.saturating_sub(m.visible_lsn),
            ),
        ];
        for (name, help, lag) in lags {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for m in &status.members {
                let id = m.member.unwrap_or_default().frontend_id;
                let _ = writeln!(out, "{name}{{frontend=\"{id}\"}} {}", lag(status, m));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_member_gauges() {
        let m = CoordinatorMetrics::default();
        inc(&m.commits);
        m.batch_txns.observe(3.0);
        m.wal_put_seconds.observe(0.004);
        let status = pb::StatusResponse {
            last_lsn: 10,
            visible_lsn: 9,
            members: vec![pb::MemberStatus {
                member: Some(pb::Member {
                    frontend_id: 4,
                    incarnation: 1,
                }),
                received_lsn: 7,
                visible_lsn: 6,
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = m.render(&status);
        assert!(text.contains("shoal_commits_total 1\n"), "{text}");
        assert!(
            text.contains("shoal_batch_transactions_bucket{le=\"4\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("shoal_batch_transactions_bucket{le=\"2\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("shoal_wal_put_seconds_count 1\n"), "{text}");
        assert!(
            text.contains("shoal_frontend_received_lag{frontend=\"4\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("shoal_frontend_visible_lag{frontend=\"4\"} 3\n"),
            "{text}"
        );
    }
}
