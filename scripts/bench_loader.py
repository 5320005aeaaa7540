"""torch DataLoader throughput, the counterpart of crates/data/examples/bench_loader.rs.

- MNIST: ToTensor + Normalize((0.1307,), (0.3081,)), batch 64, shuffled, num_workers 0
  and 2, samples/s over whole epochs (one warm-up epoch first);
- hymenoptera: ImageFolder decode + ToTensor, batch 1, num_workers 0 and 2, images/s;
  and the training pipeline of experiments/hymenoptera.toml (RandomResizedCrop 224,
  flip, ToTensor, Normalize), batch 16.

    /tmp/venv/bin/python scripts/bench_loader.py ../shared/datasets [epochs]
"""

import gzip
import os
import shutil
import sys
import tempfile
import time

import torch
from torchvision import datasets, transforms


def run(name, ds, batch_size, epochs):
    for workers in (0, 2):
        g = torch.Generator().manual_seed(0)
        loader = torch.utils.data.DataLoader(
            ds, batch_size=batch_size, shuffle=True, num_workers=workers,
            generator=g, persistent_workers=workers > 0,
        )
        for _ in loader:  # warm-up epoch (and worker start-up)
            pass
        t = time.perf_counter()
        n = 0
        for _ in range(epochs):
            for x, _y in loader:
                n += x.shape[0]
        s = time.perf_counter() - t
        print(f"torch {name:<12} num_workers={workers}  {n / s:>10.0f} samples/s  "
              f"({n} samples in {s:.3f} s)")


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets"
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "MNIST", "raw")
        os.makedirs(raw)
        for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                     "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
            with gzip.open(os.path.join(shared, "mnist", stem + ".gz")) as src, \
                    open(os.path.join(raw, stem), "wb") as dst:
                shutil.copyfileobj(src, dst)
        tf = transforms.Compose([transforms.ToTensor(),
                                 transforms.Normalize((0.1307,), (0.3081,))])
        mnist = datasets.MNIST(tmp, train=True, download=False, transform=tf)
        run("MNIST", mnist, 64, epochs)
    hym = datasets.ImageFolder(os.path.join(shared, "hymenoptera", "train"),
                               transform=transforms.ToTensor())
    run("hymenoptera", hym, 1, 1)
    train_tf = transforms.Compose([
        transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    hym = datasets.ImageFolder(os.path.join(shared, "hymenoptera", "train"), transform=train_tf)
    run("hymenoptera train pipeline", hym, 16, epochs)


if __name__ == "__main__":
    main()
