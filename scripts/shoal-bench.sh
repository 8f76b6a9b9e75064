# Starts `shoal dev` (the release build, or $SHOAL_BIN) on a temporary
# directory and free ports, for the benchmarks beside scripts/pg15.sh.
# Source it after scripts/pg15.sh: exports SHOAL_PORT, waits until the
# frontend answers, and on exit stops it and then PostgreSQL (pg15_stop).

if [ -z "${SHOAL_BIN:-}" ]; then
    cargo build --release -p shoal >/dev/null
    SHOAL_BIN=target/release/shoal
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SHOAL_DIR=$(mktemp -d /tmp/shoal-bench.XXXXXX)
SHOAL_PORT=$(free_port)
SHOAL_COORD_PORT=$(free_port)
RUST_LOG=warn "$SHOAL_BIN" dev --data "$SHOAL_DIR" --port "$SHOAL_PORT" \
    --coordinator-port "$SHOAL_COORD_PORT" >"$SHOAL_DIR.log" 2>&1 &
SHOAL_PID=$!
export SHOAL_PORT
shoal_stop() {
    kill "$SHOAL_PID" 2>/dev/null || true
    wait "$SHOAL_PID" 2>/dev/null || true
    rm -rf "$SHOAL_DIR" "$SHOAL_DIR.log"
    pg15_stop
}
trap shoal_stop EXIT
for _ in $(seq 100); do
    ${PSQL:-psql} -h 127.0.0.1 -p "$SHOAL_PORT" -U postgres -d postgres -c 'select 1' >/dev/null 2>&1 && break
    sleep 0.2
done
