"""asyncpg against Shoal: it prepares every statement with Parse +
Describe Statement + Flush (no Sync), runs its pg_type introspection
query for types it has no codec for, and exchanges every value in
binary. Typed round trips (arrays included), a rolled-back
transaction, errors with their SQLSTATE and the connection usable
afterwards."""

import asyncio
import datetime
import decimal
import json
import re
import uuid

import pytest

asyncpg = pytest.importorskip("asyncpg")

ROW = (
    1,
    9_000_000_000,
    decimal.Decimal("12345.678"),
    -2.5e-3,
    "héllo, wörld",
    True,
    b"\x00\x01\xff",
    datetime.date(2024, 2, 29),
    datetime.datetime(2024, 2, 29, 23, 59, 58, 123456),
    datetime.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=datetime.timezone.utc),
    uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    '{"a": [1, 2, {"b": null}]}',
    {"k": "v", "n": 1.5},
    [1, -2, 3],
    ["a", "b c", None],
    [decimal.Decimal("1.5"), None],
)


def kwargs(dsn):
    """asyncpg's connect() arguments from the libpq-style dsn."""
    parts = dict(re.findall(r"(\w+)=(\S+)", dsn))
    return {
        "host": parts.get("host", "127.0.0.1"),
        "port": int(parts.get("port", 5432)),
        "user": parts.get("user", "postgres"),
        "database": parts.get("dbname", "postgres"),
    }


async def scenario(dsn):
    c = await asyncpg.connect(**kwargs(dsn))
    try:
        assert c.get_server_version().major == 15
        await c.execute("DROP TABLE IF EXISTS ap")
        await c.execute(
            """CREATE TABLE ap (id int PRIMARY KEY, b bigint, n numeric(12,3), f float8,
            t text, ok bool, raw bytea, d date, ts timestamp, tz timestamptz, u uuid,
            j json, jb jsonb, ia int[], ta text[], na numeric[])"""
        )
        # jsonb through a codec set by name: the by-name introspection query.
        await c.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
        placeholders = ", ".join(f"${i + 1}" for i in range(len(ROW)))
        await c.execute(f"INSERT INTO ap VALUES ({placeholders})", *ROW)
        got = await c.fetchrow("SELECT * FROM ap WHERE id = $1", 1)
        assert tuple(got) == ROW

        # A prepared statement: its parameter and result types come from
        # Describe Statement.
        st = await c.prepare("SELECT id, t FROM ap WHERE id = $1 AND ok = $2")
        assert [t.name for t in st.get_parameters()] == ["int4", "bool"]
        assert [(a.name, a.type.name) for a in st.get_attributes()] == [("id", "int4"), ("t", "text")]
        assert await st.fetchrow(1, True) == (1, "héllo, wörld")

        # The introspection query asyncpg runs for OIDs it does not know.
        from asyncpg import introspection

        rows = await c.fetch(introspection.INTRO_LOOKUP_TYPES_13, [1007, 1231])
        by_oid = {r["oid"]: r for r in rows}
        assert by_oid[1007]["elemtype"] == 23 and by_oid[1007]["name"] == "_int4"
        assert by_oid[1231]["elemtype"] == 1700

        await c.executemany("INSERT INTO ap (id, t) VALUES ($1, $2)", [(i, f"r{i}") for i in range(10, 15)])
        assert await c.fetchval("SELECT count(*) FROM ap") == 6

        # A transaction rolled back leaves nothing behind.
        with pytest.raises(RuntimeError):
            async with c.transaction():
                await c.execute("INSERT INTO ap (id) VALUES (2)")
                assert await c.fetchval("SELECT count(*) FROM ap") == 7
                raise RuntimeError("roll back")
        assert await c.fetchval("SELECT count(*) FROM ap") == 6

        # Errors carry their SQLSTATE, and the connection keeps working.
        with pytest.raises(asyncpg.UniqueViolationError) as e:
            await c.execute("INSERT INTO ap (id) VALUES (1)")
        assert e.value.sqlstate == "23505"
        with pytest.raises(asyncpg.UndefinedTableError):
            await c.fetch("SELECT * FROM nope")
        with pytest.raises(asyncpg.DivisionByZeroError):
            await c.fetchval("SELECT 1 / $1::int", 0)
        assert await c.fetchval("SELECT $1::int + 1", 41) == 42

        # A cursor inside a transaction (portal with a row limit).
        async with c.transaction():
            cur = await c.cursor("SELECT g FROM generate_series(1, 10) g")
            assert [r[0] for r in await cur.fetch(3)] == [1, 2, 3]
    finally:
        await c.close()


def test_asyncpg(dsn):
    asyncio.run(asyncio.wait_for(scenario(dsn), 30))
