#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined)
# in a build directory of their own and runs each one for a while, starting
# from the committed seeds (tests/fuzz/corpus/<target>/, never written to).
# It runs libFuzzer in fork mode and goes on after a crash, an out-of-memory or
# a timeout, so one run collects every distinct failure instead of stopping
# at the first.
#
# usage: scripts/fuzz.sh [--time SECONDS] [--parallel N] [target ...]
#   --time SECONDS  how long each target runs (default 600: ten minutes)
#   --parallel N    targets run at once (default 1; one core each)
#   target          fuzz_envelope, fuzz_json, fuzz_study_spec, fuzz_http,
#                   fuzz_safetensors, fuzz_wordpiece (default: all six)
# Environment: FUZZ_BUILD_DIR (default build-fuzz), CC / CXX (default
# clang-14 / clang++-14), JOBS (build parallelism, default 2).
#
# Per target, under $FUZZ_BUILD_DIR/fuzz-runs/: <target>.log (libFuzzer's
# output), <target>-corpus/ (the inputs it found), <target>-crash-*, -oom-*,
# -timeout-* (reproducers: `<target> <file>` replays one). Prints one summary
# line per target; exits 1 when any target left a reproducer.
set -euo pipefail
script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$script")/.."
seconds=600
parallel=1
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --time) seconds="$2"; shift 2 ;;
    --parallel) parallel="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$script" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown flag $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] ||
  targets=(fuzz_envelope fuzz_json fuzz_study_spec fuzz_http fuzz_safetensors fuzz_wordpiece)

dir=${FUZZ_BUILD_DIR:-build-fuzz}
if [ ! -f "$dir/CMakeCache.txt" ]; then
  CC=${CC:-clang-14} CXX=${CXX:-clang++-14} cmake -S . -B "$dir" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAUTODISTILL_WITH_TORCH=OFF -DAUTODISTILL_FUZZ=ON
fi
cmake --build "$dir" --target "${targets[@]}" -j"${JOBS:-2}"

out="$dir/fuzz-runs"
mkdir -p "$out"
run() {
  local target=$1 seeds=tests/fuzz/corpus/${1#fuzz_}
  mkdir -p "$out/$target-corpus"
  "$dir/tests/fuzz/$target" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
    -max_total_time="$seconds" -artifact_prefix="$out/$target-" \
    "$out/$target-corpus" "$seeds" > "$out/$target.log" 2>&1
}
pids=()
for t in "${targets[@]}"; do
  echo "fuzz.sh: $t for ${seconds}s (log: $out/$t.log)"
  run "$t" &
  pids+=($!)
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do sleep 1; done
done
failed=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed=1
done

# The last status line of a fork-mode run:
#   #<runs>: cov: C ft: F corp: N exec/s E oom/timeout/crash: O/T/X time: Ss ...
for t in "${targets[@]}"; do
  last=$(grep -E '^#[0-9]+: cov:' "$out/$t.log" | tail -1)
  files=$(find "$out" -maxdepth 1 -name "$t-*" -type f | wc -l)
  [ "$files" -eq 0 ] || failed=1
  echo "$t: $(sed -E 's/^#([0-9]+):.*time: ([0-9]+)s.*/\1 runs in \2 s/' <<<"$last");" \
       "$(sed -E 's/.*cov: ([0-9]+).*corp: ([0-9]+).*oom\/timeout\/crash: ([0-9\/]+).*/coverage \1, corpus \2, oom\/timeout\/crash \3/' <<<"$last");" \
       "$files reproducer file(s)"
done
exit $failed
