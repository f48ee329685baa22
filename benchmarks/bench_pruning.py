"""Pruning sweep cost: 10 sparsity levels against 10 plain forward passes plus one sort.

A sweep scores the weights once, sorts once, and for each level builds the masks, swaps the
pruned weights in, runs the forward pass and restores the weights. The baseline is the work
nobody can avoid: the same 10 forward passes on the dense model plus one sort of all
prunable weights. Target: ratio <= 1.2.

Run: ``python benchmarks/bench_pruning.py``.
"""

from __future__ import annotations

import time

import torch

from geowidget.datasets import load_mnist
from geowidget.engine.pruning import prunable_parameters, pruning_sweep
from geowidget.zoo.models import lenet, mlp

LEVELS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]


def best_of(a, b, repeats: int = 5) -> tuple[float, float]:
    """Fastest of ``repeats`` runs of each, interleaved so that load changes hit both alike."""
    ta, tb = [], []
    for _ in range(repeats):
        for fn, times in ((a, ta), (b, tb)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return min(ta), min(tb)


def measure(name: str, model: torch.nn.Module, x: torch.Tensor) -> None:
    model.eval()
    weights = [model.get_parameter(n) for n in prunable_parameters(model)]
    n_weights = sum(w.numel() for w in weights)

    def baseline() -> None:
        with torch.no_grad():
            torch.sort(torch.cat([w.detach().abs().reshape(-1) for w in weights]))
            for _ in LEVELS:
                model(x)

    def sweep() -> None:
        with torch.no_grad():
            for _, pruned_model in pruning_sweep(model, LEVELS, "global_magnitude"):
                pruned_model(x)

    sweep()  # warm up
    t_base, t_sweep = best_of(baseline, sweep)
    print(
        f"{name:13s} {n_weights:>8d} weights, batch {len(x)}: sweep {t_sweep * 1e3:7.1f} ms, "
        f"10 forwards + 1 sort {t_base * 1e3:7.1f} ms, ratio {t_sweep / t_base:.3f} "
        f"(target <= 1.2)"
    )


def main() -> None:
    torch.manual_seed(0)
    images = load_mnist().images
    measure("lenet", lenet(seed=0), images[:512])
    measure("mlp(512)", mlp(512, seed=0), images[:2048])


if __name__ == "__main__":
    main()
