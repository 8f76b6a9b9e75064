"""Every process that writes to the store checks it at start: reachable, and
honouring create-if-absent writes (the probe object written twice). A bad
store stops `shoal coordinator` and `shoal dev` with a clear message
instead of a cluster that cannot fence writers."""

from __future__ import annotations

import os
import subprocess

import pytest
from cluster import binary

S3 = os.environ.get("SHOAL_TEST_S3")


def start(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [binary(), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "RUST_LOG": "warn", "RUST_BACKTRACE": "0", **(env or {})},
    )


@pytest.mark.skipif(not S3, reason="needs the S3 server of scripts/moto.sh (SHOAL_TEST_S3)")
@pytest.mark.parametrize("command", ["coordinator", "dev"])
def test_a_missing_bucket_is_refused_at_start(command):
    args = ["--listen", "127.0.0.1:0"] if command == "coordinator" else ["--port", "0", "--coordinator-port", "0"]
    proc = start(command, "--store", "s3://no-such-bucket-shoal/db", *args)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "s3://no-such-bucket-shoal/db" in proc.stderr, proc.stderr
    assert "the bucket does not exist" in proc.stderr, proc.stderr


@pytest.mark.skipif(not S3, reason="needs the S3 server of scripts/moto.sh (SHOAL_TEST_S3)")
def test_an_unreachable_endpoint_is_refused_at_start():
    # Nothing listens on port 9 (discard) of loopback: every request is
    # refused, the retries run out, and the coordinator exits.
    proc = start(
        "coordinator", "--store", f"{S3}/db", "--listen", "127.0.0.1:0",
        env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
    )
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert f"open store {S3}/db" in proc.stderr, proc.stderr
    assert "127.0.0.1:9" in proc.stderr, proc.stderr


def test_an_unknown_store_url_is_refused(tmp_path):
    proc = start("coordinator", "--store", "ftp://host/db", "--listen", "127.0.0.1:0")
    assert proc.returncode != 0
    assert "ftp://host/db" in proc.stderr and "s3://bucket/prefix" in proc.stderr, proc.stderr
