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
  w4  bench/w4_vgg.toml: a VGG-style CNN (Conv-BN-ReLU ×2, MaxPool, Dropout2d, twice;
      Linear-ReLU-Dropout-Linear) on Fashion-MNIST with RandomAffine(10, translate=0.1)
      and RandomHorizontalFlip, batch 128, AdamW(lr=1e-3, weight_decay=1e-2) and
      OneCycleLR(max_lr=0.01, total_steps=469) stepped every batch
  w5  experiments/fashion_resnet.toml: a small ResNet (BatchNorm, two residual blocks,
      one with a projection) on Fashion-MNIST with RandomCrop(28, padding=2), batch 64,
      Adam(lr=1e-3)
  w6  bench/w6_resnet18.toml: torchvision.models.resnet18() at 224x224, batch 16,
      SGD(lr=0.01, momentum=0.9), on synthetic inputs (--synthetic: --steps random
      batches of torch.randn images with random labels of 1000 classes)

Prints one JSON line: epoch seconds (the train loop, from the first batch request to the
last optimizer step), samples/s, the last running loss, the peak RSS in MiB, and the
busy cores during the loop (user + system CPU seconds of the process and its DataLoader
workers over wall seconds).

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
from wick_modules import Residual  # noqa: E402


def model_for(workload):
    if workload == "w6":
        import torchvision
        return torchvision.models.resnet18()
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
    if workload == "w4":
        def block(i, o):
            return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]
        return nn.Sequential(
            *block(1, 32), *block(32, 32), nn.MaxPool2d(2), nn.Dropout2d(0.1),
            *block(32, 64), *block(64, 64), nn.MaxPool2d(2), nn.Dropout2d(0.1),
            nn.Flatten(), nn.Linear(3136, 256), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(256, 10),
        )
    if workload == "w5":
        return small_resnet()
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(64, 2),
    )


def small_resnet():
    def conv(i, o, stride=1):
        return nn.Conv2d(i, o, 3, stride=stride, padding=1, bias=False)
    return nn.Sequential(
        conv(1, 16), nn.BatchNorm2d(16), nn.ReLU(),
        Residual([conv(16, 16), nn.BatchNorm2d(16), nn.ReLU(), conv(16, 16), nn.BatchNorm2d(16)]),
        nn.ReLU(),
        Residual([conv(16, 32, 2), nn.BatchNorm2d(32), nn.ReLU(), conv(32, 32), nn.BatchNorm2d(32)],
                 [nn.Conv2d(16, 32, 1, stride=2, bias=False), nn.BatchNorm2d(32)]),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )


def optimizer_for(workload, params):
    if workload == "w1":
        return torch.optim.SGD(params, lr=0.01, momentum=0.5)
    if workload in ("w2", "w5"):
        return torch.optim.Adam(params, lr=1e-3)
    if workload == "w4":
        return torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-2)
    return torch.optim.SGD(params, lr=0.01, momentum=0.9)


def batches(args):
    """An iterable of (input, target) for one epoch, and the number of samples."""
    if args.synthetic:
        steps = args.steps or 20
        x = torch.randn(steps * 16, 3, 224, 224)
        y = torch.randint(0, 1000, (steps * 16,))
        return list(zip(x.split(16), y.split(16))), steps * 16
    if args.workload == "w3":
        norm = transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        tf = transforms.Compose([
            transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(),
            transforms.ToTensor(), norm,
        ])
        ds = datasets.ImageFolder(os.path.join(args.image_root, "train"), tf)
        return DataLoader(ds, batch_size=16, shuffle=True, num_workers=args.num_workers), len(ds)
    root = prepare_root(args.data_dir, "FashionMNIST", args.root)
    mean, std = ((0.2860,), (0.3530,)) if args.workload in ("w4", "w5") else ((0.1307,), (0.3081,))
    augment = {
        "w4": [transforms.RandomAffine(10, translate=(0.1, 0.1)), transforms.RandomHorizontalFlip()],
        "w5": [transforms.RandomCrop(28, padding=2)],
    }.get(args.workload, [])
    tf = transforms.Compose(augment + [transforms.ToTensor(), transforms.Normalize(mean, std)])
    ds = datasets.FashionMNIST(root=root, train=True, transform=tf, download=False)
    batch = 128 if args.workload == "w4" else 64
    if not args.pretensorized:
        return DataLoader(ds, batch_size=batch, shuffle=True, num_workers=args.num_workers), len(ds)
    x = ((ds.data.float().div(255.0).unsqueeze(1)) - mean[0]) / std[0]
    y = ds.targets.clone()

    def gen():
        perm = torch.randperm(x.shape[0])
        for i in range(0, x.shape[0], batch):
            idx = perm[i:i + batch]
            yield x[idx], y[idx]
    return gen(), x.shape[0]


def cpu_seconds():
    """User + system CPU seconds of this process and its reaped children."""
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", choices=["w1", "w2", "w3", "w4", "w5", "w6"])
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--root", default="/tmp/wick_torchvision_root")
    ap.add_argument("--image-root", default="../shared/datasets/hymenoptera")
    ap.add_argument("--num-workers", type=int, default=0)
    ap.add_argument("--pretensorized", action="store_true")
    ap.add_argument("--synthetic", action="store_true", help="random inputs (w6)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=None, help="stop after this many batches")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    model = model_for(args.workload)
    criterion = nn.CrossEntropyLoss()
    optimizer = optimizer_for(args.workload, model.parameters())
    scheduler = None
    if args.workload == "w4":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.01, total_steps=469)
    loader, n = batches(args)

    model.train()
    running, steps, seen, last = 0.0, 0, 0, float("nan")
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    for data, target in loader:
        optimizer.zero_grad()
        loss = criterion(model(data), target)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        running += loss.item()
        steps += 1
        seen += len(target)
        if args.steps is not None and steps >= args.steps:
            break
        if steps % 100 == 0:
            last, running = running / 100, 0.0
    seconds = time.perf_counter() - t0
    del loader  # the DataLoader's workers exit here, so their CPU time is counted
    cpu = cpu_seconds() - cpu0
    if steps % 100:
        # the mean of the last, partial window (W3 has fewer than 100 batches)
        last = running / (steps % 100)
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024.0
    print(json.dumps({
        "framework": "pytorch",
        "torch": torch.__version__,
        "workload": args.workload,
        "mode": "synthetic" if args.synthetic else
                "pretensorized" if args.pretensorized else f"dataloader_w{args.num_workers}",
        "threads": torch.get_num_threads(),
        "samples": seen,
        "epoch_samples": n,
        "steps": steps,
        "seconds": round(seconds, 4),
        "samples_per_sec": round(seen / seconds, 1),
        "running_loss": last if math.isfinite(last) else None,
        "peak_rss_mib": round(rss, 1),
        "busy_cores": round(cpu / seconds, 2),
    }))


if __name__ == "__main__":
    main()
