# wick's everyday commands. `just --list` shows them.

set shell := ["bash", "-cu"]

# list the recipes
default:
    @just --list

# train an experiment: just run experiments/mnist.toml
run EXPERIMENT *ARGS:
    cargo run --release -- run {{EXPERIMENT}} {{ARGS}}

# validate an experiment and print its model table
check EXPERIMENT:
    cargo run --release -- check {{EXPERIMENT}}

# every test of every crate, then one closing line with the totals
test:
    #!/usr/bin/env bash
    set -euo pipefail
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    cargo test --workspace 2>&1 | tee "$log"
    awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"

# the Hugging Face hub datasets (`--features hub`), offline on a cache the test writes
test-hub:
    cargo test -p wick-data --features hub --test hub --test hub_unreachable

# one epoch of experiments/fashion_mnist.toml, wick vs PyTorch (needs a venv with torch: PYTHON=...)
bench:
    cargo build --release
    bash scripts/bench_epoch.sh

# format the code
fmt:
    cargo fmt --all

# clippy with warnings as errors, and the formatting check
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# link the team's shared data sets into ./data (MNIST in torchvision's layout, the
# hymenoptera image folders, the diabetes CSV)
link-shared-data:
    test -d ../shared/datasets/mnist || { echo "no ../shared/datasets here"; exit 1; }
    mkdir -p data/MNIST
    ln -sfn "$(cd ../shared/datasets/mnist && pwd)" data/MNIST/raw
    ln -sfn "$(cd ../shared/datasets/hymenoptera && pwd)" data/hymenoptera
    ln -sfn "$(cd ../shared/datasets/diabetes && pwd)" data/diabetes
