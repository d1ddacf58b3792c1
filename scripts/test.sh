#!/usr/bin/env bash
# test.sh - the README's test command: install dependencies, then build
# and run every test three times: a normal debug build (GCH_DEBUG=2,
# warnings fatal; then scripts/bench.sh --quick, the benchmark suite's
# smoke test), a ThreadSanitizer build and an ASan+UBSan build; then
# a clang ASan build of the libFuzzer harnesses (fuzz/), each run for
# GCH_FUZZ_SECONDS (default 60) from its corpus.
# Usage: scripts/test.sh [normal|tsan|asan|fuzz]...   (default: all four)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

JOBS=$(nproc 2>/dev/null || echo 2)
builds=("$@")
[ ${#builds[@]} -eq 0 ] && builds=(normal tsan asan fuzz)

run_build() {
  local name=$1; shift
  local dir=build-test-$name
  echo "=== gcheap tests: $name build ==="
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGCH_WERROR=ON \
        -DGCH_DEBUG=2 -DGCH_BUILD_BENCH=OFF "$@" > "$dir.configure.log" 2>&1 \
    || { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j "$JOBS"
  (cd "$dir" && ctest --output-on-failure -j "$JOBS")
}

for b in "${builds[@]}"; do
  case "$b" in
    normal) run_build normal
            # Benchmark smoke test: every workload for every system at tiny sizes, no number
            # asserted (a crash or failed check fails it); skips Go when go is missing.
            bash scripts/bench.sh --quick --out build-bench/results-quick-ci ;;
    tsan)   TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" run_build tsan -DGCH_SANITIZE=thread ;;
    asan)   ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
              run_build asan -DGCH_SANITIZE=address ;;
    fuzz)   ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" CC=clang \
              run_build fuzz -DGCH_SANITIZE=address -DGCH_BUILD_FUZZ=ON -DGCH_BUILD_TESTS=OFF \
                             -DGCH_FUZZ_SECONDS="${GCH_FUZZ_SECONDS:-60}" ;;
    *) echo "test.sh: unknown build '$b' (normal, tsan, asan, fuzz)"; exit 2 ;;
  esac
done
echo "=== gcheap tests: all builds passed ==="
