#!/usr/bin/env bash
# Final test accuracy of experiments/fashion_mnist.toml in wick and of the same program
# in PyTorch (scripts/pytorch_mnist.py), over several seeds, since a single run's final
# accuracy moves by about a point from epoch to epoch.
#
#   PYTHON=/tmp/venv/bin/python SEEDS="1 2 3" bash scripts/compare_accuracy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/tmp/venv/bin/python}
SEEDS=${SEEDS:-"1 2 3"}
DATA=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
WICK=${WICK:-target/release/wick}; [ -x "$WICK" ] || cargo build --release -q
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for s in $SEEDS; do
  sed -e "s/^seed = 0/seed = $s/" experiments/fashion_mnist.toml > "$tmp/exp.toml"
  WICK_DATA="$DATA" "$WICK" run "$tmp/exp.toml" --runs-dir "$tmp/runs" --no-progress > "$tmp/w.log" 2>&1
  w=$(grep 'Accuracy on test set' "$tmp/w.log" | tail -1 | awk '{print $5}')
  "$PYTHON" scripts/pytorch_mnist.py --dataset fashion --data-dir "$DATA" --epochs 10 --threads 2 --seed "$s" > "$tmp/p.log" 2>&1
  p=$(tail -1 "$tmp/p.log" | "$PYTHON" -c 'import json,sys; print(round(100*json.loads(sys.stdin.read())["final_test_accuracy"], 2))')
  echo "seed $s: wick $w %, pytorch $p %"
done
