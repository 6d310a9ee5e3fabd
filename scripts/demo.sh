#!/usr/bin/env bash
# The main job, on an embedded default: installs dependencies, builds, starts
# autodistilld and three worker processes on loopback with a fresh data
# directory, runs a real study through them and prints its Pareto set.
#
# Until the distillation pipeline lands (issue #6), the study is an External
# one: the daemon explores a two-factor design space and the workers evaluate
# every candidate with a separate evaluator program (examples/demo/
# branin_currin.py, the Branin-Currin two-objective test problem) over the
# same pull protocol the distillation and probe workers use.
#
# Environment: DEMO_DIR (default: a fresh /tmp directory), WORKER_PORT
# (15555), CLIENT_PORT (15556), WORKERS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
bash scripts/build.sh
BIN=$ROOT/${BUILD_DIR:-build}
DEMO_DIR=${DEMO_DIR:-$(mktemp -d /tmp/autodistill-demo.XXXXXX)}
WORKER_PORT=${WORKER_PORT:-15555}
CLIENT_PORT=${CLIENT_PORT:-15556}
WORKERS=${WORKERS:-3}
export AUTODISTILL_ENDPOINT=tcp://127.0.0.1:$CLIENT_PORT
mkdir -p "$DEMO_DIR"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

echo "== starting autodistilld (data: $DEMO_DIR/data, log: $DEMO_DIR/daemon.log)"
"$BIN/daemon/autodistilld" --data_dir "$DEMO_DIR/data" \
  --worker_endpoint "tcp://127.0.0.1:$WORKER_PORT" \
  --client_endpoint "tcp://127.0.0.1:$CLIENT_PORT" >"$DEMO_DIR/daemon.log" 2>&1 &
daemon_pid=$!
pids+=("$daemon_pid")
for _ in $(seq 1 100); do
  "$BIN/client/autodistill" --timeout-ms 200 list >/dev/null 2>&1 && break
  sleep 0.1
done

echo "== submitting examples/demo/branin-currin.json"
study=$("$BIN/client/autodistill" --json submit --spec examples/demo/branin-currin.json \
  --key "demo-$(date +%s)-$$" | python3 -c 'import json,sys; print(json.load(sys.stdin)["study"]["study_id"])')
echo "study $study"

echo "== starting $WORKERS worker processes"
for i in $(seq 1 "$WORKERS"); do
  "$BIN/workers/external/autodistill-worker" --endpoint "tcp://127.0.0.1:$WORKER_PORT" \
    --worker-id "demo-worker-$i" --study "$study" --slots 2 \
    --cache-dir "$DEMO_DIR/cache-$i" \
    --exec "python3 $ROOT/examples/demo/branin_currin.py" >"$DEMO_DIR/worker-$i.log" 2>&1 &
  pids+=("$!")
done

echo "== progress"
"$BIN/client/autodistill" watch "$study"
echo
echo "== result"
"$BIN/client/autodistill" get "$study"
echo
echo "== Pareto set (minimize both)"
"$BIN/client/autodistill" --json get "$study" --trials | python3 -c '
import json, sys
d = json.load(sys.stdin)
front = set(d["study"]["pareto"])
rows = [t for t in d["trials"] if t["trial_id"] in front]
rows.sort(key=lambda t: t["objectives"]["branin"])
print("%6s %8s %8s %10s %10s" % ("trial", "u", "v", "branin", "currin"))
for t in rows:
    p, o = t["params"], t["objectives"]
    print("%6d %8.4f %8.4f %10.4f %10.4f" % (t["trial_id"], p["u"], p["v"], o["branin"], o["currin"]))
'
echo
"$BIN/client/autodistill" workers
echo
echo "Data directory: $DEMO_DIR (store: data/autodistill.db, logs: *.log)"
echo "All trials:     $BIN/client/autodistill --endpoint $AUTODISTILL_ENDPOINT get $study --trials"
