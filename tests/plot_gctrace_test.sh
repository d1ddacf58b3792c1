#!/bin/sh
# plot_gctrace_test.sh - scripts/plot-gctrace on captured gctrace logs:
# tests/data/gctrace-gcheap.log (bench_churn -s 4 -a gcheap with
# GODEBUG=gctrace=1, the harness's table included) and
# tests/data/gctrace-go.log (bench/go churn -s 4, Go 1.19's lines), each
# alone, both on one figure, and a legacy-shape copy of ours
# (gctracelegacy=1: stacks and globals removed).  Each must give a
# non-empty PNG (checked by its signature) and report every cycle of its
# log; a log without gctrace lines must exit 1 and write nothing.
# Skipped (exit 77) when no python3 with matplotlib is found.
# Usage: plot_gctrace_test.sh SOURCE_DIR WORK_DIR
set -eu
src=$1
work=$2/plot_gctrace
mkdir -p "$work"
rm -f "$work"/*.png

py=""
for p in python3 /usr/bin/python3; do
  if command -v "$p" > /dev/null 2>&1 && "$p" -c 'import matplotlib' 2> /dev/null; then py=$p; break; fi
done
if [ -z "$py" ]; then
  echo "SKIP: no python3 with matplotlib (scripts/setup.sh installs python3-matplotlib)"
  exit 77
fi
plot="$py $src/scripts/plot-gctrace"

fail() { echo "FAIL: $*"; exit 1; }

# check_png NAME: the file exists, is non-empty, and starts with the PNG signature.
check_png() {
  [ -s "$work/$1" ] || fail "$1 missing or empty"
  sig=$(head -c 8 "$work/$1" | od -An -tx1 | tr -d ' \n')
  [ "$sig" = "89504e470d0a1a0a" ] || fail "$1 is not a PNG ($sig)"
}

# cycles LOG: the number of gctrace lines in it.
cycles() { grep -c 'gc [0-9]* @[0-9.]*s [0-9]*%: ' "$1"; }

for sys in gcheap go; do
  log=$src/tests/data/gctrace-$sys.log
  n=$(cycles "$log")
  [ "$n" -ge 5 ] || fail "$log holds only $n gctrace lines"
  out=$($plot "$log" -o "$work/$sys.png" --title "$sys")
  echo "$out"
  echo "$out" | grep -q "^plot-gctrace: $n cycles from 1 log(s)" || fail "$sys: not $n cycles"
  check_png "$sys.png"
done

$plot "$src/tests/data/gctrace-gcheap.log" "$src/tests/data/gctrace-go.log" --label gcheap --label go \
      -o "$work/both.png" > /dev/null
check_png both.png

sed 's/ [0-9]* MB stacks, [0-9]* MB globals,//' "$src/tests/data/gctrace-gcheap.log" > "$work/legacy.log"
grep -q "MB stacks" "$work/legacy.log" && fail "legacy copy still has stacks"
n=$(cycles "$work/legacy.log")
$plot "$work/legacy.log" -o "$work/legacy.png" | grep -q "^plot-gctrace: $n cycles" || fail "legacy shape"
check_png legacy.png

echo "no gc lines here" > "$work/empty.log"
if $plot "$work/empty.log" -o "$work/empty.png" 2> /dev/null; then fail "a log without gctrace lines succeeded"; fi
[ ! -e "$work/empty.png" ] || fail "empty.png written"
echo "plot_gctrace: ok"
