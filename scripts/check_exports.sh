#!/usr/bin/env bash
# The exported PyTorch program of each experiment trains as wick does: for each file,
# `wick run` it, `wick export --python` the run, train the export in PyTorch, and print
# the last epoch's numbers of both (wick's test/train line, PyTorch's `Accuracy: ...` or
# `MAE ...` line). Opt-in, needs torch, torchvision, safetensors (and scikit-learn for
# generated points):
#
#   PYTHON=/tmp/venv/bin/python WICK_DATA=data scripts/check_exports.sh \
#       experiments/points.toml experiments/mnist.toml --set train.epochs=3
#
# Arguments after the files (--set ...) go to every `wick run`.
set -euo pipefail
PYTHON=${PYTHON:-python3}
WICK=${WICK:-target/release/wick}
files=()
while [[ $# -gt 0 && $1 != --* ]]; do files+=("$1"); shift; done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
data=$(cd "${WICK_DATA:-data}" 2>/dev/null && pwd || echo data)
for exp in "${files[@]}"; do
  runs="$tmp/runs-$(basename "$exp" .toml)"
  "$WICK" run "$exp" --no-progress --runs-dir "$runs" "$@" > "$tmp/wick.log" 2>&1
  run=$(ls -d "$runs"/*/* | tail -1)
  "$WICK" export --python "$run" -o "$tmp/export.py"
  sed -i "s|^ROOT = .*|ROOT = \"$data\"|" "$tmp/export.py"
  wick_line=$(grep -E "^(Accuracy on test set|test set: |epoch [0-9]+: train loss)" "$tmp/wick.log" | tail -1 || true)
  "$PYTHON" "$tmp/export.py" --train > "$tmp/torch.log" 2>&1 || true
  torch_line=$(grep -E "^(Accuracy|loss)" "$tmp/torch.log" | tail -1 || true)
  [[ -n $torch_line ]] || torch_line="no result: $(tail -3 "$tmp/torch.log" | tr '\n' ' ')"
  printf '%s\n  wick:    %s\n  PyTorch: %s\n' "$exp" "$wick_line" "$torch_line"
done
