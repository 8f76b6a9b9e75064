//! Criterion benchmarks of the coordinator's lock table: CPU per lock request
//! on the uncontended path (the goal is at most 5 µs), and one contended
//! hand-off. Throughput is per lock, so criterion's "elem/s" reads as lock
//! requests per second and its time per iteration divided by the batch size
//! as ns per lock request.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use shoal_coordinator::locks::{LockRequest, LockTable, RowMode, TableMode, TxnId, WaitPolicy};

const WAIT: WaitPolicy = WaitPolicy::Wait { timeout: None };

fn rows(first_key: u64, count: u64) -> Vec<LockRequest> {
    (first_key..first_key + count)
        .map(|key| {
            LockRequest::row(
                1,
                key.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                RowMode::Exclusive,
            )
        })
        .collect()
}

/// One transaction per iteration: acquire the batch, drain the grant,
/// commit. Other transactions hold unrelated rows so the hash maps are not
/// trivially empty.
fn uncontended(c: &mut Criterion, name: &str, batch: u64) {
    let mut table = LockTable::new();
    for i in 0..1_000 {
        let txn = TxnId {
            frontend: 9,
            txn: i,
        };
        table.acquire(txn, 0, rows(1_000_000 + i * 16, 4), WAIT, 0);
    }
    table.drain_effects().for_each(drop);
    let mut group = c.benchmark_group("locks");
    group.throughput(Throughput::Elements(batch));
    let mut n = 0u64;
    group.bench_function(name, |b| {
        b.iter_batched(
            || {
                n += 1;
                (
                    n,
                    TxnId {
                        frontend: 1,
                        txn: n,
                    },
                    rows(n % 64 * batch, batch),
                )
            },
            |(n, txn, locks)| {
                table.acquire(txn, n, locks, WAIT, n);
                black_box(table.drain_effects().count());
                table.release_all(txn, Some(n), n);
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn single_row(c: &mut Criterion) {
    uncontended(c, "single_row_acquire_release", 1);
}

fn batch_of_ten(c: &mut Criterion) {
    uncontended(c, "batch_of_10_rows_acquire_release", 10);
}

/// A typical write statement: IX on the table (shared with many other
/// holders) plus 10 row X locks.
fn statement_with_intent_lock(c: &mut Criterion) {
    let mut table = LockTable::new();
    for i in 0..100 {
        let txn = TxnId {
            frontend: 9,
            txn: i,
        };
        let locks = vec![LockRequest::table(1, TableMode::IntentExclusive)];
        table.acquire(txn, 0, locks, WAIT, 0);
    }
    table.drain_effects().for_each(drop);
    let mut group = c.benchmark_group("locks");
    group.throughput(Throughput::Elements(11));
    let mut n = 0u64;
    group.bench_function("ix_plus_10_rows_with_100_ix_holders", |b| {
        b.iter_batched(
            || {
                n += 1;
                let mut locks = vec![LockRequest::table(1, TableMode::IntentExclusive)];
                locks.extend(rows(n % 64 * 10, 10));
                (
                    n,
                    TxnId {
                        frontend: 1,
                        txn: n,
                    },
                    locks,
                )
            },
            |(n, txn, locks)| {
                table.acquire(txn, n, locks, WAIT, n);
                black_box(table.drain_effects().count());
                table.release_all(txn, Some(n), n);
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// Two transactions pass one row back and forth: each iteration the holder
/// commits, the waiter is granted, and a new waiter queues.
fn contended_handoff(c: &mut Criterion) {
    let mut table = LockTable::new();
    let lock = || vec![LockRequest::row(1, 42, RowMode::Exclusive)];
    let mut holder = TxnId {
        frontend: 1,
        txn: 0,
    };
    table.acquire(holder, 0, lock(), WAIT, 0);
    let mut n = 0u64;
    let mut group = c.benchmark_group("locks");
    group.throughput(Throughput::Elements(1));
    group.bench_function("contended_handoff", |b| {
        b.iter(|| {
            n += 1;
            let waiter = TxnId {
                frontend: 1 + n % 2,
                txn: n,
            };
            table.acquire(waiter, n, lock(), WAIT, n);
            table.release_all(holder, Some(n), n);
            black_box(table.drain_effects().count());
            holder = waiter;
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    single_row,
    batch_of_ten,
    statement_with_intent_lock,
    contended_handoff
);
criterion_main!(benches);
