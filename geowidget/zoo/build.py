"""Train the demo zoo from scratch, seeded: ``python -m geowidget.zoo build``.

The zoo (:data:`ZOO_SPECS`) is trained on the train part of
``load_mnist().split(test_fraction=0.3, seed=0)`` (3,500 real MNIST digits); the other
1,500 digits are the probe/test set (:func:`geowidget.zoo.probe_data`). Each model is
written as a ``state_dict`` (``<name>.pt``, loadable with ``torch.load(...,
weights_only=True)``) and described in ``manifest.json`` (architecture, width, training,
seed, hyper-parameters, test accuracy, weight density). A training run (a recipe with
``checkpoint_every``) is written as ``{step: state_dict}``, the weights every
``checkpoint_every`` optimiser steps from step 0 (the initial weights) on, and its manifest
entry lists the steps as ``checkpoints``; its accuracy is the last checkpoint's.

Everything runs on CPU with the seeds below. A full build used 4.8 CPU-minutes (user plus
system time, on a heavily shared 2-core machine), so it fits in 5 minutes on 2 free cores,
and it reproduced the shipped weights bit for bit. The tiny ViT and the LeNet run train on
one thread (``threads``) in 33 and 4 CPU-seconds (``train_cpu_seconds`` in the manifest), and
``--only vit-s0 lenet-run-s2 --out DIR`` reproduced their files byte for byte.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from geowidget.engine.threads import torch_threads
from geowidget.zoo.files import MANIFEST, SPLIT, WEIGHTS_DIR
from geowidget.zoo.models import build_model
from geowidget.zoo.mpt import find_subnetwork, weight_density
from geowidget.zoo.training import accuracy, train_classifier

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
    # small models train on one thread: their GEMMs are too small to share, a second thread
    # only waits (and on a busy machine spins), and one thread reproduces anywhere
    {
        "name": "vit-s0", "arch": "vit", "width": 64, "training": "standard", "seed": 0,
        "epochs": 12, "lr": 2e-3, "threads": 1,
    },
    # a training run: checkpoints every half epoch (14 of the 28 steps of an epoch), step 0 first
    {
        "name": "lenet-run-s2", "arch": "lenet", "width": None, "training": "standard",
        "seed": 2, "checkpoint_every": 14, "threads": 1,
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
    recipe: dict[str, Any], images: torch.Tensor, labels: torch.Tensor, progress: bool = False,
    on_step: Any = None,
) -> torch.nn.Module:
    """Train one model from its recipe (see :data:`ZOO_SPECS`); returns it in eval mode.

    ``on_step(step, model)`` is called before training and after every optimiser step
    (standard and noise training; see :func:`~geowidget.zoo.training.train_classifier`).
    """
    with torch_threads(recipe.get("threads")):
        return _train(recipe, images, labels, progress, on_step)


def _train(recipe: dict[str, Any], images: torch.Tensor, labels: torch.Tensor, progress: bool,
           on_step: Any) -> torch.nn.Module:
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
        on_step=on_step,
    )


def train_run(
    recipe: dict[str, Any], images: torch.Tensor, labels: torch.Tensor, progress: bool = False
) -> tuple[torch.nn.Module, dict[int, dict[str, torch.Tensor]]]:
    """Train a run's recipe, keeping a checkpoint every ``checkpoint_every`` optimiser steps
    (step 0, the initial weights, included): ``(final model, {step: state dict})``."""
    every = recipe["checkpoint_every"]
    kept: dict[int, dict[str, torch.Tensor]] = {}

    def keep(step: int, model: torch.nn.Module) -> None:
        if step % every == 0:
            kept[step] = {k: v.detach().clone() for k, v in model.state_dict().items()}

    model = train_one(recipe, images, labels, progress, on_step=keep)
    return model, kept


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
        start, cpu = time.perf_counter(), time.process_time()
        extra: dict[str, Any] = {}
        if "checkpoint_every" in recipe:
            model, checkpoints = train_run(recipe, *train.as_pair())
            weights: Any = checkpoints
            extra["checkpoints"] = list(checkpoints)
        else:
            model = train_one(recipe, *train.as_pair())
            weights = model.state_dict()
        seconds = time.perf_counter() - start
        extra["train_cpu_seconds"] = round(time.process_time() - cpu, 1)  # robust to load
        torch.save(weights, out / f"{recipe['name']}.pt")
        manifest[recipe["name"]] = {
            **recipe,
            **extra,
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


__all__ = [
    "DEFAULTS", "MANIFEST", "SPLIT", "WEIGHTS_DIR", "ZOO_SPECS", "build", "spec", "train_one",
    "train_run",
]
