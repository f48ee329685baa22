"""Train the demo zoo from scratch, seeded: ``python -m geowidget.zoo build``.

The zoo (:data:`ZOO_SPECS`) is trained on the train part of
``load_mnist().split(test_fraction=0.3, seed=0)`` (3,500 real MNIST digits); the other
1,500 digits are the probe/test set (:func:`geowidget.zoo.probe_data`). Each model is
written as a ``state_dict`` (``<name>.pt``, loadable with ``torch.load(...,
weights_only=True)``) and described in ``manifest.json`` (architecture, width, training,
seed, hyper-parameters, test accuracy, weight density).

Everything runs on CPU with the seeds below. A full build used 4.8 CPU-minutes (user plus
system time, on a heavily shared 2-core machine), so it fits in 5 minutes on 2 free cores,
and it reproduced the shipped weights bit for bit.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from geowidget.zoo.models import build_model
from geowidget.zoo.mpt import find_subnetwork, weight_density
from geowidget.zoo.training import accuracy, train_classifier

WEIGHTS_DIR = Path(__file__).with_name("weights")
MANIFEST = "manifest.json"
SPLIT = {"dataset": "mnist", "test_fraction": 0.3, "seed": 0}

ZOO_SPECS: list[dict[str, Any]] = [
    {"name": "mlp-s0", "arch": "mlp", "width": 128, "training": "standard", "seed": 0},
    {"name": "mlp-s1", "arch": "mlp", "width": 128, "training": "standard", "seed": 1},
    {"name": "mlp-w256-s0", "arch": "mlp", "width": 256, "training": "standard", "seed": 0},
    {"name": "lenet-s0", "arch": "lenet", "width": None, "training": "standard", "seed": 0},
    {"name": "lenet-s1", "arch": "lenet", "width": None, "training": "standard", "seed": 1},
    {
        "name": "wide_cnn-s0", "arch": "wide_cnn", "width": 32, "training": "standard",
        "seed": 0, "epochs": 3,
    },
    {
        "name": "wide_cnn-s1", "arch": "wide_cnn", "width": 32, "training": "standard",
        "seed": 1, "epochs": 3,
    },
    {
        "name": "wide_cnn-noise-s0", "arch": "wide_cnn", "width": 32, "training": "noise",
        "seed": 0, "noise_std": 0.3, "epochs": 3,
    },
    {
        "name": "wide_cnn-mpt-s0", "arch": "wide_cnn", "width": 32, "training": "mpt",
        "seed": 0, "keep": 0.5, "binary": True, "epochs": 3, "lr": 1e-3,
    },
]
DEFAULTS: dict[str, Any] = {"epochs": 5, "lr": 1e-3, "batch_size": 128, "noise_std": 0.0}


def spec(name: str) -> dict[str, Any]:
    """The full training recipe of one zoo model (defaults filled in)."""
    for s in ZOO_SPECS:
        if s["name"] == name:
            return {**DEFAULTS, **s}
    raise KeyError(f"unknown zoo model {name!r}; valid: {[s['name'] for s in ZOO_SPECS]}")


def train_one(
    recipe: dict[str, Any], images: torch.Tensor, labels: torch.Tensor, progress: bool = False
) -> torch.nn.Module:
    """Train one model from its recipe (see :data:`ZOO_SPECS`); returns it in eval mode."""
    model = build_model(recipe["arch"], recipe["width"], seed=recipe["seed"])
    if recipe["training"] == "mpt":
        return find_subnetwork(
            model, images, labels, keep=recipe["keep"], binary=recipe["binary"],
            epochs=recipe["epochs"], batch_size=recipe["batch_size"], lr=recipe["lr"],
            seed=recipe["seed"], progress=progress,
        )
    if recipe["training"] not in ("standard", "noise"):
        raise ValueError(
            f"unknown training {recipe['training']!r}; valid: ['standard', 'noise', 'mpt']"
        )
    return train_classifier(
        model, images, labels, epochs=recipe["epochs"], batch_size=recipe["batch_size"],
        lr=recipe["lr"], seed=recipe["seed"], noise_std=recipe["noise_std"], progress=progress,
    )


def build(
    out_dir: str | Path | None = None,
    *,
    names: list[str] | None = None,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Train the zoo models and write their weights plus ``manifest.json``.

    Parameters
    ----------
    out_dir : path, optional
        Folder for ``<name>.pt`` and the manifest; default the package's ``weights/``.
    names : list of str, optional
        Train only these models (the manifest keeps entries of the others already there).
    progress : bool
        Show a tqdm bar over models.

    Returns
    -------
    dict
        The manifest: model name -> descriptor (recipe plus ``test_accuracy`` (fraction),
        ``density`` (fraction of non-zero weights), ``n_params``, ``train_seconds``).
    """
    from tqdm.auto import tqdm

    from geowidget.datasets import load_mnist

    out = Path(out_dir) if out_dir is not None else WEIGHTS_DIR
    recipes = [spec(s["name"]) for s in ZOO_SPECS] if names is None else [spec(n) for n in names]
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    manifest: dict[str, dict[str, Any]] = {}
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
    train, test = load_mnist().split(SPLIT["test_fraction"], SPLIT["seed"])
    for recipe in tqdm(recipes, desc="zoo", unit="model", disable=not progress):
        start = time.perf_counter()
        model = train_one(recipe, *train.as_pair())
        seconds = time.perf_counter() - start
        torch.save(model.state_dict(), out / f"{recipe['name']}.pt")
        manifest[recipe["name"]] = {
            **recipe,
            "split": SPLIT,
            "test_accuracy": round(accuracy(model, *test.as_pair()), 4),
            "density": round(weight_density(model), 4),
            "n_params": sum(p.numel() for p in model.parameters()),
            "train_seconds": round(seconds, 1),
        }
    order = [s["name"] for s in ZOO_SPECS]
    manifest = {
        k: manifest[k] for k in sorted(manifest, key=lambda k: (k not in order, order.index(k) if k in order else 0, k))
    }
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest
