#!/usr/bin/env python3
"""PyTorch `.pth` files for wick's reader (wick_tensor::pth::load_pth):

- small.pth: a state dict as torch.save writes it (Linear, BatchNorm1d with its
  int64 num_batches_tracked, a float64, a float16, a bfloat16 and a uint8 tensor, a
  transposed (Fortran-order) view, a scalar), and small.json with every value;
- checkpoint.pth: the same state dict inside a training checkpoint dict
  ({"epoch": 3, "state_dict": ...}), as scripts save it;
- evil.pth: a torch.save'd pickle whose object asks for `os.system` when unpickled
  (the reader must refuse it without running anything).

Usage: /tmp/venv/bin/python scripts/fixtures_pth.py
"""
import json
import os
from collections import OrderedDict

import torch

ROOT = os.path.join(os.path.dirname(__file__), "..", "assets", "fixtures", "pth")


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/wick-pth-pwned",))


def state():
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 2)
    bn = torch.nn.BatchNorm1d(2)
    bn.running_mean.add_(0.5)
    bn.num_batches_tracked.add_(7)
    sd = OrderedDict()
    for k, v in lin.state_dict().items():
        sd["lin." + k] = v
    for k, v in bn.state_dict().items():
        sd["bn." + k] = v
    sd["f64"] = torch.arange(4, dtype=torch.float64) / 3
    sd["f16"] = torch.tensor([0.5, -1.25, 3.0], dtype=torch.float16)
    sd["bf16"] = torch.tensor([1.5, -2.0], dtype=torch.bfloat16)
    sd["u8"] = torch.tensor([0, 7, 255], dtype=torch.uint8)
    sd["transposed"] = torch.arange(6, dtype=torch.float32).reshape(2, 3).t()
    sd["scalar"] = torch.tensor(2.5)
    return sd


def main():
    os.makedirs(ROOT, exist_ok=True)
    sd = state()
    torch.save(sd, os.path.join(ROOT, "small.pth"))
    torch.save({"epoch": 3, "state_dict": sd}, os.path.join(ROOT, "checkpoint.pth"))
    torch.save({"weight": torch.zeros(2), "hook": Evil()}, os.path.join(ROOT, "evil.pth"))
    values = {
        k: {"shape": list(v.shape), "dtype": str(v.dtype).removeprefix("torch."),
            "values": v.double().flatten().tolist()}
        for k, v in sd.items()
    }
    with open(os.path.join(ROOT, "small.json"), "w") as f:
        json.dump({"order": list(sd.keys()), "tensors": values}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
