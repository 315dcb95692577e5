#!/usr/bin/env bash
# Builds nabla with warnings as errors and runs every test (fast and slow).
#   tools/test.sh              Release build in build/, all tests
#   tools/test.sh --sanitize   ASan+UBSan build in build-asan/, fast tests only
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
if [[ "${1:-}" == "--sanitize" ]]; then
  # Warnings are the release build's gate (GCC); this build only looks for runtime errors.
  # clang builds it in half GCC's time, and -O1 -g1 (line tables for the reports) keeps it quick.
  NABLA_TARGETS="nabla_tests" bash tools/build.sh build-asan -DNABLA_SANITIZE=ON \
    -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DNABLA_BUILD_BENCH=OFF -DNABLA_BUILD_EXAMPLES=OFF
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # One process per shard rather than ctest's one per test: ASan's start-up (about 0.5 s) times
  # ~550 tests was most of this stage.
  cd build-asan/tests
  pids=()
  for ((i = 0; i < jobs; ++i)); do
    GTEST_TOTAL_SHARDS=$jobs GTEST_SHARD_INDEX=$i timeout -k 10 900 ./nabla_tests --gtest_brief=1 \
      > "shard$i.log" 2>&1 &
    pids+=($!)
  done
  status=0
  for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then
      grep -E "^\[(==========|  PASSED  )\]" "shard$i.log"
    else
      status=1
      cat "shard$i.log"
      echo "test: sanitizer shard $i failed (log above)" >&2
    fi
  done
  exit $status
else
  bash tools/build.sh build -DNABLA_WERROR=ON
  ctest --test-dir build -j "$jobs" --output-on-failure
fi
