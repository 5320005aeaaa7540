#!/usr/bin/env python3
"""PyTorch parity fixtures for wick-nn's layers (norms, activations, embedding,
Identity/Flatten/Unflatten/Bilinear, nested Sequential and Residual).

Writes assets/fixtures/nn_a.safetensors and assets/fixtures/nn_a.json.

For every case: the layer's config as wick reads it (the JSON form of the TOML table),
PyTorch's repr of the module, and per step k (each in train or eval mode):
  {case}.{k}.x            input
  {case}.{k}.g            random upstream gradient; loss = (out * g).sum()
  {case}.{k}.out          output
  {case}.{k}.dx           input gradient (float inputs)
  {case}.{k}.grad.{name}  parameter gradients
  {case}.{k}.buffer.{name}  buffers after the step
and the parameters and buffers before the first step: {case}.param.{name},
{case}.buffer.{name}. Parameters are set to random values first, so affine maps are
not the identity. Deterministic: torch.manual_seed(0), one thread.

Usage: /tmp/venv/bin/python scripts/fixtures_nn_a.py
"""
import json
import os
import sys

import torch
import torch.nn as nn
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wick_modules import Residual  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(1)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = {}
CASES = []


class SelfBilinear(nn.Module):
    """Bilinear(x, x): what a Bilinear layer computes inside a wick Sequential."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x, x)


def randomize(module):
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("weight") and isinstance(module, (nn.PReLU,)):
                p.uniform_(0.05, 0.5)
            else:
                p.normal_(0.0, 0.5)
                if "weight" in name and p.dim() == 1:
                    p.add_(1.0)


def with_kinks(shape, kinks, scale=3.0):
    x = torch.randn(*shape) * scale
    flat = x.view(-1)
    for i, v in enumerate(kinks):
        flat[(i * 7) % flat.numel()] = v
    return x


def case(name, config, module, xs, modes, randomize_params=True, params_of=None):
    """Runs `module` on each input in `xs` in the given modes and records everything."""
    params_of = params_of or module
    if randomize_params:
        randomize(params_of)
    for n, t in params_of.state_dict().items():
        key = "param" if n in dict(params_of.named_parameters()) else "buffer"
        OUT[f"{name}.{key}.{n}"] = t.detach().clone()
    for k, (x, mode) in enumerate(zip(xs, modes)):
        module.train(mode == "train")
        x = x.clone()
        floating = x.is_floating_point()
        if floating:
            x.requires_grad_(True)
        for p in module.parameters():
            p.grad = None
        out = module(x)
        g = torch.randn_like(out)
        (out * g).sum().backward()
        OUT[f"{name}.{k}.x"] = x.detach().clone()
        OUT[f"{name}.{k}.g"] = g
        OUT[f"{name}.{k}.out"] = out.detach().clone()
        if floating:
            OUT[f"{name}.{k}.dx"] = x.grad.clone()
        for n, p in params_of.named_parameters():
            OUT[f"{name}.{k}.grad.{n}"] = (
                p.grad.clone() if p.grad is not None else torch.zeros_like(p)
            )
        for n, b in params_of.named_buffers():
            OUT[f"{name}.{k}.buffer.{n}"] = b.detach().clone()
    CASES.append(
        {
            "name": name,
            "config": config,
            "repr": repr(params_of if params_of is not module else module),
            "modes": modes,
            "state_dict": list(params_of.state_dict().keys()),
        }
    )


def elementwise(name, config, module, kinks, shape=(4, 5, 3)):
    case(name, config, module, [with_kinks(shape, kinks)], ["train"])


# ---- simple layers
case("identity", {"type": "Identity"}, nn.Identity(), [torch.randn(3, 4)], ["train"])
case("flatten", {"type": "Flatten"}, nn.Flatten(), [torch.randn(2, 3, 4, 5)], ["train"])
case(
    "flatten_2_3",
    {"type": "Flatten", "start_dim": 2, "end_dim": 3},
    nn.Flatten(2, 3),
    [torch.randn(2, 3, 4, 5)],
    ["train"],
)
case(
    "unflatten",
    {"type": "Unflatten", "dim": 1, "unflattened_size": [3, 4]},
    nn.Unflatten(1, (3, 4)),
    [torch.randn(2, 12)],
    ["train"],
)
case(
    "unflatten_infer",
    {"type": "Unflatten", "dim": -1, "unflattened_size": [2, -1]},
    nn.Unflatten(-1, (2, -1)),
    [torch.randn(2, 3, 8)],
    ["train"],
)
bil = nn.Bilinear(5, 5, 3)
case(
    "bilinear",
    {"type": "Bilinear", "out_features": 3},
    SelfBilinear(bil),
    [torch.randn(4, 5)],
    ["train"],
    params_of=bil,
)
bil = nn.Bilinear(4, 4, 2, bias=False)
case(
    "bilinear_nobias_3d",
    {"type": "Bilinear", "in1_features": 4, "out_features": 2, "bias": False},
    SelfBilinear(bil),
    [torch.randn(2, 3, 4)],
    ["train"],
    params_of=bil,
)

# ---- batch norm: train steps update the running stats, eval uses them
TTTE = ["train", "train", "train", "eval"]
case(
    "bn1d",
    {"type": "BatchNorm1d"},
    nn.BatchNorm1d(4),
    [torch.randn(8, 4) * 2 + 1 for _ in TTTE],
    TTTE,
)
case(
    "bn1d_3d",
    {"type": "BatchNorm1d", "num_features": 3, "momentum": 0.3},
    nn.BatchNorm1d(3, momentum=0.3),
    [torch.randn(5, 3, 6) for _ in TTTE],
    TTTE,
)
case(
    "bn2d",
    {"type": "BatchNorm2d"},
    nn.BatchNorm2d(3),
    [torch.randn(4, 3, 5, 5) * 3 - 1 for _ in TTTE],
    TTTE,
)
case(
    "bn2d_cumulative",
    {"type": "BatchNorm2d", "momentum": "None", "eps": 1e-3},
    nn.BatchNorm2d(3, momentum=None, eps=1e-3),
    [torch.randn(4, 3, 5, 5) + i for i in range(4)],
    TTTE,
)
case(
    "bn2d_noaffine",
    {"type": "BatchNorm2d", "affine": False},
    nn.BatchNorm2d(3, affine=False),
    [torch.randn(2, 3, 4, 4) for _ in TTTE],
    TTTE,
)
case(
    "bn2d_nobias",
    {"type": "BatchNorm2d", "bias": False},
    nn.BatchNorm2d(3, bias=False),
    [torch.randn(2, 3, 4, 4) for _ in TTTE],
    TTTE,
)
case(
    "bn2d_untracked",
    {"type": "BatchNorm2d", "track_running_stats": False},
    nn.BatchNorm2d(3, track_running_stats=False),
    [torch.randn(3, 3, 4, 4) for _ in range(2)],
    ["train", "eval"],
)

# ---- layer norm, group norm, instance norm
case("ln", {"type": "LayerNorm", "normalized_shape": 6}, nn.LayerNorm(6), [torch.randn(4, 6) * 2], ["train"])
case(
    "ln_2d",
    {"type": "LayerNorm", "normalized_shape": [3, 4]},
    nn.LayerNorm([3, 4]),
    [torch.randn(2, 5, 3, 4)],
    ["eval"],
)
case(
    "ln_noaffine",
    {"type": "LayerNorm", "normalized_shape": 5, "elementwise_affine": False, "eps": 1e-2},
    nn.LayerNorm(5, elementwise_affine=False, eps=1e-2),
    [torch.randn(3, 5)],
    ["train"],
)
case(
    "ln_nobias",
    {"type": "LayerNorm", "normalized_shape": 5, "bias": False},
    nn.LayerNorm(5, bias=False),
    [torch.randn(3, 2, 5)],
    ["train"],
)
case("gn", {"type": "GroupNorm", "num_groups": 2}, nn.GroupNorm(2, 6), [torch.randn(3, 6, 4, 4)], ["train"])
case(
    "gn_noaffine",
    {"type": "GroupNorm", "num_groups": 3, "num_channels": 6, "affine": False},
    nn.GroupNorm(3, 6, affine=False),
    [torch.randn(2, 6, 5)],
    ["eval"],
)
case(
    "gn_nobias",
    {"type": "GroupNorm", "num_groups": 1, "bias": False},
    nn.GroupNorm(1, 4, bias=False),
    [torch.randn(2, 4, 3, 3)],
    ["train"],
)
case("in2d", {"type": "InstanceNorm2d"}, nn.InstanceNorm2d(3), [torch.randn(2, 3, 4, 5)], ["train"])
case(
    "in2d_tracked",
    {"type": "InstanceNorm2d", "affine": True, "track_running_stats": True},
    nn.InstanceNorm2d(3, affine=True, track_running_stats=True),
    [torch.randn(2, 3, 4, 5) * 2 + 1 for _ in range(3)],
    ["train", "train", "eval"],
)

# ---- embedding
case(
    "embedding",
    {"type": "Embedding", "num_embeddings": 10, "embedding_dim": 4},
    nn.Embedding(10, 4),
    [torch.tensor([[1, 3, 3, 9, 0], [2, 2, 7, 1, 3]])],
    ["train"],
    randomize_params=False,
)
case(
    "embedding_pad",
    {"type": "Embedding", "num_embeddings": 6, "embedding_dim": 3, "padding_idx": 2},
    nn.Embedding(6, 3, padding_idx=2),
    [torch.tensor([[2, 0, 2, 5], [1, 2, 4, 4]])],
    ["train"],
    randomize_params=False,
)

# ---- activations, with inputs that hit their kinks exactly
elementwise("relu", {"type": "ReLU"}, nn.ReLU(), [0.0, 0.0])
elementwise("relu6", {"type": "ReLU6"}, nn.ReLU6(), [0.0, 6.0, 3.0])
elementwise("leaky_relu", {"type": "LeakyReLU", "negative_slope": 0.2}, nn.LeakyReLU(0.2), [0.0])
elementwise("leaky_relu_default", {"type": "LeakyReLU"}, nn.LeakyReLU(), [0.0])
elementwise("prelu", {"type": "PReLU"}, nn.PReLU(), [0.0, 0.0])
elementwise(
    "prelu_channels", {"type": "PReLU", "num_parameters": 5, "init": 0.1}, nn.PReLU(5, 0.1), [0.0]
)
elementwise("elu", {"type": "ELU", "alpha": 0.5}, nn.ELU(0.5), [0.0])
elementwise("selu", {"type": "SELU"}, nn.SELU(), [0.0])
elementwise("celu", {"type": "CELU", "alpha": 1.5}, nn.CELU(1.5), [0.0])
elementwise("gelu", {"type": "GELU"}, nn.GELU(), [0.0])
elementwise("gelu_tanh", {"type": "GELU", "approximate": "tanh"}, nn.GELU("tanh"), [0.0])
elementwise("silu", {"type": "SiLU"}, nn.SiLU(), [0.0])
elementwise("mish", {"type": "Mish"}, nn.Mish(), [0.0, 25.0, -25.0])
elementwise("sigmoid", {"type": "Sigmoid"}, nn.Sigmoid(), [0.0])
elementwise("tanh", {"type": "Tanh"}, nn.Tanh(), [0.0])
elementwise(
    "hardtanh", {"type": "Hardtanh", "min_val": -2.0, "max_val": 1.5}, nn.Hardtanh(-2.0, 1.5), [-2.0, 1.5]
)
elementwise("hardsigmoid", {"type": "Hardsigmoid"}, nn.Hardsigmoid(), [-3.0, 3.0, 0.0])
elementwise("hardswish", {"type": "Hardswish"}, nn.Hardswish(), [-3.0, 3.0, 0.0])
elementwise("softplus", {"type": "Softplus"}, nn.Softplus(), [0.0, 20.0, 25.0])
elementwise(
    "softplus_beta",
    {"type": "Softplus", "beta": 2.0, "threshold": 5.0},
    nn.Softplus(beta=2.0, threshold=5.0),
    [2.5, 2.6, 0.0],
)
elementwise("softsign", {"type": "Softsign"}, nn.Softsign(), [0.0])
elementwise(
    "threshold",
    {"type": "Threshold", "threshold": 0.5, "value": 20.0},
    nn.Threshold(0.5, 20.0),
    [0.5, 0.5],
)
elementwise("softmax", {"type": "Softmax", "dim": 1}, nn.Softmax(dim=1), [0.0])
elementwise("softmax_last", {"type": "Softmax", "dim": -1}, nn.Softmax(dim=-1), [0.0])
elementwise("log_softmax", {"type": "LogSoftmax", "dim": 1}, nn.LogSoftmax(dim=1), [0.0])

# ---- containers
seq_cfg = {
    "type": "Sequential",
    "layers": [
        {"type": "Linear", "out_features": 5},
        {"type": "ReLU"},
        {
            "type": "Sequential",
            "layers": [{"type": "Linear", "out_features": 4}, {"type": "BatchNorm1d"}],
        },
        {"type": "Tanh"},
    ],
}
seq = nn.Sequential(
    nn.Linear(6, 5), nn.ReLU(), nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4)), nn.Tanh()
)
case("nested_sequential", seq_cfg, seq, [torch.randn(7, 6) for _ in range(3)], ["train", "train", "eval"])

res_cfg = {
    "type": "Sequential",
    "layers": [
        {
            "type": "Residual",
            "layers": [
                {"type": "Linear", "out_features": 6},
                {"type": "ReLU"},
                {"type": "Linear", "out_features": 6},
            ],
        },
        {
            "type": "Residual",
            "layers": [{"type": "Linear", "out_features": 4}, {"type": "BatchNorm1d"}],
            "projection": [{"type": "Linear", "out_features": 4, "bias": False}],
        },
    ],
}
res = nn.Sequential(
    Residual([nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 6)]),
    Residual([nn.Linear(6, 4), nn.BatchNorm1d(4)], projection=[nn.Linear(6, 4, bias=False)]),
)
case("residual", res_cfg, res, [torch.randn(5, 6) for _ in range(2)], ["train", "eval"])

conv_res_cfg = {
    "type": "Residual",
    "layers": [
        {"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1},
        {"type": "BatchNorm2d"},
        {"type": "ReLU"},
        {"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1},
        {"type": "BatchNorm2d"},
    ],
    "projection": [
        {"type": "Conv2d", "out_channels": 4, "kernel_size": 1},
        {"type": "BatchNorm2d"},
    ],
}
conv_res = Residual(
    [
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.BatchNorm2d(4),
    ],
    projection=[nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)],
)
case("conv_residual", conv_res_cfg, conv_res, [torch.randn(2, 3, 6, 6) for _ in range(2)], ["train", "eval"])

# ---- Conv2d (no bias) → BatchNorm2d (→ ReLU): one fused op in wick's train mode
conv_bn_cfg = {
    "type": "Sequential",
    "layers": [
        {"type": "Conv2d", "out_channels": 6, "kernel_size": 3, "padding": 1, "bias": False},
        {"type": "BatchNorm2d"},
        {"type": "ReLU"},
        {"type": "Conv2d", "out_channels": 5, "kernel_size": 3, "stride": 2, "bias": False},
        {"type": "BatchNorm2d", "affine": False},
        {"type": "ReLU"},
        {"type": "Conv2d", "out_channels": 4, "kernel_size": 1, "bias": False},
        {"type": "BatchNorm2d", "momentum": "None", "eps": 1e-3},
        {"type": "ReLU"},
        {"type": "MaxPool2d", "kernel_size": 2},
    ],
}
conv_bn = nn.Sequential(
    nn.Conv2d(3, 6, 3, padding=1, bias=False),
    nn.BatchNorm2d(6),
    nn.ReLU(),
    nn.Conv2d(6, 5, 3, stride=2, bias=False),
    nn.BatchNorm2d(5, affine=False),
    nn.ReLU(),
    nn.Conv2d(5, 4, 1, bias=False),
    nn.BatchNorm2d(4, momentum=None, eps=1e-3),
    nn.ReLU(),
    nn.MaxPool2d(2),
)
case("conv_bn", conv_bn_cfg, conv_bn, [torch.randn(4, 3, 9, 9) * 2 for _ in range(3)], ["train", "train", "eval"])
conv_bn_untracked_cfg = {
    "type": "Sequential",
    "layers": [
        {"type": "Conv2d", "out_channels": 3, "kernel_size": 3, "bias": False},
        {"type": "BatchNorm2d", "track_running_stats": False},
        {"type": "ReLU"},
    ],
}
conv_bn_untracked = nn.Sequential(
    nn.Conv2d(2, 3, 3, bias=False), nn.BatchNorm2d(3, track_running_stats=False), nn.ReLU()
)
case(
    "conv_bn_untracked",
    conv_bn_untracked_cfg,
    conv_bn_untracked,
    [torch.randn(3, 2, 6, 6) for _ in range(2)],
    ["train", "eval"],
)

os.makedirs(os.path.join(ROOT, "assets/fixtures"), exist_ok=True)
OUT = {k: v.contiguous() for k, v in OUT.items()}
save_file(OUT, os.path.join(ROOT, "assets/fixtures/nn_a.safetensors"))
with open(os.path.join(ROOT, "assets/fixtures/nn_a.json"), "w") as f:
    json.dump({"torch": torch.__version__, "cases": CASES}, f, indent=1)
print(f"{len(CASES)} cases, {len(OUT)} tensors")
