"""Seeded, deterministic training of small classifiers on in-memory images.

Examples
--------
>>> from geowidget.datasets import load_digits            # doctest: +SKIP
>>> from geowidget.zoo.models import mlp
>>> from geowidget.zoo.training import train_classifier
>>> import torch
>>> x, y = torch.rand(64, 1, 28, 28), torch.arange(64) % 10
>>> model = train_classifier(mlp(16, seed=0), x, y, epochs=1)
>>> model.training
False
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def _check_data(images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    if images.ndim < 2 or images.shape[0] == 0:
        raise ValueError(f"images must be [N, ...] with N >= 1, got shape {tuple(images.shape)}")
    if labels.shape != (images.shape[0],):
        raise ValueError(
            f"labels must have shape ({images.shape[0]},) to match images, "
            f"got {tuple(labels.shape)}"
        )
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise TypeError(f"labels must be an integer tensor, got dtype {labels.dtype}")
    return images.float(), labels.long()


def train_classifier(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    epochs: int = 3,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    noise_std: float = 0.0,
    progress: bool = False,
    on_step: Callable[[int, nn.Module], object] | None = None,
) -> nn.Module:
    """Train ``model`` in place with Adam and cross-entropy; return it in eval mode.

    Shuffling and noise come from a private generator seeded by ``seed``, so two calls
    with equal initial weights and arguments give bit-identical weights on CPU.

    Parameters
    ----------
    model : nn.Module
        Classifier mapping ``images`` to logits ``[B, C]``. Trained on CPU, in place.
    images : Tensor
        ``[N, 1, H, W]`` float images in [0, 1].
    labels : Tensor
        ``[N]`` integer class labels.
    epochs : int
        Passes over the data.
    batch_size : int
        Samples per optimiser step (the last batch of an epoch may be smaller).
    lr : float
        Adam learning rate.
    seed : int
        Seed of the shuffling order and the noise.
    noise_std : float
        Standard deviation of Gaussian noise (in image units, [0, 1] scale) added to each
        training batch, the result clipped to [0, 1]; 0 disables noise augmentation.
    progress : bool
        Show a tqdm bar over optimiser steps.
    on_step : callable, optional
        Called as ``on_step(step, model)`` before training (step 0) and after every
        optimiser step (1, 2, ...): to save checkpoints, or to feed a
        :class:`geowidget.GeometryTracker`. It must not change the model.

    Returns
    -------
    nn.Module
        The same ``model`` object, trained, in eval mode. Its mean training loss per epoch
        is stored as ``model.train_history`` (list of float, nats).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    images, labels = _check_data(images, labels)
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if not noise_std >= 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std!r}")
    gen = torch.Generator().manual_seed(int(seed))
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    opt = torch.optim.Adam(params, lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    n = images.shape[0]
    steps_per_epoch = (n + batch_size - 1) // batch_size
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs * steps_per_epoch, desc="train", unit="step")
    history: list[float] = []
    model.train()
    step = 0
    try:
        if on_step is not None:
            on_step(step, model)
        for _ in range(epochs):
            order = torch.randperm(n, generator=gen)
            total = 0.0
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                x, y = images[idx], labels[idx]
                if noise_std > 0:
                    noise = torch.randn(x.shape, generator=gen, dtype=x.dtype)
                    x = (x + noise_std * noise).clamp_(0.0, 1.0)
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(x), y)
                loss.backward()
                opt.step()
                step += 1
                if on_step is not None:
                    on_step(step, model)
                total += float(loss.detach()) * len(idx)
                if bar is not None:
                    bar.update(1)
            history.append(total / n)
    finally:
        if bar is not None:
            bar.close()
        model.eval()
    model.train_history = history
    return model


@torch.no_grad()
def accuracy(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000
) -> float:
    """Fraction of ``images`` that ``model`` classifies as ``labels`` (model put in eval mode)."""
    images, labels = _check_data(images, labels)
    model.eval()
    hits = 0
    for start in range(0, images.shape[0], batch_size):
        out = model(images[start : start + batch_size])
        hits += int((out.argmax(1) == labels[start : start + batch_size]).sum())
    return hits / images.shape[0]


__all__ = ["accuracy", "train_classifier"]
