#!/usr/bin/env python3
"""Time of one optimizer.step() over the 5-layer MLP's parameters (784-512-256-128-64-10,
f32, CPU) in PyTorch, single-tensor (foreach=False) path, for comparison with
`cargo run --release -p wick-optim --example bench_update`.

Usage: /tmp/venv/bin/python scripts/bench_optim.py [--threads N]
"""
import argparse
import time

import torch

CONFIGS = [
    ("SGD", {"lr": 0.01}),
    ("SGD", {"lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4}),
    ("Adam", {}),
    ("AdamW", {"amsgrad": True}),
    ("RMSprop", {"centered": True, "momentum": 0.9}),
    ("Adagrad", {}),
    ("Adadelta", {}),
    ("Adamax", {}),
    ("NAdam", {}),
    ("RAdam", {}),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    sizes = [784, 512, 256, 128, 64, 10]
    params = []
    for i, o in zip(sizes, sizes[1:]):
        params.append(torch.nn.Parameter(torch.randn(o, i) * 0.01))
        params.append(torch.nn.Parameter(torch.zeros(o)))
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    n = sum(p.numel() for p in params)
    print(f"{n} parameters, {torch.get_num_threads()} threads; ms per step (median of 200, after 10 warm-up steps)")
    for name, kw in CONFIGS:
        opt = getattr(torch.optim, name)(params, foreach=False, **kw)
        for _ in range(10):
            opt.step()
        times = []
        for _ in range(200):
            t = time.perf_counter()
            opt.step()
            times.append((time.perf_counter() - t) * 1e3)
        times.sort()
        print(f"{name:<8} {str(kw):<60} {times[len(times) // 2]:8.3f}")


if __name__ == "__main__":
    main()
