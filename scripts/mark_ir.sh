#!/usr/bin/env bash
# mark_ir.sh - instructions (callgrind Ir) per marked node: gcheap's mark
# loop on a plain heap and on a heap with a tag decoder (gchlisp's
# shape), against Boehm GC's whole collection, on the same trees of
# 24-byte nodes (bench/bench_mark_ir.c).  Instruction counts are the
# mark's CPU cost on a loaded machine, where timings are noise (issue 15).
#
# Usage: scripts/mark_ir.sh [BUILD_DIR] [TREES] [REPS]
#   BUILD_DIR  a Release build with GCH_BUILD_BENCH=ON (default build-bench,
#              configured here if missing); TREES trees of 2^19 - 1 nodes
#              (default 2); REPS collections measured (default 3)
# Prints per configuration: gcmarker_drain's inclusive Ir per node (the
# mark loop) and the whole process's Ir per node over the collections
# (for Boehm, GC_gcollect's).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
build=${1:-build-bench}
trees=${2:-2}
reps=${3:-3}
. scripts/ir_build.sh
ir_build "$build" bench_mark_ir
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf "%-8s %14s %14s\n" config "drain Ir/node" "total Ir/node"
for cfg in plain decode boehm; do
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/$cfg.out" \
           "$build/bench/bench_mark_ir" "$cfg" "$trees" "$reps" > "$out/$cfg.txt" 2> "$out/vg.log" ||
    { cat "$out/vg.log"; exit 1; }
  callgrind_annotate --inclusive=yes --threshold=100 "$out/$cfg.out" > "$out/$cfg.ann"
  python3 - "$out/$cfg.ann" "$out/$cfg.txt" "$cfg" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
nodes, reps = map(int, re.search(r"nodes (\d+) reps (\d+)", open(sys.argv[2]).read()).groups())
n = nodes * reps
total = int(re.search(r"^([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", text, re.M).group(1).replace(",", ""))
def incl(fn):
    m = re.search(r"^\s*([\d,]+)\s+\([^)]*\)\s+\S*:" + fn + r" ", text, re.M)
    return int(m.group(1).replace(",", "")) / n if m else float("nan")
drain = incl("gcmarker_drain") if sys.argv[3] != "boehm" else incl("GC_gcollect")
print("%-8s %14.1f %14.1f" % (sys.argv[3], drain, total / n))
PY
done
