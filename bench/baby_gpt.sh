#!/usr/bin/env bash
# nanoGPT's CPU baby-GPT recipe (shakespeare_char, 4 layers, width 128, block 64, batch 12,
# 2000 AdamW steps) with `nabla train` and with its PyTorch twin (bench/baby_gpt_torch.py, in
# PyTorch's fast configuration), one after the other on the same data: wall time, median step
# and final validation loss of each. Needs an idle machine and ../shared/data. DTYPE bf16 runs
# both in mixed precision (nabla's --dtype bf16, PyTorch's CPU autocast).
#   bench/baby_gpt.sh [BUILD_DIR] [THREADS] [STEPS] [DTYPE]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
threads=${2:-2}
steps=${3:-2000}
dtype=${4:-f32}
text=${NABLA_DATA_DIR:-../shared/data}/tinyshakespeare.txt
[[ -f $text ]] || { echo "baby_gpt: $text is missing" >&2; exit 1; }
run=$(mktemp -d)
trap 'rm -rf "$run"' EXIT
"$build/nabla" prepare --input "$text" --tokenizer char --out "$run/data" > /dev/null
OMP_NUM_THREADS=$threads python3 - "$build/nabla" "$run" "$steps" "$dtype" <<'PY'
import json, os, resource, statistics, subprocess, sys, time
nabla, run, steps, dtype = sys.argv[1:5]
start = time.perf_counter()
subprocess.run([nabla, "train", "--data", f"{run}/data", "--out", f"{run}/model",
                "--model", "gpt2-baby", "--batch-size", "12", "--lr", "1e-3", "--min-lr", "1e-4",
                "--warmup-steps", "100", "--beta2", "0.99", "--max-steps", steps,
                "--eval-every", "250", "--eval-iters", "20", "--log-every", "250",
                "--dtype", dtype, "--metrics", f"{run}/metrics.jsonl"], check=True, stdout=subprocess.DEVNULL)
wall = time.perf_counter() - start
rows = [json.loads(l) for l in open(f"{run}/metrics.jsonl")]
print(json.dumps({"bench": "baby_gpt", "side": "nabla", "dtype": dtype, "steps": int(steps),
                  "threads": int(os.environ["OMP_NUM_THREADS"]), "wall_s": round(wall, 2),
                  "ms_per_step": round(statistics.median(1e3 * r["step_s"] for r in rows), 3),
                  "val_loss": round([r["val_loss"] for r in rows if "val_loss" in r][-1], 4),
                  "peak_rss_mb": round(
                      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}))
PY
cd bench && ./torch_env.sh "$threads" /usr/bin/python3 baby_gpt_torch.py "$run/data" --steps "$steps" --dtype "$dtype"
