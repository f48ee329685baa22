"""Checking a selection of 10,000,000 sample ids, as a widget does when ``selected`` is set.

Prints the time of ``widget.selected = ids`` (validation through the view's id index: known
ids, sorted, without repeats) against two baselines measured the same way in the same run
(one warm-up, then the median of 3): the check it replaced, ``np.unique`` then
``np.setdiff1d`` against the view's ids (numpy 2's ``np.unique`` hashes, tens of seconds at
this size), and the best plain-numpy check, one ``np.sort`` plus ``np.searchsorted`` into the
sorted ids. Three sets of view ids, one for each path of the id index: a contiguous range
(the usual case), a shuffled subsample of a range (gaps of 1 to 3: a membership table over
the span) and shuffled sparse ids (gaps of 1 to 100: a sorted copy). Target: <= 1 s. Run:
``.venv/bin/python benchmarks/bench_selection.py [--n 10000000]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geowidget.widgets.data import sorted_unique  # noqa: E402
from geowidget.widgets.view import SampleView  # noqa: E402


def median_seconds(fn, reps: int = 3) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(ids: np.ndarray, selection: np.ndarray) -> tuple[float, float, float]:
    """Median seconds of ours, np.sort + np.searchsorted, and np.unique + np.setdiff1d."""
    view = SampleView()
    view._wire_ids(ids)

    def ours() -> None:
        view.selected = selection

    def replaced() -> None:
        got = np.unique(selection)
        assert np.setdiff1d(got, ids).size == 0

    sorted_ids = np.sort(ids)

    def sort_search() -> None:
        got = sorted_unique(selection)
        at = np.minimum(np.searchsorted(sorted_ids, got), sorted_ids.size - 1)
        assert np.all(sorted_ids[at] == got)

    t_ours = median_seconds(ours)
    assert np.array_equal(view.selected, sorted_unique(selection))
    return t_ours, median_seconds(sort_search), median_seconds(replaced)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    cases = {
        "a range of ids": np.arange(args.n, dtype=np.int64) + 1000,  # the usual case
        # a subsample of a range (gaps of 1 to 3, shuffled): the index's table path
        "a subsample, gaps 1-3, in no order": rng.permutation(
            np.cumsum(rng.integers(1, 4, args.n, dtype=np.int64))),
        # ids drawn from a far larger dataset (gaps of 1 to 100): the sorted-ids path
        "sparse ids, gaps 1-100, in no order": rng.permutation(
            np.cumsum(rng.integers(1, 101, args.n, dtype=np.int64))),
    }
    print(f"load average {os.getloadavg()[0]:.2f}")
    for name, ids in cases.items():
        selection = rng.permutation(ids)  # every sample, in the order a lasso may give them
        t_ours, t_sort, t_old = measure(ids, selection)
        print(f"selected = {args.n:,} ids, {name} (a permutation of the view's ids), "
              "median of 3:")
        print(f"  id index (ours)                     {t_ours * 1e3:9.1f} ms   "
              "(target <= 1000 ms)")
        print(f"  np.sort + np.searchsorted           {t_sort * 1e3:9.1f} ms   "
              f"({t_sort / t_ours:.1f}x ours)")
        print(f"  np.unique + np.setdiff1d (before)   {t_old * 1e3:9.1f} ms   "
              f"({t_old / t_ours:.1f}x ours)")


if __name__ == "__main__":
    main()
