#!/usr/bin/env bash
# nabla's matmul against PyTorch on the GPT-2 shapes (bench/matmul_bench.cpp and
# bench/torch_matmul.py), both with tcmalloc and 2 OpenMP threads; prints a markdown table of
# GFLOP/s (best of repeats) and the ratio nabla / PyTorch, plus the library paths.
# Usage: bench/run_matmul.sh [BUILD_DIR] [FILTER]   (keep it short: the cores are shared)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
filter=${2:-}
threads=${NABLA_BENCH_THREADS:-2}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OMP_NUM_THREADS=$threads
echo "# $(date -u '+%F %H:%M') UTC, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/bench/matmul_bench" --benchmark_min_time=0.3 --benchmark_repetitions=3 \
  --benchmark_filter="${filter}" --benchmark_format=json --benchmark_out="$out/nabla.json" \
  --benchmark_out_format=json > /dev/null
/usr/bin/python3 bench/torch_matmul.py --filter "${filter}" > "$out/torch.txt"
/usr/bin/python3 - "$out/nabla.json" "$out/torch.txt" <<'PY'
import json, sys
best = {}
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("run_type") != "iteration":
        continue
    name = b["run_name"].removesuffix("/real_time")
    best[name] = max(best.get(name, 0.0), b["FLOPS"] / 1e9)
torch = {}
for line in open(sys.argv[2]):
    if not line.startswith("#"):
        name, g = line.split()
        torch[name] = float(g)
print("| case | nabla GFLOP/s | PyTorch GFLOP/s | nabla / PyTorch | best library path | nabla / best |")
print("| --- | ---: | ---: | ---: | --- | ---: |")
for name in sorted(n for n in best if n.startswith("BM_matmul_")):
    dtype, case = name.removeprefix("BM_matmul_").split("/")
    libs = {k.split("/")[0].removeprefix("BM_lib_"): v for k, v in best.items()
            if k.startswith("BM_lib_") and k.endswith("/" + case) and k.split("/")[0].endswith(dtype)}
    lib, lib_g = max(libs.items(), key=lambda kv: kv[1]) if libs else ("-", float("nan"))
    t = torch.get(name, float("nan"))
    print(f"| {dtype} {case} | {best[name]:.0f} | {t:.0f} | {best[name] / t:.2f} | "
          f"{lib} {lib_g:.0f} | {best[name] / lib_g:.2f} |")
PY
