"""More of the cluster under a nemesis: one frontend cut off from the
coordinator by a network partition (a TCP proxy that drops every byte),
and an object store that is slow (50 ms per PUT) and fails PUTs under
load. Each test prints a summary line (pytest -s shows them)."""

from __future__ import annotations

import time

from test_failures import _r, first_commit_after, wait_until
from workload import Bank, Counter, Stats, Workers

NODES = (0, 1, 2)


def test_partitioned_frontend_serves_no_stale_read(make_cluster):
    """Cut one frontend off from the coordinator while the others keep
    incrementing a counter and it keeps reading: once its lease is over it
    serves no read at all (every read fails or is up to date), its
    /health says 503, the others commit again once it is evicted, and
    after the partition heals it re-joins, catches up and serves again."""
    victim = 2
    c = make_cluster(3, proxied=(victim,))
    lease = c.lease_ms / 1000
    counter = Counter(c)
    counter.setup()
    writes, reads = Stats("partition: increments"), Stats("partition: reads")
    workers = Workers()
    for n in (0, 1):
        workers.spawn(counter.writer, n, writes)
    workers.spawn(counter.reader, victim, reads)
    workers.spawn(counter.reader, victim, reads, None, True)
    health_cut, health_healed = [], []
    try:
        time.sleep(1)
        cut = time.monotonic()
        c.proxy.partition()
        while time.monotonic() < cut + 2 * lease + 2:
            health_cut.append((time.monotonic() - cut, c.health(victim)))
            time.sleep(0.1)
        healed = time.monotonic()
        c.proxy.heal()
        rejoined = wait_until(lambda: c.health(victim) == 200, 15)
        health_healed.append(rejoined)
        served = wait_until(
            lambda: any(n == victim and t > healed + (rejoined or 0) for n, t, _ in counter.reads), 10
        )
        workers.stop.wait(1)
    finally:
        workers.join()
    stale = counter.stale_reads()
    others = first_commit_after(counter.commits, cut + lease, (0, 1))
    late = [(round(t, 2), s) for t, s in health_cut if t > lease + 0.2 and s == 200]
    victim_errors = [e for n, _, e in counter.read_errors if n == victim]
    reads.summary(
        f"{len(stale)} stale reads",
        victim_reads=sum(1 for n, _, _ in counter.reads if n == victim),
        victim_errors=len(victim_errors),
        first_victim_error=victim_errors[0][:120] if victim_errors else None,
        others_committing_after_cut_s=_r(others and others + lease),
        heal_to_healthy_s=_r(rejoined),
        heal_to_serving_s=_r(served),
    )
    writes.summary(f"{len(stale)} stale reads")
    assert not stale, stale[:10]
    assert not late, f"/health said 200 while partitioned past the lease: {late}"
    assert victim_errors, "the partitioned frontend never refused a read"
    assert others is not None, "the others never committed after the partition"
    assert rejoined is not None, "the frontend did not re-join after the partition healed"
    assert served is not None, "the frontend did not serve after re-joining"


def test_slow_and_failing_object_store_loses_nothing(make_cluster):
    """Every object-store PUT of the coordinator takes 50 ms more and 30 %
    of them fail (under the retry layer, as S3's 500s do): the bank keeps
    working, slower; every total read is exact; what was acknowledged
    stays; the final total holds on every node."""
    c = make_cluster(3, coordinator_args=("--fault-put-latency-ms", "50", "--fault-put-error-rate", "0.3"))
    bank = Bank(c)
    bank.setup()
    transfers, totals = Stats("store faults: bank transfers"), Stats("store faults: bank totals")
    workers = Workers()
    bank.spawn(workers, NODES, transfers, totals)
    started = time.monotonic()
    workers.run_for(6)
    elapsed = time.monotonic() - started
    final = bank.final_totals(NODES)
    latencies = sorted(done - invoked for _, invoked, done in bank.commits)
    transfers.summary(
        f"{len(bank.bad_totals)} wrong totals, final (sum, count) per node {final}",
        commits_per_s=round(len(latencies) / elapsed, 1),
        median_commit_s=_r(latencies[len(latencies) // 2]) if latencies else None,
    )
    totals.summary(f"{len(bank.bad_totals)} wrong totals", totals_read=bank.totals_read)
    assert not bank.bad_totals, bank.bad_totals[:10]
    assert all(v == (bank.total, bank.accounts) for v in final.values()), final
    assert latencies, "nothing committed against the slow store"
    # A commit waits for at least one 50 ms WAL PUT.
    assert latencies[len(latencies) // 2] >= 0.05, latencies[:5]
