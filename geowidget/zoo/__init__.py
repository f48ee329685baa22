"""The bundled demo zoo: small MNIST classifiers, their seeded training code and weights.

- :mod:`geowidget.zoo.models`: architectures (``mlp``, ``lenet``, ``wide_cnn``);
- :mod:`geowidget.zoo.training`: :func:`~geowidget.zoo.training.train_classifier`;
- :mod:`geowidget.zoo.mpt`: MPT-like subnetworks of random networks (edge-popup / biprop);
- :mod:`geowidget.zoo.build`: the recipes, and ``python -m geowidget.zoo build``.

The shipped models (:func:`names`) are plain MLPs, LeNet-like and wider CNNs (two seeds
each, and one wider MLP), a wide CNN trained with Gaussian-noise augmentation, and an
MPT-like binary subnetwork (50 % of the weights) of a randomly initialised wide CNN.

Examples
--------
>>> from geowidget import zoo
>>> model = zoo.load("lenet-s0")
>>> model.training, zoo.info("lenet-s0")["arch"]
(False, 'lenet')
>>> probe = zoo.probe_data()      # the 1,500 MNIST digits the zoo did not train on
>>> len(probe)
1500
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

    from geowidget.datasets import ImageData


@lru_cache(maxsize=1)
def _manifest() -> dict[str, dict[str, Any]]:
    from geowidget.zoo.build import MANIFEST, WEIGHTS_DIR

    path = WEIGHTS_DIR / MANIFEST
    if not path.exists():
        raise FileNotFoundError(
            "the zoo weights are missing from the package; run `python -m geowidget.zoo build`"
        )
    return json.loads(path.read_text())


def names() -> list[str]:
    """Names of the shipped models, in build order.

    Examples
    --------
    >>> "wide_cnn-mpt-s0" in names()
    True
    """
    return list(_manifest())


def info(name: str) -> dict[str, Any]:
    """Descriptor of one model: ``arch``, ``width``, ``training`` (``"standard"``,
    ``"noise"`` or ``"mpt"``), ``seed``, hyper-parameters, ``test_accuracy`` (fraction, on
    :func:`probe_data`) and ``density`` (fraction of non-zero weights)."""
    manifest = _manifest()
    if name not in manifest:
        raise KeyError(f"unknown zoo model {name!r}; valid: {list(manifest)}")
    return dict(manifest[name])


def load(name: str) -> nn.Module:
    """Build the architecture of zoo model ``name`` and load its shipped weights.

    The weights are read with ``torch.load(..., weights_only=True)``. The model is on CPU,
    in eval mode, and carries its descriptor as ``model.zoo_info`` (see :func:`info`).
    """
    import torch

    from geowidget.zoo.build import WEIGHTS_DIR
    from geowidget.zoo.models import build_model

    desc = info(name)
    model = build_model(desc["arch"], desc["width"])
    state = torch.load(WEIGHTS_DIR / f"{name}.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.eval()
    model.zoo_info = desc
    return model


def load_all(names_: list[str] | None = None) -> dict[str, nn.Module]:
    """``{name: model}`` for ``names_`` (default: every shipped model), see :func:`load`."""
    return {n: load(n) for n in (names() if names_ is None else names_)}


@lru_cache(maxsize=1)
def _split() -> tuple[ImageData, ImageData]:
    from geowidget.datasets import load_mnist
    from geowidget.zoo.build import SPLIT

    return load_mnist().split(SPLIT["test_fraction"], SPLIT["seed"])


def probe_data() -> ImageData:
    """The 1,500 real MNIST digits held out from zoo training (the test part of the split).

    Sorted by class (150 per class); the same object is returned on every call.
    """
    return _split()[1]


def train_data() -> ImageData:
    """The 3,500 real MNIST digits the zoo models were trained on (sorted by class)."""
    return _split()[0]


__all__ = ["info", "load", "load_all", "names", "probe_data", "train_data"]
