#!/usr/bin/env bash
# Point SELECT and single-row UPDATE latency through the PostgreSQL wire
# protocol: Shoal (`shoal dev`, release build, local directory) beside a
# throwaway PostgreSQL 15 on the same machine, with pgbench as the client.
#
# Usage: benches/frontend.sh [seconds-per-run] [clients...]
# Writes target/bench/frontend.json and prints a table with the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
shift || true
CLIENTS=${*:-1 8}
ROWS=${ROWS:-100000}
PGBENCH=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
PSQL=${PSQL:-psql}

. scripts/pg15.sh
. scripts/shoal-bench.sh

SETUP="DROP TABLE IF EXISTS bench_accounts;
CREATE TABLE bench_accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84));
INSERT INTO bench_accounts SELECT g, (g - 1) / 100000 + 1, 0, '' FROM generate_series(1, $ROWS) g;"
SCRIPTS=$(mktemp -d)
cat >"$SCRIPTS/select.sql" <<SQL
\set aid random(1, $ROWS)
SELECT abalance FROM bench_accounts WHERE aid = :aid;
SQL
cat >"$SCRIPTS/update.sql" <<SQL
\set aid random(1, $ROWS)
\set delta random(-5000, 5000)
UPDATE bench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SQL

declare -A HOST=([postgres]="-h 127.0.0.1 -p $PG15_PORT" [shoal]="-h 127.0.0.1 -p $SHOAL_PORT")
for target in postgres shoal; do
    echo "$SETUP" | $PSQL ${HOST[$target]} -U postgres -d postgres -q -v ON_ERROR_STOP=1 >/dev/null
done

mkdir -p target/bench
RESULTS=target/bench/frontend.json
echo "[" >"$RESULTS"
first=1
printf "%-8s %-8s %8s | %12s %10s | %12s %10s | %8s\n" workload clients "" "pg tps" "pg lat ms" "shoal tps" "shoal lat" "ratio"
for workload in select update; do
    for c in $CLIENTS; do
        declare -A TPS LAT
        for target in postgres shoal; do
            out=$($PGBENCH ${HOST[$target]} -U postgres -n -M prepared -c "$c" -j "$(( c < 2 ? c : 2 ))" \
                -T "$SECS" -f "$SCRIPTS/$workload.sql" postgres 2>&1)
            TPS[$target]=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
            LAT[$target]=$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
            [ -n "${TPS[$target]}" ] || { echo "$out"; exit 1; }
        done
        ratio=$(python3 -c "print(round(${TPS[shoal]} / ${TPS[postgres]}, 3))")
        printf "%-8s %-8s %8s | %12s %10s | %12s %10s | %8s\n" "$workload" "$c" "" \
            "${TPS[postgres]}" "${LAT[postgres]}" "${TPS[shoal]}" "${LAT[shoal]}" "$ratio"
        [ $first = 1 ] || echo "," >>"$RESULTS"
        first=0
        printf '{"workload":"%s","clients":%s,"postgres_tps":%s,"postgres_latency_ms":%s,"shoal_tps":%s,"shoal_latency_ms":%s,"ratio":%s}' \
            "$workload" "$c" "${TPS[postgres]}" "${LAT[postgres]}" "${TPS[shoal]}" "${LAT[shoal]}" "$ratio" >>"$RESULTS"
    done
done
echo "]" >>"$RESULTS"
rm -rf "$SCRIPTS"
echo "wrote $RESULTS"
