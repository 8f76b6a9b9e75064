#!/usr/bin/env python3
"""A long soak of a cluster of real processes under a nemesis, for a person
to run for minutes (the tests in this directory are its short variants):

    python3 tests/cluster/soak.py --minutes 10
    SHOAL_TEST_STORE=s3 scripts/moto.sh python3 tests/cluster/soak.py --minutes 5
    SHOAL_BIN=target/release/shoal python3 tests/cluster/soak.py --minutes 30 --json soak.json

A coordinator, a hot spare and three frontends (the debug build, or
$SHOAL_BIN) run the bank (transfers under READ COMMITTED, totals read
under REPEATABLE READ), a counter (increments on every node, reads on
every node) and unique inserts on every node, while every few seconds the
nemesis does one of: kill -9 a frontend (restarted a second later),
SIGSTOP a frontend past its lease (then SIGCONT), SIGTERM a frontend
(restarted), or kill -9 the active coordinator (the spare takes over; the
killed one comes back as the new spare, so the next coordinator kill hits
the other one).

At the end it checks every node: the bank's total is unchanged and no
total read was wrong, no read missed an increment acknowledged before it
began, every acknowledged row is on every node and nothing unattempted
is. It prints one summary line per workload (attempted / acknowledged /
failed / unknown, anomalies) and the recovery times of each kind of fault
against the goals (frontend kill: others committing again within 3 s;
coordinator kill: committing through the spare within 5 s).

Exit status: 0 when there were no anomalies and every recovery met its
goal, 1 on an anomaly, 2 when only a recovery goal was missed.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import random
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from cluster import Cluster, http_status  # noqa: E402
from test_failures import first_commit_after, wait_until  # noqa: E402
from workload import Bank, Counter, Inserts, Stats, Workers  # noqa: E402

NODES = (0, 1, 2)
#: Recovery goals, seconds (issue: frontend kill ≤ 3 s, coordinator kill ≤ 5 s).
GOALS = {"frontend kill -9": 3.0, "coordinator kill -9": 5.0}


class Coordinators:
    """The active coordinator and the spare, which swap roles at each kill:
    the killed one restarts as the spare watching the new active one."""

    def __init__(self, c: Cluster):
        self.c = c
        self.active = (c.coordinator, c.coordinator_port, c.coordinator_http)
        self.standby = (c.spare, c.spare_port, c.spare_http)

    def kill_active(self, timeout: float = 15) -> float | None:
        """kill -9 the active one; returns the seconds until the spare says
        it is active (None if it did not within `timeout`)."""
        proc, _, _ = self.active
        spare, spare_port, spare_http = self.standby
        proc.kill()
        took = wait_until(lambda: http_status(spare_http) == 200, timeout, 0.02)
        # Back as the spare of the new leader.
        args = [a for a in proc.args if a != "--spare"]
        if "--watch" in args:
            i = args.index("--watch")
            del args[i : i + 2]
        proc.args = [*args, "--spare", "--watch", f"127.0.0.1:{spare_port}"]
        proc.start()
        self.active, self.standby = self.standby, self.active
        return took


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    length = p.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float, help="how long to run (default 5)")
    length.add_argument("--seconds", type=float, help="how long to run, in seconds")
    p.add_argument("--interval", type=float, default=4.0, help="seconds between faults (default 4)")
    p.add_argument("--lease-ms", type=int, default=2000, help="frontend lease (default 2000, the default)")
    p.add_argument("--seed", type=int, default=None, help="seed of the nemesis's choices")
    p.add_argument("--dir", type=pathlib.Path, help="where the store and logs go (default: a new temp dir)")
    p.add_argument("--json", type=pathlib.Path, help="also write the results to this file")
    p.add_argument(
        "--goals-advisory",
        action="store_true",
        help="report missed recovery goals but exit 0 for them (anomalies still fail)",
    )
    args = p.parse_args(argv)
    duration = args.seconds if args.seconds is not None else 60 * (args.minutes if args.minutes is not None else 5)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    tmp = args.dir or pathlib.Path(tempfile.mkdtemp(prefix="shoal-soak-"))
    print(f"soak: {duration:.0f} s, a fault every {args.interval} s, seed {seed}, logs in {tmp}", flush=True)

    c = Cluster(tmp, frontends=len(NODES), spare=True, lease_ms=args.lease_ms)
    lease = args.lease_ms / 1000
    recoveries: dict[str, list[float]] = {}
    missed: list[str] = []
    with c:
        coordinators = Coordinators(c)
        bank, counter, rows = Bank(c), Counter(c), Inserts(c)
        bank.setup()
        counter.setup()
        rows.setup()
        stats = {
            "bank transfers": Stats("soak: bank transfers"),
            "bank totals": Stats("soak: bank totals"),
            "increments": Stats("soak: increments"),
            "reads": Stats("soak: reads"),
            "inserts": Stats("soak: inserts"),
        }
        workers = Workers()
        bank.spawn(workers, NODES, stats["bank transfers"], stats["bank totals"])
        for n in NODES:
            workers.spawn(counter.writer, n, stats["increments"])
            workers.spawn(counter.reader, n, stats["reads"])
            workers.spawn(rows.writer, n, stats["inserts"])

        def commits():
            return bank.commits + counter.commits + [(n, i, d) for n, _, i, d in rows.acked]

        def record(kind: str, seconds: float | None, note: str = "") -> None:
            if seconds is None:
                missed.append(f"{kind}: no recovery {note}")
                print(f"  {kind}: did not recover {note}", flush=True)
                return
            recoveries.setdefault(kind, []).append(seconds)
            goal = GOALS.get(kind)
            if goal is not None and seconds > goal:
                missed.append(f"{kind}: {seconds:.2f} s > {goal} s {note}")
            print(f"  {kind}: {seconds:.2f} s {note}", flush=True)

        faults = 0
        end = time.monotonic() + duration
        try:
            while time.monotonic() < end and not workers.stop.is_set():
                workers.stop.wait(args.interval)
                if workers.stop.is_set() or time.monotonic() >= end:
                    break
                fault = rng.choice(["kill", "kill", "stop", "term", "coordinator"])
                victim = rng.choice(NODES)
                others = tuple(n for n in NODES if n != victim)
                at = time.monotonic()
                faults += 1
                print(f"[{at - end + duration:6.1f} s] fault {faults}: {fault} (frontend {victim})", flush=True)
                if fault == "kill":
                    c.kill(victim)
                    wait_until(lambda: first_commit_after(commits(), at, others) is not None, 15)
                    record("frontend kill -9", first_commit_after(commits(), at, others), "(others committing)")
                    time.sleep(1)
                    record("frontend restart", c.restart(victim), "(to healthy)")
                elif fault == "stop":
                    c.stop(victim)
                    time.sleep(1.5 * lease)
                    wait_until(lambda: first_commit_after(commits(), at, others) is not None, 15)
                    record("frontend SIGSTOP", first_commit_after(commits(), at, others), "(others committing)")
                    c.cont(victim)
                    record("frontend SIGCONT", c.wait_healthy(victim, 30), "(to healthy)")
                elif fault == "term":
                    rc = c.terminate(victim)
                    if rc != 0:
                        missed.append(f"frontend {victim} exited {rc} on SIGTERM")
                    record("frontend SIGTERM", time.monotonic() - at, f"(exit {rc})")
                    record("frontend restart", c.restart(victim), "(to healthy)")
                else:
                    record("spare takeover", coordinators.kill_active(), "(spare active)")
                    wait_until(lambda: first_commit_after(commits(), at, NODES) is not None, 15)
                    record("coordinator kill -9", first_commit_after(commits(), at, NODES), "(committing)")
                # Every frontend serves again before the next fault.
                for n in NODES:
                    c.wait_healthy(n, 30)
            workers.stop.wait(1)
        finally:
            workers.join()

        final = bank.final_totals(NODES)
        stale = counter.stale_reads()
        row_problems = rows.check(NODES)

    anomalies = []
    if bank.bad_totals:
        anomalies.append(f"{len(bank.bad_totals)} wrong bank totals, e.g. {bank.bad_totals[:3]}")
    wrong_final = {n: v for n, v in final.items() if v != (bank.total, bank.accounts)}
    if wrong_final:
        anomalies.append(f"final bank (sum, count) per node {wrong_final}, expected {(bank.total, bank.accounts)}")
    if stale:
        anomalies.append(f"{len(stale)} stale reads, e.g. {stale[:3]}")
    anomalies += row_problems

    print()
    for s in stats.values():
        s.summary(f"{len(anomalies)} anomalies")
    print(f"soak: {faults} faults in {duration:.0f} s; {bank.totals_read} bank totals read")
    summary = {}
    for kind, times in sorted(recoveries.items()):
        goal = GOALS.get(kind)
        summary[kind] = {
            "count": len(times),
            "median_s": round(statistics.median(times), 3),
            "max_s": round(max(times), 3),
            "goal_s": goal,
        }
        print(
            f"  {kind}: {len(times)}x, median {statistics.median(times):.2f} s, max {max(times):.2f} s"
            + (f" (goal ≤ {goal} s)" if goal else "")
        )
    print(f"anomalies: {len(anomalies)}")
    for a in anomalies:
        print(f"  ANOMALY: {a}")
    for m in missed:
        print(f"  MISSED: {m}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "seconds": duration,
                    "seed": seed,
                    "faults": faults,
                    "workloads": {
                        k: {
                            "attempted": s.attempted,
                            "acknowledged": s.acknowledged,
                            "failed": s.failed,
                            "unknown": s.unknown,
                        }
                        for k, s in stats.items()
                    },
                    "recoveries": summary,
                    "anomalies": anomalies,
                    "missed": missed,
                },
                indent=2,
            )
        )
    if anomalies:
        return 1
    return 2 if missed and not args.goals_advisory else 0


if __name__ == "__main__":
    sys.exit(main())
