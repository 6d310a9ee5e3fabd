#!/usr/bin/env bash
# Installs every build and run dependency from Debian's packages. Idempotent:
# packages already present are skipped, so a second run does nothing.
# Run as root (CI and fresh machines are root; otherwise sudo is used).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libzmq3-dev cppzmq-dev
  libflatbuffers-dev flatbuffers-compiler
  libeigen3-dev liblbfgspp-dev
  libboost-dev libboost-system-dev
  libsqlite3-dev sqlite3
  libssl-dev
  libsystemd-dev
  nlohmann-json3-dev
  catch2
  libtorch-dev libopenblas0-openmp libgloo-dev
  python3-torch libicu-dev
  procps python3 python3-yaml  # python3-yaml: the docs' CI examples are linted (tests/docs)
  python3-zmq python3-flatbuffers  # the protocol conformance tests (tests/conformance)
  systemd  # systemd-analyze verify/security checks the units (tests/systemd)
  python3-optuna  # bench/bo's TPE peer
  bible-kjv dict-gcide  # real English for the demo teacher and the GLUE tasks (docs/glue.md)
  clang-14 libclang-rt-14-dev
  nodejs
  chromium  # headless: the web view's browser test (tests/webview)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# npm comes with some nodejs builds and as its own package with Debian's.
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
else
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The npm packages the tests check delivered students with (ONNX Runtime
# and transformers.js, tools/js/package.json), exactly as the committed
# package-lock.json says. Skipped when node_modules already matches it, so a
# second run needs no network. Their binaries ship in the packages: no
# install scripts run.
js_dir="$(dirname "$0")/../tools/js"
if [ ! -f "$js_dir/node_modules/.package-lock.json" ] ||
   [ "$js_dir/package-lock.json" -nt "$js_dir/node_modules/.package-lock.json" ]; then
  echo "setup: npm ci in tools/js"
  (cd "$js_dir" && npm ci --ignore-scripts --no-audit --no-fund)
else
  echo "setup: tools/js npm packages already installed"
fi
