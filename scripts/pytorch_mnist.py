#!/usr/bin/env python3
"""Reference PyTorch MNIST / Fashion-MNIST trainer (PyTorch "zero to all" course style).

The baseline that wick's examples are compared against:
  ToTensor + Normalize((0.1307,), (0.3081,)), DataLoader(batch 64, shuffle) for train,
  784-512-256-128-64-10 MLP with ReLU, CrossEntropyLoss, SGD(lr=0.01, momentum=0.5).

--data-dir points at a directory holding the 4 IDX .gz files; they are extracted into a
torchvision-layout root under /tmp (root/{MNIST,FashionMNIST}/raw/*-ubyte) so that
torchvision.datasets.{MNIST,FashionMNIST}(root, download=False) works offline.

Examples:
  python scripts/pytorch_mnist.py --dataset fashion --data-dir /usr/share/datasets/fashion-mnist
  python scripts/pytorch_mnist.py --dataset mnist --data-dir /work/shared/datasets/mnist --pretensorized
"""
import argparse
import gzip
import json
import os
import shutil
import time

import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


def prepare_root(data_dir, cls_name, root):
    """Extract data_dir/*.gz (or link already-extracted files) into root/cls_name/raw/."""
    raw = os.path.join(root, cls_name, "raw")
    os.makedirs(raw, exist_ok=True)
    for name in FILES:
        dst = os.path.join(raw, name)
        gz = os.path.join(data_dir, name + ".gz")
        plain = os.path.join(data_dir, name)
        if os.path.exists(gz):
            if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(gz):
                continue
            with gzip.open(gz, "rb") as fin, open(dst + ".tmp", "wb") as fout:
                shutil.copyfileobj(fin, fout)
            os.replace(dst + ".tmp", dst)
        elif os.path.exists(plain):
            if os.path.lexists(dst):
                os.remove(dst)
            os.symlink(os.path.abspath(plain), dst)
        else:
            raise FileNotFoundError(f"neither {gz} nor {plain} exists")
    return root


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(784, 512)
        self.l2 = nn.Linear(512, 256)
        self.l3 = nn.Linear(256, 128)
        self.l4 = nn.Linear(128, 64)
        self.l5 = nn.Linear(64, 10)

    def forward(self, x):
        x = x.view(-1, 784)  # Flatten the data (n, 1, 28, 28) -> (n, 784)
        x = torch.relu(self.l1(x))
        x = torch.relu(self.l2(x))
        x = torch.relu(self.l3(x))
        x = torch.relu(self.l4(x))
        return self.l5(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", choices=["mnist", "fashion"], default="mnist")
    ap.add_argument("--data-dir", required=True, help="directory with the 4 IDX .gz files")
    ap.add_argument("--root", default=None, help="torchvision root to build (default /tmp/wick_torchvision_root)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--momentum", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--num-workers", type=int, default=0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--pretensorized", action="store_true",
                    help="skip DataLoader: iterate a pre-normalized tensor with randperm shuffling")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    if args.seed is not None:
        torch.manual_seed(args.seed)

    cls_name = "MNIST" if args.dataset == "mnist" else "FashionMNIST"
    ds_cls = datasets.MNIST if args.dataset == "mnist" else datasets.FashionMNIST
    root = prepare_root(args.data_dir, cls_name, args.root or "/tmp/wick_torchvision_root")

    # Same normalization for both datasets so it is the same program.
    transform = transforms.Compose([
        transforms.ToTensor(),
        transforms.Normalize((0.1307,), (0.3081,)),
    ])
    train_dataset = ds_cls(root=root, train=True, transform=transform, download=False)
    test_dataset = ds_cls(root=root, train=False, transform=transform, download=False)
    train_loader = DataLoader(train_dataset, batch_size=args.batch_size, shuffle=True,
                              num_workers=args.num_workers)
    test_loader = DataLoader(test_dataset, batch_size=args.batch_size, shuffle=False,
                             num_workers=args.num_workers)

    if args.pretensorized:
        def to_tensor(ds):
            x = ds.data.float().div(255.0).unsqueeze(1)
            return (x - 0.1307) / 0.3081, ds.targets.clone()
        train_x, train_y = to_tensor(train_dataset)
        test_x, test_y = to_tensor(test_dataset)

        def train_batches():
            perm = torch.randperm(train_x.shape[0])
            for i in range(0, train_x.shape[0], args.batch_size):
                idx = perm[i:i + args.batch_size]
                yield train_x[idx], train_y[idx]

        def test_batches():
            for i in range(0, test_x.shape[0], args.batch_size):
                yield test_x[i:i + args.batch_size], test_y[i:i + args.batch_size]
    else:
        def train_batches():
            return iter(train_loader)

        def test_batches():
            return iter(test_loader)

    n_train, n_test = len(train_dataset), len(test_dataset)
    model = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)

    print(f"torch {torch.__version__}, dataset={args.dataset} train={n_train} test={n_test}, "
          f"threads={torch.get_num_threads()}, pretensorized={args.pretensorized}, "
          f"num_workers={args.num_workers}", flush=True)

    def train(epoch):
        model.train()
        running_loss = 0.0
        for batch_idx, (data, target) in enumerate(train_batches()):
            optimizer.zero_grad()
            output = model(data)
            loss = criterion(output, target)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            if batch_idx % 300 == 299:
                print('[%d, %5d] loss: %.3f' % (epoch + 1, batch_idx + 1, running_loss / 300), flush=True)
                running_loss = 0.0

    def test():
        model.eval()
        test_loss = 0.0
        correct = 0
        with torch.no_grad():
            for data, target in test_batches():
                output = model(data)
                test_loss += criterion(output, target).item() * data.shape[0]
                pred = output.argmax(1)
                correct += (pred == target).sum().item()
        test_loss /= n_test
        acc = 100.0 * correct / n_test
        print(f'Test set: Average loss: {test_loss:.4f}, Accuracy: {correct}/{n_test} ({acc:.2f}%)', flush=True)
        return acc

    epoch_times, epoch_sps, accs = [], [], []
    total_start = time.perf_counter()
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        train(epoch)
        dt = time.perf_counter() - t0
        sps = n_train / dt
        epoch_times.append(dt)
        epoch_sps.append(sps)
        print(f'Epoch {epoch + 1}: train time {dt:.2f}s, {sps:.0f} samples/s', flush=True)
        accs.append(test())
    total = time.perf_counter() - total_start

    print(json.dumps({
        "framework": "pytorch",
        "torch": torch.__version__,
        "dataset": args.dataset,
        "pretensorized": args.pretensorized,
        "threads": torch.get_num_threads(),
        "epochs": args.epochs,
        "final_test_accuracy": accs[-1] / 100.0 if accs else None,
        "test_accuracy_per_epoch": [a / 100.0 for a in accs],
        "epoch_train_seconds": [round(t, 3) for t in epoch_times],
        "epoch_samples_per_sec": [round(s, 1) for s in epoch_sps],
        "total_seconds": round(total, 3),
    }))


if __name__ == "__main__":
    main()
