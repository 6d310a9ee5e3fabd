#!/usr/bin/env bash
# bench/scale_check: a BERT-base-shaped teacher (12 layers, hidden 768, 12
# heads, intermediate 3072, 512 positions, BERT's 30,522-token vocabulary;
# random weights after one training step) through `autodistill distill` with
# 24-block students of the Table 1 space and few steps (issue #14 item 4).
# Not part of ctest; results in docs/BENCHMARKS.md "bench/scale_check".
#
# Measures: the wall time of each stage, the peak RSS of every process
# (GNU time's maximum resident set size), the teacher's blob upload (the
# CLI's "uploaded" lines, timestamped) and download (`autodistill fetch`).
#
# usage: bench/scale_check/scale_check.sh [BUILD_DIR] [WORK_DIR]
#   BUILD_DIR  default build (needs autodistilld, autodistill, the distill and
#              probe workers, autodistill-make-teacher)
#   WORK_DIR   default ${TMPDIR:-/tmp}/autodistill-scale-check (wiped)
# Environment: BUDGET (candidates explored, default 2), SELECT (default
# pareto:1), SPACE (default the 24-block space next to this script),
# PORT_BASE (default 17555).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="$(cd "${1:-build}" && pwd)"
WORK="${2:-${TMPDIR:-/tmp}/autodistill-scale-check}"
BUDGET="${BUDGET:-2}"
SELECT="${SELECT:-pareto:1}"
SPACE="${SPACE:-$here/space-24blocks.json}"
PORT_BASE="${PORT_BASE:-17555}"
WORKER_EP="tcp://127.0.0.1:$PORT_BASE"
CLIENT_EP="tcp://127.0.0.1:$((PORT_BASE + 1))"

for tool in daemon/autodistilld client/autodistill workers/distill/autodistill-distill-worker \
            workers/probe/autodistill-probe-worker tools/autodistill-make-teacher; do
  [[ -x "$BIN/$tool" ]] || { echo "missing $BIN/$tool (build it first)" >&2; exit 2; }
done
[[ -x /usr/bin/time ]] || { echo "needs GNU time (/usr/bin/time)" >&2; exit 2; }

rm -rf "$WORK"
mkdir -p "$WORK"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
rss_mib() { awk '/Maximum resident set size/ { printf "%.0f", $NF / 1024 }' "$1"; }
# Runs a command under GNU time, its report in $WORK/time-NAME.
timed() {
  local name="$1"
  shift
  /usr/bin/time -v -o "$WORK/time-$name" "$@"
}
# The same for a background process (`timed_bg NAME CMD... &`): the
# background subshell becomes GNU time, so $! is GNU time's PID.
timed_bg() {
  local name="$1"
  shift
  exec /usr/bin/time -v -o "$WORK/time-$name" "$@"
}
# The PID of the process GNU time runs (its only child).
child_of() { pgrep -P "$1" | head -1; }

echo "== teacher: BERT-base shape, vocabulary of 30522, one training step"
t0=$(now)
# A generated corpus and its vocabulary, padded to BERT's 30,522 entries.
timed seed "$BIN/tools/autodistill-make-teacher" --out "$WORK/seed" --documents 400 --steps 1 \
  --layers 1 --hidden 16 --heads 1 --intermediate 16 --threads 1 >"$WORK/seed.log" 2>&1
cp "$WORK/seed/vocab.txt" "$WORK/vocab.txt"
n=$(wc -l <"$WORK/vocab.txt")
for ((i = n; i < 30522; ++i)); do echo "[unused$i]"; done >>"$WORK/vocab.txt"
timed make_teacher "$BIN/tools/autodistill-make-teacher" --out "$WORK/teacher" \
  --corpus "$WORK/seed/corpus.txt" --vocab "$WORK/vocab.txt" --layers 12 --hidden 768 --heads 12 \
  --intermediate 3072 --positions 512 --steps 1 --batch-size 2 --seq-len 32 --threads 2 \
  >"$WORK/make-teacher.log" 2>&1
teacher_s=$(since "$t0")
teacher_bytes=$(stat -c %s "$WORK/teacher/model.safetensors")
echo "   $teacher_s s; model.safetensors $((teacher_bytes / 1000000)) MB"

echo "== autodistilld, one distillation worker, one probe worker (loopback)"
if "$BIN/client/autodistill" --endpoint "$CLIENT_EP" --timeout-ms 300 list >/dev/null 2>&1; then
  echo "a daemon already answers on $CLIENT_EP: stop it or set PORT_BASE" >&2
  exit 2
fi
timed_bg daemon "$BIN/daemon/autodistilld" --data_dir "$WORK/data" --worker_endpoint "$WORKER_EP" \
  --client_endpoint "$CLIENT_EP" >"$WORK/daemon.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 100); do
  "$BIN/client/autodistill" --endpoint "$CLIENT_EP" --timeout-ms 200 list >/dev/null 2>&1 && break
  sleep 0.1
done
timed_bg distill_worker "$BIN/workers/distill/autodistill-distill-worker" --endpoint "$WORKER_EP" \
  --worker-id scale-distill --cache-dir "$WORK/cache-distill" --slots 1 --threads 1 \
  >"$WORK/distill-worker.log" 2>&1 &
pids+=("$!")
timed_bg probe_worker "$BIN/workers/probe/autodistill-probe-worker" --endpoint "$WORKER_EP" \
  --worker-id scale-probe --cache-dir "$WORK/cache-probe" --lock-file "$WORK/probe.lock" \
  >"$WORK/probe-worker.log" 2>&1 &
pids+=("$!")

echo "== autodistill distill --wait (budget $BUDGET, select $SELECT, --no-onnx)"
t0=$(now)
set +e
timed cli "$BIN/client/autodistill" --endpoint "$CLIENT_EP" distill --teacher "$WORK/teacher" \
  --corpus "$WORK/seed/corpus.txt" --space "$SPACE" --budget "$BUDGET" --select "$SELECT" \
  --out "$WORK/out" --no-onnx --wait 2>&1 |
  while IFS= read -r line; do
    printf '%8.1f s  %s\n' "$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')" "$line"
  done | tee "$WORK/distill.log"
rc=${PIPESTATUS[0]}
set -e
distill_s=$(since "$t0")
echo "   autodistill distill exited $rc after $distill_s s"

echo "== blob download: the teacher bundle, autodistill fetch over loopback"
digest=$(grep -o 'teacher[^0-9a-f]*[0-9a-f]\{64\}' "$WORK/distill.log" | grep -o '[0-9a-f]\{64\}' |
  head -1 || true)
fetch_s=-
bundle_mb=-
if [[ -n "$digest" ]]; then
  t0=$(now)
  timed fetch "$BIN/client/autodistill" --endpoint "$CLIENT_EP" fetch "$digest" \
    --out "$WORK/teacher-fetched.tar" >/dev/null
  fetch_s=$(since "$t0")
  bundle_mb=$(($(stat -c %s "$WORK/teacher-fetched.tar") / 1000000))
fi

# The probes' measurements (latency, its interval, runs, budget).
"$BIN/client/autodistill" --endpoint "$CLIENT_EP" --json get 1 --trials >"$WORK/trials.json" || true
python3 - "$WORK/trials.json" <<'PY' || true
import json, sys
def walk(x):
    if isinstance(x, dict):
        m = x.get("metrics")
        if isinstance(m, dict) and "probe_budget_ms" in m:
            yield x
        for v in x.values():
            yield from walk(v)
    elif isinstance(x, list):
        for v in x:
            yield from walk(v)
text = open(sys.argv[1]).read()
docs = [json.loads(l) for l in text.splitlines() if l.strip().startswith("{")] or [json.loads(text)]
print("probe trials: latency ms [95% CI], runs, converged, warm-up estimate ms, budget ms")
for d in docs:
    for t in walk(d):
        m = t["metrics"]
        lat = (t.get("objectives") or {}).get("latency_ms", m.get("latency_ms"))
        print("  trial %s: %s [%.1f, %.1f], %d runs, converged %d, estimate %.1f, budget %.0f" % (
            t.get("trial_id"), lat, m["median_ci_low_ms"], m["median_ci_high_ms"], m["runs"],
            m["converged"], m["run_estimate_ms"], m["probe_budget_ms"]))
PY

# Stop the long-running processes (SIGTERM to the child of each GNU time).
for pid in "${pids[@]}"; do
  child=$(child_of "$pid" || true)
  [[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null || true
done
for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
pids=()

echo
echo "| stage | wall s | peak RSS MiB |"
echo "|---|---:|---:|"
echo "| make the teacher (generated corpus, 1 step) | $teacher_s | $(rss_mib "$WORK/time-make_teacher") |"
echo "| autodistill distill --wait (whole study) | $distill_s | $(rss_mib "$WORK/time-cli") (CLI) |"
echo "| autodistilld | | $(rss_mib "$WORK/time-daemon") |"
echo "| autodistill-distill-worker | | $(rss_mib "$WORK/time-distill_worker") |"
echo "| autodistill-probe-worker | | $(rss_mib "$WORK/time-probe_worker") |"
echo "| autodistill fetch teacher bundle ($bundle_mb MB) | $fetch_s | $( [[ -f "$WORK/time-fetch" ]] && rss_mib "$WORK/time-fetch") |"
echo
echo "teacher upload (CLI timestamps of its 'uploaded' lines):"
grep 'uploaded' "$WORK/distill.log" || true
echo
echo "trials (from the distill worker's and probe worker's logs):"
grep -E 'finished|failed|started' "$WORK/distill-worker.log" "$WORK/probe-worker.log" | tail -20 || true
exit "$rc"
