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
  libtorch-dev libopenblas0-openmp
  python3-torch libicu-dev
  procps python3
  python3-optuna
  clang-14 libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
