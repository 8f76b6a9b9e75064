"""SQLAlchemy 2 against Shoal, with the psycopg 3 and the psycopg2
dialects: the first-connect probes (version(), current_schema(),
transaction isolation, standard_conforming_strings, the hstore probe in
a SAVEPOINT), Core DDL/insert/select, ORM commit and rollback, an error
with its SQLSTATE, and reflection of the schema it created (columns,
primary key, foreign keys, indexes, unique constraints, MetaData.reflect)
through SQLAlchemy's pg_catalog queries."""

import datetime
import decimal
import re

import pytest

sa = pytest.importorskip("sqlalchemy")
from sqlalchemy import inspect, text  # noqa: E402
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column  # noqa: E402


def url(dsn, driver):
    parts = dict(re.findall(r"(\w+)=(\S+)", dsn))
    return (
        f"postgresql+{driver}://{parts.get('user', 'postgres')}@{parts.get('host', '127.0.0.1')}"
        f":{parts.get('port', 5432)}/{parts.get('dbname', 'postgres')}"
    )


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "sa_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(sa.String(40), unique=True)
    balance: Mapped[decimal.Decimal] = mapped_column(sa.Numeric(12, 2), default=0)
    opened: Mapped[datetime.date] = mapped_column(sa.Date)


@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_sqlalchemy(dsn, driver):
    pytest.importorskip(driver)
    engine = sa.create_engine(url(dsn, driver))
    try:
        run(engine)
    finally:
        engine.dispose()


def run(engine):
    # The dialect's first-connect probes ran on connect; check what they found.
    with engine.connect() as c:
        assert engine.dialect.server_version_info[0] == 15
        assert engine.dialect.default_schema_name == "public"
        assert c.get_isolation_level() == "READ COMMITTED"
        assert c.execute(text("show standard_conforming_strings")).scalar() == "on"
    md = sa.MetaData()
    parent = sa.Table(
        "sa_parent",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False, unique=True),
    )
    child = sa.Table(
        "sa_child",
        md,
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("sa_parent.id"), nullable=False),
        sa.Column("amount", sa.Numeric(10, 2)),
        sa.Column("at", sa.DateTime(timezone=True)),
        sa.Column("tags", sa.ARRAY(sa.Text)),
        sa.Column("doc", sa.JSON),
        sa.Column("note", sa.Text, server_default="none"),
        sa.Index("ix_child_parent", "parent_id"),
    )
    # Composite keys: reflection unnests pg_index.indkey beside
    # generate_subscripts, which must run in lockstep.
    sa.Table(
        "sa_pair",
        md,
        sa.Column("a", sa.Integer, primary_key=True),
        sa.Column("b", sa.Text, primary_key=True),
        sa.Column("c", sa.Integer),
        sa.Index("ix_pair_c_a", "c", "a"),
    )
    with engine.begin() as c:
        c.execute(text("DROP TABLE IF EXISTS sa_child, sa_parent, sa_account, sa_pair"))
    md.create_all(engine)
    Base.metadata.create_all(engine)

    # Core: insert and select, typed.
    at = datetime.datetime(2024, 2, 29, 12, 0, tzinfo=datetime.timezone.utc)
    with engine.begin() as c:
        c.execute(parent.insert(), [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
        c.execute(
            child.insert(),
            [
                {"id": 10, "parent_id": 1, "amount": decimal.Decimal("1.50"), "at": at, "tags": ["x", "y"], "doc": {"k": [1]}},
                {"id": 11, "parent_id": 2, "amount": None, "at": None, "tags": [], "doc": None},
            ],
        )
    with engine.connect() as c:
        rows = c.execute(
            sa.select(parent.c.name, child.c.amount, child.c.at, child.c.tags, child.c.doc, child.c.note)
            .join(child)
            .order_by(child.c.id)
        ).all()
        assert [tuple(r) for r in rows] == [
            ("a", decimal.Decimal("1.50"), at, ["x", "y"], {"k": [1]}, "none"),
            ("b", None, None, [], None, "none"),
        ]
        # An error with its SQLSTATE; the connection is usable after rollback.
        with pytest.raises(sa.exc.IntegrityError) as e:
            c.execute(child.insert(), {"id": 12, "parent_id": 99})
        assert getattr(e.value.orig, "sqlstate", None) or e.value.orig.pgcode == "23503"
        c.rollback()
        assert c.execute(sa.select(sa.func.count()).select_from(child)).scalar() == 2

    # ORM: commit, then a rolled-back change.
    with Session(engine) as s:
        s.add_all([Account(id=1, owner="ann", opened=datetime.date(2024, 1, 2)), Account(id=2, owner="bob", balance=5, opened=datetime.date(2024, 1, 3))])
        s.commit()
        a = s.get(Account, 1)
        a.balance = decimal.Decimal("99.99")
        s.add(Account(id=3, owner="cy", opened=datetime.date(2024, 1, 4)))
        s.flush()
        s.rollback()
        assert s.get(Account, 1).balance == 0
        assert s.scalar(sa.select(sa.func.count()).select_from(Account)) == 2
        s.add(Account(id=4, owner="ann", opened=datetime.date(2024, 1, 5)))
        with pytest.raises(sa.exc.IntegrityError):
            s.commit()
        s.rollback()
        assert [x.owner for x in s.scalars(sa.select(Account).order_by(Account.id))] == ["ann", "bob"]

    # Reflection.
    insp = inspect(engine)
    assert {"sa_parent", "sa_child", "sa_account"} <= set(insp.get_table_names())
    cols = {c["name"]: c for c in insp.get_columns("sa_child")}
    assert list(cols) == ["id", "parent_id", "amount", "at", "tags", "doc", "note"]
    assert isinstance(cols["id"]["type"], sa.BigInteger) and not cols["id"]["nullable"]
    assert isinstance(cols["amount"]["type"], sa.Numeric) and cols["amount"]["type"].scale == 2
    assert isinstance(cols["at"]["type"], sa.DateTime) and cols["at"]["type"].timezone
    assert isinstance(cols["tags"]["type"], sa.ARRAY)
    assert cols["note"]["default"] == "'none'::text" or cols["note"]["default"] == "'none'"
    assert not cols["parent_id"]["nullable"]
    assert insp.get_pk_constraint("sa_child")["constrained_columns"] == ["id"]
    fks = insp.get_foreign_keys("sa_child")
    assert [(f["constrained_columns"], f["referred_table"], f["referred_columns"]) for f in fks] == [
        (["parent_id"], "sa_parent", ["id"])
    ]
    assert [(i["name"], i["column_names"], i["unique"]) for i in insp.get_indexes("sa_child")] == [
        ("ix_child_parent", ["parent_id"], False)
    ]
    assert [u["column_names"] for u in insp.get_unique_constraints("sa_parent")] == [["name"]]
    assert insp.get_pk_constraint("sa_pair")["constrained_columns"] == ["a", "b"]
    assert [(i["name"], i["column_names"]) for i in insp.get_indexes("sa_pair")] == [("ix_pair_c_a", ["c", "a"])]
    reflected = sa.MetaData()
    reflected.reflect(engine, only=["sa_parent", "sa_child", "sa_account"])
    t = reflected.tables["sa_child"]
    assert [c.name for c in t.primary_key] == ["id"]
    assert {fk.target_fullname for fk in t.foreign_keys} == {"sa_parent.id"}
    assert reflected.tables["sa_account"].c.owner.type.length == 40
