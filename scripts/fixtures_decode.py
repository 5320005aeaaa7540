"""Fixtures for wick-data's image decoding against PIL's `Image.open(f).convert("RGB")`,
what torchvision's ImageFolder loads. Writes assets/fixtures/decode.safetensors:

- synthetic JPEGs (photograph-like images from fixed seeds, `synthetic_images.photo`),
  encoded by PIL's libjpeg-turbo with every chroma subsampling, progressive and
  baseline, with restart markers, greyscale, sizes that are not multiples of the
  MCU: `<name>.jpeg` (the file's bytes, uint8 [N]) and `<name>.rgb` (PIL's decoded
  pixels, uint8 [H, W, 3]);
- for a few files of the shared hymenoptera folders (FILES, in order), only a digest
  of PIL's decoded pixels, no pixels: `file<k>.shape` ([H, W], int64) and
  `file<k>.sha256` (uint8 [32], of the H*W*3 RGB bytes).

    /tmp/venv/bin/python scripts/fixtures_decode.py ../shared/datasets
"""

import hashlib
import io
import os
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

from synthetic_images import photo

# name: (width, height, seed, PIL save options, mode)
CASES = {
    "s420": (131, 97, 11, dict(quality=90, subsampling=2), "RGB"),
    "s422": (118, 75, 12, dict(quality=85, subsampling=1), "RGB"),
    "s444": (77, 90, 13, dict(quality=95, subsampling=0), "RGB"),
    "prog420": (150, 61, 14, dict(quality=80, subsampling=2, progressive=True), "RGB"),
    "restart420": (97, 131, 15, dict(quality=75, subsampling=2, restart_marker_blocks=3), "RGB"),
    "gray": (83, 70, 16, dict(quality=90), "L"),
    "q50_420": (64, 48, 17, dict(quality=50, subsampling=2), "RGB"),
}

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
    for name, (w, h, seed, opts, mode) in CASES.items():
        buf = io.BytesIO()
        photo(w, h, seed).convert(mode).save(buf, format="JPEG", **opts)
        data = buf.getvalue()
        rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        assert rgb.shape == (h, w, 3)
        out[f"{name}.jpeg"] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        out[f"{name}.rgb"] = torch.from_numpy(rgb.copy())
    for k, rel in enumerate(FILES):
        with open(os.path.join(shared, rel), "rb") as f:
            img = np.ascontiguousarray(Image.open(f).convert("RGB"))
        digest = hashlib.sha256(img.tobytes()).digest()
        out[f"file{k}.shape"] = torch.tensor(img.shape[:2], dtype=torch.int64)
        out[f"file{k}.sha256"] = torch.frombuffer(bytearray(digest), dtype=torch.uint8)
    os.makedirs("assets/fixtures", exist_ok=True)
    save_file(out, "assets/fixtures/decode.safetensors")


if __name__ == "__main__":
    main()
