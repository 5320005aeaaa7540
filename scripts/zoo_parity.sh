#!/usr/bin/env bash
# Every zoo architecture against torchvision, on files too large to commit: PyTorch
# writes each architecture's random state_dict (.pth and .safetensors) and its eval-mode
# logits on two synthetic photographs into DIR; wick loads each and compares the logits
# (< 1e-4 relative) and writes its own fresh state_dict; PyTorch loads that into
# torchvision's model with strict=True.
# Usage: scripts/zoo_parity.sh [DIR]   (PYTHON=... a venv with torch and torchvision)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/wick-zoo-parity}
python=${PYTHON:-/tmp/venv/bin/python}
mkdir -p "$dir"
"$python" scripts/fixtures_zoo.py --all "$dir"
WICK_ZOO_PARITY="$dir" cargo test --release -p wick-runner --test transfer \
    every_architecture_from_pytorch_files -- --ignored --nocapture
"$python" scripts/fixtures_zoo.py --roundtrip "$dir"
