"""Batched torch corruptions against per-image numpy/scipy/PIL versions of the same corruptions.

Each line prints images per second of both, and the ratio batched / per-image (higher is
better), on 2,000 real MNIST digits at severity 3 with the CIFAR-10-C parameters that
``corrupt`` uses for small images.

Run: ``python benchmarks/bench_corruptions.py``.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from geowidget.datasets import load_mnist
from geowidget.engine.corruptions import CORRUPTIONS, corrupt

SEVERITY = 3


def param(name: str):
    return CORRUPTIONS[name].parameter(SEVERITY, "cifar" if CORRUPTIONS[name].params.get(
        "cifar") else "mnist")


def np_gaussian_noise(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(img + rng.normal(scale=param("gaussian_noise"), size=img.shape), 0, 1)


def np_shot_noise(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    c = param("shot_noise")
    return np.clip(rng.poisson(img * c) / c, 0, 1)


def np_gaussian_blur(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(ndimage.gaussian_filter(img, param("gaussian_blur"), mode="nearest"), 0, 1)


def np_contrast(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    mean = img.mean()
    return np.clip((img - mean) * param("contrast") + mean, 0, 1)


def np_rotate(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    a = param("rotate") * rng.choice([-1.0, 1.0])
    rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    c = (np.array(img.shape) - 1) / 2
    return np.clip(ndimage.affine_transform(img, rot, offset=c - rot @ c, order=1), 0, 1)


def np_pixelate(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape
    c = param("pixelate")
    pil = Image.fromarray(img.astype(np.float32), mode="F")
    pil = pil.resize((int(w * c), int(h * c)), Image.BOX).resize((w, h), Image.BOX)
    return np.clip(np.asarray(pil), 0, 1)


REFERENCES = {
    "gaussian_noise": np_gaussian_noise,
    "shot_noise": np_shot_noise,
    "gaussian_blur": np_gaussian_blur,
    "contrast": np_contrast,
    "rotate": np_rotate,
    "pixelate": np_pixelate,
}


def fastest(fn, repeats: int = 3) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    x = load_mnist().images[:2000]
    per_image = x[:, 0].numpy().astype(np.float64)
    n = len(x)
    print(f"{n} MNIST digits, severity {SEVERITY}, torch threads {torch.get_num_threads()}")
    for name, ref in REFERENCES.items():
        corrupt(x[:8], name, SEVERITY)  # warm up
        t_ours = fastest(lambda name=name: corrupt(x, name, SEVERITY))
        rng = np.random.default_rng(0)
        t_ref = fastest(lambda ref=ref, rng=rng: [ref(img, rng) for img in per_image])
        print(
            f"{name:15s} batched {n / t_ours:10.0f} img/s   per-image numpy {n / t_ref:10.0f} "
            f"img/s   ratio {t_ref / t_ours:6.2f}"
        )


if __name__ == "__main__":
    main()
