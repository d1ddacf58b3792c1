#!/usr/bin/env bash
# setup.sh - install gcheap's build and test dependencies with apt-get.
# Idempotent: installs only what is missing, and runs `apt-get update`
# only when something must be installed.  Needs root (or sudo).
set -euo pipefail

# valgrind: the memcheck tests (tests/valgrind_uaf.c); clang + libclang-rt-14-dev: the
# libFuzzer harnesses (fuzz/); golang-go: the Go peers of scripts/bench.sh (bench/go/);
# python3-matplotlib: scripts/plot-gctrace; time: peak RSS in scripts/bench.sh.
PKGS=(build-essential cmake ninja-build pkg-config python3 libcmocka-dev libunwind-dev libgc-dev
      valgrind clang libclang-rt-14-dev golang-go python3-matplotlib time)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all dependencies present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}"
