#!/usr/bin/env bash
# A Shoal cluster of separate processes on one machine: a coordinator, a hot
# spare, three frontends and HAProxy (deploy/haproxy.cfg) in front of them on
# one client port, on a file:// store in DIR or, with SHOAL_STORE set on the
# first start, on that store (e.g. SHOAL_STORE=s3://bucket/prefix with the
# AWS_* variables of MinIO or S3). See docs/cluster.md.
#
#   scripts/local-cluster.sh [start] [DIR]   start, then wait; Ctrl-C stops it all
#   scripts/local-cluster.sh stop [DIR]      stop a cluster started from another shell
#   scripts/local-cluster.sh status [DIR]    processes, HAProxy's view, `shoal ctl status`
#   scripts/local-cluster.sh frontend N [DIR]   (re)start frontend N (1-3) unless it is serving
#
# DIR (default ./shoal-cluster) holds the store (DIR/store, unless SHOAL_STORE
# names another), the settings
# every process reads (DIR/shoal.toml, written on first start; edit it to
# change them), logs (DIR/log) and pid files (DIR/run). The binary is
# $SHOAL_BIN, or target/release/shoal, built if missing. The ports are
# those of deploy/haproxy.cfg:
#
#   6432        HAProxy: the client port   psql -h 127.0.0.1 -p 6432 -U postgres
#   5433-5435   frontends 1-3 (PostgreSQL), HTTP /health and /metrics on 8433-8435
#   5440        the active coordinator (gRPC), HTTP on 8440
#   5441        the spare coordinator, watching 5440, HTTP on 8441
#   8404        HAProxy's stats page
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cmd=start
case "${1:-}" in
    start | stop | status) cmd=$1; shift ;;
    frontend) cmd=frontend; node=${2:?usage: $0 frontend N [DIR]}; shift 2 ;;
esac
dir=${1:-./shoal-cluster}
if [ ! -d "$dir" ]; then
    case "$cmd" in
        stop | status) echo "no cluster in $dir" >&2; exit 1 ;;
    esac
    mkdir -p "$dir"
fi
dir=$(cd "$dir" && pwd)
run=$dir/run
log=$dir/log
coordinator=127.0.0.1:5440
spare=127.0.0.1:5441

bin() {
    if [ -n "${SHOAL_BIN:-}" ]; then
        echo "$SHOAL_BIN"
        return
    fi
    if [ ! -x "$repo/target/release/shoal" ]; then
        echo "building target/release/shoal (cargo build --release -p shoal)..." >&2
        (cd "$repo" && cargo build --release -p shoal >&2)
    fi
    echo "$repo/target/release/shoal"
}

# The pid in $run/NAME.pid, if that process is still the one we started.
alive() {
    local pid
    pid=$(cat "$run/$1.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    # A recycled pid belongs to some other program: not ours.
    grep -qaE 'shoal|haproxy' "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}

# start NAME COMMAND...: runs it in the background, logging to $log/NAME.log.
start() {
    local name=$1
    shift
    if alive "$name" >/dev/null; then
        echo "$name is already running (pid $(alive "$name"))" >&2
        return 1
    fi
    echo "--- $(date '+%F %T') $*" >>"$log/$name.log"
    "$@" >>"$log/$name.log" 2>&1 &
    echo $! >"$run/$name.pid"
}

# wait_for WHAT COMMAND...: retries COMMAND for up to 20 s.
wait_for() {
    local what=$1
    shift
    for _ in $(seq 200); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    echo "$what did not come up; see $log/" >&2
    return 1
}

healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$1/health")" = 200 ]; }

start_frontend() {
    local n=$1
    case "$n" in 1 | 2 | 3) ;; *) echo "frontend N: N is 1, 2 or 3" >&2; return 1 ;; esac
    start "frontend$n" "$(bin)" frontend --config "$dir/shoal.toml" \
        --listen "127.0.0.1:$((5432 + n))" --http "127.0.0.1:$((8432 + n))" --id "$n"
}

# stop_group NAME...: SIGTERM, up to 5 s to exit, then SIGKILL.
stop_group() {
    local pids=() name pid left
    for name in "$@"; do
        if pid=$(alive "$name"); then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
        rm -f "$run/$name.pid"
    done
    [ "${#pids[@]}" = 0 ] && return 0
    for _ in $(seq 50); do
        left=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
        [ "$left" = 0 ] && return 0
        sleep 0.1
    done
    for pid in "${pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            echo "pid $pid did not stop on SIGTERM: SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}

stop_all() {
    # Frontends first (they leave the cluster), the load balancer, then
    # the spare before the active coordinator, so that it does not take over.
    stop_group frontend1 frontend2 frontend3 haproxy
    stop_group spare
    stop_group coordinator
    echo "stopped (store, logs and settings kept in $dir)"
}

on_signal() {
    trap - INT TERM
    echo
    stop_all
    exit 0
}

status() {
    local name pid
    for name in coordinator spare frontend1 frontend2 frontend3 haproxy; do
        if pid=$(alive "$name"); then
            echo "$name: running (pid $pid)"
        else
            echo "$name: not running"
        fi
    done
    for n in 1 2 3; do
        echo "frontend$n /health: $(curl -s -m 1 "http://127.0.0.1:$((8432 + n))/health" || echo unreachable)"
    done
    echo "HAProxy: server, status, sessions now, sessions in all, times marked down, last check"
    curl -s -m 1 'http://127.0.0.1:8404/;csv' | awk -F, '
        NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
        $1 == "shoal" && $2 != "FRONTEND" && $2 != "BACKEND" {
            print "  " $2, $col["status"], $col["scur"], $col["stot"], $col["chkdown"], $col["check_status"]
        }' || true
    "$(bin)" ctl status --coordinator "$coordinator" 2>/dev/null ||
        "$(bin)" ctl status --coordinator "$spare" || true
}

case "$cmd" in
    stop) stop_all; exit 0 ;;
    status) status; exit 0 ;;
esac

mkdir -p "$run" "$log"
if [ ! -f "$dir/shoal.toml" ]; then
    store=${SHOAL_STORE:-file://$dir/store}
    case "$store" in file://*) mkdir -p "${store#file://}" ;; esac
    cat >"$dir/shoal.toml" <<EOF
# Settings shared by the processes of scripts/local-cluster.sh. Their
# per-node settings (--listen, --http, --id, --spare, --watch) are flags,
# which take precedence over this file; see \`shoal --help\`.

[coordinator]
store = "$store"
lease-ms = 2000

[frontend]
store = "$store"
coordinator = "$coordinator"
cache-mb = 256
EOF
fi

if [ "$cmd" = frontend ]; then
    if alive "frontend$node" >/dev/null; then
        if healthy "127.0.0.1:$((8432 + node))"; then
            echo "frontend$node is already serving (pid $(alive "frontend$node"))"
            exit 0
        fi
        # Running but not serving (it lost its lease): replace it.
        stop_group "frontend$node"
    fi
    start_frontend "$node"
    wait_for "frontend$node" healthy "127.0.0.1:$((8432 + node))"
    echo "frontend$node is serving (pid $(alive "frontend$node"))"
    exit 0
fi

command -v haproxy >/dev/null || {
    echo "haproxy is not installed (Debian: apt-get install haproxy)" >&2
    exit 1
}
haproxy -q -c -f "$repo/deploy/haproxy.cfg"
shoal=$(bin)
for port in 6432 5433 5434 5435 5440 5441 8404 8433 8434 8435 8440 8441; do
    if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
        echo "port $port is in use (is a cluster already running? $0 stop)" >&2
        exit 1
    fi
done

trap on_signal INT TERM
start coordinator "$shoal" coordinator --config "$dir/shoal.toml" \
    --listen "$coordinator" --http 127.0.0.1:8440
wait_for coordinator "$shoal" ctl status --coordinator "$coordinator"
start spare "$shoal" coordinator --config "$dir/shoal.toml" \
    --listen "$spare" --http 127.0.0.1:8441 --spare --watch "$coordinator"
for n in 1 2 3; do start_frontend "$n"; done
for n in 1 2 3; do wait_for "frontend$n" healthy "127.0.0.1:$((8432 + n))"; done
start haproxy haproxy -db -f "$repo/deploy/haproxy.cfg"
wait_for haproxy bash -c 'exec 3<>/dev/tcp/127.0.0.1/6432'

store=$(sed -n 's/^store = "\(.*\)"$/\1/p' "$dir/shoal.toml" | head -n 1)
cat <<EOF
Shoal cluster on $store
  coordinator 127.0.0.1:5440 (spare on 127.0.0.1:5441)
  frontends   127.0.0.1:5433, 5434, 5435 (health: curl 127.0.0.1:8433/health)
  HAProxy     127.0.0.1:6432 (stats: http://127.0.0.1:8404/)
Connect:     psql -h 127.0.0.1 -p 6432 -U postgres
Logs and pids are in $dir/log and $dir/run; settings in $dir/shoal.toml.
Ctrl-C (or: $0 stop $dir) stops everything.
EOF

# Wait for the children; one dying (a kill -9 in a test) does not stop the
# others. A signal interrupts `wait` and runs stop_all.
while [ -n "$(jobs -pr)" ]; do
    wait -n || true
done
