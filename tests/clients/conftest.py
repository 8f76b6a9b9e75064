"""Starts `shoal dev` (the debug build in target/, or $SHOAL_BIN) on a
temporary directory (or, with SHOAL_TEST_STORE=s3, on a fresh prefix of
the S3 bucket $SHOAL_TEST_S3 that scripts/moto.sh serves) for the client tests, or uses $SHOAL_TEST_POSTGRES
(a libpq connection string) to run the same tests against PostgreSQL."""

import contextlib
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def shoal_dev(prefix="shoal-clients-", env=None):
    """A `shoal dev` on a temporary directory (free ports), as a libpq
    connection string; `env` adds to its environment."""
    binary = os.environ.get("SHOAL_BIN", str(ROOT / "target" / "debug" / "shoal"))
    data = tempfile.mkdtemp(prefix=prefix)
    store = ["--data", data]
    if os.environ.get("SHOAL_TEST_STORE", "file") == "s3":
        bucket = os.environ["SHOAL_TEST_S3"].rstrip("/")
        store = ["--store", f"{bucket}/{prefix}{uuid.uuid4().hex[:12]}"]
    proc = subprocess.Popen(
        [binary, "dev", *store, "--port", "0", "--coordinator-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "RUST_LOG": "warn", **(env or {})},
    )
    try:
        addr = None
        for line in proc.stdout:
            m = re.search(r"postgresql://postgres@([\d.]+):(\d+)/postgres", line)
            if m:
                addr = m.groups()
                break
        assert addr, "shoal dev printed no frontend address"
        yield f"host={addr[0]} port={addr[1]} user=postgres dbname=postgres"
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def dsn():
    if os.environ.get("SHOAL_TEST_POSTGRES"):
        yield os.environ["SHOAL_TEST_POSTGRES"] + " dbname=postgres"
        return
    with shoal_dev() as conninfo:
        yield conninfo
