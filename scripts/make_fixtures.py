#!/usr/bin/env python3
"""Generate PyTorch parity fixtures for wick's Rust tests.

Writes assets/fixtures/parity.safetensors (float32 unless noted; targets are int64).
Deterministic: torch.manual_seed(0), single-threaded CPU. The inputs are synthetic
MNIST-like digits (`synthetic_images.digit`, fixed seeds) with labels from a fixed seed,
so that no dataset's pixels are committed.

Usage: python scripts/make_fixtures.py [--out PATH]
"""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import save_file

from synthetic_images import digit

MEAN, STD = 0.1307, 0.3081


def synthetic_digits(n):
    """n digit-like 28x28 uint8 images and labels 0-9, from fixed seeds."""
    images = np.stack([np.asarray(digit(1000 + k)) for k in range(n)])
    labels = np.random.default_rng(7).integers(0, 10, size=n).astype(np.uint8)
    return images, labels


def mnist_batch(images, labels, start, n):
    x = torch.from_numpy(images[start:start + n].astype(np.float32) / 255.0)
    x = ((x - MEAN) / STD).unsqueeze(1).contiguous()  # [n,1,28,28]
    y = torch.from_numpy(labels[start:start + n].astype(np.int64))
    return x, y


def run_trajectory(model, opt, batches):
    """3 steps: zero_grad, forward, loss, backward, step. Returns losses [3]."""
    crit = nn.CrossEntropyLoss()
    losses = []
    for x, y in batches:
        opt.zero_grad()
        loss = crit(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.detach().clone())
    return torch.stack(losses)


def net_fixtures(out, prefix, model, batches, make_opt):
    for k, (x, y) in enumerate(batches):
        out[f"{prefix}.input.{k}"] = x
        out[f"{prefix}.target.{k}"] = y
    init = {n: p.detach().clone() for n, p in model.state_dict().items()}
    for n, p in init.items():
        out[f"{prefix}.param.{n}"] = p
    crit = nn.CrossEntropyLoss()
    model.zero_grad()
    logits = model(batches[0][0])
    loss = crit(logits, batches[0][1])
    loss.backward()
    out[f"{prefix}.logits"] = logits.detach().clone()
    out[f"{prefix}.loss"] = loss.detach().clone()  # 0-dim
    for n, p in model.named_parameters():
        out[f"{prefix}.grad.{n}"] = p.grad.detach().clone()
    model.zero_grad(set_to_none=True)
    opt = make_opt(model.parameters())
    out[f"{prefix}.losses"] = run_trajectory(model, opt, batches)
    for n, p in model.state_dict().items():
        out[f"{prefix}.step3.{n}"] = p.detach().clone()
    return init


def main():
    ap = argparse.ArgumentParser()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--out", default=os.path.join(root, "assets", "fixtures", "parity.safetensors"))
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    images, labels = synthetic_digits(112)
    out = {}

    # ---- a) MLP ----
    def make_mlp():
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 512), nn.ReLU(),
            nn.Linear(512, 256), nn.ReLU(),
            nn.Linear(256, 128), nn.ReLU(),
            nn.Linear(128, 64), nn.ReLU(),
            nn.Linear(64, 10),
        )

    mlp = make_mlp()
    mlp_batches = [mnist_batch(images, labels, 8 * k, 8) for k in range(3)]
    mlp_init = net_fixtures(out, "mlp", mlp, mlp_batches,
                            lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.5))

    # ---- b) CNN ----
    cnn = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),      # 12 -> 12 -> 6
        nn.Conv2d(4, 6, 3), nn.ReLU(),                                   # 6 -> 4
        nn.MaxPool2d(3, stride=2, padding=1),                            # 4 -> 2
        nn.Flatten(), nn.Linear(24, 10),
    )
    cnn_batches = []
    for k in range(3):
        x, y = mnist_batch(images, labels, 100 + 4 * k, 4)
        cnn_batches.append((x[:, :, 8:20, 8:20].contiguous(), y))
    net_fixtures(out, "cnn", cnn, cnn_batches,
                 lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-3, nesterov=True))

    # ---- c) MLP dampening trajectory from the same initial params ----
    mlp2 = make_mlp()
    mlp2.load_state_dict(mlp_init)
    opt = torch.optim.SGD(mlp2.parameters(), lr=0.02, momentum=0.8, dampening=0.3, weight_decay=5e-4)
    run_trajectory(mlp2, opt, mlp_batches)
    for n, p in mlp2.state_dict().items():
        out[f"mlp.damp.step3.{n}"] = p.detach().clone()

    # ---- d) CrossEntropyLoss cases ----
    ce_logits = torch.randn(6, 5) * 2
    ce_target = torch.tensor([2, 0, 2, 1, 4, 3], dtype=torch.int64)
    ce_weight = torch.tensor([0.5, 1.0, 2.0, 1.5, 0.25])
    out["ce.logits"] = ce_logits
    out["ce.target"] = ce_target
    out["ce.weight"] = ce_weight
    cases = {
        "mean": dict(),
        "sum": dict(reduction="sum"),
        "none": dict(reduction="none"),
        "weight": dict(weight=ce_weight),
        "weight_sum": dict(weight=ce_weight, reduction="sum"),
        "ignore": dict(ignore_index=1),
        "weight_ignore": dict(weight=ce_weight, ignore_index=1),
        "smooth": dict(label_smoothing=0.1),
        "weight_smooth": dict(weight=ce_weight, label_smoothing=0.2),
        "weight_ignore_smooth": dict(weight=ce_weight, ignore_index=1, label_smoothing=0.15),
        "smooth_none": dict(label_smoothing=0.1, reduction="none"),
        "smooth_sum": dict(label_smoothing=0.1, reduction="sum"),
    }
    for name, kw in cases.items():
        z = ce_logits.clone().requires_grad_(True)
        loss = nn.CrossEntropyLoss(**kw)(z, ce_target)
        loss.sum().backward()
        out[f"ce.{name}.loss"] = loss.detach().clone()
        out[f"ce.{name}.grad"] = z.grad.detach().clone()

    # ---- e) MaxPool2d gradient tie-breaking ----
    pool_input = torch.randint(0, 3, (2, 3, 5, 7)).float()
    out["pool.input"] = pool_input
    pools = {
        "k2": nn.MaxPool2d(2),
        "k3s2p1": nn.MaxPool2d(3, stride=2, padding=1),
        "k2s1d2": nn.MaxPool2d(2, stride=1, dilation=2),
        "k3s2ceil": nn.MaxPool2d(3, stride=2, ceil_mode=True),
        # On a 5x7 input k3s2ceil has the same shape as floor mode; k2ceil really
        # exercises ceil_mode (3x4 instead of 2x3, last window clipped).
        "k2ceil": nn.MaxPool2d(2, ceil_mode=True),
    }
    for name, pool in pools.items():
        x = pool_input.clone().requires_grad_(True)
        y = pool(x)
        w = torch.randn(y.shape)
        (y * w).sum().backward()
        out[f"pool.{name}.out"] = y.detach().clone()
        out[f"pool.{name}.w"] = w
        out[f"pool.{name}.grad"] = x.grad.detach().clone()

    out = {k: v.contiguous() for k, v in out.items()}
    for k, v in out.items():
        assert v.dtype in (torch.float32, torch.int64), (k, v.dtype)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    save_file(out, args.out)

    print(f"torch {torch.__version__}: wrote {len(out)} tensors to {args.out} "
          f"({os.path.getsize(args.out) / 1e6:.2f} MB)")
    print(f"mlp.loss={out['mlp.loss'].item():.6f} mlp.losses={out['mlp.losses'].tolist()}")
    print(f"cnn.loss={out['cnn.loss'].item():.6f} cnn.losses={out['cnn.losses'].tolist()}")
    print(f"ce.mean={out['ce.mean.loss'].item():.6f} ce.target={ce_target.tolist()}")
    for name in pools:
        print(f"pool.{name}.out shape={list(out[f'pool.{name}.out'].shape)}")


if __name__ == "__main__":
    main()
