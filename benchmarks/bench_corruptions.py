"""Batched torch corruptions against numpy/scipy/PIL versions of the same corruptions.

Each line prints images per second of both, and the ratio numpy time / ours (higher is
better), on 2,000 real MNIST digits at severity 3 with the CIFAR-10-C parameters that
``corrupt`` uses for small images. The numpy baselines work on the whole batch wherever
numpy can (noise, blur, contrast, glass blur, snow, rotation: one call per rotation
direction); only pixelate, which needs PIL's resampling, goes image by image. Glass blur and
snow run our algorithms in numpy (ImageNet-C's own glass blur is a per-pixel Python loop,
and its snow an ImageMagick call per image). Both sides get one warm-up
call on the full batch and the best of 3 timed calls.

Run: ``python benchmarks/bench_corruptions.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import best_time  # noqa: E402

from geowidget.datasets import load_mnist  # noqa: E402
from geowidget.engine.corruptions import CORRUPTIONS, corrupt  # noqa: E402

SEVERITY = 3


def param(name: str):
    return CORRUPTIONS[name].parameter(SEVERITY, "cifar" if CORRUPTIONS[name].params.get(
        "cifar") else "mnist")


def np_gaussian_noise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(x + rng.normal(scale=param("gaussian_noise"), size=x.shape), 0, 1)


def np_shot_noise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    c = param("shot_noise")
    return np.clip(rng.poisson(x * c) / c, 0, 1)


def np_gaussian_blur(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    sigma = param("gaussian_blur")
    return np.clip(ndimage.gaussian_filter(x, (0, sigma, sigma), mode="nearest"), 0, 1)


def np_glass_blur(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    sigma, max_delta, rounds = param("glass_blur")
    n, h, w = x.shape
    img, (rows, cols) = np.arange(n)[:, None, None], np.mgrid[:h, :w]
    x = ndimage.gaussian_filter(x, (0, sigma, sigma), mode="nearest")
    for _ in range(2 * rounds):
        dr, dc = rng.integers(-max_delta, max_delta + 1, size=(2, n, h, w))
        x = x[img, np.clip(rows + dr, 0, h - 1), np.clip(cols + dc, 0, w - 1)]
    return np.clip(ndimage.gaussian_filter(x, (0, sigma, sigma), mode="nearest"), 0, 1)


def np_snow(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    loc, scale, zoom, threshold, radius, sigma, blend = param("snow")
    n, h, w = x.shape
    crop = int(np.ceil(h / zoom))
    top = (h - crop) // 2
    layer = rng.normal(loc, scale, size=(n, h, w))[:, top : top + crop, top : top + crop]
    layer = ndimage.zoom(layer, (1, zoom, zoom), order=1)
    trim = (layer.shape[1] - h) // 2
    layer = np.clip(np.where(layer < threshold, 0, layer), 0, 1)[:, trim : trim + h,
                                                                  trim : trim + w]
    taps = np.arange(2 * int(np.ceil(radius)) + 1)
    weight = np.exp(-(taps**2) / (2 * sigma**2))
    angle = np.deg2rad(rng.uniform(-135, -45, size=(n, 1)))
    off_r = np.ceil(taps * np.sin(angle) - 0.5).astype(int)[..., None, None]  # [N, taps, 1, 1]
    off_c = np.ceil(taps * np.cos(angle) - 0.5).astype(int)[..., None, None]
    img, (rows, cols) = np.arange(n)[:, None, None], np.mgrid[:h, :w]
    snow = sum(weight[t] * layer[img, np.clip(rows + off_r[:, t], 0, h - 1),
                                 np.clip(cols + off_c[:, t], 0, w - 1)] for t in taps)
    snow /= weight.sum()
    whitened = blend * x + (1 - blend) * np.maximum(x, x * 1.5 + 0.5)
    return np.clip(whitened + snow + snow[:, ::-1, ::-1], 0, 1)


def np_contrast(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    mean = x.mean(axis=(1, 2), keepdims=True)
    return np.clip((x - mean) * param("contrast") + mean, 0, 1)


def np_rotate(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each image turns one way or the other: one 3-D affine call per direction."""
    out = np.empty_like(x)
    sign = rng.choice([-1.0, 1.0], size=len(x))
    centre = (np.array(x.shape[1:]) - 1) / 2
    for s in (-1.0, 1.0):
        a = param("rotate") * s
        rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
        matrix = np.eye(3)
        matrix[1:, 1:] = rot
        offset = np.concatenate([[0.0], centre - rot @ centre])
        pick = sign == s
        out[pick] = ndimage.affine_transform(x[pick], matrix, offset=offset, order=1)
    return np.clip(out, 0, 1)


def np_pixelate(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """PIL's BOX resampling has no batched form: image by image."""
    _, h, w = x.shape
    c = param("pixelate")
    out = []
    for img in x:
        pil = Image.fromarray(img.astype(np.float32), mode="F")
        pil = pil.resize((int(w * c), int(h * c)), Image.BOX).resize((w, h), Image.BOX)
        out.append(np.asarray(pil))
    return np.clip(np.stack(out), 0, 1)


REFERENCES = {
    "gaussian_noise": np_gaussian_noise,
    "shot_noise": np_shot_noise,
    "gaussian_blur": np_gaussian_blur,
    "glass_blur": np_glass_blur,
    "contrast": np_contrast,
    "snow": np_snow,
    "rotate": np_rotate,
    "pixelate": np_pixelate,
}


def main() -> None:
    x = load_mnist().images[:2000]
    batch = x[:, 0].numpy().astype(np.float64)
    n = len(x)
    print(f"{n} MNIST digits, severity {SEVERITY}, torch threads {torch.get_num_threads()}")
    for name, ref in REFERENCES.items():
        t_ours = best_time(lambda name=name: corrupt(x, name, SEVERITY))
        rng = np.random.default_rng(0)
        t_ref = best_time(lambda ref=ref, rng=rng: ref(batch, rng))
        if name in ("gaussian_blur", "contrast", "pixelate"):  # deterministic: same numbers
            diff = np.abs(corrupt(x, name, SEVERITY)[:, 0].numpy() - ref(batch, rng)).max()
            assert diff < 1e-4, (name, diff)
        print(
            f"{name:15s} batched {n / t_ours:10.0f} img/s   numpy {n / t_ref:10.0f} "
            f"img/s   ratio {t_ref / t_ours:6.2f}"
        )


if __name__ == "__main__":
    main()
