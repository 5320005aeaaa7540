#!/usr/bin/env python3
"""torchvision's architectures as wick's zoo must reproduce them: for each, the
state_dict keys with their shapes (in order) and the parameter count
(assets/fixtures/zoo.json); and for the smallest, squeezenet1_1, a randomly
initialised state_dict as torch.save writes it (assets/fixtures/zoo/squeezenet1_1.pth)
with its eval-mode logits on two synthetic photographs made from fixed seeds
(assets/fixtures/zoo/squeezenet1_1.safetensors: `input` after the tutorial's eval
transforms, `logits`; no dataset's pixels are committed). ImageNet weights cannot be
downloaded here.
Usage: /tmp/venv/bin/python scripts/fixtures_zoo.py
"""
import json
import os
import re
import sys

import torch
import torchvision.models as models
from safetensors.torch import save_file
from torchvision import transforms

from synthetic_images import photo

ARCHS = ["resnet18", "resnet34", "resnet50", "resnet101", "squeezenet1_1", "alexnet",
         "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
         "mobilenet_v2", "densenet121", "efficientnet_b0"]
# the logits' inputs: synthetic photographs (width, height, seed)
INPUTS = [(320, 260, 21), (250, 333, 22)]


def write_weights(name, out, safetensors=False):
    """`name`'s random state_dict (seed 0) as torch.save writes it (and as safetensors),
    with its eval-mode logits on two synthetic photographs (`INPUTS`)."""
    torch.manual_seed(0)
    m = getattr(models, name)(weights=None).eval()
    os.makedirs(out, exist_ok=True)
    torch.save(m.state_dict(), os.path.join(out, f"{name}.pth"))
    if safetensors:
        save_file({k: v.contiguous() for k, v in m.state_dict().items()},
                  os.path.join(out, f"{name}.state.safetensors"))
    if name == "densenet121":
        # the key names of torchvision's published file (`norm.1`, from old releases),
        # which torchvision's loader renames and wick's zoo `rename` maps
        legacy = {re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", k): v
                  for k, v in m.state_dict().items()}
        torch.save(legacy, os.path.join(out, f"{name}.legacy.pth"))
    tf = transforms.Compose([
        transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    x = torch.stack([tf(photo(w, h, seed)) for w, h, seed in INPUTS])
    with torch.no_grad():
        logits = m(x)
    save_file({"input": x.contiguous(), "logits": logits.contiguous()},
              os.path.join(out, f"{name}.safetensors"))


def roundtrip(folder):
    """wick's state dicts load into torchvision's models with strict=True."""
    from safetensors.torch import load_file
    for name in ARCHS:
        path = os.path.join(folder, f"{name}.wick.safetensors")
        if os.path.exists(path):
            getattr(models, name)(weights=None).load_state_dict(load_file(path), strict=True)
            print(f"{name}: wick's state_dict loads into torchvision's with strict=True")


def main():
    args = sys.argv[1:]
    if args[:1] == ["--all"]:
        for name in ARCHS:
            write_weights(name, args[1], safetensors=True)
        return
    if args[:1] == ["--roundtrip"]:
        return roundtrip(args[1])
    out = {}
    for name in ARCHS:
        for classes in (1000, 2):
            m = getattr(models, name)(weights=None, num_classes=classes)
            out[f"{name}/{classes}"] = {
                "params": sum(p.numel() for p in m.parameters()),
                "state_dict": [[k, list(v.shape)] for k, v in m.state_dict().items()],
            }
    root = os.path.join(os.path.dirname(__file__), "..", "assets", "fixtures")
    write_weights("squeezenet1_1", os.path.join(root, "zoo"))
    with open(os.path.join(root, "zoo.json"), "w") as f:
        json.dump(out, f)
        f.write("\n")


if __name__ == "__main__":
    main()
