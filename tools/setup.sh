#!/usr/bin/env bash
# Installs everything nabla needs from Debian 12 packages (idempotent; uses sudo when not root).
#   tools/setup.sh           build + test dependencies
#   tools/setup.sh --bench   also PyTorch and the libraries that run it at its best (benchmarks,
#                            fixture regeneration)
set -euo pipefail
packages=(
  g++ cmake ninja-build pkg-config python3 ccache
  libdnnl-dev libopenblas-openmp-dev libopenblas0-openmp
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev zlib1g-dev
  clang libclang-rt-14-dev libomp-14-dev  # sanitizer builds, libFuzzer, clang's OpenMP
  dataset-fashion-mnist               # examples: Fashion-MNIST IDX files
  fortunes                            # the main job's English text corpus
  libopenmpi-dev openmpi-bin          # dist/: data-parallel training across processes
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(python3-torch python3-numpy python3-regex libtcmalloc-minimal4)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
echo "setup: all dependencies present"
