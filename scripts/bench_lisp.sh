#!/usr/bin/env bash
# bench_lisp.sh - gchlisp on gcheap: binary-trees depth 16 and gcbench,
# each with the heap's statistics (gchlisp -s: collections, the longest
# stop-the-world pause, the interpreter thread's share of time on the
# collector's behalf), then, if perf works here, the share of all CPU
# samples (every thread: interpreter, mark workers, sweeper) spent in
# gcheap's own functions rather than the interpreter's.
# Timings are wall-clock on whatever machine runs this: on a shared
# machine they are noise; the statistics and the perf shares are steadier.
# Usage: scripts/bench_lisp.sh [--no-perf]
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-bench-lisp
cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release -DGCH_DEBUG=1 \
      -DGCH_BUILD_TESTS=OFF -DGCH_BUILD_BENCH=OFF > $build.configure.log 2>&1 || { cat $build.configure.log; exit 1; }
cmake --build $build --target gchlisp gcheap_static > /dev/null
bin=$build/examples/lisp/gchlisp
progs=examples/lisp/programs

run() {
  echo "== gchlisp $*"
  /usr/bin/time -f "   (time: %e s wall, %U s user, %S s sys, %M KiB peak RSS)" "$bin" -s "$@" > /dev/null
}
run $progs/binary-trees.scm 16
run $progs/gcbench.scm 16 16

[ "${1:-}" = "--no-perf" ] && exit 0
if ! perf record -q -o /tmp/gchlisp.perf.data -F 2000 -g -- true > /dev/null 2>&1; then
  echo "perf is not usable here; skipping the profile"; exit 0
fi
# gcheap's functions: every text symbol defined in the static library.
nm --defined-only $build/libgcheap.a | awk '$2 ~ /^[tT]$/ {print $3}' | sort -u > /tmp/gcheap.syms
profile() {
  perf record -q -o /tmp/gchlisp.perf.data -F 2000 -- "$bin" "$@" > /dev/null 2>&1
  perf report -i /tmp/gchlisp.perf.data --no-children --sort pid,sym --stdio 2>/dev/null |
    python3 -c '
import sys, re, collections
syms = set(open("/tmp/gcheap.syms").read().split())
per = collections.defaultdict(lambda: [0.0, 0.0])   # thread -> [gcheap, other]
top = collections.Counter()
for line in sys.stdin:
    m = re.match(r"\s+([\d.]+)%\s+(\d+):\S+\s+\[[.k]\]\s+(\S+)", line)
    if not m: continue
    pct, tid, sym = float(m.group(1)), m.group(2), m.group(3)
    per[tid][0 if sym in syms else 1] += pct
    if sym in syms: top[sym] += pct
main = max(per, key=lambda t: sum(per[t]))
heap = sum(v[0] for v in per.values())
mt = per[main]
print("   all threads: %.1f%% of CPU samples in gcheap functions" % heap)
print("   interpreter thread (%.1f%% of samples): %.1f%% of its own samples in gcheap (allocation, barrier, assists, sweeping)"
      % (sum(mt), 100 * mt[0] / max(sum(mt), 1e-9)))
print("   other threads (mark workers, background sweeper): %.1f%% of samples" % (100 - sum(mt)))
print("   top gcheap functions: " + ", ".join("%s %.1f%%" % (s, p) for s, p in top.most_common(6)))
'
}
echo "== perf: binary-trees 16"
profile $progs/binary-trees.scm 16
echo "== perf: gcbench 16 16"
profile $progs/gcbench.scm 16 16
