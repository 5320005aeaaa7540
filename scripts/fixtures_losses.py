#!/usr/bin/env python3
"""PyTorch parity fixtures for wick-losses.

Writes assets/fixtures/losses.safetensors (float32 tensors; class targets int64) and
assets/fixtures/losses.json, the list of cases:
  {"name", "config": wick's [loss] table (type + PyTorch arguments), "inputs": [tensor keys,
   in wick's forward_inputs order], "target": key or null, "upstream": key or null,
   "target_grad": bool}
For each case the safetensors file holds `<name>.loss` (the loss value) and
`<name>.grad.<i>`: d(loss)/d(input i) for reductions mean/sum/batchmean, and
d(sum(loss * upstream))/d(input i) for reduction "none" (upstream: a random tensor);
with target_grad, also `<name>.target_grad`.

Usage: python scripts/fixtures_losses.py [--out-dir assets/fixtures]
"""
import argparse
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(0)
torch.set_num_threads(1)

T = {}  # tensors to save
CASES = []
N, C = 6, 5


def put(key, t):
    T[key] = t.detach().clone().contiguous()
    return key


def torch_call(cfg, inputs, target):
    """Builds the torch module from a wick config and calls it in PyTorch's order."""
    kw = {k: v for k, v in cfg.items() if k != "type"}
    for k in ("weight", "pos_weight"):
        if k in kw:
            kw[k] = torch.tensor(kw[k], dtype=torch.float32)
    m = getattr(nn, cfg["type"])(**kw)
    ty = cfg["type"]
    if ty in ("CosineEmbeddingLoss", "MarginRankingLoss"):
        return m(inputs[0], inputs[1], target)
    if ty == "TripletMarginLoss":
        return m(*inputs)
    if ty == "GaussianNLLLoss":
        return m(inputs[0], target, inputs[1])
    return m(inputs[0], target)


def case(name, cfg, inputs, target=None, target_grad=False):
    """inputs: list of float tensors; target: tensor or None."""
    xs = [x.detach().clone().requires_grad_(True) for x in inputs]
    keys = [put(f"{name}.in.{i}", x) for i, x in enumerate(inputs)]
    tkey = None
    t = None
    if target is not None:
        t = target.detach().clone()
        if target_grad:
            t.requires_grad_(True)
        tkey = put(f"{name}.target", target)
    loss = torch_call(cfg, xs, t)
    ukey = None
    if cfg.get("reduction", "mean") == "none":
        up = torch.randn(loss.shape)
        ukey = put(f"{name}.upstream", up)
        obj = (loss * up).sum()
    else:
        obj = loss
    obj.backward()
    put(f"{name}.loss", loss)
    for i, x in enumerate(xs):
        g = x.grad if x.grad is not None else torch.zeros_like(x)
        put(f"{name}.grad.{i}", g)
    if target_grad:
        put(f"{name}.target_grad", t.grad)
    assert torch.isfinite(loss).all(), name
    CASES.append({"name": name, "config": cfg, "inputs": keys, "target": tkey,
                  "upstream": ukey, "target_grad": target_grad})


def reductions(name, cfg, inputs, target=None, target_grad=False, extra=()):
    for r in ("mean", "sum", "none") + tuple(extra):
        case(f"{name}.{r}", dict(cfg, reduction=r), inputs, target, target_grad)


def main():
    ap = argparse.ArgumentParser()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--out-dir", default=os.path.join(root, "assets", "fixtures"))
    args = ap.parse_args()

    x = torch.randn(N, C)
    y = torch.randn(N, C)
    y.view(-1)[::4] = x.view(-1)[::4]  # exact zeros of x − y: the L1 subgradient
    # regression losses
    reductions("mse", {"type": "MSELoss"}, [x], y, target_grad=True)
    case("mse.kdim", {"type": "MSELoss"}, [torch.randn(2, 3, 4)], torch.randn(2, 3, 4))
    reductions("l1", {"type": "L1Loss"}, [x], y, target_grad=True)
    xs, ys = 2 * x, 2 * y
    reductions("smooth_l1", {"type": "SmoothL1Loss"}, [xs], ys, target_grad=True)
    case("smooth_l1.beta05", {"type": "SmoothL1Loss", "beta": 0.5}, [xs], ys)
    case("smooth_l1.beta0", {"type": "SmoothL1Loss", "beta": 0.0, "reduction": "none"}, [xs], ys)
    reductions("huber", {"type": "HuberLoss"}, [xs], ys, target_grad=True)
    case("huber.delta03", {"type": "HuberLoss", "delta": 0.3, "reduction": "sum"}, [xs], ys)
    case("huber.delta2", {"type": "HuberLoss", "delta": 2.0, "reduction": "none"}, [xs], ys)

    # binary cross-entropy
    p = torch.sigmoid(2 * torch.randn(N, C))
    soft = torch.rand(N, C)
    hard = (torch.rand(N, C) > 0.5).float()
    w = [0.5, 1.0, 2.0, 1.5, 0.25]
    reductions("bce", {"type": "BCELoss"}, [p], soft, target_grad=True)
    case("bce.hard", {"type": "BCELoss"}, [p], hard)
    case("bce.weight", {"type": "BCELoss", "weight": w}, [p], soft, target_grad=True)
    case("bce.weight_none", {"type": "BCELoss", "weight": w, "reduction": "none"}, [p], hard)
    # exact 0 and 1 where the target agrees: loss 0, gradient 0 (PyTorch's 1e-12 floor)
    pe = torch.tensor([[0.0, 1.0, 0.3, 1e-7], [1.0 - 1e-7, 0.0, 1.0, 0.5]])
    ye = torch.tensor([[0.0, 1.0, 0.2, 0.0], [1.0, 0.0, 1.0, 1.0]])
    case("bce.edges", {"type": "BCELoss", "reduction": "none"}, [pe], ye)
    # log clamped at −100: x = 0 with y = 1, x = 1 with y = 0
    pc = torch.tensor([0.0, 1.0, 0.0, 1.0])
    yc = torch.tensor([1.0, 0.0, 0.5, 0.5])
    case("bce.clamp", {"type": "BCELoss", "reduction": "none"}, [pc], yc)

    z = 3 * torch.randn(N, C)
    z.view(-1)[::7] = 0.0
    z[0, :3] = torch.tensor([40.0, -40.0, 120.0])
    z[1, :2] = torch.tensor([-120.0, 0.0])
    reductions("bcel", {"type": "BCEWithLogitsLoss"}, [z], soft, target_grad=True)
    case("bcel.hard", {"type": "BCEWithLogitsLoss"}, [z], hard)
    case("bcel.weight", {"type": "BCEWithLogitsLoss", "weight": w}, [z], soft)
    case("bcel.pos_weight", {"type": "BCEWithLogitsLoss", "pos_weight": [3.0, 0.5, 1.0, 2.0, 0.1]},
         [z], soft, target_grad=True)
    case("bcel.pos_weight_none", {"type": "BCEWithLogitsLoss", "reduction": "none",
                                  "pos_weight": [3.0, 0.5, 1.0, 2.0, 0.1]}, [z], hard)
    case("bcel.both_sum", {"type": "BCEWithLogitsLoss", "reduction": "sum", "weight": w,
                           "pos_weight": [2.5]}, [z], soft)

    # cross-entropy and NLL
    logits = torch.randn(N, C)
    cls = torch.tensor([0, 4, 2, 2, 1, 3])
    probs = torch.softmax(torch.randn(N, C), 1)
    reductions("ce.probs", {"type": "CrossEntropyLoss"}, [logits], probs)
    case("ce.probs_weight_smooth", {"type": "CrossEntropyLoss", "weight": w, "label_smoothing": 0.2},
         [logits], probs)
    kd = torch.randn(2, 4, 3, 3)
    kt = torch.randint(0, 4, (2, 3, 3))
    kt[0, 0, 0] = -100
    reductions("ce.kdim", {"type": "CrossEntropyLoss"}, [kd], kt)
    case("ce.kdim_weight_smooth", {"type": "CrossEntropyLoss", "weight": [0.3, 1.0, 2.0, 0.7],
                                   "label_smoothing": 0.1}, [kd], kt)
    case("ce.kdim_probs", {"type": "CrossEntropyLoss", "reduction": "none"}, [kd],
         torch.softmax(torch.randn(2, 4, 3, 3), 1))
    case("ce.single", {"type": "CrossEntropyLoss"}, [torch.randn(C)], torch.tensor(3))

    logp = torch.log_softmax(torch.randn(N, C), 1)
    reductions("nll", {"type": "NLLLoss"}, [logp], cls)
    case("nll.weight", {"type": "NLLLoss", "weight": w}, [logp], cls)
    case("nll.weight_sum", {"type": "NLLLoss", "weight": w, "reduction": "sum"}, [logp], cls)
    case("nll.ignore", {"type": "NLLLoss", "ignore_index": 2}, [logp], cls)
    case("nll.weight_ignore_none", {"type": "NLLLoss", "weight": w, "ignore_index": 2,
                                    "reduction": "none"}, [logp], cls)
    case("nll.kdim", {"type": "NLLLoss", "weight": [0.3, 1.0, 2.0, 0.7]},
         [torch.log_softmax(kd, 1)], kt)

    # KL divergence
    q = torch.softmax(torch.randn(N, C), 1)
    q[0, 1] = 0.0
    q[3, 4] = 0.0
    reductions("kl", {"type": "KLDivLoss"}, [logp], q, extra=("batchmean",))
    case("kl.log_target", {"type": "KLDivLoss", "log_target": True}, [logp],
         torch.log_softmax(torch.randn(N, C), 1))
    case("kl.log_target_batchmean", {"type": "KLDivLoss", "log_target": True,
                                     "reduction": "batchmean"}, [logp],
         torch.log_softmax(torch.randn(N, C), 1))
    case("kl.log_target_none", {"type": "KLDivLoss", "log_target": True, "reduction": "none"},
         [logp], torch.log_softmax(torch.randn(N, C), 1))

    # pairwise and embedding losses
    x1, x2 = torch.randn(N, C), torch.randn(N, C)
    x2[1] = 2 * x1[1]  # cos = 1 exactly for a negative pair
    pm = torch.tensor([1.0, -1.0, 1.0, -1.0, -1.0, 1.0])
    reductions("cosine", {"type": "CosineEmbeddingLoss"}, [x1, x2], pm)
    case("cosine.margin", {"type": "CosineEmbeddingLoss", "margin": 0.2}, [x1, x2], pm)
    case("cosine.margin_none", {"type": "CosineEmbeddingLoss", "margin": -0.3,
                                "reduction": "none"}, [x1, x2], pm)
    case("cosine.single", {"type": "CosineEmbeddingLoss", "margin": 0.1},
         [torch.randn(C), torch.randn(C)], torch.tensor(-1.0))

    s1, s2 = torch.randn(8), torch.randn(8)
    s2[2] = s1[2]  # exactly at the hinge (margin 0)
    ps = torch.tensor([1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0])
    reductions("ranking", {"type": "MarginRankingLoss"}, [s1, s2], ps)
    case("ranking.margin", {"type": "MarginRankingLoss", "margin": 0.5, "reduction": "none"},
         [s1, s2], ps)

    a, po, ne = torch.randn(N, C), torch.randn(N, C), torch.randn(N, C)
    reductions("triplet", {"type": "TripletMarginLoss"}, [a, po, ne])
    case("triplet.p1", {"type": "TripletMarginLoss", "p": 1.0, "margin": 2.0}, [a, po, ne])
    case("triplet.p3", {"type": "TripletMarginLoss", "p": 3.0, "reduction": "sum"}, [a, po, ne])
    case("triplet.swap", {"type": "TripletMarginLoss", "swap": True, "margin": 3.0,
                          "reduction": "none"}, [a, po, ne])
    case("triplet.eps", {"type": "TripletMarginLoss", "eps": 0.1, "margin": 2.5},
         [a, po, ne])
    case("triplet.single", {"type": "TripletMarginLoss", "margin": 2.0},
         [torch.randn(C), torch.randn(C), torch.randn(C)])

    hx = torch.randn(N, C)
    hy = torch.where(torch.rand(N, C) > 0.5, 1.0, -1.0)
    hx[0, 0], hy[0, 0] = 1.0, -1.0  # exactly at the margin
    reductions("hinge", {"type": "HingeEmbeddingLoss"}, [hx], hy)
    case("hinge.margin", {"type": "HingeEmbeddingLoss", "margin": 2.0, "reduction": "none"},
         [hx], hy)

    reductions("soft_margin", {"type": "SoftMarginLoss"}, [z / 3], hy)

    reductions("multilabel", {"type": "MultiLabelSoftMarginLoss"}, [z], hard)
    case("multilabel.weight", {"type": "MultiLabelSoftMarginLoss", "weight": w}, [z], hard)
    case("multilabel.weight_none", {"type": "MultiLabelSoftMarginLoss", "weight": w,
                                    "reduction": "none"}, [z], hard)
    case("multilabel.single", {"type": "MultiLabelSoftMarginLoss"}, [torch.randn(C)],
         torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0]))

    # likelihoods
    counts = torch.poisson(3 * torch.rand(N, C))
    counts[0, :3] = torch.tensor([0.0, 1.0, 2.0])
    reductions("poisson", {"type": "PoissonNLLLoss"}, [x], counts)
    rate = torch.rand(N, C) * 4 + 0.1
    rate[1, 1] = 0.0  # log(0 + eps)
    case("poisson.rate", {"type": "PoissonNLLLoss", "log_input": False}, [rate], counts)
    case("poisson.full", {"type": "PoissonNLLLoss", "full": True, "reduction": "none"},
         [x], counts)
    case("poisson.rate_full_eps", {"type": "PoissonNLLLoss", "log_input": False, "full": True,
                                   "eps": 0.01, "reduction": "sum"}, [rate], counts)

    mu = torch.randn(N, C)
    var = torch.rand(N, C) + 0.05
    var[0, 0] = 1e-8  # clamped to eps
    var[2, 3] = 0.0
    reductions("gauss", {"type": "GaussianNLLLoss"}, [mu, var], y)
    case("gauss.full", {"type": "GaussianNLLLoss", "full": True}, [mu, var], y)
    case("gauss.eps", {"type": "GaussianNLLLoss", "eps": 0.1, "reduction": "sum"}, [mu, var], y)
    case("gauss.var_n", {"type": "GaussianNLLLoss"}, [mu, torch.rand(N) + 0.1], y)
    case("gauss.var_n1", {"type": "GaussianNLLLoss", "reduction": "none"},
         [mu, torch.rand(N, 1) + 0.1], y)
    case("gauss.var_1c", {"type": "GaussianNLLLoss"},
         [torch.randn(2, 3, 4), torch.rand(2, 1, 4) + 0.1], torch.randn(2, 3, 4))

    os.makedirs(args.out_dir, exist_ok=True)
    save_file(T, os.path.join(args.out_dir, "losses.safetensors"))
    with open(os.path.join(args.out_dir, "losses.json"), "w") as f:
        json.dump(CASES, f, indent=1)
        f.write("\n")
    print(f"{len(CASES)} cases, {len(T)} tensors")


if __name__ == "__main__":
    main()
