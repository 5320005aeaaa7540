#!/usr/bin/env python3
"""Load a wick checkpoint into the PyTorch nn.Sequential its experiment describes and
evaluate it on the test split, independently of wick's own `export`.

    python scripts/check_checkpoint.py runs/mnist-cnn/<ts> [--checkpoint best] [--data-root data]

The model is built from the run's resolved config.toml: every layer is
`getattr(torch.nn, type)(**arguments)` (wick's `init` key aside; nested `Sequential`
and `Residual` blocks as wick defines them); `load_state_dict` is strict, so every key
and shape must match. Prints `accuracy X % (hits/total)` for torchvision's MNIST-family
datasets with the test split's transforms.
"""
import argparse
import gzip
import os
import shutil
import tempfile
import tomllib

import torch
import torch.nn as nn
from safetensors.torch import load_file
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

WICK_ONLY = {"init"}


class Residual(nn.Module):
    def __init__(self, layers, projection=None):
        super().__init__()
        self.layers = layers
        self.projection = projection

    def forward(self, x):
        skip = x if self.projection is None else self.projection(x)
        return self.layers(x) + skip


def value(v):
    if isinstance(v, list):
        return tuple(value(x) for x in v)
    if v == "None":
        return None
    return v


def layer(cfg):
    cfg = dict(cfg)
    ty = cfg.pop("type")
    if ty == "Sequential":
        return nn.Sequential(*[layer(c) for c in cfg["layers"]])
    if ty == "Residual":
        proj = cfg.get("projection")
        return Residual(
            nn.Sequential(*[layer(c) for c in cfg["layers"]]),
            nn.Sequential(*[layer(c) for c in proj]) if proj else None,
        )
    args = {k: value(v) for k, v in cfg.items() if k not in WICK_ONLY}
    return getattr(nn, ty)(**args)


def transform(cfg):
    cfg = dict(cfg)
    ty = cfg.pop("type")
    return getattr(transforms, ty)(**{k: value(v) for k, v in cfg.items()})


def torchvision_root(root, cls):
    """torchvision wants the IDX files uncompressed in root/<cls>/raw; wick also reads
    them gzipped. Extract .gz-only files into a temporary root when needed."""
    raw = os.path.join(root, cls, "raw")
    names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    if all(os.path.exists(os.path.join(raw, n)) for n in names):
        return root
    tmp = tempfile.mkdtemp()
    os.makedirs(os.path.join(tmp, cls, "raw"))
    for n in names:
        src = os.path.join(raw, n)
        dst = os.path.join(tmp, cls, "raw", n)
        if os.path.exists(src):
            shutil.copy(src, dst)
        else:
            with gzip.open(src + ".gz", "rb") as fin, open(dst, "wb") as fout:
                shutil.copyfileobj(fin, fout)
    return tmp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--checkpoint", default="best")
    ap.add_argument("--data-root", default=os.environ.get("WICK_DATA", "data"))
    args = ap.parse_args()
    with open(os.path.join(args.run_dir, "config.toml"), "rb") as f:
        exp = tomllib.load(f)
    model = nn.Sequential(*[layer(c) for c in exp["model"]["layers"]])
    state = load_file(os.path.join(args.run_dir, "checkpoints", args.checkpoint, "model.safetensors"))
    model.load_state_dict(state, strict=True)
    model.eval()
    data = exp["data"]
    ds_type = data["dataset"]["type"]
    split = data.get("test", data["train"])
    tf = transforms.Compose([transform(t) for t in split["transforms"]])
    root = torchvision_root(args.data_root, ds_type)
    ds = getattr(datasets, ds_type)(root, train=False, download=False, transform=tf)
    loader = DataLoader(ds, batch_size=1000)
    hits = total = 0
    with torch.no_grad():
        for x, y in loader:
            hits += (model(x).argmax(1) == y).sum().item()
            total += len(y)
    print(f"accuracy {100.0 * hits / total:.2f} % ({hits}/{total})")


if __name__ == "__main__":
    main()
