#!/usr/bin/env bash
# Runs the gateway-store tests against a throwaway PostgreSQL 15 cluster.
#
#   gateway/store/tests/pg.sh [extra cargo test args]
#
# initdb's a cluster in a temporary directory (as the `postgres` user when run
# as root: PostgreSQL refuses to run as root), starts it on 127.0.0.1 with a
# free port and its unix socket in that directory, runs `cargo test -p
# gateway-store` and `cargo test -p gateway-admin` (the administration
# registry on the same schema) with GATEWAY_TEST_POSTGRES_URL set (each test
# creates its own database there), then stops the server by its PID and
# removes everything.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
REPO=$(cd "$(dirname "$0")/../../.." && pwd)

[ -x "$PG_BIN/initdb" ] || { echo "pg.sh: no PostgreSQL in $PG_BIN (apt-get install postgresql)" >&2; exit 2; }

TMP=$(mktemp -d /tmp/gateway-pg.XXXXXX)
DATA=$TMP/data
SOCK=$TMP/sock
LOG=$TMP/postgres.log
mkdir -p "$SOCK"

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}
if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres: "$TMP"
fi

PG_PID=
cleanup() {
    local rc=$?
    if [ -n "$PG_PID" ] && kill -0 "$PG_PID" 2>/dev/null; then
        # SIGINT: PostgreSQL's "fast" shutdown (aborts sessions, no recovery needed).
        kill -INT "$PG_PID"
        for _ in $(seq 1 100); do
            kill -0 "$PG_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$PG_PID" 2>/dev/null && kill -KILL "$PG_PID"
    fi
    if [ $rc -ne 0 ] && [ -f "$LOG" ]; then
        echo "--- postgres log ($LOG) ---" >&2
        tail -n 30 "$LOG" >&2 || true
    fi
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT INT TERM

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

as_pg "$PG_BIN/initdb" -D "$DATA" -U gateway --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$TMP/initdb.log" 2>&1 \
    || { cat "$TMP/initdb.log" >&2; exit 1; }

as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $SOCK -c fsync=off -c max_connections=200" start >/dev/null
PG_PID=$(head -n 1 "$DATA/postmaster.pid")
echo "pg.sh: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') pid $PG_PID on 127.0.0.1:$PORT"

export GATEWAY_TEST_POSTGRES_URL="postgres://gateway@127.0.0.1:$PORT/postgres"
cd "$REPO"
cargo test -p gateway-store "$@"
cargo test -p gateway-admin "$@"
