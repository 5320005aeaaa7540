#!/usr/bin/env python3
"""PyTorch parity fixtures for wick's graphs (named nodes, `from`, ops, blocks).

Writes assets/fixtures/graph.safetensors (float32) and assets/fixtures/graph.json.

Two models, each the PyTorch module that a wick graph stands for:
- `ops`: two inputs, every graph op (add, sub, mul, div, cat, stack, mean, sum,
  flatten, matmul, select, narrow, transpose) and a two-input Bilinear; its wick config
  (a Sequential of nodes, as JSON) is in graph.json;
- `blocks`: a block `Unit(width, project=False)` used three times inside a named
  Sequential; its wick experiment is crates/runner/tests/graph_blocks.toml.

For each: `<m>.param.<key>` (the state_dict, in order, keys listed in graph.json),
`<m>.in.<name>` (inputs), `<m>.out`, `<m>.g` (the weight of the loss `(out * g).sum()`),
`<m>.gin.<name>` (input gradients) and `<m>.grad.<key>` (parameter gradients).

Usage: /tmp/venv/bin/python scripts/fixtures_graph.py
"""
import json
import os
from collections import OrderedDict

import torch
import torch.nn as nn
from safetensors.torch import save_file

torch.set_num_threads(1)
torch.manual_seed(0)

OPS_CONFIG = {
    "inputs": ["a", "b"],
    "layers": [
        {"name": "la", "type": "Linear", "out_features": 4, "from": "a"},
        {"name": "lb", "type": "Linear", "out_features": 4, "from": "b"},
        {"name": "s", "op": "add", "from": ["la", "lb"]},
        {"name": "d", "op": "sub", "from": ["la", "lb"]},
        {"name": "m", "op": "mul", "from": ["s", "d"]},
        {"name": "sg", "type": "Sigmoid", "from": "lb"},
        {"name": "q", "op": "div", "from": ["m", "sg"]},
        {"name": "c", "op": "cat", "dim": 1, "from": ["m", "q"]},
        {"name": "t", "op": "transpose", "dim0": 1, "dim1": 2, "from": "c"},
        {"name": "mm", "op": "matmul", "from": ["t", "c"]},
        {"name": "st", "op": "stack", "dim": 1, "from": ["la", "lb"]},
        {"name": "me", "op": "mean", "dim": 1, "from": "st"},
        {"name": "su", "op": "sum", "dim": [2], "keepdim": True, "from": "me"},
        {"name": "na", "op": "narrow", "dim": 1, "start": 1, "length": 2, "from": "mm"},
        {"name": "se", "op": "select", "dim": 1, "index": -1, "from": "mm"},
        {"name": "fl", "op": "flatten", "from": "na"},
        {"name": "bl", "type": "Bilinear", "out_features": 3, "from": ["fl", "se"]},
        {"name": "suf", "op": "flatten", "from": "su"},
        {"name": "j", "op": "cat", "dim": -1, "from": ["bl", "suf"]},
        {"name": "fc", "type": "Linear", "out_features": 2},
    ],
}
OPS_INPUTS = {"a": [3, 4], "b": [3, 4]}


class Ops(nn.Module):
    def __init__(self):
        super().__init__()
        self.la = nn.Linear(4, 4)
        self.lb = nn.Linear(4, 4)
        self.sg = nn.Sigmoid()
        self.bl = nn.Bilinear(8, 4, 3)
        self.fc = nn.Linear(6, 2)

    def forward(self, a, b):
        la, lb = self.la(a), self.lb(b)
        s = la + lb
        d = la - lb
        m = s * d
        q = m / self.sg(lb)
        c = torch.cat([m, q], dim=1)
        t = c.transpose(1, 2)
        mm = torch.matmul(t, c)
        st = torch.stack([la, lb], dim=1)
        me = st.mean(dim=1)
        su = me.sum(dim=(2,), keepdim=True)
        na = mm.narrow(1, 1, 2)
        se = mm.select(1, -1)
        fl = torch.flatten(na, 1)
        bl = self.bl(fl, se)
        j = torch.cat([bl, torch.flatten(su, 1)], dim=-1)
        return self.fc(j)


class Unit(nn.Module):
    def __init__(self, inp, width, project=False):
        super().__init__()
        self.fc1 = nn.Linear(inp, width)
        self.act = nn.Tanh()
        self.fc2 = nn.Linear(width, width)
        self.proj = nn.Linear(inp, width, bias=False) if project else None

    def forward(self, x):
        shortcut = x if self.proj is None else self.proj(x)
        return self.fc2(self.act(self.fc1(x))) + shortcut


class Blocks(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(5, 6)
        self.blocks = nn.Sequential(
            OrderedDict([("0", Unit(6, 6)), ("1", Unit(6, 8, True)), ("last", Unit(8, 8))])
        )
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


def record(tensors, prefix, model, inputs):
    for k, v in model.state_dict().items():
        tensors[f"{prefix}.param.{k}"] = v.detach().clone().contiguous()
    xs = {n: x.clone().requires_grad_(True) for n, x in inputs.items()}
    out = model(*xs.values())
    g = torch.randn_like(out)
    (out * g).sum().backward()
    for n, x in xs.items():
        tensors[f"{prefix}.in.{n}"] = x.detach().contiguous()
        tensors[f"{prefix}.gin.{n}"] = x.grad.contiguous()
    tensors[f"{prefix}.out"] = out.detach().contiguous()
    tensors[f"{prefix}.g"] = g.contiguous()
    for k, p in model.named_parameters():
        tensors[f"{prefix}.grad.{k}"] = p.grad.contiguous()
    return list(model.state_dict().keys())


def main():
    root = os.path.join(os.path.dirname(__file__), "..", "assets", "fixtures")
    tensors = {}
    ops = Ops()
    ops_inputs = {n: torch.randn(5, *shape) for n, shape in OPS_INPUTS.items()}
    ops_keys = record(tensors, "ops", ops, ops_inputs)
    blocks = Blocks()
    blocks_keys = record(tensors, "blocks", blocks, {"input": torch.randn(7, 5)})
    save_file(tensors, os.path.join(root, "graph.safetensors"))
    meta = {
        "ops": {"config": OPS_CONFIG, "inputs": OPS_INPUTS, "keys": ops_keys},
        "blocks": {"keys": blocks_keys},
    }
    with open(os.path.join(root, "graph.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
