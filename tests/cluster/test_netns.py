"""A real network partition: one frontend runs in a network namespace of
its own (netns.py), and the link between it and the coordinator goes dead
while the test still reaches it over a second link, as a load balancer
would. The store is a directory, shared through the file system whatever
the namespace, so the cut-off frontend can still read every page: only its
lease can stop it from serving stale data. Skipped where namespaces cannot
be made (not root, no `ip`, no permission); test_nemesis.py's TCP-proxy
partition covers that case. Prints a summary line (pytest -s shows it)."""

from __future__ import annotations

import itertools
import os
import time

import netns
import psycopg
import pytest
from test_failures import _r, wait_until
from workload import Client, Counter, Stats, Workers, sqlstate


@pytest.fixture
def namespace():
    """A `netns.Namespace`, deleted after the test (after the cluster in
    it, when requested before `make_cluster`); skips the test where none
    can be made."""
    if os.environ.get("SHOAL_TEST_STORE", "file") == "s3":
        # The S3 server of scripts/moto.sh listens on the host's loopback,
        # which a frontend in its own namespace cannot reach.
        pytest.skip("the store is the loopback S3 server, out of the namespace's reach")
    reason = netns.unavailable()
    if reason:
        pytest.skip(f"no network namespace: {reason}")
    ns = netns.Namespace()
    try:
        ns.create()
    except netns.NetnsError as e:
        pytest.skip(f"no network namespace: {e}")
    try:
        yield ns
    finally:
        ns.close()


def victim_writer(stop, counter: Counter, node: int, stats: Stats, log: list) -> None:
    """Increments the counter on `node` (the partitioned one), recording
    (invoked, returned, acknowledged, error or None) of every attempt."""
    client = Client(counter.cluster, node)
    while not stop.is_set():
        invoked = time.monotonic()
        try:
            v = client.execute(f"UPDATE {counter.table} SET v = v + 1 WHERE k = 0 RETURNING v").fetchone()[0]
        except psycopg.Error as e:
            stats.error(e)
            log.append((invoked, time.monotonic(), False, f"{sqlstate(e)}: {str(e).strip()}"))
            client.after_error(e)
            continue
        done = time.monotonic()
        stats.ok()
        log.append((invoked, done, True, None))
        with counter.lock:
            counter.acks.append((done, v))
            counter.commits.append((node, invoked, done))
    client.close()


def test_netns_partitioned_frontend_serves_no_stale_read(namespace, make_cluster):
    """Frontend 2 runs in a namespace; while frontends 0 and 1 increment a
    counter and clients on frontend 2 read it (one session held, one new
    connection per read) and increment it, its link to the coordinator
    goes down for twice its lease. Once its lease is over it serves
    nothing: /health says 503 and every query fails with a clear error;
    no read anywhere misses an increment acknowledged before it began; the
    others commit again once it is evicted. After the link is up again it
    re-joins by itself, says 200 and serves fresh reads."""
    victim, others = 2, (0, 1)
    c = make_cluster(3, netns={victim: namespace})
    lease = c.lease_ms / 1000
    counter = Counter(c)
    counter.setup()
    increments, reads = Stats("netns partition: increments"), Stats("netns partition: reads")
    victim_writes = Stats("netns partition: increments on the partitioned node")
    write_log: list = []
    workers = Workers()
    for n in others:
        workers.spawn(counter.writer, n, increments)
    workers.spawn(counter.reader, victim, reads)
    workers.spawn(counter.reader, victim, reads, None, True)
    workers.spawn(victim_writer, counter, victim, victim_writes, write_log)
    health_cut: list = []
    try:
        time.sleep(1.5)
        before = sum(1 for n, _, _ in counter.reads if n == victim)
        cut = time.monotonic()
        namespace.partition()
        probing = False
        while time.monotonic() < cut + 2 * lease + 2:
            health_cut.append((time.monotonic() - cut, c.health(victim, timeout=0.3)))
            if not probing and time.monotonic() > cut + lease + 0.2:
                # The first writer is likely stuck in a commit sent before
                # the cut; this one's writes all begin past the lease.
                workers.spawn(victim_writer, counter, victim, victim_writes, write_log)
                probing = True
            time.sleep(0.1)
        healed = time.monotonic()
        namespace.heal()
        to_healthy = wait_until(lambda: c.health(victim) == 200, 20)
        to_fresh = wait_until(
            lambda: any(n == victim and t >= healed + (to_healthy or 0) for n, t, _ in counter.reads), 10
        )
        workers.stop.wait(1)
    finally:
        workers.join()

    # Its lease ran from a heartbeat sent before the cut, so it is over
    # `lease` after the cut; 0.1 s of slack for the test's own timing.
    expired = cut + lease + 0.1
    served = [(round(t - cut, 2), v) for n, t, v in counter.reads if n == victim and expired <= t < healed]
    refused = [(t, e) for n, t, e in counter.read_errors if n == victim and expired <= t < healed]
    # A write begun then must fail, not wait for the heal and commit.
    committed = [round(t - cut, 2) for t, _, ok, _ in write_log if ok and expired <= t < healed]
    write_refusals = [e for t, _, ok, e in write_log if not ok and expired <= t < healed]
    # (invoked after the cut, seconds taken, outcome) of the writes that
    # outlived the membership: a lock request in flight at the cut gives up
    # when the lease runs out; a commit waits for its answer until the
    # membership is lost (no heartbeat answered for a lease past the lease,
    # about 2 leases after the cut) and then fails with 08007 (outcome
    # unknown). Neither may wait on the dead link for the heal.
    hung = [
        (_r(t - cut), _r(done - t), "acknowledged" if ok else e[:100])
        for t, done, ok, e in write_log
        if t < healed and done > max(t, cut + lease) + lease + 1.5
    ]
    stale = counter.stale_reads()
    late = [(round(t, 2), s) for t, s in health_cut if t > lease + 0.1 and s == 200]
    first_503 = next((t for t, s in health_cut if s == 503), None)
    # The others stall from the cut until the coordinator evicts the node
    # (a batch is visible only once every live frontend acked it).
    acked = sorted(done for n, _, done in counter.commits if n in others)
    window = [t for t in acked if t < cut][-1:] + [t for t in acked if cut <= t < healed] + [healed]
    stall = max(b - a for a, b in itertools.pairwise(window))
    during = sum(1 for t in acked if cut + lease <= t < healed)
    reads.summary(
        f"{len(stale)} stale reads, {len(served)} reads served past the lease",
        victim_reads_before_cut=before,
        victim_reads_refused_past_lease=len(refused),
        first_refusal=refused[0][1][:140] if refused else None,
        first_503_after_cut_s=_r(first_503),
        heal_to_healthy_s=_r(to_healthy),
        heal_to_fresh_read_s=_r(to_fresh),
    )
    increments.summary(
        f"{len(stale)} stale reads",
        longest_stall_of_others_s=_r(stall),
        others_commits_past_the_lease=during,
        partition_s=_r(healed - cut),
    )
    victim_writes.summary(
        f"{len(committed)} commits past the lease",
        writes_refused_past_lease=len(write_refusals),
        first_write_refusal=write_refusals[0][:140] if write_refusals else None,
        hung_writes=hung[:3],
    )
    assert not stale, stale[:10]
    assert not served, f"frontend {victim} served reads past its lease while partitioned: {served[:10]}"
    assert not committed, f"frontend {victim} committed past its lease while partitioned: {committed[:10]}"
    assert not hung, f"writes on frontend {victim} waited on the dead link past its lease: {hung}"
    assert not late, f"/health said 200 while partitioned past the lease: {late}"
    assert first_503 is not None and first_503 <= lease + 0.1, f"/health first said 503 at {first_503} s"
    assert refused, "no read was refused while partitioned: the readers did not run"
    assert write_refusals, "no write was refused while partitioned: the probe did not run"
    assert during, "the others committed nothing while the frontend was partitioned past its lease"
    assert stall <= lease + 1.5, f"the others stalled {stall:.2f} s around the cut (lease {lease} s)"
    assert to_healthy is not None, "the frontend did not re-join after the link came back"
    assert to_fresh is not None, "the frontend served no read after re-joining"
