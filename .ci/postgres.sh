#!/usr/bin/env bash
# A private PostgreSQL cluster on loopback for the multi-worker tuning test.
#
#   eval "$(.ci/postgres.sh start)"   # installs PostgreSQL if needed, exports KAMPAI_TEST_PG_URL
#   .ci/postgres.sh stop
#
# Runs the server as the unprivileged 'postgres' user (initdb refuses root), in its own
# data folder on a spare port, trusting loopback connections only.  Safe to run again.
set -euo pipefail
PORT=${KAMPAI_PG_PORT:-55433}
DIR=${KAMPAI_PG_DIR:-/tmp/kampai-pg}
DB=kampai_test

bin_dir() {
  local initdb
  initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$initdb" ] && dirname "$initdb"
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  if [ -z "$(bin_dir)" ]; then
    echo "installing postgresql..." >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  fi
  local bin
  bin=$(bin_dir)
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres "$DIR"
  if [ ! -f "$DIR/PG_VERSION" ]; then
    as_pg "$bin/initdb" -D "$DIR" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  if ! as_pg "$bin/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w \
      -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >&2
  fi
  as_pg "$bin/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" \
    | grep -q 1 || as_pg "$bin/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
  echo "export KAMPAI_TEST_PG_URL=postgresql://postgres@127.0.0.1:$PORT/$DB"
}

stop() {
  local bin
  bin=$(bin_dir)
  [ -n "$bin" ] && [ -f "$DIR/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$DIR" -m fast stop >&2 || true
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
