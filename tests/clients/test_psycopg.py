"""psycopg 3 against Shoal: text and binary parameters, every type
round-trips, server-side prepared statements reused across transactions,
errors carry their SQLSTATE, COPY in and out."""

import datetime
import decimal
import json
import uuid

import psycopg
import pytest
from psycopg import errors
from psycopg.types.json import Json, Jsonb


def connect(dsn, **kw):
    return psycopg.connect(dsn, autocommit=True, **kw)


ROW = (
    1,
    -7,
    123456,
    -9_000_000_000,
    1.5,
    -2.25e10,
    decimal.Decimal("12345.678"),
    True,
    "héllo, wörld",
    "short",
    "ab  ",
    b"\x00\x01\xff",
    datetime.date(2024, 2, 29),
    datetime.time(23, 59, 58, 123456),
    datetime.datetime(2024, 2, 29, 23, 59, 58, 123456),
    datetime.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=datetime.timezone.utc),
    datetime.timedelta(days=3, hours=4, minutes=5, seconds=6),
    uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    {"a": [1, 2, {"b": None}]},
    {"k": "v", "n": 1},
)

DDL = """CREATE TABLE every (id int PRIMARY KEY, a smallint, b integer, c bigint,
    d real, e double precision, f numeric(10,3), g boolean, h text, i varchar(20),
    j char(4), k bytea, l date, m time, n timestamp, o timestamptz, p interval,
    q uuid, r json, s jsonb)"""


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("prepare", [False, True])
def test_every_type_round_trips(dsn, binary, prepare):
    with connect(dsn) as conn:
        conn.execute("DROP TABLE IF EXISTS every")
        conn.execute(DDL)
        params = list(ROW[:-2]) + [Json(ROW[-2]), Jsonb(ROW[-1])]
        placeholders = ", ".join(["%b" if binary else "%t"] * len(params))
        conn.execute(
            f"INSERT INTO every VALUES ({placeholders})",
            params,
            prepare=prepare,
        )
        cur = conn.cursor(binary=binary)
        got = cur.execute("SELECT * FROM every WHERE id = %s", [1], prepare=prepare).fetchone()
        assert got == ROW


def test_prepared_statements_across_transactions(dsn):
    with psycopg.connect(dsn, prepare_threshold=0) as conn:
        conn.execute("DROP TABLE IF EXISTS kv")
        conn.execute("CREATE TABLE kv (k int PRIMARY KEY, v text)")
        conn.commit()
        for i in range(5):
            with conn.transaction():
                conn.execute("INSERT INTO kv VALUES (%s, %s)", [i, f"v{i}"])
                assert conn.execute("SELECT v FROM kv WHERE k = %s", [i]).fetchone() == (f"v{i}",)
        try:
            with conn.transaction():
                conn.execute("INSERT INTO kv VALUES (%s, %s)", [99, "gone"])
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        assert conn.execute("SELECT count(*) FROM kv").fetchone() == (5,)


def test_errors_carry_sqlstate(dsn):
    with connect(dsn) as conn:
        conn.execute("DROP TABLE IF EXISTS u")
        conn.execute("CREATE TABLE u (id int PRIMARY KEY)")
        conn.execute("INSERT INTO u VALUES (1)")
        with pytest.raises(errors.UndefinedTable):
            conn.execute("SELECT * FROM nope")
        with pytest.raises(errors.UniqueViolation) as e:
            conn.execute("INSERT INTO u VALUES (1)")
        assert e.value.diag.constraint_name in (None, "u_pkey")
        with pytest.raises(errors.DivisionByZero):
            conn.execute("SELECT 1 / %s", [0])
        with pytest.raises(errors.SyntaxError):
            conn.execute("SELEC 1")
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_copy_in_and_out(dsn):
    with connect(dsn) as conn:
        conn.execute("DROP TABLE IF EXISTS c")
        conn.execute("CREATE TABLE c (id int PRIMARY KEY, name text, score numeric)")
        with conn.cursor().copy("COPY c (id, name, score) FROM STDIN") as copy:
            for i in range(100):
                copy.write_row((i, None if i % 10 == 0 else f"name {i}", decimal.Decimal(i) / 4))
        assert conn.execute("SELECT count(*), count(name), sum(score) FROM c").fetchone() == (
            100,
            90,
            decimal.Decimal("1237.50"),
        )
        out = []
        with conn.cursor().copy("COPY (SELECT id, name FROM c WHERE id < 3 ORDER BY id) TO STDOUT") as copy:
            for row in copy.rows():
                out.append(row)
        assert out == [("0", None), ("1", "name 1"), ("2", "name 2")]
        with conn.cursor().copy("COPY c TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
            text = b"".join(bytes(b) for b in copy).decode()
        assert text.splitlines()[0] == "id,name,score"
        assert len(text.splitlines()) == 101


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("threshold", [0, None])
def test_connection_prepare_threshold_and_binary_cursor(dsn, threshold, binary):
    """The connection-wide settings: every statement server-prepared
    (threshold 0) or none (None), results in text or binary; arrays too."""
    with connect(dsn) as ddl:
        ddl.execute("DROP TABLE IF EXISTS pt")
        ddl.execute("CREATE TABLE pt (id int PRIMARY KEY, n numeric(8,2), tags text[], ints int[], j jsonb)")
    with psycopg.connect(dsn, prepare_threshold=threshold) as conn:
        cur = conn.cursor(binary=binary)
        for i in range(3):
            cur.execute(
                "INSERT INTO pt VALUES (%s, %s, %s, %s, %s)",
                [i, decimal.Decimal("1.25") * i, ["a", f"b {i}", None], [i, -i], Jsonb({"i": i})],
            )
        conn.commit()
        got = cur.execute("SELECT * FROM pt WHERE id >= %s ORDER BY id", [1]).fetchall()
        assert got == [
            (1, decimal.Decimal("1.25"), ["a", "b 1", None], [1, -1], {"i": 1}),
            (2, decimal.Decimal("2.50"), ["a", "b 2", None], [2, -2], {"i": 2}),
        ]
        # Rolled back: the row is gone.
        cur.execute("INSERT INTO pt (id) VALUES (%s)", [9])
        conn.rollback()
        assert cur.execute("SELECT count(*) FROM pt").fetchone() == (3,)
        # An error fails the transaction; after rollback the connection works.
        with pytest.raises(errors.UniqueViolation):
            cur.execute("INSERT INTO pt (id) VALUES (%s)", [1])
        with pytest.raises(errors.InFailedSqlTransaction):
            cur.execute("SELECT 1")
        conn.rollback()
        assert cur.execute("SELECT %s::int + 1", [41]).fetchone() == (42,)
