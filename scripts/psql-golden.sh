#!/usr/bin/env bash
# Regenerates tests/clients/psql/*.out, the golden files of the psql
# describe test, from a throwaway PostgreSQL 15.
set -euo pipefail
cd "$(dirname "$0")/.."
SHOAL_PSQL_REGEN=1 python3 -m pytest -q tests/clients/test_psql.py -k golden "$@"
