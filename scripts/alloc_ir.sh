#!/usr/bin/env bash
# alloc_ir.sh - instructions (callgrind Ir) per allocation of gch_alloc,
# gch_alloc_noscan and gch_alloc_array against glibc malloc at 16, 64 and
# 128 bytes, measured in one process (bench/bench_alloc_ir.c).  The
# instruction count is the fast path's cost on a loaded machine, where
# wall-clock timings are noise (issue 15's allocation target).
#
# Usage: scripts/alloc_ir.sh [BUILD_DIR] [N] [RATE]
#   BUILD_DIR  a Release build with GCH_BUILD_BENCH=ON (default build-bench,
#              configured here if missing); N objects per loop (default 20000);
#   RATE       heap profiling's mem_profile_rate (default 0: off, so the
#              count is deterministic; the sampling check is still paid)
# Prints one row per size: Ir per allocation of each API and its ratio to
# malloc's allocate-only path (a ratio <= 1 meets the target); mreuse is
# malloc again after freeing, from its bins (context, no target).  A second
# table gives gch_alloc and gch_alloc_noscan while a cycle marks and on
# recycled spans (bench_alloc_ir.c).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
build=${1:-build-bench}
n=${2:-20000}
rate=${3:-0}
. scripts/ir_build.sh
ir_build "$build" bench_alloc_ir
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" \
         "$build/bench/bench_alloc_ir" "$n" "$rate" > /dev/null 2> "$out/vg.log" ||
  { cat "$out/vg.log"; exit 1; }
callgrind_annotate --inclusive=yes --threshold=100 "$out/cg.out" > "$out/ann.txt"
python3 - "$out/ann.txt" "$n" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
n = int(sys.argv[2])
ir = {}
for m in re.finditer(r"^\s*([\d,]+)\s+\([^)]*\)\s+\S*:run_(\w+)_(\d+) ", text, re.M):
    ir[(m.group(2), int(m.group(3)))] = int(m.group(1).replace(",", "")) / n
apis = ["alloc", "noscan", "array", "malloc", "mreuse"]
print("Ir per allocation (callgrind, %d objects per loop, loop overhead included)" % n)
print("%6s" % "size" + "".join("%16s" % a for a in apis))
for size in (16, 64, 128):
    row = "%6d" % size
    base = ir.get(("malloc", size))
    for a in apis:
        v = ir.get((a, size))
        if v is None:
            row += "%16s" % "?"
        elif a in ("malloc", "mreuse") or not base:
            row += "%16.1f" % v
        else:
            row += "%9.1f (%.2fx)" % (v, v / base)
    print(row)
cases = ["markalloc", "marknoscan", "reusealloc", "reusenoscan"]
print("while marking (mark*) and on recycled spans that need zeroing (reuse*)")
print("%6s" % "size" + "".join("%16s" % a for a in cases))
for size in (16, 64, 128):
    row = "%6d" % size
    for a in cases:
        v = ir.get((a, size))
        row += "%16s" % "?" if v is None else "%16.1f" % v
    print(row)
PY
