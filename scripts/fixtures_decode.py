"""Fixtures for wick-data's image decoding: PIL's `Image.open(f).convert("RGB")` of a few
hymenoptera files (JPEGs and the GIF placeholder), as torchvision's ImageFolder loads
them. Writes assets/fixtures/decode.safetensors: for image k, `k.patch` (the 64x64
centre patch, uint8 HxWxC), `k.mean` (per-channel mean over the whole image, f64) and
`k.shape` ([H, W, C], int64); the header metadata `files` maps k to the file's path
under the shared datasets folder.

    /tmp/venv/bin/python scripts/fixtures_decode.py ../shared/datasets
"""

import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

FILES = [
    "hymenoptera/train/ants/0013035.jpg",
    "hymenoptera/train/bees/1092977343_cb42b38d62.jpg",
    "hymenoptera/val/ants/10308379_1b6c72e180.jpg",
    "hymenoptera/val/bees/1032546534_06907fe3b3.jpg",
    "hymenoptera/train/ants/imageNotFound.gif",
]


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets"
    out = {}
    files = {}
    for k, rel in enumerate(FILES):
        with open(os.path.join(shared, rel), "rb") as f:
            img = np.asarray(Image.open(f).convert("RGB"))
        h, w, _ = img.shape
        top, left = (h - 64) // 2, (w - 64) // 2
        out[f"{k}.patch"] = torch.from_numpy(img[top:top + 64, left:left + 64].copy())
        out[f"{k}.mean"] = torch.from_numpy(img.reshape(-1, 3).mean(0).astype(np.float64))
        out[f"{k}.shape"] = torch.tensor(img.shape, dtype=torch.int64)
        files[str(k)] = rel
    os.makedirs("assets/fixtures", exist_ok=True)
    save_file(out, "assets/fixtures/decode.safetensors", metadata={"files": json.dumps(files)})


if __name__ == "__main__":
    main()
