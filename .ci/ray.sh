#!/usr/bin/env bash
# A real local Ray cluster for the scale-out tests: a head node and one worker node, each
# `ray start --block` in its own process group (two nodes on one machine are a multi-node
# cluster exactly as on two machines), with bounded CPUs, memory and object store.
#
#   eval "$(.ci/ray.sh start)"   # exports KAMPAI_TEST_RAY=127.0.0.1:PORT (the GCS address)
#   .ci/ray.sh stop              # stops both nodes (only the process groups this script started)
#
# Settings (environment): KAMPAI_RAY_DIR (state: pids, logs; default .kampai/ray under the
# clone), KAMPAI_RAY_PORT (head port, default 56379), KAMPAI_RAY_CPUS (per node, default 2).
# Nothing else on the machine is touched: no `ray stop` (it would stop every Ray of this user).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DIR=${KAMPAI_RAY_DIR:-$ROOT/.kampai/ray}
PORT=${KAMPAI_RAY_PORT:-56379}
CPUS=${KAMPAI_RAY_CPUS:-2}
RAY=${RAY:-$ROOT/.venv/bin/ray}
[ -x "$RAY" ] || RAY=$(command -v ray || true)
PY=$(dirname "${RAY:-/usr/bin/ray}")/python
# Ray's session folder holds unix sockets (107-byte path limit): a short one under /tmp
TMP=${KAMPAI_RAY_TMP:-/tmp/kr-$(printf %s "$DIR" | cksum | cut -c1-8)}
OBJ=$((150 * 1024 * 1024))    # object store per node
MEM=$((1024 * 1024 * 1024))   # memory resource per node (scheduling bound)

node() {  # node NAME ARGS...: one `ray start --block` in its own process group
  # each node its own temp dir: two nodes sharing one have their runtime-env agents remove
  # each other's unpacked working_dir packages
  local name=$1
  shift
  mkdir -p "$TMP/$name"
  setsid "$RAY" start --block --disable-usage-stats --temp-dir "$TMP/$name" --node-ip-address 127.0.0.1 --num-cpus "$CPUS" \
    --object-store-memory "$OBJ" --memory "$MEM" "$@" >"$DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/$name.pid"
}

start() {
  if [ -z "$RAY" ]; then
    echo "ray is not installed: pip install 'kampai[ray]'" >&2
    exit 2
  fi
  mkdir -p "$DIR" "$TMP"
  stop 2>/dev/null || true
  local base=$((PORT + 10))
  # no dashboard (about 1.3 GB of processes): kampai submits tasks, not dashboard jobs
  node head --head --port "$PORT" --include-dashboard false --ray-client-server-port $((base + 1)) --node-manager-port $((base + 2)) \
    --object-manager-port $((base + 3)) --dashboard-agent-listen-port $((base + 4)) \
    --dashboard-agent-grpc-port $((base + 5)) --runtime-env-agent-port $((base + 6)) \
    --metrics-export-port $((base + 7)) --min-worker-port $((base + 100)) --max-worker-port $((base + 199)) \
    --resources '{"kampai_head": 1}'
  wait_for 1
  node worker --address "127.0.0.1:$PORT" --node-manager-port $((base + 12)) \
    --object-manager-port $((base + 13)) --dashboard-agent-listen-port $((base + 14)) \
    --dashboard-agent-grpc-port $((base + 15)) --runtime-env-agent-port $((base + 16)) \
    --metrics-export-port $((base + 17)) --min-worker-port $((base + 200)) --max-worker-port $((base + 299)) \
    --resources '{"kampai_worker": 1}'
  wait_for 2
  echo "export KAMPAI_TEST_RAY=127.0.0.1:$PORT"
  }

wait_for() {  # wait_for N: until the cluster has N alive nodes (60 s)
  local want=$1 i
  for i in $(seq 120); do
    if "$PY" - "$PORT" "$want" >/dev/null 2>&1 <<'EOF'
import sys, ray
ray.init(address=f"127.0.0.1:{sys.argv[1]}", logging_level="ERROR", log_to_driver=False)
alive = [n for n in ray.nodes() if n["Alive"]]
sys.exit(0 if len(alive) >= int(sys.argv[2]) else 1)
EOF
    then return 0; fi
    sleep 0.5
  done
  echo "the Ray cluster did not come up (logs: $DIR)" >&2
  tail -20 "$DIR"/*.log >&2 || true
  stop
  exit 1
}

stop() {
  local name pid
  for name in worker head; do
    [ -f "$DIR/$name.pid" ] || continue
    pid=$(cat "$DIR/$name.pid")
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 40); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$DIR/$name.pid"
  done
  # processes Ray re-parented out of the groups (raylet, gcs_server, workers) carry the session folder
  for pid in $(pgrep -f -- "$TMP/[a-z]*/session" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
