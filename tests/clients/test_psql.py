"""psql 15, unmodified, against Shoal: its describe meta-commands (\\l,
\\dn, \\dt, \\d TABLE, \\di, \\du, \\dv, \\ds, \\df, \\dT, \\db, \\dp,
\\dy), \\x, \\timing and \\copy, over the schema in psql/schema.sql. The
output must equal the golden files psql/*.out, which are PostgreSQL 15's
output for the same schema and commands: the test checks the golden
files against a throwaway PostgreSQL 15 too (when its binaries are
installed), and regenerates them from it with SHOAL_PSQL_REGEN=1
(scripts/psql-golden.sh).

The output is normalized (see `normalize`) only where Shoal and
PostgreSQL legitimately differ:

- `\\timing` prints how long each query took: `Time: <n> ms` becomes
  `Time: <ms>`.
- The owner of schema public is the role pg_database_owner in
  PostgreSQL 15; Shoal has no such role (every object belongs to the
  bootstrap superuser), so that owner reads as the superuser.
- Relation sizes (`\\dt+`, `\\di+`...): PostgreSQL's are its heap
  files' (8192 bytes for a page); Shoal's tables live in one shared
  page store that does not account storage per relation and reports 0.
  Any `|<n> <unit>|` column becomes `|<size>|`.
- Temporary file names in `\\copy` commands are never printed (psql
  does not echo the commands), so they need no normalization.

Nothing else is normalized: the commands avoid output that differs by
nature (`\\l` lists only database postgres, since PostgreSQL also has
template0 and template1; no `\\l+`, whose description of database
postgres Shoal does not have), and OIDs do not appear in what psql
prints.
"""

import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile

import pytest

HERE = pathlib.Path(__file__).resolve().parent / "psql"
PG_BIN = pathlib.Path(os.environ.get("PG15_BIN", "/usr/lib/postgresql/15/bin"))
PSQL = shutil.which("psql")
REGEN = os.environ.get("SHOAL_PSQL_REGEN") == "1"

# Golden file name -> the psql input that produces it. `{dir}` is a
# scratch directory for \copy's files.
COMMANDS = {
    "l": r"\l postgres",
    "dn": r"\dn",
    "dt": r"\dt",
    "dt_app": r"\dt app.*",
    "d": r"\d",
    "d_orders": r"\d orders",
    "d_customers": r"\d app.customers",
    "d_items": r"\d items",
    "d_view": r"\d big_orders",
    "d_sequence": r"\d ticket_seq",
    "d_serial_sequence": r"\d app.customers_id_seq",
    "d_index": r"\d orders_pkey",
    "dplus_orders": r"\d+ orders",
    "dplus_customers": r"\d+ app.customers",
    "dplus_items": r"\d+ items",
    "dplus_index": r"\d+ orders_pkey",
    "dplus_sequence": r"\d+ ticket_seq",
    "di": r"\di",
    "du": r"\du",
    "dv": r"\dv",
    "ds": r"\ds",
    "df": r"\df",
    "d_pattern": r"\d ord*",
    "dT": r"\dT",
    "db": r"\db",
    "dp": r"\dp",
    "dy": r"\dy",
    "dtplus": r"\dt+",
    "diplus": r"\di+",
    "dsplus": r"\ds+",
    "dvplus": r"\dv+",
    "dnplus": r"\dn+ app",
    "x": "\\x on\nSELECT id, email, name, created FROM app.customers ORDER BY id;\n\\x off",
    "timing": "\\timing on\nSELECT count(*) FROM orders;\n\\timing off",
    "copy": (
        "\\copy (SELECT id, customer_id, amount, note FROM orders ORDER BY id) "
        "TO '{dir}/orders.csv' WITH (FORMAT csv, HEADER)\n"
        "\\copy items (order_id, sku, qty) FROM '{dir}/items.csv' WITH (FORMAT csv)\n"
        "\\copy items TO STDOUT\n"
        "SELECT order_id, sku, qty FROM items ORDER BY 1, 2;"
    ),
}

ITEMS_CSV = "1,apple,3\n1,pear,\n2,plum,0\n"
ORDERS_CSV = "id,customer_id,amount,note\n1,1,150.00,first\n2,2,20.50,\n"


def normalize(out: str) -> str:
    out = re.sub(r"^Time: [0-9.]+ ms.*$", "Time: <ms>", out, flags=re.M)
    out = re.sub(r"\|pg_database_owner$", "|postgres", out, flags=re.M)
    out = re.sub(r"\|-?[0-9]+ (bytes|kB|MB|GB|TB)\|", "|<size>|", out)
    return out


def run_psql(conninfo: str, name: str, tmp: pathlib.Path) -> str:
    script = COMMANDS[name].replace("{dir}", str(tmp))
    proc = subprocess.run(
        [PSQL, "-X", "-A", "-v", "ON_ERROR_STOP=1", "-d", conninfo],
        input=script + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PAGER": "", "PSQL_PAGER": "", "LC_ALL": "C.UTF-8"},
    )
    out = proc.stdout + proc.stderr
    if name == "copy":
        out += "-- orders.csv:\n" + (tmp / "orders.csv").read_text()
    return normalize(out)


def load_schema(conninfo: str):
    subprocess.run(
        [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-f", str(HERE / "schema.sql")],
        check=True,
        timeout=60,
    )


def check_all(conninfo: str, tmp_path: pathlib.Path, regen: bool):
    (tmp_path / "items.csv").write_text(ITEMS_CSV)
    os.chmod(tmp_path, 0o777)
    os.chmod(tmp_path / "items.csv", 0o666)
    mismatched = []
    for name in COMMANDS:
        got = run_psql(conninfo, name, tmp_path)
        golden = HERE / f"{name}.out"
        if regen:
            golden.write_text(got)
            continue
        want = golden.read_text()
        if got != want:
            mismatched.append(f"--- {name}: {COMMANDS[name]!r}\n--- want\n{want}--- got\n{got}")
    assert not mismatched, "\n".join(mismatched)


@pytest.fixture
def scratch():
    d = pathlib.Path(tempfile.mkdtemp(prefix="shoal-psql-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.skipif(PSQL is None, reason="psql is not installed")
def test_psql_on_shoal(dsn, scratch):
    if REGEN:
        pytest.skip("regenerating the golden files from PostgreSQL")
    load_schema(dsn)
    check_all(dsn, scratch, regen=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres15():
    """A throwaway PostgreSQL 15, as scripts/pg15.sh starts one."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL 15 server binaries not in {PG_BIN}")
    d = pathlib.Path(tempfile.mkdtemp(prefix="shoal-pg15-"))
    port = free_port()
    prefix = []
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root.
        shutil.chown(d, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    data = d / "data"
    subprocess.run(
        prefix
        + [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
           "--no-sync", "-E", "UTF8", "--locale=C"],
        check=True, capture_output=True,
    )
    with open(data / "postgresql.conf", "a") as f:
        f.write("timezone = 'UTC'\n")
    opts = f"-p {port} -k {d} -c listen_addresses=127.0.0.1"
    subprocess.run(
        prefix + [str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts,
                  "-l", str(d / "log"), "-w", "start"],
        check=True, capture_output=True,
    )
    try:
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    finally:
        subprocess.run(
            prefix + [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            capture_output=True,
        )
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.skipif(PSQL is None, reason="psql is not installed")
def test_golden_files_are_postgres15s(postgres15, scratch):
    load_schema(postgres15)
    check_all(postgres15, scratch, regen=REGEN)
