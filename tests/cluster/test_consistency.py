"""Consistency across the nodes of one cluster (three frontends, real
processes): read-your-writes and linearizable registers, the bank, Elle's
list-append, sequences and unique keys, and schema changes under writes.
Each workload prints a summary line (run pytest with -s to see them) and
fails on any anomaly."""

from __future__ import annotations

import itertools
import random
import threading
import time

import psycopg
import pytest

from checkers import FAIL, INFO, OK, Op, Txn, check_list_append, check_registers
from workload import Bank, Client, Stats, Workers, sqlstate

NODES = (0, 1, 2)


def test_read_your_writes_on_every_node(cluster3):
    """A client commits on one node and at once reads on the two others;
    three such clients run at once (each on its own key, each rotating the
    node it commits on). Every read must show the value just committed."""
    c = cluster3
    writers, rounds = 3, 200
    with c.connect(0) as conn:
        conn.execute("CREATE TABLE ryw (k int PRIMARY KEY, v int NOT NULL)")
        for k in range(writers):
            conn.execute("INSERT INTO ryw VALUES (%s, 0)", (k,))
    stats = Stats("read-your-writes")
    reads = Stats("read-your-writes reads")
    stale: list[str] = []

    def writer(stop, k):
        clients = [Client(c, i) for i in NODES]
        acked = attempted = 0
        for v in range(1, rounds + 1):
            if stop.is_set():
                break
            a = (k + v) % 3
            attempted = v
            try:
                assert clients[a].execute("UPDATE ryw SET v = %s WHERE k = %s", (v, k)).rowcount == 1
                stats.ok()
                acked = v
            except psycopg.Error as e:
                stats.error(e)
                clients[a].after_error(e)
                continue
            for b in NODES:
                if b == a:
                    continue
                try:
                    seen = clients[b].execute("SELECT v FROM ryw WHERE k = %s", (k,)).fetchone()[0]
                except psycopg.Error as e:
                    reads.error(e)
                    clients[b].after_error(e)
                    continue
                reads.ok()
                # Only this thread writes key k: the read must show the
                # last acknowledged value (or a later one whose outcome
                # is unknown).
                if not acked <= seen <= attempted:
                    stale.append(f"key {k}: committed {acked} on node {a}, node {b} read {seen}")
        for cl in clients:
            cl.close()

    workers = Workers()
    for k in range(writers):
        workers.spawn(writer, k)
    workers.run_for(15)
    stats.summary(f"{len(stale)} stale reads")
    reads.summary(f"{len(stale)} stale reads")
    assert not stale, stale[:10]
    assert stats.acknowledged >= 100, "too few rounds to say anything"
    assert reads.failed + reads.unknown == 0


def test_registers_are_linearizable(cluster3):
    """Two clients per node read, write and compare-and-set three
    registers; the history must be linearizable."""
    c = cluster3
    keys, values = 3, 5
    with c.connect(0) as conn:
        conn.execute("CREATE TABLE reg (k int PRIMARY KEY, v int NOT NULL)")
        for k in range(keys):
            conn.execute("INSERT INTO reg VALUES (%s, 0)", (k,))
    stats = Stats("register")
    history: list[Op] = []
    lock = threading.Lock()

    def client(stop, node, process):
        rng = random.Random(process)
        cl = Client(c, node)
        while not stop.is_set():
            k, roll = rng.randrange(keys), rng.random()
            if roll < 0.5:
                f, value = "read", None
            elif roll < 0.75:
                f, value = "write", rng.randrange(values)
            else:
                f, value = "cas", (rng.randrange(values), rng.randrange(values))
            invoked = time.monotonic()
            try:
                if f == "read":
                    value = cl.execute("SELECT v FROM reg WHERE k = %s", (k,)).fetchone()[0]
                    status = OK
                elif f == "write":
                    assert cl.execute("UPDATE reg SET v = %s WHERE k = %s", (value, k)).rowcount == 1
                    status = OK
                else:
                    expected, new = value
                    n = cl.execute("UPDATE reg SET v = %s WHERE k = %s AND v = %s", (new, k, expected)).rowcount
                    status = OK if n == 1 else FAIL
                stats.ok()
            except psycopg.Error as e:
                status = stats.error(e)
                cl.after_error(e)
            done = time.monotonic() if status != INFO else None
            with lock:
                history.append(Op(process, f, value, invoked, done, status, k))
        cl.close()

    workers = Workers()
    for p in range(6):
        workers.spawn(client, NODES[p % 3], p)
    workers.run_for(8)
    started = time.monotonic()
    report = check_registers(history, initial=0)
    stats.summary(report.summary(), ops=len(history), check_s=round(time.monotonic() - started, 2))
    assert report.ok, report.anomalies
    assert stats.acknowledged >= 200, "too few operations to say anything"


@pytest.mark.parametrize("isolation", ["READ COMMITTED", "REPEATABLE READ"])
def test_bank_totals_are_exact(cluster3, isolation):
    """Two transferring clients and one reader per node; every total read
    is exact and the final total is unchanged, on every node."""
    bank = Bank(cluster3, table="bank_" + "".join(w[0] for w in isolation.split()).lower())
    bank.setup()
    transfers, totals = Stats(f"bank {isolation} transfers"), Stats(f"bank {isolation} totals")
    workers = Workers()
    bank.spawn(workers, NODES, transfers, totals, isolation, isolation)
    workers.run_for(6)
    final = bank.final_totals(NODES)
    anomalies = f"{len(bank.bad_totals)} wrong totals; final (sum, count) per node {final}"
    transfers.summary(anomalies)
    totals.summary(anomalies, totals_read=bank.totals_read)
    assert not bank.bad_totals, bank.bad_totals[:10]
    assert all(v == (bank.total, bank.accounts) for v in final.values()), final
    assert transfers.acknowledged >= 30 and bank.totals_read >= 30, "too little work to say anything"


#: What each isolation level permits (Adya): READ COMMITTED forbids only
#: G0 and G1; snapshot isolation (REPEATABLE READ) also forbids G-single
#: and lost updates, but allows write skew (G2).
PERMITTED = {
    "READ COMMITTED": ("G-single", "G2", "lost-update"),
    "REPEATABLE READ": ("G2",),
}


@pytest.mark.parametrize("isolation", ["READ COMMITTED", "REPEATABLE READ"])
def test_list_append_has_no_anomalies(cluster3, isolation):
    """Jepsen's list-append on PostgreSQL: transactions of appends (an
    upsert that concatenates) and reads on five keys, two clients per
    node; the history is checked for the anomalies the level forbids."""
    c = cluster3
    table = "la_" + "".join(w[0] for w in isolation.split()).lower()
    keys = 5
    with c.connect(0) as conn:
        conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, val text)")
    append_sql = (
        f"INSERT INTO {table} (id, val) VALUES (%s, %s) "
        f"ON CONFLICT (id) DO UPDATE SET val = concat({table}.val, ',', %s)"
    )
    read_sql = f"SELECT val FROM {table} WHERE id = %s"
    stats = Stats(f"list-append {isolation}")
    history: list[Txn] = []
    lock = threading.Lock()
    counters = {k: itertools.count(1) for k in range(keys)}

    def parse(row):
        return [] if row is None or row[0] is None else [int(x) for x in row[0].split(",")]

    def client(stop, node, process):
        rng = random.Random(1000 + process)
        cl = Client(c, node)
        while not stop.is_set():
            plan = []
            for _ in range(rng.randint(1, 4)):
                k = rng.randrange(keys)
                if rng.random() < 0.5:
                    with lock:
                        plan.append(("append", k, next(counters[k])))
                else:
                    plan.append(("r", k, None))
            done_ops = list(plan)  # reads are filled in as they run

            def body(conn):
                for i, (f, k, v) in enumerate(plan):
                    if f == "append":
                        conn.execute(append_sql, (k, str(v), str(v)))
                    else:
                        done_ops[i] = ("r", k, parse(conn.execute(read_sql, (k,)).fetchone()))

            invoked = time.monotonic()
            try:
                cl.transaction(isolation, body)
                stats.ok()
                status = OK
            except psycopg.Error as e:
                status = stats.error(e)
                cl.after_error(e)
            done = time.monotonic() if status != INFO else None
            with lock:
                history.append(Txn(process, done_ops, invoked, done, status))
        cl.close()

    workers = Workers()
    for p in range(6):
        workers.spawn(client, NODES[p % 3], p)
    workers.run_for(6)
    # A final read of every key on every node: all must agree, and the
    # checker sees every acknowledged append (lost ones show up).
    finals = {}
    for n in NODES:
        with c.connect(n) as conn:
            t0 = time.monotonic()
            ops = [("r", k, parse(conn.execute(read_sql, (k,)).fetchone())) for k in range(keys)]
            history.append(Txn(f"final{n}", ops, t0, time.monotonic(), OK))
            finals[n] = ops
    report = check_list_append(history, repeatable_reads=isolation == "REPEATABLE READ")
    forbidden = report.without(*PERMITTED[isolation])
    stats.summary(report.summary(), txns=len(history), forbidden=sum(report.counts[k] for k in forbidden))
    assert not forbidden, forbidden
    assert finals[0] == finals[1] == finals[2], finals
    assert stats.acknowledged >= 50, "too few transactions to say anything"


def test_serial_values_never_repeat(cluster3):
    """Two clients per node insert SERIAL rows into a table without a
    primary key (so a repeated value would be stored, not refused): every
    value is handed out once, and every acknowledged row is there."""
    c = cluster3
    with c.connect(0) as conn:
        conn.execute("CREATE TABLE seqt (id serial, node int NOT NULL)")
    stats = Stats("serial")
    ids: list[int] = []
    lock = threading.Lock()

    def client(stop, node):
        cl = Client(c, node)
        while not stop.is_set():
            try:
                value = cl.execute("INSERT INTO seqt (node) VALUES (%s) RETURNING id", (node,)).fetchone()[0]
            except psycopg.Error as e:
                stats.error(e)
                cl.after_error(e)
                continue
            stats.ok()
            with lock:
                ids.append(value)
        cl.close()

    workers = Workers()
    for p in range(6):
        workers.spawn(client, NODES[p % 3])
    workers.run_for(4)
    duplicates = len(ids) - len(set(ids))
    stored = {}
    for n in NODES:
        with c.connect(n) as conn:
            stored[n] = [r[0] for r in conn.execute("SELECT id FROM seqt")]
    missing = set(ids) - set(stored[0])
    stats.summary(
        f"{duplicates} duplicate values returned, {len(missing)} acknowledged rows missing",
        stored_dups=len(stored[0]) - len(set(stored[0])),
    )
    assert duplicates == 0
    for n in NODES:
        assert len(stored[n]) == len(set(stored[n])), f"node {n} stores a value twice"
        assert sorted(stored[n]) == sorted(stored[0]), f"node {n} differs from node 0"
    assert not missing, sorted(missing)[:10]
    assert stats.failed + stats.unknown == 0
    assert stats.acknowledged >= 50


def test_same_key_from_every_node_one_wins(cluster3):
    """All three nodes insert the same primary key at the same moment,
    key after key: exactly one insert wins, the others get 23505."""
    c = cluster3
    keys = 60
    with c.connect(0) as conn:
        conn.execute("CREATE TABLE uniq (id int PRIMARY KEY, node int NOT NULL)")
    stats = Stats("unique keys")
    results: dict[int, dict[int, str]] = {k: {} for k in range(keys)}
    barrier = threading.Barrier(len(NODES), timeout=30)

    def client(stop, node):
        cl = Client(c, node)
        for k in range(keys):
            barrier.wait()
            try:
                cl.execute("INSERT INTO uniq VALUES (%s, %s)", (k, node))
                stats.ok()
                results[k][node] = "won"
            except psycopg.Error as e:
                stats.error(e)
                results[k][node] = sqlstate(e) or repr(e)
                cl.after_error(e)
        cl.close()

    workers = Workers()
    for n in NODES:
        workers.spawn(client, n)
    workers.join(timeout=120)
    bad = {k: r for k, r in results.items() if sorted(r.values()) != ["23505", "23505", "won"]}
    with c.connect(1) as conn:
        stored = dict(conn.execute("SELECT id, node FROM uniq").fetchall())
    wrong_winner = {k: (stored.get(k), r) for k, r in results.items() if r.get(stored.get(k)) != "won"}
    stats.summary(f"{len(bad)} keys without exactly one winner, {len(wrong_winner)} rows not the winner's")
    assert not bad, dict(itertools.islice(bad.items(), 10))
    assert not wrong_winner, dict(itertools.islice(wrong_winner.items(), 10))


def test_schema_changes_under_writes(cluster3):
    """Node 0 adds a column and then an index while nodes 1 and 2 insert
    rows: each node uses the new column in its very next statement, no
    acknowledged row is lost, and the index finds every row."""
    c = cluster3
    with c.connect(0) as conn:
        conn.execute("CREATE TABLE sch (id int PRIMARY KEY, a int NOT NULL)")
    stats = Stats("schema changes")
    altered = threading.Event()
    acked: dict[int, tuple[int, int | None]] = {}  # id -> (a, b)
    unknown: set[int] = set()
    undefined_column: list[str] = []
    lock = threading.Lock()

    def writer(stop, node):
        cl = Client(c, node)
        for n in itertools.count():
            if stop.is_set():
                break
            row_id, a = node * 1_000_000 + n, n % 7
            with_b = altered.is_set()
            try:
                if with_b:
                    cl.execute("INSERT INTO sch (id, a, b) VALUES (%s, %s, %s)", (row_id, a, n))
                else:
                    cl.execute("INSERT INTO sch (id, a) VALUES (%s, %s)", (row_id, a))
            except psycopg.Error as e:
                if stats.error(e) == INFO:
                    with lock:
                        unknown.add(row_id)
                if sqlstate(e) == "42703":
                    undefined_column.append(f"node {node}: {e}")
                cl.after_error(e)
                continue
            stats.ok()
            with lock:
                acked[row_id] = (a, n if with_b else None)
        cl.close()

    readers = {n: c.connect(n) for n in (1, 2)}
    workers = Workers()
    for n in (1, 2):
        workers.spawn(writer, n)
    try:
        time.sleep(1.5)
        with c.connect(0) as conn:
            conn.execute("ALTER TABLE sch ADD COLUMN b int")
            altered.set()
            # The other nodes' next statement already knows the column.
            for n, r in readers.items():
                r.execute("SELECT b FROM sch LIMIT 1").fetchall()
            time.sleep(1.5)
            conn.execute("CREATE INDEX sch_a ON sch (a)")
            indexed = time.monotonic()
            for n, r in readers.items():
                plan = " ".join(row[0] for row in r.execute("EXPLAIN SELECT id FROM sch WHERE a = 3"))
                assert "sch_a" in plan, f"node {n} does not use the new index: {plan}"
        workers.stop.wait(1.5)
    finally:
        workers.join()
        for r in readers.values():
            r.close()
    print(f"index built {time.monotonic() - indexed:.1f} s before the writers stopped")
    lost, extra, index_misses = [], [], []
    for n in NODES:
        with c.connect(n) as conn:
            rows = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT id, a, b FROM sch")}
            lost += [(n, i) for i in acked if rows.get(i) != acked[i]]
            extra += [(n, i) for i in rows if i not in acked and i not in unknown]
            for a in range(7):
                found = {r[0] for r in conn.execute("SELECT id FROM sch WHERE a = %s", (a,))}
                expected = {i for i, (ra, _) in rows.items() if ra == a}
                if found != expected:
                    index_misses.append(
                        f"node {n}, a = {a}: index lacks {sorted(expected - found)}, has extra {sorted(found - expected)}"
                    )
    stats.summary(
        f"{len(lost)} acknowledged rows lost or changed, {len(extra)} unexpected rows, "
        f"{len(undefined_column)} undefined-column errors, index mismatches {index_misses}"
    )
    assert not undefined_column, undefined_column[:5]
    assert not lost, lost[:10]
    assert not extra, extra[:10]
    assert not index_misses, index_misses
    assert sum(1 for _, b in acked.values() if b is not None) >= 10, "too few rows written after the ALTER"
