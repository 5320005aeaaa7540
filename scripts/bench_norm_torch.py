#!/usr/bin/env python3
"""PyTorch's time for crates/nn/benches/norm.rs: BatchNorm2d(32) forward + backward in
train mode on [64, 32, 28, 28] (y.backward(g)), and eval-mode forward, on 2 threads.

Usage: /tmp/venv/bin/python scripts/bench_norm_torch.py
"""
import time

import torch
import torch.nn as nn

torch.set_num_threads(2)
torch.manual_seed(0)
bn = nn.BatchNorm2d(32)
x = torch.randn(64, 32, 28, 28, requires_grad=True)
g = torch.randn(64, 32, 28, 28)


def train_step():
    bn.train()
    x.grad = None
    bn.zero_grad()
    y = bn(x)
    y.backward(g)


def eval_step():
    bn.eval()
    with torch.no_grad():
        bn(x)


for name, f in [("train fwd+bwd", train_step), ("eval fwd", eval_step)]:
    for _ in range(5):
        f()
    times = []
    for _ in range(30):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    times.sort()
    print(f"batchnorm2d {name} [64,32,28,28]: median {times[len(times) // 2] * 1e3:.2f} ms")
