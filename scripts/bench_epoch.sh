#!/usr/bin/env bash
# One training epoch of the course's MLP on Fashion-MNIST: wick vs PyTorch
# (torchvision dataset + DataLoader, num_workers 0), interleaved so that machine noise
# hits both alike, at 2 threads. Prints seconds, samples/s and the ratio.
#
#   PYTHON=/tmp/venv/bin/python ROUNDS=2 bash scripts/bench_epoch.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/tmp/venv/bin/python}
ROUNDS=${ROUNDS:-2}
DATA=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
WICK=${WICK:-target/release/wick}
[ -x "$WICK" ] || cargo build --release
if [ ! -e "$DATA/train-images-idx3-ubyte.gz" ] && [ ! -e "$DATA/train-images-idx3-ubyte" ]; then
  echo "no Fashion-MNIST in $DATA: apt-get install dataset-fashion-mnist, or set FASHION_DIR" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -e 's/^epochs = 10/epochs = 1/' experiments/fashion_mnist.toml > "$tmp/exp.toml"
have_torch=1
"$PYTHON" -c 'import torch, torchvision' 2>/dev/null || have_torch=0
export RAYON_NUM_THREADS=2
for r in $(seq "$ROUNDS"); do
  WICK_DATA="$DATA" "$WICK" run "$tmp/exp.toml" --runs-dir "$tmp/runs" --no-progress > "$tmp/wick.log" 2>&1 \
    || { cat "$tmp/wick.log"; exit 1; }
  w=$(grep -o 'epoch 1: .*' "$tmp/wick.log" | sed -E 's/.*, ([0-9.]+) s, ([0-9]+) samples\/s/\1 \2/')
  echo "round $r wick:    ${w% *} s, ${w#* } samples/s"
  if [ "$have_torch" = 1 ]; then
    "$PYTHON" scripts/pytorch_mnist.py --dataset fashion --data-dir "$DATA" --epochs 1 --threads 2 > "$tmp/torch.log" 2>&1 \
      || { cat "$tmp/torch.log"; exit 1; }
    p=$(tail -1 "$tmp/torch.log" | "$PYTHON" -c 'import json,sys; d=json.loads(sys.stdin.read()); print(d["epoch_train_seconds"][0], d["epoch_samples_per_sec"][0])')
    echo "round $r pytorch: ${p% *} s, ${p#* } samples/s"
    echo "round $r ratio wick/pytorch samples/s: $(echo "${w#* } / ${p#* }" | bc -l | cut -c1-5)"
  else
    echo "(no torch for $PYTHON: PyTorch side skipped; create a venv with torch torchvision)"
  fi
done
