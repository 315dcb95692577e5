#!/usr/bin/env bash
# Runs a command with PyTorch in its fast configuration on this machine: tcmalloc, and the
# OpenMP build of OpenBLAS first so BLAS and torch share one thread pool (2.4x faster than
# Debian's default here). Usage: bench/torch_env.sh THREADS python3 script.py ...
set -euo pipefail
threads=$1
shift
tcmalloc=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
[[ -f $tcmalloc ]] || { echo "torch_env: $tcmalloc missing: run tools/setup.sh --bench" >&2; exit 1; }
export LD_PRELOAD=$tcmalloc
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OMP_NUM_THREADS=$threads
exec "$@"
