"""Synthetic images for the fixture scripts, from fixed seeds: no dataset's pixels are
committed."""

import numpy as np
from PIL import Image, ImageDraw


def photo(w, h, seed):
    """A synthetic RGB "photograph" of w x h: smooth colour gradients, soft blobs,
    a few hard edges and per-pixel noise (what resampling and colour transforms meet in
    real photos), from a fixed seed. No dataset's pixels are committed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    for c in range(3):
        fx, fy, ph = rng.uniform(0.01, 0.08), rng.uniform(0.01, 0.08), rng.uniform(0, 6.3)
        img[:, :, c] = 110 + 70 * np.sin(fx * x + ph) * np.cos(fy * y - ph)
    for _ in range(6):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(5, 0.4 * min(w, h))
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
        img += blob[:, :, None] * rng.uniform(-90, 90, size=3)
    for _ in range(3):
        a, b, c0 = rng.normal(), rng.normal(), rng.uniform(-0.3, 0.3) * (w + h)
        img[a * (x - w / 2) + b * (y - h / 2) > c0] += rng.uniform(-50, 50, size=3)
    img += rng.normal(0, 12, size=img.shape)
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), mode="RGB")


def digit(seed):
    """A synthetic 28 x 28 grey "digit": white anti-aliased strokes on black, as MNIST's
    are (drawn at 4x and box-filtered down)."""
    rng = np.random.default_rng(seed)
    big = Image.new("L", (112, 112), 0)
    d = ImageDraw.Draw(big)
    x0, y0 = (int(v) for v in rng.integers(20, 40, size=2))
    x1, y1 = x0 + int(rng.integers(35, 55)), y0 + int(rng.integers(40, 60))
    d.ellipse([x0, y0, x1, y1], outline=255, width=11)
    a, b = (tuple(int(v) for v in rng.integers(15, 95, size=2)) for _ in range(2))
    d.line([a, b], fill=255, width=10)
    return big.resize((28, 28), Image.BOX)
