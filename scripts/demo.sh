#!/usr/bin/env bash
# demo.sh - the README's main job: build gcheap and gchlisp (the Scheme
# interpreter in examples/lisp, release build) and run binary-trees on it
# with GODEBUG=gctrace=1: one Go-format trace line per collection on
# stderr, the program's output on stdout, then a summary of the heap's
# statistics (gchlisp -s: gch_read_stats and gch_thread_read_gc_time).
# Usage: scripts/demo.sh [DEPTH]   (default 14; 16 takes a few seconds more)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build-demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DGCH_DEBUG=1 \
      -DGCH_BUILD_TESTS=OFF > build-demo.configure.log 2>&1 || { cat build-demo.configure.log; exit 1; }
cmake --build build-demo --target gchlisp
depth=${1:-14}
echo "== gchlisp examples/lisp/programs/binary-trees.scm $depth  (GODEBUG=${GODEBUG:-gctrace=1})"
GODEBUG=${GODEBUG:-gctrace=1} ./build-demo/examples/lisp/gchlisp -s examples/lisp/programs/binary-trees.scm "$depth"
