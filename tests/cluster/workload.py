"""Client-side machinery the cluster workloads share: client threads that
reconnect after errors, how an error maps to an outcome (certainly not
applied, or unknown), counters and the one-line summary every workload
prints, and the workloads used both with and without a nemesis: the bank,
a counter (no read may miss an acknowledged increment) and unique inserts
(no acknowledged row may be lost)."""

from __future__ import annotations

import bisect
import dataclasses
import random
import threading
import time
from collections.abc import Callable

import psycopg

from checkers import FAIL, INFO

#: Errors after which the statement (and its transaction) certainly did
#: not take effect: serialization failures, deadlock victims, constraint
#: and data errors, a transaction already aborted. Any other error (a lost
#: connection, a lost lease at COMMIT) leaves the outcome unknown.
DEFINITE = ("40001", "40P01", "25P02", "55P03")
DEFINITE_CLASSES = ("22", "23", "42")
#: Worth retrying at once: the transaction lost a race, nothing is wrong.
RETRY = ("40001", "40P01")


def sqlstate(exc: BaseException) -> str | None:
    return getattr(exc, "sqlstate", None)


def outcome(exc: BaseException) -> str:
    """FAIL when `exc` proves the transaction did not commit, else INFO."""
    code = sqlstate(exc) or ""
    return FAIL if code in DEFINITE or code[:2] in DEFINITE_CLASSES else INFO


class Client:
    """One client's connection to one frontend, reopened after it breaks
    (the frontend was killed, restarted, or dropped it)."""

    def __init__(self, cluster, node: int, conn: psycopg.Connection | None = None):
        self.cluster = cluster
        self.node = node
        self._conn = conn

    def conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = None
            self._conn = self.cluster.connect(self.node, timeout=3)
        return self._conn

    def execute(self, sql: str, params=None) -> psycopg.Cursor:
        return self.conn().execute(sql, params)

    def transaction(self, isolation: str, body: Callable[[psycopg.Connection], object]):
        """Runs `body(conn)` between BEGIN ISOLATION LEVEL `isolation` and
        COMMIT; rolls back and re-raises on error."""
        conn = self.conn()
        conn.execute(f"BEGIN ISOLATION LEVEL {isolation}")
        try:
            result = body(conn)
            conn.execute("COMMIT")
            return result
        except BaseException:
            self.rollback()
            raise

    def rollback(self) -> None:
        try:
            if self._conn is not None and not self._conn.broken:
                self._conn.execute("ROLLBACK")
        except psycopg.Error:
            self.close()

    def after_error(self, exc: BaseException) -> None:
        """Drops a broken connection and, unless the error was a lost race,
        pauses a little so a dead node is not hammered."""
        if self._conn is not None and (self._conn.broken or self._conn.closed):
            self.close()
        if sqlstate(exc) not in RETRY:
            time.sleep(0.05)

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
        self._conn = None


@dataclasses.dataclass
class Stats:
    """What a workload's clients did; shared by its threads."""

    name: str
    attempted: int = 0
    acknowledged: int = 0
    failed: int = 0
    unknown: int = 0
    retries: int = 0
    errors: dict = dataclasses.field(default_factory=dict)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def ok(self) -> None:
        with self.lock:
            self.attempted += 1
            self.acknowledged += 1

    def error(self, exc: BaseException, retried: bool = False) -> str:
        """Counts a failed attempt; returns its outcome (FAIL or INFO)."""
        result = outcome(exc)
        with self.lock:
            self.attempted += 1
            if retried:
                self.retries += 1
            if result == FAIL:
                self.failed += 1
            else:
                self.unknown += 1
            key = sqlstate(exc) or type(exc).__name__
            self.errors[key] = self.errors.get(key, 0) + 1
        return result

    def summary(self, anomalies, **measured) -> str:
        """The line every workload prints."""
        extra = "".join(f", {k} {v}" for k, v in measured.items())
        line = (
            f"[{self.name}] attempted {self.attempted}, acknowledged {self.acknowledged}, "
            f"failed {self.failed}, unknown {self.unknown} (retried {self.retries}; errors {self.errors}), "
            f"anomalies: {anomalies}{extra}"
        )
        print(line, flush=True)
        return line


class Workers:
    """Client threads that run until `stop` is set; `join` re-raises the
    first exception a thread died of (a failed assertion, a bug)."""

    def __init__(self):
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.crashed: list[BaseException] = []

    def spawn(self, fn: Callable, *args) -> None:
        def run():
            try:
                fn(self.stop, *args)
            except BaseException as e:  # surfaced by join()
                self.crashed.append(e)
                self.stop.set()

        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.threads.append(t)

    def run_for(self, seconds: float) -> None:
        self.stop.wait(seconds)
        self.join()

    def join(self, timeout: float = 30) -> None:
        self.stop.set()
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        hung = sum(t.is_alive() for t in self.threads)
        if self.crashed:
            raise self.crashed[0]
        assert not hung, f"{hung} client threads still running {timeout} s after stop (a node hangs)"


# --------------------------------------------------------------------------
# Bank
# --------------------------------------------------------------------------


class Bank:
    """N accounts with a constant total; clients move money between them
    and read the total. Every total read must be exact."""

    def __init__(self, cluster, table="bank", accounts=8, balance=100):
        self.cluster = cluster
        self.table = table
        self.accounts = accounts
        self.total = accounts * balance
        self.balance = balance
        self.bad_totals: list[tuple] = []
        self.totals_read = 0
        #: (node, invoke, complete) of every acknowledged transfer.
        self.commits: list[tuple[int, float, float]] = []
        self.lock = threading.Lock()

    def setup(self) -> None:
        with self.cluster.connect(0) as conn:
            conn.execute(f"CREATE TABLE {self.table} (id int PRIMARY KEY, balance int NOT NULL)")
            with conn.transaction():
                for a in range(self.accounts):
                    conn.execute(f"INSERT INTO {self.table} VALUES (%s, %s)", (a, self.balance))

    def transferer(self, stop: threading.Event, node: int, isolation: str, stats: Stats, seed: int) -> None:
        rng = random.Random(seed)
        client = Client(self.cluster, node)

        def transfer(conn, a, b, amount):
            # Not ordered by id: opposite transfers deadlock now and then,
            # and the victim (40P01) retries.
            conn.execute(f"UPDATE {self.table} SET balance = balance - %s WHERE id = %s", (amount, a))
            conn.execute(f"UPDATE {self.table} SET balance = balance + %s WHERE id = %s", (amount, b))

        while not stop.is_set():
            a, b = rng.sample(range(self.accounts), 2)
            amount = rng.randint(1, 20)
            retried = False
            while not stop.is_set():
                invoked = time.monotonic()
                try:
                    client.transaction(isolation, lambda c: transfer(c, a, b, amount))
                except psycopg.Error as e:
                    stats.error(e, retried)
                    client.after_error(e)
                    if sqlstate(e) in RETRY:
                        retried = True
                        continue
                    break
                stats.ok()
                with self.lock:
                    self.commits.append((node, invoked, time.monotonic()))
                break
        client.close()

    def reader(self, stop: threading.Event, node: int, isolation: str, stats: Stats) -> None:
        """Reads the total: in one statement, and under REPEATABLE READ
        also in two statements of one transaction (one snapshot)."""
        client = Client(self.cluster, node)
        half = self.accounts // 2
        while not stop.is_set():
            try:
                if isolation == "REPEATABLE READ":

                    def two_halves(conn):
                        low = conn.execute(f"SELECT sum(balance) FROM {self.table} WHERE id < %s", (half,))
                        s = low.fetchone()[0]
                        high = conn.execute(f"SELECT sum(balance) FROM {self.table} WHERE id >= %s", (half,))
                        return s + high.fetchone()[0]

                    total = client.transaction(isolation, two_halves)
                else:
                    total = client.execute(f"SELECT sum(balance) FROM {self.table}").fetchone()[0]
            except psycopg.Error as e:
                stats.error(e)
                client.after_error(e)
                continue
            stats.ok()
            with self.lock:
                self.totals_read += 1
                if total != self.total:
                    self.bad_totals.append((node, time.monotonic(), total))
        client.close()

    def spawn(
        self,
        workers: Workers,
        nodes,
        transfers: Stats,
        totals: Stats,
        transfer_isolation: str = "READ COMMITTED",
        read_isolation: str = "REPEATABLE READ",
    ) -> None:
        """Two transferring clients and one reader of the total per node."""
        for n in nodes:
            for j in range(2):
                workers.spawn(self.transferer, n, transfer_isolation, transfers, 10 * n + j)
            workers.spawn(self.reader, n, read_isolation, totals)

    def final_totals(self, nodes) -> dict[int, tuple[int, int]]:
        """(sum, count) of the accounts as each node sees them now."""
        seen = {}
        for i in nodes:
            with self.cluster.connect(i) as conn:
                seen[i] = tuple(conn.execute(f"SELECT sum(balance), count(*) FROM {self.table}").fetchone())
        return seen


# --------------------------------------------------------------------------
# Counter
# --------------------------------------------------------------------------


class Counter:
    """One row that writers increment; a read invoked after an increment
    was acknowledged must show at least that value (a lower value is a
    stale read, whichever node served it)."""

    def __init__(self, cluster, table="ctr"):
        self.cluster = cluster
        self.table = table
        #: (acknowledged at, value) of every increment.
        self.acks: list[tuple[float, int]] = []
        #: (node, invoked at, acknowledged at) of every increment.
        self.commits: list[tuple[int, float, float]] = []
        #: (node, invoked at, value) of every successful read.
        self.reads: list[tuple[int, float, int]] = []
        #: (node, at, error) of every failed read.
        self.read_errors: list[tuple[int, float, str]] = []
        self.lock = threading.Lock()

    def setup(self) -> None:
        with self.cluster.connect(0) as conn:
            conn.execute(f"CREATE TABLE {self.table} (k int PRIMARY KEY, v int NOT NULL)")
            conn.execute(f"INSERT INTO {self.table} VALUES (0, 0)")

    def writer(self, stop: threading.Event, node: int, stats: Stats) -> None:
        client = Client(self.cluster, node)
        while not stop.is_set():
            invoked = time.monotonic()
            try:
                v = client.execute(f"UPDATE {self.table} SET v = v + 1 WHERE k = 0 RETURNING v").fetchone()[0]
            except psycopg.Error as e:
                stats.error(e)
                client.after_error(e)
                continue
            done = time.monotonic()
            stats.ok()
            with self.lock:
                self.acks.append((done, v))
                self.commits.append((node, invoked, done))
        client.close()

    def reader(
        self, stop: threading.Event, node: int, stats: Stats, client: Client | None = None, fresh: bool = False
    ) -> None:
        """Reads in a loop on `client` (default: a new one); with `fresh`
        on a new connection each time."""
        client = client or Client(self.cluster, node)
        while not stop.is_set():
            invoked = time.monotonic()
            try:
                v = client.execute(f"SELECT v FROM {self.table} WHERE k = 0").fetchone()[0]
            except psycopg.Error as e:
                stats.error(e)
                with self.lock:
                    self.read_errors.append((node, invoked, f"{sqlstate(e)}: {str(e).strip()}"))
                client.after_error(e)
                continue
            finally:
                if fresh:
                    client.close()
            stats.ok()
            with self.lock:
                self.reads.append((node, invoked, v))
        client.close()

    def stale_reads(self) -> list[str]:
        """Reads that missed an increment acknowledged before they began."""
        acks = sorted(self.acks)
        times = [t for t, _ in acks]
        best, floor = [], 0
        for _, v in acks:
            floor = max(floor, v)
            best.append(floor)
        stale = []
        for node, invoked, v in self.reads:
            i = bisect.bisect_left(times, invoked)
            if i and v < best[i - 1]:
                stale.append(f"node {node} read {v} at {invoked:.3f}; {best[i - 1]} was acknowledged before")
        return stale


# --------------------------------------------------------------------------
# Unique inserts
# --------------------------------------------------------------------------


class Inserts:
    """Writers insert rows with ids of their own; afterwards every node
    must hold every acknowledged row and nothing never attempted."""

    def __init__(self, cluster, table="ins"):
        self.cluster = cluster
        self.table = table
        #: (node, id, invoked at, acknowledged at) of every acknowledged insert.
        self.acked: list[tuple[int, int, float, float]] = []
        self.unknown: set[int] = set()
        self.lock = threading.Lock()

    def setup(self) -> None:
        with self.cluster.connect(0) as conn:
            conn.execute(f"CREATE TABLE {self.table} (id bigint PRIMARY KEY, node int NOT NULL)")

    def writer(self, stop: threading.Event, node: int, stats: Stats, lane: int = 0) -> None:
        client = Client(self.cluster, node)
        base = (node * 10 + lane) * 1_000_000
        n = 0
        while not stop.is_set():
            n += 1
            invoked = time.monotonic()
            try:
                client.execute(f"INSERT INTO {self.table} VALUES (%s, %s)", (base + n, node))
            except psycopg.Error as e:
                if stats.error(e) == INFO:
                    with self.lock:
                        self.unknown.add(base + n)
                client.after_error(e)
                continue
            stats.ok()
            with self.lock:
                self.acked.append((node, base + n, invoked, time.monotonic()))
        client.close()

    def check(self, nodes) -> list[str]:
        """What each node lacks or holds beyond the acknowledged rows."""
        acked = {i for _, i, _, _ in self.acked}
        problems = []
        for n in nodes:
            with self.cluster.connect(n) as conn:
                stored = {r[0] for r in conn.execute(f"SELECT id FROM {self.table}")}
            lost = acked - stored
            extra = stored - acked - self.unknown
            if lost:
                problems.append(f"node {n} lost {len(lost)} acknowledged rows, e.g. {sorted(lost)[:5]}")
            if extra:
                problems.append(f"node {n} holds {len(extra)} rows never inserted, e.g. {sorted(extra)[:5]}")
        return problems
