#!/usr/bin/env python3
"""PyTorch parity fixtures for wick-nn's convolutions and poolings.

Writes assets/fixtures/nn_b.safetensors (float32) and assets/fixtures/nn_b.json (the
cases). For each case: the layer's config as wick reads it (PyTorch's argument names;
lists for tuples, null for None), its repr, the weight bound of PyTorch's default init,
and tensors `<case>.x` (input), `.out`, `.g` (the weight of the loss
`(out * g).sum()`), `.gx` (input gradient), `.param.<name>` and `.grad.<name>`.

Deterministic: torch.manual_seed per case, 1 thread.
Usage: /tmp/venv/bin/python scripts/fixtures_nn_b.py
"""
import json
import math
import os

import torch
import torch.nn as nn
from safetensors.torch import save_file

torch.set_num_threads(1)

# (name, config, input shape, ties): ties = integer-valued inputs (many equal maxima)
CASES = [
    # Conv2d
    ("c2d_basic", {"type": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3, "padding": 1}, [2, 3, 7, 6], False),
    ("c2d_stride_rect", {"type": "Conv2d", "in_channels": 3, "out_channels": 5, "kernel_size": [3, 2], "stride": [2, 3], "padding": [1, 2]}, [2, 3, 9, 8], False),
    ("c2d_dil_groups", {"type": "Conv2d", "in_channels": 4, "out_channels": 6, "kernel_size": 3, "dilation": [2, 1], "groups": 2, "padding": 2, "bias": False}, [2, 4, 9, 7], False),
    ("c2d_same_even", {"type": "Conv2d", "in_channels": 2, "out_channels": 3, "kernel_size": [4, 3], "padding": "same", "dilation": [1, 2]}, [2, 2, 7, 8], False),
    ("c2d_valid_stride", {"type": "Conv2d", "in_channels": 2, "out_channels": 3, "kernel_size": 3, "padding": "valid", "stride": 2}, [3, 2, 8, 9], False),
    ("c2d_reflect", {"type": "Conv2d", "in_channels": 2, "out_channels": 4, "kernel_size": 3, "padding": [2, 1], "stride": [1, 2], "padding_mode": "reflect"}, [2, 2, 6, 7], False),
    ("c2d_replicate_same", {"type": "Conv2d", "in_channels": 4, "out_channels": 2, "kernel_size": [3, 4], "padding": "same", "groups": 2, "padding_mode": "replicate"}, [2, 4, 5, 6], False),
    ("c2d_circular", {"type": "Conv2d", "in_channels": 3, "out_channels": 3, "kernel_size": 3, "padding": [1, 2], "stride": 2, "padding_mode": "circular"}, [2, 3, 7, 5], False),
    ("c2d_depthwise", {"type": "Conv2d", "in_channels": 3, "out_channels": 6, "kernel_size": [2, 3], "groups": 3, "padding": [0, 1], "stride": [2, 1]}, [2, 3, 7, 6], False),
    ("c2d_pointwise", {"type": "Conv2d", "in_channels": 5, "out_channels": 3, "kernel_size": 1}, [2, 5, 4, 3], False),
    ("c2d_pointwise_stride", {"type": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 1, "stride": 2, "padding": 1}, [2, 3, 5, 4], False),
    ("c2d_w2_shape", {"type": "Conv2d", "in_channels": 8, "out_channels": 16, "kernel_size": 3, "padding": 1}, [20, 8, 14, 14], False),
    # Conv1d
    ("c1d_basic", {"type": "Conv1d", "in_channels": 3, "out_channels": 4, "kernel_size": 3, "padding": 1}, [2, 3, 11], False),
    ("c1d_same_dil_reflect", {"type": "Conv1d", "in_channels": 2, "out_channels": 3, "kernel_size": 4, "padding": "same", "dilation": 2, "padding_mode": "reflect"}, [2, 2, 10], False),
    ("c1d_circular_groups", {"type": "Conv1d", "in_channels": 3, "out_channels": 6, "kernel_size": 3, "padding": 2, "groups": 3, "stride": 3, "padding_mode": "circular", "bias": False}, [2, 3, 13], False),
    ("c1d_replicate", {"type": "Conv1d", "in_channels": 2, "out_channels": 2, "kernel_size": 5, "padding": 3, "stride": 2, "padding_mode": "replicate"}, [3, 2, 9], False),
    # ConvTranspose2d
    ("ct2d_basic", {"type": "ConvTranspose2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1}, [2, 3, 4, 5], False),
    ("ct2d_rect_groups", {"type": "ConvTranspose2d", "in_channels": 4, "out_channels": 2, "kernel_size": [3, 2], "stride": [2, 3], "padding": [1, 0], "output_padding": [1, 2], "groups": 2, "dilation": [1, 2]}, [2, 4, 3, 4], False),
    ("ct2d_outpad_dilation", {"type": "ConvTranspose2d", "in_channels": 2, "out_channels": 3, "kernel_size": 3, "dilation": 2, "output_padding": 1}, [2, 2, 4, 3], False),
    ("ct2d_nobias", {"type": "ConvTranspose2d", "in_channels": 3, "out_channels": 2, "kernel_size": 4, "stride": 2, "padding": 1, "bias": False}, [2, 3, 5, 5], False),
    # MaxPool2d / MaxPool1d
    ("mp2d_k2_ties", {"type": "MaxPool2d", "kernel_size": 2}, [2, 3, 7, 9], True),
    ("mp2d_k3s2p1_ceil", {"type": "MaxPool2d", "kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, [2, 2, 8, 7], True),
    ("mp2d_rect_dil", {"type": "MaxPool2d", "kernel_size": [3, 2], "stride": [1, 2], "padding": [1, 0], "dilation": [2, 1]}, [2, 2, 7, 8], True),
    ("mp2d_overlap_floats", {"type": "MaxPool2d", "kernel_size": 3, "stride": 1, "ceil_mode": True}, [2, 2, 6, 5], False),
    ("mp1d_ceil_dil", {"type": "MaxPool1d", "kernel_size": 3, "stride": 2, "padding": 1, "dilation": 2, "ceil_mode": True}, [2, 3, 12], True),
    ("mp1d_k2", {"type": "MaxPool1d", "kernel_size": 2}, [2, 3, 9], True),
    # AvgPool2d / AvgPool1d
    ("ap2d_incl_ceil", {"type": "AvgPool2d", "kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, [2, 2, 8, 7], False),
    ("ap2d_excl_ceil", {"type": "AvgPool2d", "kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False}, [2, 2, 8, 7], False),
    ("ap2d_divisor", {"type": "AvgPool2d", "kernel_size": [3, 2], "stride": [2, 1], "padding": [1, 1], "divisor_override": 5}, [2, 2, 7, 6], False),
    ("ap2d_floor_drops", {"type": "AvgPool2d", "kernel_size": 2}, [2, 3, 7, 5], False),
    ("ap1d_excl", {"type": "AvgPool1d", "kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}, [2, 3, 10], False),
    ("ap1d_ceil", {"type": "AvgPool1d", "kernel_size": 4, "stride": 3, "padding": 2, "ceil_mode": True}, [2, 2, 11], False),
    # Adaptive
    ("aap2d_3x4", {"type": "AdaptiveAvgPool2d", "output_size": [3, 4]}, [2, 3, 7, 10], False),
    ("aap2d_none", {"type": "AdaptiveAvgPool2d", "output_size": [5, None]}, [2, 2, 9, 6], False),
    ("aap2d_1", {"type": "AdaptiveAvgPool2d", "output_size": 1}, [2, 3, 5, 7], False),
    ("aap2d_up", {"type": "AdaptiveAvgPool2d", "output_size": [9, 4]}, [2, 2, 5, 3], False),
    ("amp2d_3x2_ties", {"type": "AdaptiveMaxPool2d", "output_size": [3, 2]}, [2, 3, 7, 5], True),
    ("amp2d_none", {"type": "AdaptiveMaxPool2d", "output_size": [None, 4]}, [2, 2, 6, 9], False),
    ("amp2d_1", {"type": "AdaptiveMaxPool2d", "output_size": 1}, [2, 2, 4, 4], True),
]


def build(cfg):
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items() if k != "type"}
    return getattr(nn, cfg["type"])(**kwargs)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tensors, cases = {}, []
    for i, (name, cfg, shape, ties) in enumerate(CASES):
        torch.manual_seed(1000 + i)
        m = build(cfg)
        if ties:
            x = torch.randint(0, 4, shape).float()
        else:
            x = torch.randn(shape)
        x.requires_grad_(True)
        out = m(x)
        g = torch.randn_like(out)
        (out * g).sum().backward()
        tensors[f"{name}.x"] = x.detach()
        tensors[f"{name}.out"] = out.detach()
        tensors[f"{name}.g"] = g
        tensors[f"{name}.gx"] = x.grad.detach()
        params = []
        for pname, p in m.named_parameters():
            tensors[f"{name}.param.{pname}"] = p.detach()
            tensors[f"{name}.grad.{pname}"] = p.grad.detach()
            params.append(pname)
        case = {"name": name, "config": cfg, "input": shape, "repr": repr(m), "params": params}
        if hasattr(m, "weight"):
            fan_in, _ = nn.init._calculate_fan_in_and_fan_out(m.weight)
            case["init_bound"] = 1.0 / math.sqrt(fan_in)
        cases.append(case)
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    out = os.path.join(root, "assets", "fixtures")
    save_file(tensors, os.path.join(out, "nn_b.safetensors"))
    with open(os.path.join(out, "nn_b.json"), "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases, {len(tensors)} tensors")


if __name__ == "__main__":
    main()
