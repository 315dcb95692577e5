#!/usr/bin/env bash
# Data-parallel scaling of `nabla train`: the same model trained with 1 rank and with 2 ranks
# (mpirun, each rank pinned to a core), one thread per rank and the same per-rank batch, on
# tinyshakespeare (characters).
#   bench/dist_bench.sh [BUILD_DIR=build] [STEPS=12] [MODEL_FLAGS...]
# Default model: nanoGPT's shakespeare-char (6 layers, 6 heads, width 384, block 256), batch 4
# per rank. Prints per run the median step time, tokens/s over all ranks and the all-reduce
# time per step (all of it, and the part left after the backward pass: "wait"), with the
# all-reduce after the backward pass (--overlap-grad-reduce 0) and during it (1, the
# default), then the scaling efficiency = tok/s(2 ranks) / (2 * tok/s(1 rank)).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
steps=${2:-12}
shift 2 || shift $# || true
model=("$@")
((${#model[@]})) || model=(--n-layer 6 --n-head 6 --n-embd 384 --block-size 256 --batch-size 4)
[[ -x $build/nabla ]] || { echo "dist_bench: $build/nabla missing: build first" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "dist_bench: mpirun missing (tools/setup.sh)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build"/nabla prepare --input /work/shared/data/tinyshakespeare.txt --out "$work/ds" \
  --tokenizer char >/dev/null
run() {  # run NAME NP OVERLAP
  # Every run goes through mpirun, so all are pinned to cores the same way.
  mpirun -np "$2" --bind-to core "$build"/nabla train --data "$work/ds" --out "$work/$1" --threads 1 \
    --max-steps "$steps" --eval-every 0 --eval-iters 1 --log-every 1000 --warmup-steps 2 \
    --overlap-grad-reduce "$3" --metrics "$work/$1.jsonl" "${model[@]}" >/dev/null
  # Skip the first 2 steps (allocation, page faults); medians of the rest.
  python3 - "$work/$1.jsonl" "$2" "$3" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])][2:]
step = statistics.median(r["step_s"] for r in rows)
tok = statistics.median(r["tokens_per_s"] for r in rows)
ar = statistics.median(r.get("allreduce_s", 0.0) for r in rows)
wait = statistics.median(r.get("allreduce_wait_s", 0.0) for r in rows)
print(f"{sys.argv[2]} rank(s), overlap {sys.argv[3]}: step {step * 1e3:.1f} ms, {tok:.0f} tok/s "
      f"over all ranks, all-reduce {ar * 1e3:.2f} ms/step ({100 * ar / step:.1f}% of the step), "
      f"wait after backward {wait * 1e3:.2f} ms/step")
print(tok, file=open(sys.argv[1] + ".tok", "w"))
PY
}
run one 1 1
run two_after 2 0
run two_during 2 1
for r in two_after two_during; do
  python3 -c "print(f'scaling efficiency 1 -> 2 ranks ($r): {float(open(\"$work/$r.jsonl.tok\").read()) / (2 * float(open(\"$work/one.jsonl.tok\").read())):.2f}')"
done
