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

# data-parallel training over MPI (`--features mpi`): the process group under a real
# mpirun, and `wick run --nproc N` on the MNIST MLP (needs Open MPI: apt-get install
# openmpi-bin libopenmpi-dev libclang-dev)
test-mpi:
    cargo test -p wick-dist --features mpi
    cargo test -p wick --features mpi --test distributed

# the Hugging Face hub datasets (`--features hub`), offline on a cache the test writes;
# built unoptimized in target/hub (profile `hub`): ~7 minutes from nothing
test-hub:
    cargo test --profile hub -p wick-data --features hub --test hub --test hub_unreachable

# the benchmark suite: W1 MLP, W2 CNN, W3 hymenoptera, W4 VGG-style, W5 ResNet, W6
# resnet18 at 224x224 (synthetic inputs), wick vs PyTorch (DataLoader
# num_workers 0 and 2, pre-tensorized) vs a hand-written candle loop, interleaved;
# prints a table and writes bench/results.json (PYTHON=... a venv with torch)
bench *ARGS:
    cargo build --release -p wick -p wick-bench
    target/release/wick-bench suite {{ARGS}}

# fuzz one reader (experiment, overrides, idx, cifar, csv, image, checkpoint, pth) for
# SECONDS on its committed corpus: needs a nightly toolchain and `cargo install cargo-fuzz`
fuzz TARGET SECONDS="600":
    cd fuzz && CARGO_TARGET_DIR=../target/fuzz cargo +nightly fuzz run -O {{TARGET}} corpus/{{TARGET}} -- -max_total_time={{SECONDS}} -rss_limit_mb=4096 -timeout=10

# format the code
fmt:
    cargo fmt --all

# clippy with warnings as errors (the default build and the hub feature), and the
# formatting check
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo clippy --profile hub -p wick-data --features hub --all-targets -- -D warnings
    cargo clippy -p wick-dist --features mpi --all-targets -- -D warnings
    cargo clippy -p wick --features mpi --all-targets -- -D warnings

# link the team's shared data sets into ./data (MNIST in torchvision's layout, the
# hymenoptera image folders, the diabetes CSV)
link-shared-data:
    test -d ../shared/datasets/mnist || { echo "no ../shared/datasets here"; exit 1; }
    mkdir -p data/MNIST
    ln -sfn "$(cd ../shared/datasets/mnist && pwd)" data/MNIST/raw
    ln -sfn "$(cd ../shared/datasets/hymenoptera && pwd)" data/hymenoptera
    ln -sfn "$(cd ../shared/datasets/diabetes && pwd)" data/diabetes

# type-check the CUDA build (`--features cuda`, and `nccl`) without a GPU. It needs a CUDA toolkit:
# nvcc on PATH or in $CUDA_HOME/bin, and its headers. Without a system one, pip can
# provide it: `python3 -m venv /tmp/cuda-venv && /tmp/cuda-venv/bin/pip install
# nvidia-cuda-nvcc==13.4.92 'nvidia-cuda-runtime==13.4.*' 'nvidia-cuda-crt==13.4.*'
# 'nvidia-nvvm==13.4.*' nvidia-cuda-cccl==13.3.5.0.6`, then
# `CUDA_HOME=/tmp/cuda-venv/lib/python3.11/site-packages/nvidia/cu13 just check-cuda`.
# CUDA_COMPUTE_CAP picks the GPU generation the kernels are built for (90: H100);
# CUDARC_CUDA_VERSION (13040 for 13.4) tells cudarc which toolkit it is.
check-cuda:
    PATH="${CUDA_HOME:+$CUDA_HOME/bin:}$PATH" CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}" \
        NVCC="${NVCC:-${CUDA_HOME:+$CUDA_HOME/bin/}nvcc}" \
        cargo check --workspace --all-targets --features cuda
    PATH="${CUDA_HOME:+$CUDA_HOME/bin:}$PATH" CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}" \
        NVCC="${NVCC:-${CUDA_HOME:+$CUDA_HOME/bin/}nvcc}" \
        cargo check -p wick -p wick-dist --all-targets --features nccl
