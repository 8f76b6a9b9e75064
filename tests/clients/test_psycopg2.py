"""psycopg2 (libpq, text protocol with client-side parameter
interpolation) against Shoal: typed round trips including arrays,
json and uuid, a rolled-back transaction, and errors with their
SQLSTATE after which the connection still works."""

import datetime
import decimal
import uuid

import pytest

psycopg2 = pytest.importorskip("psycopg2")
import psycopg2.errorcodes  # noqa: E402
import psycopg2.extras  # noqa: E402

psycopg2.extras.register_uuid()

ROW = (
    1,
    9_000_000_000,
    decimal.Decimal("12345.678"),
    -2.5e-3,
    "héllo, 'wörld'",
    True,
    b"\x00\x01'\xff",
    datetime.date(2024, 2, 29),
    datetime.datetime(2024, 2, 29, 23, 59, 58, 123456),
    datetime.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=datetime.timezone.utc),
    uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    {"a": [1, 2, {"b": None}]},
    {"k": "v", "n": 1.5},
    [1, -2, 3],
    ["a", "b c", None, 'q"uote'],
)


def test_types_transaction_and_errors(dsn):
    conn = psycopg2.connect(dsn)
    try:
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute("DROP TABLE IF EXISTS p2")
        cur.execute(
            """CREATE TABLE p2 (id int PRIMARY KEY, b bigint, n numeric(12,3), f float8,
            t text, ok bool, raw bytea, d date, ts timestamp, tz timestamptz, u uuid,
            j json, jb jsonb, ia int[], ta text[])"""
        )
        conn.autocommit = False
        params = list(ROW)
        params[6] = psycopg2.Binary(ROW[6])
        params[11] = psycopg2.extras.Json(ROW[11])
        params[12] = psycopg2.extras.Json(ROW[12])
        cur.execute("INSERT INTO p2 VALUES (" + ", ".join(["%s"] * len(ROW)) + ")", params)
        conn.commit()
        cur.execute("SELECT * FROM p2 WHERE id = %s", (1,))
        got = list(cur.fetchone())
        got[6] = bytes(got[6])
        assert tuple(got) == ROW
        assert [c.type_code for c in cur.description] == [
            23, 20, 1700, 701, 25, 16, 17, 1082, 1114, 1184, 2950, 114, 3802, 1007, 1009
        ]

        # A transaction rolled back leaves nothing behind.
        cur.execute("INSERT INTO p2 (id, t) VALUES (%s, %s)", (2, "gone"))
        cur.execute("SELECT count(*) FROM p2")
        assert cur.fetchone() == (2,)
        conn.rollback()
        cur.execute("SELECT count(*) FROM p2")
        assert cur.fetchone() == (1,)
        conn.commit()

        # Errors carry their SQLSTATE; the failed transaction refuses more
        # until rollback, then the connection is usable.
        with pytest.raises(psycopg2.errors.UniqueViolation) as e:
            cur.execute("INSERT INTO p2 (id) VALUES (1)")
        assert e.value.pgcode == psycopg2.errorcodes.UNIQUE_VIOLATION
        with pytest.raises(psycopg2.errors.InFailedSqlTransaction):
            cur.execute("SELECT 1")
        conn.rollback()
        for sql, code in [
            ("SELECT * FROM nope", "42P01"),
            ("SELECT 1/0", "22012"),
            ("SELECT 'x'::int", "22P02"),
        ]:
            with pytest.raises(psycopg2.Error) as e:
                cur.execute(sql)
            assert e.value.pgcode == code, sql
            conn.rollback()
        cur.execute("SELECT %s + 1", (41,))
        assert cur.fetchone() == (42,)
        conn.commit()
    finally:
        conn.close()
