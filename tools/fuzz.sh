#!/usr/bin/env bash
# Builds the libFuzzer targets (clang) and runs each for SECONDS (default 60).
#   tools/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
bash tools/build.sh build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DNABLA_BUILD_FUZZ=ON \
  -DNABLA_BUILD_TESTS=OFF -DNABLA_BUILD_BENCH=OFF -DNABLA_BUILD_EXAMPLES=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
shopt -s nullglob
for target in build-fuzz/fuzz/*_fuzz; do
  name=$(basename "$target")
  corpus=fuzz/corpus/${name%_fuzz}
  work=$(mktemp -d)
  [[ -d $corpus ]] && cp -r "$corpus"/. "$work"/
  echo "fuzz: $name for ${secs}s"
  "$target" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix=build-fuzz/ "$work" 2>&1 | tail -3
  rm -rf "$work"
done
