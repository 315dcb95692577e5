#!/usr/bin/env bash
# nabla's main job: builds nabla, then trains a small character-level GPT on real English text
# (Debian's fortunes, or the UTF-8 text files you name) and prints samples as it learns.
#   tools/demo.sh [FILE...]          NABLA_DEMO_STEPS=N sets the length (default 5000)
# Everything goes to build/demo/: the dataset, checkpoints, metrics.jsonl, the final model.
set -euo pipefail
cd "$(dirname "$0")/.."
NABLA_TARGETS=nabla bash tools/build.sh build
inputs=("$@")
if ((${#inputs[@]} == 0)); then
  corpus=/usr/share/games/fortunes
  [[ -d $corpus ]] || { echo "demo: $corpus is missing: run tools/setup.sh" >&2; exit 1; }
  mapfile -t inputs < <(find "$corpus" -maxdepth 1 -type f ! -name '*.dat' | sort)
fi
steps=${NABLA_DEMO_STEPS:-5000}
run=build/demo
rm -rf "$run"
./build/nabla prepare --input "${inputs[@]}" --tokenizer char --out "$run/data"
# nanoGPT's CPU "baby GPT": 4 layers, 4 heads, width 128, 64 characters of context.
./build/nabla train --data "$run/data" --out "$run/model" --model gpt2-baby --batch-size 12 \
  --lr 1e-3 --min-lr 1e-4 --warmup-steps 100 --beta2 0.99 --max-steps "$steps" \
  --eval-every $((steps / 4)) --eval-iters 20 --sample-every $((steps / 4)) --sample-tokens 300 \
  --metrics "$run/metrics.jsonl"
