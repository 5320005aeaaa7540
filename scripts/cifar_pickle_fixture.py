"""Writes tiny CIFAR-10 and CIFAR-100 folders in the python-pickle format torchvision
downloads (`cifar-10-batches-py/`, `cifar-100-python/`), for wick's reader tests:

    python scripts/cifar_pickle_fixture.py assets/fixtures/cifar-pickle

Each batch is a dict pickled as the originals are (protocol 2 for CIFAR-10; protocol 4
for CIFAR-100, to cover both), `data` a uint8 array [n, 3072] (channels, then rows),
labels a list of ints. Pixel i of image k is (k * 7 + i) % 256, so a test can check
every byte; labels are k % 10 (fine: k % 100, coarse: k % 20)."""
import os
import pickle
import sys

import numpy as np


def images(start, n):
    k = np.arange(start, start + n)[:, None]
    return ((k * 7 + np.arange(3072)[None, :]) % 256).astype(np.uint8)


def dump(path, obj, protocol):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


def cifar10(root):
    d = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(d, exist_ok=True)
    start = 0
    for b in range(1, 6):
        n = 2
        dump(os.path.join(d, f"data_batch_{b}"), {
            "batch_label": f"training batch {b} of 5",
            "labels": [(start + i) % 10 for i in range(n)],
            "data": images(start, n),
            "filenames": [f"img_{start + i}.png" for i in range(n)],
        }, 2)
        start += n
    dump(os.path.join(d, "test_batch"), {
        "batch_label": "testing batch 1 of 1",
        "labels": [i % 10 for i in range(3)],
        "data": images(100, 3),
        "filenames": [f"test_{i}.png" for i in range(3)],
    }, 2)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
             "ship", "truck"]
    dump(os.path.join(d, "batches.meta"),
         {"num_cases_per_batch": 2, "label_names": names, "num_vis": 3072}, 2)


def cifar100(root):
    d = os.path.join(root, "cifar-100-python")
    os.makedirs(d, exist_ok=True)
    for split, start, n in [("train", 0, 4), ("test", 200, 2)]:
        dump(os.path.join(d, split), {
            "filenames": [f"{split}_{i}.png" for i in range(n)],
            "batch_label": split,
            "fine_labels": [(start + i) % 100 for i in range(n)],
            "coarse_labels": [(start + i) % 20 for i in range(n)],
            "data": images(start, n),
        }, 4)
    dump(os.path.join(d, "meta"), {
        "fine_label_names": [f"fine{i}" for i in range(100)],
        "coarse_label_names": [f"coarse{i}" for i in range(20)],
    }, 4)


if __name__ == "__main__":
    root = sys.argv[1]
    cifar10(root)
    cifar100(root)
