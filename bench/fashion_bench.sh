#!/usr/bin/env bash
# One fashion_mlp training epoch (784-256-128-10 MLP, AdamW, batch 128, 60000 Fashion-MNIST
# images) in nabla and in PyTorch, back to back in the same run, both on THREADS threads;
# PyTorch in its fast configuration (tcmalloc, OpenMP OpenBLAS: bench/torch_env.sh).
#   bench/fashion_bench.sh [BUILD_DIR=build] [THREADS=2]
# Prints each side's epoch line and the training time of the epoch (data loading and the test
# pass excluded on both sides).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
threads=${2:-2}
[[ -x $build/fashion_mlp ]] || { echo "fashion_bench: $build/fashion_mlp missing: build first" >&2; exit 1; }

nabla_line=$(OMP_NUM_THREADS=$threads "$build"/fashion_mlp --epochs 1 --threads "$threads" --seed 0)
torch_line=$(bench/torch_env.sh "$threads" /usr/bin/python3 tools/examples_torch/fashion_mlp.py \
  --epochs 1 --threads "$threads" --seed 0)
echo "nabla:   $nabla_line"
echo "pytorch: $torch_line"
nabla_s=$(sed -E 's/.*time ([0-9.]+) s.*/\1/' <<<"$nabla_line")
torch_s=$(sed -E 's/.*time ([0-9.]+) s.*/\1/' <<<"$torch_line")
echo "fashion_mlp epoch, $threads threads: nabla ${nabla_s} s, PyTorch ${torch_s} s," \
  "speedup $(python3 -c "print(f'{$torch_s / $nabla_s:.2f}')")x"
