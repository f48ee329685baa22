"""The bundled demo zoo: small MNIST classifiers, their seeded training code and weights.

- :mod:`geowidget.zoo.models`: architectures (``mlp``, ``lenet``, ``wide_cnn``);
- :mod:`geowidget.zoo.training`: :func:`~geowidget.zoo.training.train_classifier`;
- :mod:`geowidget.zoo.mpt`: MPT-like subnetworks of random networks (edge-popup / biprop);
- :mod:`geowidget.zoo.build`: the recipes, and ``python -m geowidget.zoo build``.

The shipped models (:func:`names`) are plain MLPs, LeNet-like and wider CNNs (two seeds
each, and one wider MLP), a wide CNN trained with Gaussian-noise augmentation, an
MPT-like binary subnetwork (50 % of the weights) of a randomly initialised wide CNN, and a
tiny vision transformer (7x7 patches, 4 blocks of 64-dimensional tokens). The shipped
training runs (:func:`runs`) hold checkpoints through training: a LeNet every half epoch,
from its initial weights on (:func:`load_run`).

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
    from geowidget.engine.checkpoints import Checkpoints


@lru_cache(maxsize=1)
def _manifest() -> dict[str, dict[str, Any]]:
    from geowidget.zoo.files import MANIFEST, WEIGHTS_DIR

    path = WEIGHTS_DIR / MANIFEST
    if not path.exists():
        raise FileNotFoundError(
            "the zoo weights are missing from the package; run `python -m geowidget.zoo build`"
        )
    return json.loads(path.read_text())


def names() -> list[str]:
    """Names of the shipped models, in build order (training runs are in :func:`runs`).

    Examples
    --------
    >>> "wide_cnn-mpt-s0" in names()
    True
    """
    return [k for k, v in _manifest().items() if "checkpoints" not in v]


def runs() -> list[str]:
    """Names of the shipped training runs (checkpoints through training), in build order.

    Examples
    --------
    >>> runs()
    ['lenet-run-s2']
    >>> info("lenet-run-s2")["checkpoints"][:3]
    [0, 14, 28]
    """
    return [k for k, v in _manifest().items() if "checkpoints" in v]


def info(name: str) -> dict[str, Any]:
    """Descriptor of one model: ``arch``, ``width``, ``training`` (``"standard"``,
    ``"noise"`` or ``"mpt"``), ``seed``, hyper-parameters, ``test_accuracy`` (fraction, on
    :func:`probe_data`) and ``density`` (fraction of non-zero weights); a training run also
    has ``checkpoints``, its steps."""
    manifest = _manifest()
    if name not in manifest:
        raise KeyError(f"unknown zoo model {name!r}; models: {names()} (zoo.load), training "
                       f"runs: {runs()} (zoo.load_run)")
    return dict(manifest[name])


def load(name: str) -> nn.Module:
    """Build the architecture of zoo model ``name`` and load its shipped weights.

    The weights are read with ``torch.load(..., weights_only=True)``. The model is on CPU,
    in eval mode, and carries its descriptor as ``model.zoo_info`` (see :func:`info`).
    """
    import torch

    from geowidget.zoo.files import WEIGHTS_DIR
    from geowidget.zoo.models import build_model

    desc = info(name)
    if "checkpoints" in desc:
        raise KeyError(f"{name!r} is a training run, not a model; use zoo.load_run({name!r})")
    model = build_model(desc["arch"], desc["width"])
    state = torch.load(WEIGHTS_DIR / f"{name}.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.eval()
    model.zoo_info = desc
    return model


def load_run(name: str) -> Checkpoints:
    """The checkpoints of a shipped training run (:func:`runs`), in training order.

    Returns a :class:`geowidget.engine.checkpoints.Checkpoints` (the architecture and the
    weights at each step, read with ``weights_only=True``), which a Study evaluates as one
    model per step.

    Examples
    --------
    >>> run = load_run("lenet-run-s2")
    >>> len(run), run.steps[-1], type(run.load(0)).__name__
    (11, 140, 'LeNet')
    """
    import torch

    from geowidget.engine.checkpoints import Checkpoints
    from geowidget.zoo.files import WEIGHTS_DIR
    from geowidget.zoo.models import build_model

    desc = info(name)
    if "checkpoints" not in desc:
        raise KeyError(f"{name!r} is a model, not a training run; valid runs: {runs()}")
    states = torch.load(WEIGHTS_DIR / f"{name}.pt", map_location="cpu", weights_only=True)
    model = build_model(desc["arch"], desc["width"])
    model.eval()
    model.zoo_info = desc
    return Checkpoints(model, {int(step): states[step] for step in sorted(states)})


def load_all(names_: list[str] | None = None) -> dict[str, nn.Module]:
    """``{name: model}`` for ``names_`` (default: every shipped model), see :func:`load`."""
    return {n: load(n) for n in (names() if names_ is None else names_)}


@lru_cache(maxsize=1)
def _split() -> tuple[ImageData, ImageData]:
    from geowidget.datasets import load_mnist
    from geowidget.zoo.files import SPLIT

    return load_mnist().split(SPLIT["test_fraction"], SPLIT["seed"])


def probe_data() -> ImageData:
    """The 1,500 real MNIST digits held out from zoo training (the test part of the split).

    Sorted by class (150 per class); the same object is returned on every call.
    """
    return _split()[1]


def train_data() -> ImageData:
    """The 3,500 real MNIST digits the zoo models were trained on (sorted by class)."""
    return _split()[0]


__all__ = ["info", "load", "load_all", "load_run", "names", "probe_data", "runs", "train_data"]
