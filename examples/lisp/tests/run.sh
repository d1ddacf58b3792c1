#!/bin/sh
# run.sh - one gchlisp test (examples/lisp/CMakeLists.txt adds them).
#   run.sh prog GCHLISP EXPECTED PROGRAM [ARG...]
#       the program exits 0 and its stdout equals EXPECTED;
#   run.sh repl GCHLISP EXPECTED INPUT [OPTION...]
#       a REPL fed INPUT on stdin exits 0 and its stdout+stderr equal EXPECTED;
#   run.sh fail GCHLISP EXPECTED PROGRAM
#       the program (run from its directory, so messages name it plainly)
#       exits 1 and its stderr equals EXPECTED.
set -u
mode=$1 bin=$2 expected=$3 input=$4
shift 4
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
case $mode in
  prog) "$bin" "$input" "$@" >"$out" 2>"$err"; rc=$?; want=0; got=$out ;;
  repl) "$bin" "$@" <"$input" >"$out" 2>&1; rc=$?; want=0; got=$out ;;
  fail) (cd "$(dirname "$input")" && "$bin" "$(basename "$input")") >"$out" 2>"$err"
        rc=$?; want=1; got=$err ;;
  *) echo "run.sh: unknown mode $mode"; exit 2 ;;
esac
if [ "$rc" -ne "$want" ]; then
  echo "exit status $rc, expected $want"; cat "$err"; exit 1
fi
if ! diff -u "$expected" "$got"; then
  echo "output differs from $expected"; exit 1
fi
exit 0
