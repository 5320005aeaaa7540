"""Writes assets/fixtures/transforms.safetensors: torchvision transforms on real images.

Inputs are synthetic images made here from fixed seeds: photograph-like RGB images
(gradients, blobs, edges, noise; crops of them) and MNIST-like digits, so that no
dataset's pixels are committed. The input pixels are stored (`in/<name>`, uint8 [H, W, C]), so JPEG
decoder differences do not matter; outputs are `out/<case>/<name>`: uint8 [H, W, C] for
PIL results, float32 [C, H, W] for tensor results. Random transforms are called through
their functional form with fixed parameters. The Rust test
crates/data/tests/parity_transforms.rs lists the same cases.

Run: /tmp/venv/bin/python scripts/fixtures_transforms.py
"""

import os

import numpy as np
import torch
import torchvision
import torchvision.transforms.functional as F
from PIL import Image
from safetensors.torch import save_file
from torchvision.transforms import InterpolationMode as IM

from synthetic_images import digit, photo

ROOT = os.path.join(os.path.dirname(__file__), "..")


img0, img1, img2 = photo(200, 137, 1), photo(199, 272, 2), photo(440, 330, 3)
inputs = {
    "img0": img0,  # 200x137
    "img1": img1,  # 199x272, odd width
    "img2": img2.crop((60, 40, 380, 280)),  # 320x240
    "mid0": img1.crop((60, 100, 124, 164)),  # 64x64
    "mid1": img0.crop((90, 30, 150, 85)),  # 60x55
    "small0": img0.crop((100, 50, 140, 80)),  # 40x30
    "mnist0": digit(4),
    "mnist1": digit(5),
}

tensors = {}


def as_u8(im):
    a = np.asarray(im)
    if a.ndim == 2:
        a = a[:, :, None]
    return torch.from_numpy(a.copy())


for k, im in inputs.items():
    tensors[f"in/{k}"] = as_u8(im)

BIG = ["img0", "img1", "mnist0", "mnist1"]
MID = ["mid0", "mid1", "mnist0"]
SMALL = ["small0", "mnist0"]
ROT = ["mid0", "mnist0"]


def case(name, names, fn):
    for k in names:
        out = fn(inputs[k])
        if isinstance(out, torch.Tensor):
            tensors[f"out/{name}/{k}"] = out.contiguous().float().clone()
        else:
            tensors[f"out/{name}/{k}"] = as_u8(out)


# --- resize (PIL) ---
case("resize_bilinear_64", BIG, lambda im: F.resize(im, 64))
case("resize_bicubic_50x70", BIG, lambda im: F.resize(im, [50, 70], IM.BICUBIC))
case("resize_nearest_45", BIG, lambda im: F.resize(im, 45, IM.NEAREST))
case("resize_max_size", BIG, lambda im: F.resize(im, 40, max_size=50))
case("resize_up_bilinear", SMALL, lambda im: F.resize(im, [70, 50]))
case("resize_up_bicubic", SMALL, lambda im: F.resize(im, [70, 50], IM.BICUBIC))
case("resize_up_nearest", SMALL, lambda im: F.resize(im, [70, 50], IM.NEAREST))
# --- crops, pads, flips ---
case("center_crop_100x90", BIG, lambda im: F.center_crop(im, [100, 90]))
case("center_crop_25x31", BIG, lambda im: F.center_crop(im, [25, 31]))
for mode in ["constant", "edge", "reflect", "symmetric"]:
    case(f"pad_{mode}", SMALL, lambda im, m=mode: F.pad(im, [3, 5, 7, 2], fill=77, padding_mode=m))
case("pad_fill_rgb", ["small0"], lambda im: F.pad(im, [4, 2], fill=(10, 200, 30)))
case("hflip", MID, F.hflip)
case("vflip", MID, F.vflip)
case("resized_crop_bilinear", ["img0", "img1"], lambda im: F.resized_crop(im, 10, 20, 90, 120, [48, 40]))
case("resized_crop_bicubic", ["img0", "img1"], lambda im: F.resized_crop(im, 10, 20, 90, 120, [48, 40], IM.BICUBIC))
case("resized_crop_nearest", ["img0", "img1"], lambda im: F.resized_crop(im, 10, 20, 90, 120, [48, 40], IM.NEAREST))
case("resized_crop_mnist", ["mnist0", "mnist1"], lambda im: F.resized_crop(im, 3, 4, 20, 18, [24, 24]))
# --- colour ---
case("grayscale1", ["img0", "mid0"], lambda im: F.to_grayscale(im, 1))
case("grayscale3", ["img0", "mid0"], lambda im: F.to_grayscale(im, 3))
for f in [0.6, 1.4]:
    case(f"brightness_{f}", MID, lambda im, f=f: F.adjust_brightness(im, f))
for f in [0.5, 1.7]:
    case(f"contrast_{f}", MID, lambda im, f=f: F.adjust_contrast(im, f))
for f in [0.3, 1.8]:
    case(f"saturation_{f}", MID, lambda im, f=f: F.adjust_saturation(im, f))
for f in [-0.3, 0.2, 0.45]:
    case(f"hue_{f}", MID, lambda im, f=f: F.adjust_hue(im, f))
case("blur_5_1.3", MID, lambda im: F.gaussian_blur(im, [5, 5], [1.3, 1.3]))
case("blur_3x7", MID, lambda im: F.gaussian_blur(im, [3, 7], [0.8, 2.0]))
# --- rotation and affine (PIL) ---
case("rotate_33_nearest", ROT, lambda im: F.rotate(im, 33.0, IM.NEAREST))
case("rotate_-20_bilinear", ROT, lambda im: F.rotate(im, -20.0, IM.BILINEAR))
case("rotate_33_expand", ROT, lambda im: F.rotate(im, 33.0, IM.BILINEAR, expand=True))
case("rotate_center_fill", ROT, lambda im: F.rotate(im, 50.0, IM.NEAREST, center=[10, 20], fill=200))
case("rotate_90", ROT, lambda im: F.rotate(im, 90.0))
case(
    "affine_bilinear",
    ROT,
    lambda im: F.affine(im, angle=15.0, translate=[3, -4], scale=1.1, shear=[5.0, -3.0], interpolation=IM.BILINEAR),
)
case(
    "affine_nearest_fill",
    ROT,
    lambda im: F.affine(im, angle=-40.0, translate=[-6, 2], scale=0.8, shear=[0.0, 10.0], fill=60),
)
# --- pipelines (the tutorial's val transform, and a fixed train crop) ---
case("pipeline_val", ["img2"], lambda im: F.center_crop(F.resize(im, 256), 224))
case("pipeline_train", ["img2"], lambda im: F.hflip(F.resized_crop(im, 17, 41, 150, 190, [112, 112])))

# --- tensor paths (float32 [C, H, W]) ---
TIN = {"mid0": F.to_tensor(inputs["mid0"])[:, :32, :32], "mnist0": F.to_tensor(inputs["mnist0"])}
for k, t in TIN.items():
    tensors[f"tin/{k}"] = t.contiguous()


def tcase(name, fn, names=("mid0", "mnist0")):
    for k in names:
        tensors[f"out/{name}/{k}"] = fn(TIN[k]).contiguous().float().clone()


tcase("t_resize_aa_bilinear", lambda t: F.resize(t, [20, 13]))
tcase("t_resize_noaa_bilinear", lambda t: F.resize(t, [20, 13], antialias=False))
tcase("t_resize_aa_bicubic", lambda t: F.resize(t, [20, 13], IM.BICUBIC))
tcase("t_resize_noaa_bicubic", lambda t: F.resize(t, [20, 13], IM.BICUBIC, antialias=False))
tcase("t_resize_nearest", lambda t: F.resize(t, [20, 13], IM.NEAREST))
tcase("t_resize_up_bilinear", lambda t: F.resize(t, [45, 50], antialias=False))
tcase("t_resize_up_bicubic", lambda t: F.resize(t, [45, 50], IM.BICUBIC, antialias=False))
tcase("t_resize_up_nearest", lambda t: F.resize(t, [45, 50], IM.NEAREST))
tcase("t_brightness", lambda t: F.adjust_brightness(t, 1.3))
tcase("t_contrast", lambda t: F.adjust_contrast(t, 0.6))
tcase("t_saturation", lambda t: F.adjust_saturation(t, 1.5))
tcase("t_hue", lambda t: F.adjust_hue(t, 0.25))
tcase("t_grayscale3", lambda t: F.rgb_to_grayscale(t, 3), names=("mid0",))
tcase("t_blur", lambda t: F.gaussian_blur(t, [5, 3], [1.1, 0.7]))
tcase("t_pad_reflect", lambda t: F.pad(t, [2, 3, 4, 1], padding_mode="reflect"))
tcase("t_pad_symmetric", lambda t: F.pad(t, [2, 3, 4, 1], padding_mode="symmetric"))
tcase("t_center_crop", lambda t: F.center_crop(t, [40, 21]))
tcase("t_erase", lambda t: F.erase(t, 5, 6, 10, 12, torch.tensor(0.5)))
tcase("t_rotate_bilinear", lambda t: F.rotate(t, 25.0, IM.BILINEAR, fill=[0.3] * t.shape[0]))
tcase("t_rotate_nearest_expand", lambda t: F.rotate(t, -37.0, IM.NEAREST, expand=True, fill=[0.0] * t.shape[0]))
tcase("t_rotate_center", lambda t: F.rotate(t, 60.0, IM.BILINEAR, center=[5, 9], fill=[1.0] * t.shape[0]))
tcase(
    "t_affine_bilinear",
    lambda t: F.affine(t, 15.0, [3, -4], 1.1, [5.0, -3.0], IM.BILINEAR, fill=[0.2] * t.shape[0]),
)
tcase(
    "t_affine_nearest",
    lambda t: F.affine(t, -40.0, [-6, 2], 0.8, [0.0, 10.0], IM.NEAREST, fill=[0.0] * t.shape[0]),
)
tcase("t_to_uint8", lambda t: F.convert_image_dtype(t, torch.uint8).float() / 255.0)

save_file(
    tensors,
    os.path.join(ROOT, "assets", "fixtures", "transforms.safetensors"),
    metadata={"torch": torch.__version__, "torchvision": torchvision.__version__, "PIL": Image.__version__},
)
print(len(tensors), "tensors,", sum(t.numel() * t.element_size() for t in tensors.values()), "bytes")
