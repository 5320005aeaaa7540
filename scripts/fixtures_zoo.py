#!/usr/bin/env python3
"""torchvision's architectures as wick's zoo must reproduce them: for each, the
state_dict keys with their shapes (in order) and the parameter count.

Writes assets/fixtures/zoo.json. No weights (they cannot be downloaded here).
Usage: /tmp/venv/bin/python scripts/fixtures_zoo.py
"""
import json
import os

import torchvision.models as models

ARCHS = ["resnet18", "resnet34", "resnet50", "resnet101"]


def main():
    out = {}
    for name in ARCHS:
        for classes in (1000, 2):
            m = getattr(models, name)(weights=None, num_classes=classes)
            out[f"{name}/{classes}"] = {
                "params": sum(p.numel() for p in m.parameters()),
                "state_dict": [[k, list(v.shape)] for k, v in m.state_dict().items()],
            }
    root = os.path.join(os.path.dirname(__file__), "..", "assets", "fixtures")
    with open(os.path.join(root, "zoo.json"), "w") as f:
        json.dump(out, f)
        f.write("\n")


if __name__ == "__main__":
    main()
