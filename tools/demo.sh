#!/usr/bin/env bash
# nabla's main job: builds nabla and trains an MLP on Fashion-MNIST, printing accuracy per epoch.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh build
./build/fashion_mlp "$@"
