"""Shared timing for the benchmark scripts: best of several runs after a warm-up."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_time(fn: Callable[[], object], repeat: int = 3, warmup: int = 1) -> float:
    """Best wall-clock seconds of ``repeat`` calls, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def report(name: str, value: float, target: str = "") -> None:
    suffix = f"   (target {target})" if target else ""
    print(f"{name:<58s} {value:10.3f}{suffix}")


def paired_ratio(
    fn: Callable[[], object], baseline: Callable[[], object], repeat: int = 5, warmup: int = 1
) -> tuple[float, float, float]:
    """``(median of fn/baseline over interleaved pairs, best fn, best baseline)`` in seconds.

    Each call of ``fn`` is timed right after a call of ``baseline``, so load from other
    processes on a shared machine hits both sides of a pair alike.
    """
    for _ in range(warmup):
        baseline()
        fn()
    ratios, ours, base = [], [], []
    for _ in range(repeat):
        start = time.perf_counter()
        baseline()
        mid = time.perf_counter()
        fn()
        end = time.perf_counter()
        base.append(mid - start)
        ours.append(end - mid)
        ratios.append((end - mid) / (mid - start))
    ratios.sort()
    mid_ratio = (ratios[(repeat - 1) // 2] + ratios[repeat // 2]) / 2
    return mid_ratio, min(ours), min(base)
