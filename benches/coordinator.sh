#!/usr/bin/env bash
# The coordinator benchmark: commits/s and p50/p99 commit latency with 1, 8
# and 64 concurrent committers (and 128 on the slow store), over gRPC against
# a real `shoal coordinator`
# process, on a local directory store and on an in-memory store with 10 ms
# added to every PUT (a slow object store: group commit must not be bounded
# by PUT latency). Also the coordinator's CPU time per commit and per lock
# request (lock + abort), read from /proc.
#
#   benches/coordinator.sh [SECONDS_PER_RUN]
#
# Writes target/bench/coordinator.json and prints a table.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
cargo build --release -q -p shoal --bins
bin=target/release
mkdir -p target/bench
out=target/bench/coordinator.json
echo "[" > "$out"
first=1

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)

run() { # name store_url put_latency_ms clients mode
    local name=$1 url=$2 lat=$3 clients=$4 mode=$5 port pid before after json
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    RUST_LOG=warn SHOAL_WAL_PIPELINE=${WAL_PIPELINE:-4} "$bin/shoal" coordinator --store "$url" --listen "127.0.0.1:$port" \
        --fault-put-latency-ms "$lat" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do "$bin/shoal" ctl status --coordinator "127.0.0.1:$port" >/dev/null 2>&1 && break; sleep 0.1; done
    before=$(cpu_ticks $pid)
    extra=()
    [ "$mode" = lock ] && extra=(--lock-only)
    json=$("$bin/shoal-commit-load" --coordinator "127.0.0.1:$port" --clients "$clients" \
        --duration "$secs" --keys 1000000 "${extra[@]}")
    after=$(cpu_ticks $pid)
    kill $pid; wait $pid 2>/dev/null || true
    python3 - "$name" "$mode" "$clients" "$json" "$before" "$after" "$tck" "$out" "$first" <<'PY'
import json, sys
name, mode, clients, raw, before, after, tck, out, first = sys.argv[1:]
r = json.loads(raw)
cpu = (int(after) - int(before)) / int(tck)
ops = max(r["commits"], 1)
row = {"store": name, "mode": mode, "clients": int(clients), "ops_per_s": r["commits_per_s"],
       "p50_us": r["p50_us"], "p99_us": r["p99_us"], "failed": r["failed"],
       "coordinator_cpu_us_per_op": round(cpu * 1e6 / ops, 1)}
with open(out, "a") as f:
    f.write(("" if first == "1" else ",\n") + json.dumps(row))
print(f'{name:<14} {mode:<7} {clients:>4} clients  {r["commits_per_s"]:>8} ops/s  '
      f'p50 {r["p50_us"]/1000:>7.2f} ms  p99 {r["p99_us"]/1000:>7.2f} ms  '
      f'coordinator {row["coordinator_cpu_us_per_op"]:>6} CPU-us/op  failed {r["failed"]}')
PY
    first=0
}

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for c in 1 8 64; do run file "file://$dir/file-$c" 0 "$c" commit; done
for c in 1 8 64 128; do run memory+10ms "memory://" 10 "$c" commit; done
for c in 1 8 64; do run file "file://$dir/lock-$c" 0 "$c" lock; done
echo "]" >> "$out"
echo "results: $out"
