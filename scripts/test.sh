#!/usr/bin/env bash
# The test command: installs dependencies (apt-get, idempotent), configures,
# builds everything and runs the whole ctest suite. Used by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$BUILD_DIR" -j"$(nproc)"
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 600 -j"$(nproc)"

# A short fuzz run (docs/RELIABILITY.md): the libFuzzer targets, built with
# clang and the sanitizers in a directory of their own, each for
# FUZZ_SECONDS from the committed seeds. scripts/fuzz.sh runs them longer.
FUZZ_BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
CC=clang-14 CXX=clang++-14 cmake -S . -B "$FUZZ_BUILD_DIR" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAUTODISTILL_WITH_TORCH=OFF -DAUTODISTILL_FUZZ=ON \
  -DAUTODISTILL_FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
cmake --build "$FUZZ_BUILD_DIR" -j"$(nproc)" \
  --target fuzz_envelope fuzz_json fuzz_study_spec fuzz_http fuzz_safetensors fuzz_wordpiece
ctest --test-dir "$FUZZ_BUILD_DIR" -L fuzz --output-on-failure -j"$(nproc)"
