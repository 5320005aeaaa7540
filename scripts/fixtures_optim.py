#!/usr/bin/env python3
"""PyTorch parity fixtures for wick-optim: optimizers, LR schedulers, gradient clipping.

Writes assets/fixtures/optim.safetensors (tensors) and assets/fixtures/optim.json (the
cases, each with its wick config in the experiment-file form, deserialized as is by the
Rust tests).

- optimizers: the parameter trajectory over 20 steps from fixed initial parameters and
  a fixed sequence of gradients (`opt.<case>.<param>` = [20, *shape], after each step),
  single-tensor (foreach=False) PyTorch code path.
- schedulers: each group's lr (and momentum/beta1 where cycled) after construction and
  after each of 100 `scheduler.step()` calls (`sched.<case>.lr` = [101, groups]);
  ReduceLROnPlateau steps on a fixed metric sequence (`sched.metric`).
- clipping: clip_grad_norm_/clip_grad_value_ on fixed gradients.

Usage: /tmp/venv/bin/python scripts/fixtures_optim.py
"""
import copy
import fnmatch
import json
import math
import os

import torch
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "assets", "fixtures")
STEPS = 20
SCHED_STEPS = 100

torch.manual_seed(0)
torch.set_num_threads(1)

PARAMS = {
    "0.weight": torch.randn(4, 3),
    "0.bias": torch.randn(4),
    "1.weight": torch.randn(2, 4),
}
GRADS = {name: torch.randn(STEPS, *p.shape) * 0.5 for name, p in PARAMS.items()}

OPT_CASES = [
    ("sgd", {"type": "SGD", "lr": 0.1}),
    ("sgd_momentum", {"type": "SGD", "lr": 0.1, "momentum": 0.9}),
    ("sgd_dampening_wd", {"type": "SGD", "lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("sgd_nesterov", {"type": "SGD", "lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("sgd_maximize", {"type": "SGD", "lr": 0.1, "momentum": 0.5, "maximize": True}),
    ("sgd_groups", {"type": "SGD", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.01,
                    "param_groups": [{"params": ["*.bias"], "weight_decay": 0.0},
                                     {"params": ["1.*"], "lr": 0.05, "nesterov": True}]}),
    ("adam", {"type": "Adam", "lr": 0.01}),
    ("adam_wd", {"type": "Adam", "lr": 0.01, "weight_decay": 0.1}),
    ("adam_amsgrad", {"type": "Adam", "lr": 0.01, "amsgrad": True, "betas": [0.8, 0.9], "eps": 1e-6}),
    ("adam_maximize", {"type": "Adam", "lr": 0.01, "maximize": True, "weight_decay": 0.1}),
    ("adam_decoupled", {"type": "Adam", "lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("adam_groups", {"type": "Adam", "lr": 0.01, "weight_decay": 0.1,
                     "param_groups": [{"params": ["*.bias"], "weight_decay": 0.0, "amsgrad": True},
                                      {"params": ["1.weight"], "lr": 0.002, "betas": [0.5, 0.6]}]}),
    ("adamw", {"type": "AdamW", "lr": 0.01}),
    ("adamw_amsgrad", {"type": "AdamW", "lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("adamw_maximize", {"type": "AdamW", "lr": 0.01, "maximize": True}),
    ("rmsprop", {"type": "RMSprop", "lr": 0.01}),
    ("rmsprop_centered", {"type": "RMSprop", "lr": 0.01, "centered": True}),
    ("rmsprop_momentum", {"type": "RMSprop", "lr": 0.01, "momentum": 0.9, "alpha": 0.9}),
    ("rmsprop_all", {"type": "RMSprop", "lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.1, "eps": 1e-4}),
    ("rmsprop_maximize", {"type": "RMSprop", "lr": 0.01, "maximize": True}),
    ("adagrad", {"type": "Adagrad", "lr": 0.1}),
    ("adagrad_all", {"type": "Adagrad", "lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.1}),
    ("adagrad_maximize", {"type": "Adagrad", "lr": 0.1, "maximize": True}),
    ("adadelta", {"type": "Adadelta"}),
    ("adadelta_wd", {"type": "Adadelta", "lr": 0.5, "rho": 0.8, "weight_decay": 0.1, "maximize": True}),
    ("adamax", {"type": "Adamax", "lr": 0.01}),
    ("adamax_wd", {"type": "Adamax", "lr": 0.01, "weight_decay": 0.1, "betas": [0.8, 0.95]}),
    ("adamax_maximize", {"type": "Adamax", "lr": 0.01, "maximize": True}),
    ("nadam", {"type": "NAdam", "lr": 0.01}),
    ("nadam_wd", {"type": "NAdam", "lr": 0.01, "weight_decay": 0.1, "momentum_decay": 0.01}),
    ("nadam_decoupled", {"type": "NAdam", "lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
    ("radam", {"type": "RAdam", "lr": 0.01}),
    ("radam_wd", {"type": "RAdam", "lr": 0.01, "weight_decay": 0.1}),
    ("radam_decoupled", {"type": "RAdam", "lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "betas": [0.9, 0.9]}),
]


def torch_kwargs(cfg):
    kw = {k: v for k, v in cfg.items() if k not in ("type", "param_groups", "params")}
    if "betas" in kw:
        kw["betas"] = tuple(kw["betas"])
    return kw


def build_optimizer(cfg, named):
    """named: list of (name, tensor). Default group first, then the param_groups entries."""
    groups_cfg = cfg.get("param_groups", [])
    owner = {}
    for gi, g in enumerate(groups_cfg):
        for pat in g["params"]:
            for name, _ in named:
                if fnmatch.fnmatchcase(name, pat):
                    assert owner.get(name, gi) == gi
                    owner[name] = gi
    groups = []
    default = [p for n, p in named if n not in owner]
    if default:
        groups.append({"params": default})
    for gi, g in enumerate(groups_cfg):
        d = torch_kwargs(g)
        d["params"] = [p for n, p in named if owner.get(n) == gi]
        groups.append(d)
    cls = getattr(torch.optim, cfg["type"])
    return cls(groups, foreach=False, **torch_kwargs(cfg))


def optimizer_fixtures(tensors, cases):
    for name, p in PARAMS.items():
        tensors[f"init.{name}"] = p.clone()
        tensors[f"grads.{name}"] = GRADS[name].clone()
    for case, cfg in OPT_CASES:
        named = [(n, p.clone().requires_grad_(True)) for n, p in PARAMS.items()]
        opt = build_optimizer(cfg, named)
        traj = {n: [] for n, _ in named}
        for s in range(STEPS):
            for n, p in named:
                p.grad = GRADS[n][s].clone()
            opt.step()
            for n, p in named:
                traj[n].append(p.detach().clone())
        for n in traj:
            tensors[f"opt.{case}.{n}"] = torch.stack(traj[n])
        cases["optimizers"].append({"name": case, "config": cfg})


# ---------------------------------------------------------------------------
# schedulers
SCHED_CASES = [
    ("step", "SGD", {"type": "StepLR", "step_size": 7, "gamma": 0.5}),
    ("multistep", "SGD", {"type": "MultiStepLR", "milestones": [10, 25, 25, 60], "gamma": 0.3}),
    ("exponential", "SGD", {"type": "ExponentialLR", "gamma": 0.97}),
    ("cosine", "SGD", {"type": "CosineAnnealingLR", "T_max": 30, "eta_min": 0.001}),
    ("cosine_default", "SGD", {"type": "CosineAnnealingLR", "T_max": 100}),
    ("warm_restarts", "SGD", {"type": "CosineAnnealingWarmRestarts", "T_0": 10, "T_mult": 2, "eta_min": 0.001}),
    ("warm_restarts_1", "SGD", {"type": "CosineAnnealingWarmRestarts", "T_0": 7}),
    ("linear", "SGD", {"type": "LinearLR", "start_factor": 0.25, "end_factor": 0.9, "total_iters": 20}),
    ("linear_default", "SGD", {"type": "LinearLR"}),
    ("constant", "SGD", {"type": "ConstantLR", "factor": 0.5, "total_iters": 10}),
    ("polynomial", "SGD", {"type": "PolynomialLR", "total_iters": 40, "power": 2.0}),
    ("onecycle", "SGD", {"type": "OneCycleLR", "max_lr": 1.0, "total_steps": 100}),
    ("onecycle_adam", "Adam", {"type": "OneCycleLR", "max_lr": [0.01, 0.02], "epochs": 10, "steps_per_epoch": 10,
                               "pct_start": 0.25, "anneal_strategy": "linear", "div_factor": 10.0,
                               "final_div_factor": 100.0}),
    ("onecycle_three", "SGD", {"type": "OneCycleLR", "max_lr": 0.5, "total_steps": 100, "three_phase": True,
                               "cycle_momentum": False}),
    ("cyclic", "SGD", {"type": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1, "step_size_up": 10}),
    ("cyclic2", "SGD", {"type": "CyclicLR", "base_lr": [0.01, 0.02], "max_lr": 0.1, "step_size_up": 5,
                        "step_size_down": 15, "mode": "triangular2"}),
    ("cyclic_exp", "Adam", {"type": "CyclicLR", "base_lr": 0.001, "max_lr": 0.01, "step_size_up": 8,
                            "mode": "exp_range", "gamma": 0.98, "base_momentum": 0.85, "max_momentum": 0.95}),
    ("plateau", "SGD", {"type": "ReduceLROnPlateau", "monitor": "test_loss", "factor": 0.5, "patience": 3,
                        "cooldown": 2, "min_lr": 0.004}),
    ("plateau_max_abs", "SGD", {"type": "ReduceLROnPlateau", "monitor": "test_acc", "mode": "max", "patience": 2,
                                "threshold": 0.05, "threshold_mode": "abs", "factor": 0.7}),
    ("sequential", "SGD", {"type": "SequentialLR", "milestones": [5],
                           "schedulers": [{"type": "LinearLR", "start_factor": 0.1, "total_iters": 5},
                                          {"type": "CosineAnnealingLR", "T_max": 95}]}),
    ("sequential3", "SGD", {"type": "SequentialLR", "milestones": [10, 40],
                            "schedulers": [{"type": "ConstantLR", "factor": 0.1, "total_iters": 10},
                                           {"type": "ExponentialLR", "gamma": 0.9},
                                           {"type": "StepLR", "step_size": 20, "gamma": 0.5}]}),
    ("chained", "SGD", {"type": "ChainedScheduler",
                        "schedulers": [{"type": "ConstantLR", "factor": 0.5, "total_iters": 4},
                                       {"type": "ExponentialLR", "gamma": 0.95}]}),
]

# a metric that improves, stalls, wobbles: exercises patience, cooldown and thresholds
METRIC = [1.0 / (1 + 0.1 * i) + 0.05 * math.sin(i * 0.7) + (0.2 if i > 60 else 0.0) for i in range(SCHED_STEPS)]


def sched_optimizer(kind):
    a = torch.zeros(2, requires_grad=True)
    b = torch.zeros(2, requires_grad=True)
    if kind == "SGD":
        return torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1, momentum=0.9)
    return torch.optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1)


def build_scheduler(opt, cfg):
    kw = {k: v for k, v in cfg.items() if k not in ("type", "monitor", "interval")}
    ty = cfg["type"]
    if ty in ("SequentialLR", "ChainedScheduler"):
        kw["schedulers"] = [build_scheduler(opt, c) for c in cfg["schedulers"]]
        if ty == "ChainedScheduler":
            return torch.optim.lr_scheduler.ChainedScheduler(kw["schedulers"], optimizer=opt)
    return getattr(torch.optim.lr_scheduler, ty)(opt, **kw)


def momenta(opt):
    out = []
    for g in opt.param_groups:
        out.append(g["betas"][0] if "betas" in g else g["momentum"])
    return out


def scheduler_fixtures(tensors, cases):
    tensors["sched.metric"] = torch.tensor(METRIC, dtype=torch.float64)
    for case, kind, cfg in SCHED_CASES:
        opt = sched_optimizer(kind)
        sched = build_scheduler(opt, copy.deepcopy(cfg))
        lrs = [[g["lr"] for g in opt.param_groups]]
        moms = [momenta(opt)]
        for i in range(SCHED_STEPS):
            opt.step()
            if cfg["type"] == "ReduceLROnPlateau":
                sched.step(METRIC[i])
            else:
                sched.step()
            lrs.append([g["lr"] for g in opt.param_groups])
            moms.append(momenta(opt))
        tensors[f"sched.{case}.lr"] = torch.tensor(lrs, dtype=torch.float64)
        tensors[f"sched.{case}.momentum"] = torch.tensor(moms, dtype=torch.float64)
        cases["schedulers"].append({"name": case, "optimizer": kind, "config": cfg})


# ---------------------------------------------------------------------------
# clipping
CLIP_CASES = [
    ("norm2", {"max_norm": 1.0}),
    ("norm1", {"max_norm": 2.0, "norm_type": 1.0}),
    ("norm_inf", {"max_norm": 0.5, "norm_type": "inf"}),
    ("norm3", {"max_norm": 0.7, "norm_type": 3.0}),
    ("no_clip", {"max_norm": 100.0}),
]


def clip_fixtures(tensors, cases):
    grads = {n: torch.randn(*p.shape) for n, p in PARAMS.items()}
    for n, g in grads.items():
        tensors[f"clip.grad.{n}"] = g.clone()
    for case, cfg in CLIP_CASES:
        ps = []
        for n, p in PARAMS.items():
            q = p.clone().requires_grad_(True)
            q.grad = grads[n].clone()
            ps.append((n, q))
        nt = cfg.get("norm_type", 2.0)
        nt = float("inf") if nt == "inf" else nt
        total = torch.nn.utils.clip_grad_norm_([q for _, q in ps], cfg["max_norm"], norm_type=nt, foreach=False)
        tensors[f"clip.{case}.total_norm"] = total.reshape(1).clone()
        for n, q in ps:
            tensors[f"clip.{case}.{n}"] = q.grad.clone()
        cases["clip_norm"].append({"name": case, "config": cfg})
    ps = []
    for n, p in PARAMS.items():
        q = p.clone().requires_grad_(True)
        q.grad = grads[n].clone()
        ps.append((n, q))
    torch.nn.utils.clip_grad_value_([q for _, q in ps], 0.3, foreach=False)
    for n, q in ps:
        tensors[f"clip.value.{n}"] = q.grad.clone()
    cases["clip_value"] = 0.3


def main():
    tensors, cases = {}, {"optimizers": [], "schedulers": [], "clip_norm": []}
    optimizer_fixtures(tensors, cases)
    scheduler_fixtures(tensors, cases)
    clip_fixtures(tensors, cases)
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    save_file(tensors, os.path.join(OUT, "optim.safetensors"), metadata={"torch": torch.__version__})
    with open(os.path.join(OUT, "optim.json"), "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")
    print(f"wrote {len(tensors)} tensors, {len(cases['optimizers'])} optimizer, "
          f"{len(cases['schedulers'])} scheduler, {len(cases['clip_norm'])} clip cases")


if __name__ == "__main__":
    main()
