#!/usr/bin/env bash
# bench.sh - gcheap's benchmark suite against Boehm GC, Go and malloc/free.
#
# Runs every benchmark - alloc, gcbench, binarytrees, churn (256 MiB live,
# 50 M random replacements in a pointer table), threads (churn on 1 and
# 2 mutators), pauses, markscale - for gcheap, Boehm GC (libgc), Go (the
# same workloads in bench/go, built with the go on PATH; skipped cleanly
# when there is none) and malloc/free where the workload frees.  Each
# run is one process per system (the C benchmarks fork one child per
# allocator): systems alternate run by run, in an order rotated every
# repetition.  Every run appends its JSON lines to results.jsonl and its
# stderr (gctrace lines included: GODEBUG=gctrace=1) to logs/; then
# scripts/bench_report.py turns the medians into a Markdown table of
# gcheap-to-peer ratios, peak RSS and max pauses (table.md).
#
# Modes:
#   --quick   tiny sizes, one repetition: a smoke test (CI runs it from
#             scripts/test.sh; no number is asserted), well under 2 minutes
#   --full    the sizes of the README's table (default), 3 repetitions
# Options:
#   --reps N        repetitions (default: 1 quick, 3 full)
#   --scale PCT     churn's scale (default 100: 256 MiB, 50 M replacements)
#   --only LIST     comma-separated subset of the workloads
#   --no-go         skip the Go peers
#   --out DIR       results directory (default build-bench/results-<mode>-<time>)
#   --build-dir DIR the Release build used (default build-bench)
# Peak RSS is each process's (forked child's) ru_maxrss; pauses: gcheap's
# per-cycle stop-the-world time (pause_ns), Boehm's collection
# (GC_EVENT_START..END), Go's A+C from its gctrace; see bench/*.c.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

mode=full reps="" scale="" only="" nogo=0 out="" build=build-bench
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) mode=quick ;;
    --full) mode=full ;;
    --reps) reps=$2; shift ;;
    --scale) scale=$2; shift ;;
    --only) only=$2; shift ;;
    --no-go) nogo=1 ;;
    --out) out=$2; shift ;;
    --build-dir) build=$2; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$mode" = quick ]; then
  reps=${reps:-1}; scale=${scale:-1}
  BT_DEPTH=12 GCB_SCALE=2 ALLOC_ARGS="-r 1 -n 20000" PAUSE_ARGS="--live-mib 16 --seconds 1"
  MARK_ARGS="--live-mib 24 --reps 1"
else
  reps=${reps:-3}; scale=${scale:-100}
  BT_DEPTH=21 GCB_SCALE=100 ALLOC_ARGS="-r 5" PAUSE_ARGS="--live-mib 1024 --seconds 10"
  MARK_ARGS="--live-mib 512 --reps 5"
fi
ALL=(alloc gcbench binarytrees churn threads pauses markscale)
if [ -n "$only" ]; then IFS=, read -r -a WORK <<< "$only"; else WORK=("${ALL[@]}"); fi
for w in "${WORK[@]}"; do
  case " ${ALL[*]} " in *" $w "*) ;; *) echo "bench.sh: unknown workload '$w' (${ALL[*]})" >&2; exit 2 ;; esac
done

# ---- build ---------------------------------------------------------------
JOBS=$(nproc 2>/dev/null || echo 2)
echo "=== bench: $mode mode, $reps repetition(s), building $build (Release) ==="
mkdir -p "$build"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGCH_BUILD_BENCH=ON -DGCH_BUILD_TESTS=OFF \
      > "$build/bench-configure.log" 2>&1 || { cat "$build/bench-configure.log"; exit 1; }
cmake --build "$build" -j "$JOBS" --target bench_alloc bench_gcbench bench_binarytrees bench_churn \
      bench_pauses bench_markscale > "$build/bench-build.log" 2>&1 || { cat "$build/bench-build.log"; exit 1; }
B=$ROOT/$build/bench
GOBIN=""
if [ "$nogo" = 0 ]; then
  if command -v go > /dev/null 2>&1; then
    GOBIN=$ROOT/$build/gcheapbench
    (cd bench/go && GOFLAGS=-mod=mod go build -o "$GOBIN" .) || { echo "bench.sh: go build failed" >&2; exit 1; }
  else
    echo "bench: no 'go' on PATH; skipping the Go peers (scripts/setup.sh installs golang-go)"
  fi
fi

[ -n "$out" ] || out=$build/results-$mode-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out/logs"
out=$(cd "$out" && pwd)
RESULTS=$out/results.jsonl
: > "$RESULTS"
failures=0

# run NAME CMD...: one run; stdout appended to results.jsonl, stderr to logs/NAME.log.
run() {
  local name=$1; shift
  local t0=$SECONDS
  if GODEBUG=gctrace=1 "$@" >> "$RESULTS" 2> "$out/logs/$name.log"; then
    echo "  $name: ok ($((SECONDS - t0)) s)"
  else
    echo "  $name: FAILED (exit $?; see $out/logs/$name.log)"
    failures=$((failures + 1))
  fi
}

# systems WORKLOAD: the systems that run it (go only when built).
systems() {
  case "$1" in
    alloc) echo "c${GOBIN:+ go}" ;;
    pauses|markscale) echo "c${GOBIN:+ go}" ;;
    *) echo "gcheap boehm malloc${GOBIN:+ go}" ;;
  esac
}

# command WORKLOAD SYSTEM: the command line of one run.
command_for() {
  local w=$1 s=$2 t=1 prog=$w
  case "$w" in threads) t=2; prog=churn ;; esac
  case "$w:$s" in
    alloc:c) echo "$B/bench_alloc $ALLOC_ARGS -s 16,64,128 -t 1,2 -a gcheap-scan,malloc,boehm" ;;
    alloc:go) echo "$GOBIN alloc $ALLOC_ARGS -s 16,64,128 -t 1,2" ;;
    pauses:c) echo "$B/bench_pauses $PAUSE_ARGS --reps 1 --json" ;;
    pauses:go) echo "$GOBIN pauses ${PAUSE_ARGS//--/-}" ;;
    markscale:c) echo "$B/bench_markscale $MARK_ARGS --json" ;;
    markscale:go) echo "$GOBIN markscale ${MARK_ARGS//--/-}" ;;
    gcbench:go) echo "$GOBIN gcbench -s $GCB_SCALE" ;;
    gcbench:*) echo "$B/bench_gcbench -r 1 -s $GCB_SCALE -a $s" ;;
    binarytrees:go) echo "$GOBIN binarytrees -d $BT_DEPTH" ;;
    binarytrees:*) echo "$B/bench_binarytrees -r 1 -d $BT_DEPTH -a $s" ;;
    churn:go|threads:go) echo "$GOBIN churn -s $scale -t $t" ;;
    churn:*|threads:*) echo "$B/bench_churn -r 1 -s $scale -t $t -a $s" ;;
  esac
}

for w in "${WORK[@]}"; do
  read -r -a sys <<< "$(systems "$w")"
  n=${#sys[@]}
  echo "=== bench: $w (${sys[*]}) ==="
  for ((r = 0; r < reps; r++)); do
    for ((j = 0; j < n; j++)); do
      s=${sys[$(((j + r) % n))]}
      # shellcheck disable=SC2046
      run "$w-$s-$r" $(command_for "$w" "$s")
    done
  done
done

# ---- report --------------------------------------------------------------
{
  echo "$(date -u +%Y-%m-%d), $(uname -m), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo "command: scripts/bench.sh --$mode --reps $reps --scale $scale${only:+ --only $only}; git $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(command -v go > /dev/null 2>&1 && go version | cut -d' ' -f3 || echo 'no go'); $(dpkg-query -W -f='libgc ${Version}' libgc-dev 2>/dev/null || echo 'libgc ?')"
  echo
} > "$out/table.md"
python3 scripts/bench_report.py "$RESULTS" >> "$out/table.md" || failures=$((failures + 1))
cat "$out/table.md"
echo "bench: results in $out (results.jsonl, table.md, logs/)"
if [ "$failures" -ne 0 ]; then
  echo "bench: $failures run(s) FAILED"
  exit 1
fi
