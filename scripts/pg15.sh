# Starts a throwaway PostgreSQL 15 (initdb in a temporary directory, fsync
# on, otherwise default settings, TimeZone UTC) for comparisons.
# Source it: exports PG15_DIR, PG15_PORT, PG15_CONN (a libpq connection
# string without dbname) and stops the server on exit.
# PostgreSQL refuses to run as root; as root it runs as user "postgres".

PG15_BIN=${PG15_BIN:-/usr/lib/postgresql/15/bin}
PG15_DIR=$(mktemp -d /tmp/shoal-pg15.XXXXXX)
PG15_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if [ "$(id -u)" = 0 ]; then
    chown postgres "$PG15_DIR"
    pg_as() { su postgres -s /bin/sh -c "$*"; }
else
    pg_as() { sh -c "$*"; }
fi
pg_as "$PG15_BIN/initdb -D $PG15_DIR/data -U postgres -A trust --no-sync -E UTF8 --locale=C >/dev/null"
echo "timezone = 'UTC'" >>"$PG15_DIR/data/postgresql.conf"
pg_as "$PG15_BIN/pg_ctl -D $PG15_DIR/data -o '-p $PG15_PORT -k $PG15_DIR -c listen_addresses=127.0.0.1' -l $PG15_DIR/log -w start >/dev/null"
PG15_CONN="host=127.0.0.1 port=$PG15_PORT user=postgres"
export PG15_DIR PG15_PORT PG15_CONN
pg15_stop() { pg_as "$PG15_BIN/pg_ctl -D $PG15_DIR/data -m fast stop >/dev/null 2>&1"; rm -rf "$PG15_DIR"; }
trap pg15_stop EXIT
