#!/usr/bin/env bash
# The main job: distill a BERT teacher into students found by the search,
# end to end on this machine. It installs dependencies and builds (with
# LibTorch), starts autodistilld, one distillation worker and one latency-
# probe worker as separate processes on loopback with a fresh data
# directory, makes a tiny teacher pre-trained on real English (the King James
# Bible of Debian's bible-kjv, with a WordPiece vocabulary learned from it)
# with the project's own tools (cached in the build directory), and runs the
# release-pipeline command:
#
#   autodistill distill --teacher T --corpus C --space examples/demo/tiny-space.json --wait
#
# Bayesian optimization proposes students; each is measured by the probe
# worker (latency) and flash-distilled by the distillation worker
# (accuracy); the Pareto-optimal ones are regularly distilled and delivered
# with a report comparing them with a MobileBERT-like baseline. The study
# also names two small GLUE-format tasks built from real text (which
# testament a KJV verse is from; the part of speech of a 1913 Webster's
# headword from its definition; `--glue-task`, docs/glue.md): the daemon
# queues Finetune trials for the teacher, the baseline and each delivered
# student, and the report ends with a GLUE-style table.
#
# Environment: BUILD_DIR (build), SKIP_BUILD=1 (use an existing build),
# DEMO_DIR (a fresh /tmp directory), WORKER_PORT (15555), CLIENT_PORT
# (15556), BUDGET (candidates, default 16), SELECT (pareto:2), GLUE=0 (skip
# the downstream check).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build}
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  BUILD_DIR=$BUILD_DIR bash scripts/build.sh -DAUTODISTILL_WITH_TORCH=ON
fi
BIN=$ROOT/$BUILD_DIR
for tool in daemon/autodistilld client/autodistill workers/distill/autodistill-distill-worker \
            workers/probe/autodistill-probe-worker tools/autodistill-make-teacher \
            tools/autodistill-make-tasks; do
  [[ -x "$BIN/$tool" ]] || { echo "demo: $BIN/$tool is missing (build with LibTorch)" >&2; exit 1; }
done
DEMO_DIR=${DEMO_DIR:-$(mktemp -d /tmp/autodistill-demo.XXXXXX)}
WORKER_PORT=${WORKER_PORT:-15555}
CLIENT_PORT=${CLIENT_PORT:-15556}
BUDGET=${BUDGET:-16}
SELECT=${SELECT:-pareto:2}
export AUTODISTILL_ENDPOINT=tcp://127.0.0.1:$CLIENT_PORT
mkdir -p "$DEMO_DIR"
start=$(date +%s)

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

TEACHER=$BIN/demo-teacher-kjv
TASKS=$BIN/demo-tasks
if [[ ! -f "$TEACHER/model.safetensors" || ! -f "$TEACHER/corpus.txt" ]]; then
  echo "== making the tiny teacher on the King James Bible (once; cached in $TEACHER)"
  rm -rf "$TEACHER" "$TEACHER.tmp"
  mkdir -p "$TEACHER.tmp"
  { "$BIN/tools/autodistill-make-tasks" --corpus "$TEACHER.tmp/kjv.txt" &&
    "$BIN/tools/autodistill-make-teacher" --out "$TEACHER.tmp" --corpus "$TEACHER.tmp/kjv.txt" \
      --vocab-size 4000 --steps 1200 --seed 0 --threads 1; } \
    >"$DEMO_DIR/make-teacher.log" 2>&1 ||
    { cat "$DEMO_DIR/make-teacher.log" >&2; exit 1; }
  rm -f "$TEACHER.tmp/kjv.txt"
  mv "$TEACHER.tmp" "$TEACHER"
fi
python3 - "$TEACHER/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("teacher: %d parameters, %d-token vocabulary; held-out MLM accuracy %.3f against %.3f for "
      "always %r (the majority token); NSP accuracy %.3f" % (
          r["parameters"], r["vocab_size"], r["mlm_accuracy"], r["majority_mlm_accuracy"],
          r["majority_token"], r["nsp_accuracy"]))
PY
if [[ "${GLUE:-1}" != 0 && ! -f "$TASKS/gcide-pos/task.json" ]]; then
  echo "== making GLUE-format tasks from bible-kjv and dict-gcide (once; cached in $TASKS)"
  "$BIN/tools/autodistill-make-tasks" --out "$TASKS" --tasks kjv-testament,gcide-pos \
    --train 1600 --dev 400 --seed 0
fi

echo "== starting autodistilld (data: $DEMO_DIR/data, log: $DEMO_DIR/daemon.log)"
"$BIN/daemon/autodistilld" --data_dir "$DEMO_DIR/data" \
  --worker_endpoint "tcp://127.0.0.1:$WORKER_PORT" \
  --client_endpoint "tcp://127.0.0.1:$CLIENT_PORT" >"$DEMO_DIR/daemon.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 100); do
  "$BIN/client/autodistill" --timeout-ms 200 list >/dev/null 2>&1 && break
  sleep 0.1
done

echo "== starting a distillation worker and a latency-probe worker"
"$BIN/workers/distill/autodistill-distill-worker" --endpoint "tcp://127.0.0.1:$WORKER_PORT" \
  --worker-id demo-distill --cache-dir "$DEMO_DIR/cache-distill" --slots 2 --threads 1 \
  >"$DEMO_DIR/distill-worker.log" 2>&1 &
pids+=("$!")
"$BIN/workers/probe/autodistill-probe-worker" --endpoint "tcp://127.0.0.1:$WORKER_PORT" \
  --worker-id demo-probe --cache-dir "$DEMO_DIR/cache-probe" --lock-file "$DEMO_DIR/probe.lock" \
  >"$DEMO_DIR/probe-worker.log" 2>&1 &
pids+=("$!")

SPACE=examples/demo/tiny-space.json
glue=()
if [[ "${GLUE:-1}" != 0 ]]; then
  # The fine-tuning options (settings.glue): one thread per trial, as the
  # distillation; 2 threads on a loaded 2-core machine were 9x slower.
  SPACE=$DEMO_DIR/space.json
  python3 - examples/demo/tiny-space.json "$SPACE" <<'PY'
import json, sys
space = json.load(open(sys.argv[1]))
space["settings"]["glue"] = {"epochs": 2, "max_seq_len": 48, "learning_rate": 1e-3, "seed": 0,
                             "threads": 1}
json.dump(space, open(sys.argv[2], "w"), indent=2)
PY
  glue=(--glue-task "$TASKS/kjv-testament,$TASKS/gcide-pos")
fi

echo "== autodistill distill --wait (budget $BUDGET candidates, select $SELECT)"
set +e
"$BIN/client/autodistill" distill --teacher "$TEACHER" --corpus "$TEACHER/corpus.txt" \
  --space "$SPACE" --budget "$BUDGET" --select "$SELECT" "${glue[@]}" \
  --out "$DEMO_DIR/out" --wait
rc=$?
set -e
echo
"$BIN/client/autodistill" workers

echo
echo "Took $(( $(date +%s) - start )) s (exit code $rc)."
echo "Data directory: $DEMO_DIR (store: data/autodistill.db, logs: *.log)"
echo "Students and report: $DEMO_DIR/out/<study>/ (student-*/, report.md, pareto.svg)"
echo "Again, for any study: $BIN/client/autodistill --endpoint $AUTODISTILL_ENDPOINT report <study>"
exit $rc
