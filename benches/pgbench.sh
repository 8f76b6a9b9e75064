#!/usr/bin/env bash
# pgbench's built-in workloads against Shoal (`shoal dev`, release build,
# local directory) and a throwaway PostgreSQL 15 on the same machine, in
# alternation: `-S`, TPC-B and `-N`, all `-M prepared`, at 1, 8 and 32
# clients (`-j 2` above one), several rounds, both initialised with
# `pgbench -i -s $SCALE`.
#
# Usage: benches/pgbench.sh [seconds-per-run] [rounds]
#   env: SCALE (default 10), CLIENTS (default "1 8 32"),
#        SHOAL_BIN (default: builds target/release/shoal),
#        PERF=1 to profile the shoal process (perf record) during one
#        8-client -S run and one 8-client TPC-B run of the first round
#        (reports in target/bench/pgbench-perf-*.txt).
# Prints TPS and average latency of each (the mean over rounds) and the
# ratio Shoal/PostgreSQL; writes target/bench/pgbench.json.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
ROUNDS=${2:-2}
SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-1 8 32}
PGBENCH=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
PSQL=${PSQL:-psql}

. scripts/pg15.sh
. scripts/shoal-bench.sh

declare -A HOST=([postgres]="-h 127.0.0.1 -p $PG15_PORT" [shoal]="-h 127.0.0.1 -p $SHOAL_PORT")
for target in postgres shoal; do
    start=$(date +%s.%N)
    $PGBENCH ${HOST[$target]} -U postgres -i -s "$SCALE" -q postgres >/dev/null 2>&1 || {
        echo "pgbench -i failed on $target:"; $PGBENCH ${HOST[$target]} -U postgres -i -s "$SCALE" -q postgres; exit 1; }
    printf '%-8s pgbench -i -s %s: %.1f s\n' "$target" "$SCALE" "$(echo "$(date +%s.%N) - $start" | bc)"
done

# Shoal flushes and compacts what `pgbench -i` loaded in the background;
# runs measured meanwhile share the CPUs with it. Wait (at most a minute)
# until the shoal process has used under 5% of a CPU for two seconds in a
# row, and checkpoint PostgreSQL, so both start the runs settled.
$PSQL -h 127.0.0.1 -p "$PG15_PORT" -U postgres -d postgres -qc checkpoint >/dev/null
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SHOAL_PID/stat"; }
quiet=0
for _ in $(seq 60); do
    before=$(cpu_ticks)
    sleep 1
    used=$(( $(cpu_ticks) - before ))
    if [ "$used" -lt $(( $(getconf CLK_TCK) / 20 )) ]; then
        quiet=$((quiet + 1))
        [ "$quiet" -ge 2 ] && break
    else
        quiet=0
    fi
done

mkdir -p target/bench
declare -A SUM_TPS SUM_LAT RAW
WORKLOADS="select tpcb simple-update"
declare -A FLAGS=([select]="-S" [tpcb]="" [simple-update]="-N")
for round in $(seq "$ROUNDS"); do
    for workload in $WORKLOADS; do
        for c in $CLIENTS; do
            for target in postgres shoal; do
                j=$(( c < 2 ? 1 : 2 ))
                perf_pid=
                if [ "${PERF:-0}" = 1 ] && [ "$round" = 1 ] && [ "$target" = shoal ] && [ "$c" = 8 ] \
                    && [ "$workload" != simple-update ]; then
                    perf record -F 499 -p "$SHOAL_PID" -o "target/bench/pgbench-perf-$workload.data" \
                        -- sleep "$SECS" >/dev/null 2>&1 &
                    perf_pid=$!
                fi
                out=$($PGBENCH ${HOST[$target]} -U postgres -M prepared ${FLAGS[$workload]} \
                    -c "$c" -j "$j" -T "$SECS" postgres 2>&1) || { echo "$out"; exit 1; }
                if [ -n "$perf_pid" ]; then
                    wait "$perf_pid" || true
                    # Self time by symbol, then summed by crate (the path's first segment).
                    report=$(perf report -i "target/bench/pgbench-perf-$workload.data" --no-children \
                        -g none --sort sym 2>/dev/null | grep -v '^#' | grep -v '^$' || true)
                    {
                        echo "== by crate"
                        echo "$report" | awk '{p=$1; sub("%","",p); s=$0; sub(/^[^]]*\] /,"",s); sub(/^<+/,"",s);
                            sub(/^&(mut )?/,"",s); split(s,a,"::"); c=a[1]; sub(/.* as /,"",c);
                            if (s !~ /::/) c="(other: libc, kernel, ...)"; t[c]+=p}
                            END {for (c in t) printf "%6.2f%%  %s\n", t[c], c}' | sort -rn | head -25
                        echo "== top symbols"
                        echo "$report" | head -40
                    } >"target/bench/pgbench-perf-$workload.txt"
                    rm -f "target/bench/pgbench-perf-$workload.data"
                fi
                tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
                lat=$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
                failed=$(echo "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p')
                [ -n "$tps" ] && [ -n "$lat" ] || { echo "$out"; exit 1; }
                key="$workload/$c/$target"
                SUM_TPS[$key]=$(echo "${SUM_TPS[$key]:-0} + $tps" | bc -l)
                SUM_LAT[$key]=$(echo "${SUM_LAT[$key]:-0} + $lat" | bc -l)
                RAW[$key]="${RAW[$key]:+${RAW[$key]},}{\"round\":$round,\"tps\":$tps,\"latency_ms\":$lat,\"failed\":${failed:-0}}"
                printf 'round %s %-13s c=%-3s %-8s tps %10.1f  latency %8.3f ms  failed %s\n' \
                    "$round" "$workload" "$c" "$target" "$tps" "$lat" "${failed:-0}"
            done
        done
    done
done

RESULTS=target/bench/pgbench.json
{
    printf '{"date":"%s","scale":%s,"seconds":%s,"rounds":%s,"cpus":%s,"results":[' \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$SCALE" "$SECS" "$ROUNDS" "$(nproc)"
    first=1
    for workload in $WORKLOADS; do
        for c in $CLIENTS; do
            [ $first = 1 ] || printf ','
            first=0
            printf '{"workload":"%s","clients":%s' "$workload" "$c"
            for target in postgres shoal; do
                key="$workload/$c/$target"
                printf ',"%s_tps":%.1f,"%s_latency_ms":%.3f,"%s_runs":[%s]' \
                    "$target" "$(echo "${SUM_TPS[$key]} / $ROUNDS" | bc -l)" \
                    "$target" "$(echo "${SUM_LAT[$key]} / $ROUNDS" | bc -l)" "$target" "${RAW[$key]}"
            done
            printf ',"ratio":%.3f}' "$(echo "${SUM_TPS[$workload/$c/shoal]} / ${SUM_TPS[$workload/$c/postgres]}" | bc -l)"
        done
    done
    printf ']}\n'
} >"$RESULTS"

echo
printf "%-13s %7s | %10s %10s | %10s %10s | %6s\n" workload clients "pg tps" "pg lat ms" "shoal tps" "shoal lat" ratio
for workload in $WORKLOADS; do
    for c in $CLIENTS; do
        pg=$(echo "${SUM_TPS[$workload/$c/postgres]} / $ROUNDS" | bc -l)
        sh=$(echo "${SUM_TPS[$workload/$c/shoal]} / $ROUNDS" | bc -l)
        printf "%-13s %7s | %10.1f %10.3f | %10.1f %10.3f | %6.2f\n" "$workload" "$c" \
            "$pg" "$(echo "${SUM_LAT[$workload/$c/postgres]} / $ROUNDS" | bc -l)" \
            "$sh" "$(echo "${SUM_LAT[$workload/$c/shoal]} / $ROUNDS" | bc -l)" \
            "$(echo "$sh / $pg" | bc -l)"
    done
done
echo "wrote $RESULTS"
