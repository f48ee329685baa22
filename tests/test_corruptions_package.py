"""The corruptions package keeps every old import path, and files each kernel by kind."""

from __future__ import annotations

import importlib

import geowidget.engine.corruptions as corruptions
from geowidget.engine.corruptions import functional

# every public name of the module before it became a package
OLD_NAMES = [
    "SEVERITIES", "Corruption", "CORRUPTIONS", "IMAGENET_C", "MNIST_C", "SUITES",
    "resolve_corruptions", "corrupt", "gaussian_noise", "shot_noise", "impulse_noise",
    "defocus_blur", "gaussian_blur", "motion_blur", "zoom_blur", "glass_blur", "contrast",
    "brightness", "saturate", "jpeg_compression", "pixelate", "elastic_transform", "fog", "snow",
    "rotate", "shear", "scale", "translate", "stripe", "dotted_line", "zigzag", "canny_edges",
    "spatter",
]
# family in the registry -> the functional module of that kind
KIND = {"noise": "_noise", "blur": "_blur", "colour": "_color", "digital": "_digital",
        "weather": "_weather", "affine": "_geometry", "occlusion": "_occlusion"}


def test_every_old_name_is_importable_and_exported() -> None:
    assert sorted(OLD_NAMES) == sorted(corruptions.__all__)
    for name in OLD_NAMES:
        assert hasattr(corruptions, name), name


def test_each_registered_kernel_lives_in_the_module_of_its_kind() -> None:
    assert sorted(functional.__all__) == sorted(c.fn.__name__ for c in
                                                corruptions.CORRUPTIONS.values())
    for name, spec in corruptions.CORRUPTIONS.items():
        module = importlib.import_module(f"{functional.__name__}.{KIND[spec.family]}")
        assert spec.fn is getattr(module, name) is getattr(corruptions, name), name
        assert spec.fn.__module__ == module.__name__, name
