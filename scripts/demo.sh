#!/usr/bin/env bash
# demo.sh - the README's main job: build gcheap (release) and run the
# demonstration workload, which prints the heap's statistics (and, once
# the collector lands, Go-format gctrace lines on stderr).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build-demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DGCH_DEBUG=1 \
      -DGCH_BUILD_TESTS=OFF > build-demo.configure.log 2>&1 || { cat build-demo.configure.log; exit 1; }
cmake --build build-demo --target demo
GODEBUG=${GODEBUG:-gctrace=1} ./build-demo/bench/demo "$@"
