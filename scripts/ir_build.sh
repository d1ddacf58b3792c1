# ir_build.sh - sourced by the callgrind scripts (alloc_ir.sh, mark_ir.sh):
# ir_build DIR TARGET configures DIR as a Release benchmark build if it
# has no CMakeCache.txt yet, then builds TARGET in it, quietly.
ir_build() {
  if [ ! -f "$1/CMakeCache.txt" ]; then
    cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGCH_BUILD_BENCH=ON \
          -DGCH_BUILD_TESTS=OFF > /dev/null
  fi
  cmake --build "$1" -j 2 --target "$2" > /dev/null
}
