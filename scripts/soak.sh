#!/usr/bin/env bash
# The soak: the long form of chaos test (a). SIGKILLs autodistilld at random
# points, 25 times by default, while real workers run studies and new studies
# are submitted; after every restart it checks that every acknowledged
# submission and result is still there, and at the end that every study
# completed with each trial counted once. Prints a summary; exit 0 = PASS.
#
# usage: scripts/soak.sh [--kills N] [--seed S] [--min-up-ms MS] [--max-up-ms MS]
#                        [--study-trials N] [--result-delay-ms MS]
#                        [--main-result-delay-ms MS] [--work-dir DIR]
#   --kills N           SIGKILLs of the daemon (default 25; the claim needs >= 20)
#   --seed S            replay a run (each run prints its seed)
#   --min/max-up-ms     the daemon runs uniformly this long between kills (100..1500)
#   --study-trials N    trials of each study submitted between kills (12)
#   --result-delay-ms   each trial's evaluation time in those studies' workers (20)
#   --main-result-delay-ms  the same for the main study, which runs throughout (100)
#   --work-dir DIR      data and logs go here and are kept (default: a temp dir,
#                       removed on PASS, kept on FAIL)
# Environment: BUILD_DIR (default build; configured here with
# -DAUTODISTILL_WITH_TORCH=OFF when it does not exist yet), JOBS (default 2).
set -euo pipefail
script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$script")/.."
BUILD_DIR=${BUILD_DIR:-build}
args=(--kills 25)
if [ $# -gt 0 ]; then
  case "$1" in
    -h|--help) sed -n '2,20p' "$script" | sed 's/^# \{0,1\}//'; exit 0 ;;
  esac
  args+=("$@")  # a later --kills wins
fi
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAUTODISTILL_WITH_TORCH=OFF
fi
cmake --build "$BUILD_DIR" --target chaos_soak -j"${JOBS:-2}"
exec "$BUILD_DIR/tests/chaos/chaos_soak" "${args[@]}"
