#!/usr/bin/env bash
# Checks the expected results in tests/sql/*.slt against PostgreSQL 15
# itself: runs the sqllogictest suite (simple and extended protocol)
# against a throwaway PostgreSQL instead of Shoal.
# Usage: scripts/slt-postgres.sh [file-name-filter]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg15.sh
export SHOAL_SLT_POSTGRES="$PG15_CONN"
[ $# -gt 0 ] && export SHOAL_SLT_ONLY="$1"
cargo test -p shoal --test sqllogictest -- --test-threads 1
