"""The cluster under a nemesis: kill -9 of a frontend under the bank
workload, SIGSTOP of a frontend past its lease, kill -9 of the active
coordinator with a spare running, and SIGTERM of a frontend. Each test
measures how long the others took to commit again and prints a summary
line (pytest -s shows them)."""

from __future__ import annotations

import itertools
import time

from workload import Bank, Client, Counter, Inserts, Stats, Workers

NODES = (0, 1, 2)


def wait_until(predicate, timeout: float, interval: float = 0.02) -> float | None:
    """Seconds until `predicate()` held, or None after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(interval)
    return None


def first_commit_after(commits, since: float, nodes) -> float | None:
    """When the first transaction invoked at or after `since` on one of
    `nodes` was acknowledged, as seconds after `since`."""
    done = [complete for node, invoked, complete in commits if node in nodes and invoked >= since]
    return min(done) - since if done else None


def test_frontend_kill9_under_bank(make_cluster):
    """kill -9 one of three frontends while all transfer money, then
    restart it: the other two commit again within 3 s (the dead node's
    locks and its unacknowledged batches are released when its lease
    runs out), every total read is exact, the final total holds, and the
    restarted node serves again."""
    c = make_cluster(3)
    bank = Bank(c)
    bank.setup()
    transfers, totals = Stats("kill -9 frontend: bank transfers"), Stats("kill -9 frontend: bank totals")
    workers = Workers()
    bank.spawn(workers, NODES, transfers, totals)
    victim, survivors = 2, (0, 1)
    try:
        time.sleep(2)
        killed = time.monotonic()
        c.kill(victim)
        recovered = wait_until(lambda: first_commit_after(bank.commits, killed, survivors) is not None, 15)
        recovery = first_commit_after(bank.commits, killed, survivors)
        time.sleep(0.5)
        restart_s = c.restart(victim)
        restarted = time.monotonic()
        rejoined = wait_until(lambda: first_commit_after(bank.commits, restarted, (victim,)) is not None, 15)
        workers.stop.wait(1.5)
    finally:
        workers.join()
    final = bank.final_totals(NODES)
    transfers.summary(
        f"{len(bank.bad_totals)} wrong totals, final (sum, count) per node {final}",
        kill_to_others_committing_s=_r(recovery),
        restart_to_healthy_s=_r(restart_s),
        restarted_node_committing_s=_r(first_commit_after(bank.commits, restarted, (victim,))),
    )
    totals.summary(f"{len(bank.bad_totals)} wrong totals", totals_read=bank.totals_read)
    assert not bank.bad_totals, bank.bad_totals[:10]
    assert all(v == (bank.total, bank.accounts) for v in final.values()), final
    assert recovered is not None, "the surviving frontends never committed again"
    assert recovery <= 3.0, f"the others committed again only {recovery:.2f} s after the kill"
    assert rejoined is not None, "the restarted frontend committed nothing"


def test_sigstop_past_lease_serves_no_stale_read(make_cluster):
    """SIGSTOP a frontend past its lease while the others keep
    incrementing a counter, then SIGCONT it: it must not serve a single
    read from its stale state (every read fails or shows every increment
    acknowledged before it began), its /health must not say 200 once the
    lease is over, the others commit again once it is evicted, and it
    re-joins and serves within a few seconds."""
    c = make_cluster(3)
    lease = c.lease_ms / 1000
    counter = Counter(c)
    counter.setup()
    writes, reads = Stats("SIGSTOP: increments"), Stats("SIGSTOP: reads")
    victim = 2
    # A session open across the stop, as a pooled client would hold.
    held = Client(c, victim, conn=c.connect(victim))
    held.execute("SELECT v FROM ctr WHERE k = 0").fetchone()
    workers = Workers()
    for n in (0, 1):
        workers.spawn(counter.writer, n, writes)
        workers.spawn(counter.reader, n, reads)
    health_stopped, health_after = [], []
    try:
        time.sleep(1)
        stopped = time.monotonic()
        c.stop(victim)
        # A frozen process answers nothing; the checks that matter come
        # after SIGCONT, when it runs again with its stale memtable.
        while time.monotonic() < stopped + lease + 1.5:
            health_stopped.append((time.monotonic() - stopped, c.health(victim, timeout=0.2)))
            time.sleep(0.1)
        before_cont = len(counter.acks)
        c.cont(victim)
        resumed = time.monotonic()
        workers.spawn(counter.reader, victim, reads, held)
        workers.spawn(counter.reader, victim, reads, None, True)
        while time.monotonic() < resumed + 6:
            health_after.append((round(time.monotonic() - resumed, 2), c.health(victim, timeout=0.5)))
            time.sleep(0.05)
        workers.stop.wait(0.5)
    finally:
        workers.join()
    # The survivors wait for the stopped node's acks until it is evicted.
    evicted_commit = first_commit_after(counter.commits, stopped, (0, 1))
    stale = counter.stale_reads()
    victim_reads = [(t, v) for n, t, v in counter.reads if n == victim]
    victim_errors = [(t, e) for n, t, e in counter.read_errors if n == victim]
    healthy_at = next((t for t, s in health_after if s == 200), None)
    served_at = min((t - resumed for t, _ in victim_reads), default=None)
    reads.summary(
        f"{len(stale)} stale reads",
        victim_reads=len(victim_reads),
        victim_errors=len(victim_errors),
        first_victim_error=victim_errors[0][1][:120] if victim_errors else None,
        others_committing_after_stop_s=_r(evicted_commit),
        healthy_after_cont_s=healthy_at,
        serving_after_cont_s=_r(served_at),
    )
    writes.summary(f"{len(stale)} stale reads", increments_while_stopped=before_cont)
    late = [(round(t, 2), s) for t, s in health_stopped if t > lease and s == 200]
    assert not late, f"/health said 200 while stopped past the lease: {late}"
    assert not stale, stale[:10]
    assert evicted_commit is not None and evicted_commit <= lease + 1.5, (
        f"the others committed again only {evicted_commit} s after the stop"
    )
    # Evicted, the frontend joins again by itself and catches up.
    assert healthy_at is not None and healthy_at <= 5, (
        f"frontend {victim} not healthy within 5 s after SIGCONT: {health_after[-3:]}; "
        f"its last read error: {victim_errors[-1][1] if victim_errors else None}"
    )
    assert served_at is not None and served_at <= 5, f"frontend {victim} served no read within 5 s of SIGCONT"


def test_coordinator_kill9_spare_takes_over(make_cluster):
    """kill -9 the active coordinator while clients on every frontend
    insert rows and read a counter: the spare takes over and frontends
    commit through it within 5 s, every acknowledged row survives on
    every node, and no read is stale."""
    c = make_cluster(3, spare=True)
    counter, rows = Counter(c), Inserts(c)
    counter.setup()
    rows.setup()
    inserts, increments, reads = Stats("failover: inserts"), Stats("failover: increments"), Stats("failover: reads")
    workers = Workers()
    for n in NODES:
        workers.spawn(rows.writer, n, inserts)
        workers.spawn(counter.reader, n, reads)
    workers.spawn(counter.writer, 0, increments)
    try:
        time.sleep(2)
        killed = time.monotonic()
        c.kill_coordinator()
        takeover = c.wait_coordinator_active("spare", 15)
        committing = wait_until(
            lambda: first_commit_after([(n, i, d) for n, _, i, d in rows.acked], killed, NODES) is not None, 15
        )
        workers.stop.wait(2)
    finally:
        workers.join()
    first = first_commit_after([(n, i, d) for n, _, i, d in rows.acked], killed, NODES)
    per_node = {n: _r(first_commit_after([(m, i, d) for m, _, i, d in rows.acked], killed, (n,))) for n in NODES}
    stale = counter.stale_reads()
    problems = rows.check(NODES) if committing is not None else ["(not checked: no frontend serves)"]
    inserts.summary(
        f"{len(stale)} stale reads; {problems or 'no acknowledged row lost'}",
        spare_active_s=_r(takeover),
        kill_to_committing_s=_r(first),
        per_node_committing_s=per_node,
    )
    reads.summary(f"{len(stale)} stale reads")
    assert takeover <= 5, f"the spare became active only {takeover:.2f} s after the kill"
    assert not stale, stale[:10]
    # Frontends follow the new leader through the address in its epoch.
    assert committing is not None and first <= 5, f"no commit through the spare within 5 s (first: {first})"
    assert all(v is not None for v in per_node.values()), f"not every frontend commits again: {per_node}"
    assert not problems, problems


def test_sigterm_leaves_cleanly(make_cluster):
    """SIGTERM a frontend under writes: it exits at once with status 0 and
    the others never wait for its lease to run out (the coordinator learns
    at once that it left); nothing it acknowledged is lost; restarted, it
    serves again."""
    c = make_cluster(3)
    lease = c.lease_ms / 1000
    rows = Inserts(c)
    rows.setup()
    inserts = Stats("SIGTERM: inserts")
    workers = Workers()
    for n in NODES:
        workers.spawn(rows.writer, n, inserts)
    victim, survivors = 2, (0, 1)
    try:
        time.sleep(1.5)
        asked = time.monotonic()
        status = c.terminate(victim)
        exited = time.monotonic() - asked
        workers.stop.wait(lease + 1)
    finally:
        workers.join()
    done = sorted(d for n, _, _, d in rows.acked if n in survivors and d >= asked - 0.5)
    stall = max((b - a for a, b in itertools.pairwise(done)), default=None)
    restart_s = c.restart(victim)
    problems = rows.check(NODES)
    inserts.summary(
        f"{problems or 'no acknowledged row lost'}",
        exit_status=status,
        exit_s=_r(exited),
        longest_stall_of_others_s=_r(stall),
        restart_to_healthy_s=_r(restart_s),
    )
    assert status == 0, f"frontend exited with status {status} on SIGTERM"
    assert exited <= 5, f"frontend took {exited:.2f} s to exit on SIGTERM"
    assert not problems, problems
    # The exiting frontend leaves (Leave RPC): nobody waits for its lease.
    assert stall is not None and stall < lease / 2, (
        f"the others stalled {stall:.2f} s after the SIGTERM (lease {lease} s): the node did not deregister"
    )


def _r(seconds):
    return None if seconds is None else round(seconds, 2)
