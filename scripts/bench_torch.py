#!/usr/bin/env python3
"""The PyTorch side of `just bench`: one training epoch of a workload, timed.

Workloads (the same programs as bench/w1_mlp.toml, w2_cnn.toml, w3_hymenoptera.toml):
  w1  the course's 5-layer MLP (784-520-320-240-120-10), SGD(lr=0.01, momentum=0.5)
  w2  Conv2d(1,32,3,p1)-ReLU-MaxPool2d(2)-Conv2d(32,64,3,p1)-ReLU-MaxPool2d(2)-Flatten-
      Linear(3136,128)-ReLU-Linear(128,10), Adam(lr=1e-3)
  w1/w2 read Fashion-MNIST's IDX files through torchvision.datasets.FashionMNIST with
  ToTensor + Normalize((0.1307,), (0.3081,)) and a DataLoader(batch_size=64, shuffle=True,
  num_workers=N), or (--pretensorized) iterate one pre-normalized tensor by randperm.
  w3  ImageFolder(hymenoptera/train) with RandomResizedCrop(224), RandomHorizontalFlip,
      ToTensor, Normalize(ImageNet) into a small CNN, batch 16, SGD(lr=0.01, momentum=0.9)

Prints one JSON line: epoch seconds (the train loop, from the first batch request to the
last optimizer step), samples/s, the last running loss and the peak RSS in MiB.

  python scripts/bench_torch.py w1 --num-workers 2 --data-dir /usr/share/datasets/fashion-mnist
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_mnist import prepare_root  # noqa: E402


def model_for(workload):
    if workload == "w1":
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 520), nn.ReLU(),
            nn.Linear(520, 320), nn.ReLU(),
            nn.Linear(320, 240), nn.ReLU(),
            nn.Linear(240, 120), nn.ReLU(),
            nn.Linear(120, 10),
        )
    if workload == "w2":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(3136, 128), nn.ReLU(),
            nn.Linear(128, 10),
        )
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(64, 2),
    )


def optimizer_for(workload, params):
    if workload == "w1":
        return torch.optim.SGD(params, lr=0.01, momentum=0.5)
    if workload == "w2":
        return torch.optim.Adam(params, lr=1e-3)
    return torch.optim.SGD(params, lr=0.01, momentum=0.9)


def batches(args):
    """An iterable of (input, target) for one epoch, and the number of samples."""
    if args.workload == "w3":
        norm = transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        tf = transforms.Compose([
            transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(),
            transforms.ToTensor(), norm,
        ])
        ds = datasets.ImageFolder(os.path.join(args.image_root, "train"), tf)
        return DataLoader(ds, batch_size=16, shuffle=True, num_workers=args.num_workers), len(ds)
    root = prepare_root(args.data_dir, "FashionMNIST", args.root)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    ds = datasets.FashionMNIST(root=root, train=True, transform=tf, download=False)
    if not args.pretensorized:
        return DataLoader(ds, batch_size=64, shuffle=True, num_workers=args.num_workers), len(ds)
    x = ((ds.data.float().div(255.0).unsqueeze(1)) - 0.1307) / 0.3081
    y = ds.targets.clone()

    def gen():
        perm = torch.randperm(x.shape[0])
        for i in range(0, x.shape[0], 64):
            idx = perm[i:i + 64]
            yield x[idx], y[idx]
    return gen(), x.shape[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", choices=["w1", "w2", "w3"])
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--root", default="/tmp/wick_torchvision_root")
    ap.add_argument("--image-root", default="../shared/datasets/hymenoptera")
    ap.add_argument("--num-workers", type=int, default=0)
    ap.add_argument("--pretensorized", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=None, help="stop after this many batches")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    model = model_for(args.workload)
    criterion = nn.CrossEntropyLoss()
    optimizer = optimizer_for(args.workload, model.parameters())
    loader, n = batches(args)

    model.train()
    running, steps, last = 0.0, 0, float("nan")
    t0 = time.perf_counter()
    for data, target in loader:
        optimizer.zero_grad()
        loss = criterion(model(data), target)
        loss.backward()
        optimizer.step()
        running += loss.item()
        steps += 1
        if args.steps is not None and steps >= args.steps:
            break
        if steps % 100 == 0:
            last, running = running / 100, 0.0
    seconds = time.perf_counter() - t0
    if steps % 100:
        # the mean of the last, partial window (W3 has fewer than 100 batches)
        last = running / (steps % 100)
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024.0
    print(json.dumps({
        "framework": "pytorch",
        "torch": torch.__version__,
        "workload": args.workload,
        "mode": "pretensorized" if args.pretensorized else f"dataloader_w{args.num_workers}",
        "threads": torch.get_num_threads(),
        "samples": n,
        "steps": steps,
        "seconds": round(seconds, 4),
        "samples_per_sec": round(n / seconds, 1),
        "running_loss": last if math.isfinite(last) else None,
        "peak_rss_mib": round(rss, 1),
    }))


if __name__ == "__main__":
    main()
