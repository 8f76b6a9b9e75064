"""pgbench 15, the real client and unmodified, against `shoal dev`.

Initialises the pgbench tables twice, first with server-side generation
(generate_series) and foreign keys (`-I dtGvpf`), then with the default
client-side COPY generation (`-i -s 1`, whose drop of the four tables must
get past the foreign keys between them), and runs the built-in scripts
(TPC-B-like, `-S`, `-N`) in every query mode (`-M simple`, `extended`,
`prepared`), and TPC-B with 32 clients on 2 threads with `--max-tries`.

Each run must exit cleanly, report zero failed transactions and exactly
the transactions asked for, and leave the balances consistent: pgbench's
vacuum step truncates pgbench_history, so after a run the history holds
one row per transaction whose deltas add up to what the run added to
sum(abalance) (and, for TPC-B, to sum(bbalance) and sum(tbalance)).

With $SHOAL_TEST_POSTGRES set, runs against that PostgreSQL instead.
"""

import os
import re
import shutil
import subprocess

import psycopg
import pytest
from conftest import shoal_dev
from psycopg import errors

PGBENCH = os.environ.get("PGBENCH") or shutil.which("pgbench")

pytestmark = pytest.mark.skipif(PGBENCH is None, reason="pgbench (PostgreSQL 15) not installed")


@pytest.fixture(scope="module")
def conninfo():
    if os.environ.get("SHOAL_TEST_POSTGRES"):
        yield os.environ["SHOAL_TEST_POSTGRES"] + " dbname=postgres"
        return
    # A long lease: the debug build's ALTER TABLE ADD PRIMARY KEY over
    # 100,000 rows keeps a loaded 2-core machine busy for seconds, and a
    # frontend that misses its heartbeats is evicted, failing its statement.
    with shoal_dev("shoal-pgbench-", {"SHOAL_LEASE_MS": "30000"}) as dsn:
        yield dsn


@pytest.fixture(scope="module")
def pgbench(conninfo):
    """Runs pgbench with `args` against the server; returns its output
    after checking that it exited cleanly."""

    def run(*args):
        proc = subprocess.run(
            [PGBENCH, *args, conninfo],
            capture_output=True,
            text=True,
            timeout=120,
        )
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"pgbench {' '.join(args)} failed:\n{out}"
        assert "error" not in out.lower(), out
        return out

    return run


def connect(conninfo):
    return psycopg.connect(conninfo, autocommit=True)


def sizes(conn):
    return conn.execute(
        """SELECT (SELECT count(*) FROM pgbench_branches),
                  (SELECT count(*) FROM pgbench_tellers),
                  (SELECT count(*) FROM pgbench_accounts),
                  (SELECT count(*) FROM pgbench_history),
                  (SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts)"""
    ).fetchone()


def totals(conn):
    """(sum(abalance), sum(bbalance), sum(tbalance), sum(delta), history rows)."""
    return conn.execute(
        """SELECT (SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts),
                  (SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches),
                  (SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers),
                  (SELECT coalesce(sum(delta), 0) FROM pgbench_history),
                  (SELECT count(*) FROM pgbench_history)"""
    ).fetchone()


@pytest.fixture(scope="module")
def initialized(pgbench, conninfo):
    """Both initialisations; returns their outputs."""
    server_side = pgbench("-i", "-s", "1", "-I", "dtGvpf")
    with connect(conninfo) as conn:
        assert sizes(conn) == (1, 10, 100_000, 0, 0)
        # The foreign keys hold: a history row for a missing account fails.
        with pytest.raises(errors.ForeignKeyViolation):
            conn.execute(
                "INSERT INTO pgbench_history (tid, bid, aid, delta) VALUES (1, 1, 100001, 0)"
            )
    client_side = pgbench("-i", "-s", "1")
    with connect(conninfo) as conn:
        assert sizes(conn) == (1, 10, 100_000, 0, 0)
    return server_side, client_side


def test_initialize(initialized):
    server_side, client_side = initialized
    assert "generating data (server-side)" in server_side
    assert "creating foreign keys" in server_side
    assert "generating data (client-side)" in client_side
    assert "100000 of 100000 tuples (100%) done" in client_side
    for out in initialized:
        assert re.search(r"^done in [\d.]+ s", out, re.M), out


def summary(out):
    """(processed, requested, failed) from pgbench's run summary."""
    m = re.search(r"^number of transactions actually processed: (\d+)/(\d+)$", out, re.M)
    assert m, out
    f = re.search(r"^number of failed transactions: (\d+) ", out, re.M)
    assert f, out
    return int(m.group(1)), int(m.group(2)), int(f.group(1))


def check_run(conninfo, pgbench, script, args, clients, per_client):
    with connect(conninfo) as conn:
        a0, b0, t0, _, _ = totals(conn)
    out = pgbench(*script, *args, "-t", str(per_client))
    processed, requested, failed = summary(out)
    assert failed == 0, out
    assert processed == requested == clients * per_client, out
    with connect(conninfo) as conn:
        a, b, t, delta, history = totals(conn)
    if script == ["-S"]:
        assert (a, b, t, history) == (a0, b0, t0, 0)
        return out
    # The vacuum step emptied the history: it holds this run's rows only.
    assert history == processed
    assert a - a0 == delta
    if script == ["-N"]:
        # -N leaves tellers and branches alone.
        assert (b, t) == (b0, t0)
    else:
        assert b - b0 == t - t0 == delta
    return out


@pytest.mark.parametrize("mode", ["simple", "extended", "prepared"])
@pytest.mark.parametrize(
    "script,per_client",
    [([], 20), (["-S"], 100), (["-N"], 20)],
    ids=["tpcb", "select-only", "simple-update"],
)
def test_run(initialized, conninfo, pgbench, script, per_client, mode):
    out = check_run(conninfo, pgbench, script, ["-M", mode], 1, per_client)
    assert f"query mode: {mode}" in out


def test_many_clients_with_retries(initialized, conninfo, pgbench):
    out = check_run(
        conninfo,
        pgbench,
        [],
        ["-M", "prepared", "-c", "32", "-j", "2", "--max-tries", "10"],
        32,
        2,
    )
    assert "number of clients: 32" in out
    assert "maximum number of tries: 10" in out


def test_balances_add_up(initialized, conninfo):
    """Over all runs: every account, teller and branch balance is the sum
    of the deltas applied to it, and no balance was lost."""
    with connect(conninfo) as conn:
        a, b, t, _, _ = totals(conn)
        # Each run started from the previous one's balances; TPC-B moved all
        # three, -N only the accounts: so sum(abalance) >= the others, and
        # tellers and branches always agree.
        assert b == t
        bad = conn.execute(
            """SELECT count(*) FROM pgbench_branches b
               WHERE b.bbalance <> (SELECT coalesce(sum(tbalance), 0)
                                    FROM pgbench_tellers t WHERE t.bid = b.bid)"""
        ).fetchone()[0]
        assert bad == 0
