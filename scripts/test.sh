#!/usr/bin/env bash
# The project's test command: every test of the workspace, with the S3
# variants of the storage tests run against a local moto server, and the
# Python client tests (psycopg 3, psycopg2, asyncpg, SQLAlchemy, pgjdbc)
# against `shoal dev`, and the multi-process cluster tests; then the cluster
# tests and the pgbench test once more on S3 (moto) instead of file://.
# Exits non-zero if any test failed.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/moto.sh
source scripts/moto.sh
moto_start

status=0
# nextest does not run doctests: run them first, so that the last summary
# printed is the one of the whole test suite.
cargo test --workspace --doc || status=$?
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast || status=$?
else
    echo "cargo-nextest not found; using cargo test" >&2
    cargo test --workspace --no-fail-fast || status=$?
fi
# The client tests (tests/clients) drive the debug `shoal` binary that
# the runs above built.
cargo build --quiet -p shoal
python3 -m pytest -q tests/clients || status=$?
# The multi-process cluster tests (tests/cluster): coordinators, a spare
# and frontends of the same binary as separate processes, killed and
# stopped under load, their histories checked for consistency.
python3 -m pytest -q tests/cluster || status=$?
# The same cluster tests, scripts/local-cluster.sh among them, and pgbench,
# with every process on a fresh prefix of the moto bucket.
SHOAL_TEST_STORE=s3 python3 -m pytest -q tests/cluster tests/clients/test_pgbench.py || status=$?
exit "$status"
