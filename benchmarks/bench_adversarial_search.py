"""adversarial_distance against the test's brute-force search, on fresh draws of small ReLU nets.

Counts the points where the attack's L2 distance is above the search's (random directions
with bisection, ``tests/test_adversarial.py``) by more than the relative float tolerance
the test allows. Each draw is ``--nets`` nets (5-16-3, each its own seed) with ``--points``
inputs each, from one entropy, printed so a draw can be repeated with ``--entropy``;
``--draws K`` runs K fresh draws and counts the draws with a point above the search.

Run: python benchmarks/bench_adversarial_search.py [--nets 5] [--points 200]
     [--entropy N | --draws K]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np

from geowidget.engine.adversarial import adversarial_distance

# the test module by its path: the search, the draw and the tolerance are the test's own
_spec = importlib.util.spec_from_file_location(
    "test_adversarial", Path(__file__).resolve().parent.parent / "tests" / "test_adversarial.py")
_test = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_test)
ABOVE, brute_force, relu_draw = _test.ABOVE, _test.brute_force, _test.relu_draw


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nets", type=int, default=5)
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--entropy", type=int, default=None)
    parser.add_argument("--draws", type=int, default=1)
    args = parser.parse_args()
    if args.entropy is not None and args.draws != 1:
        parser.error(f"--draws {args.draws} with --entropy: one entropy is one draw")
    failing = []
    for _ in range(args.draws):
        entropy = np.random.SeedSequence(args.entropy).entropy
        if draw(entropy, args.nets, args.points):
            failing.append(entropy)
    if args.draws > 1:
        print(f"draws: {len(failing)} of {args.draws} with a point above the search"
              + (f": {failing}" if failing else ""))


def draw(entropy: int, nets: int, points: int) -> int:
    """Points of one draw above the search, each net's count printed."""
    print(f"entropy {entropy}: {nets} nets x {points} points, tolerance {ABOVE:g}")
    total = 0
    for k, (model, x) in enumerate(relu_draw(entropy, nets, points)):
        start = time.perf_counter()
        r = adversarial_distance(model, x, "l2", bounds=(-10, 10), check=len(x),
                                 progress=False)
        took = time.perf_counter() - start
        ratio = (r.distance / brute_force(model, x)).numpy()
        above = np.flatnonzero(~(ratio <= 1 + ABOVE))  # NaN (a failed attack) counts too
        total += len(above)
        print(f"net {k}: {len(above)} of {len(x)} above the search (max ratio "
              f"{np.nanmax(ratio):.5f}, median {np.nanmedian(ratio):.4f}), {r.failed} failed, "
              f"attack {took:.1f} s" + (f"; above: {above.tolist()}" if len(above) else ""),
              flush=True)
    print(f"total: {total} of {nets * points} points above the search", flush=True)
    return total


if __name__ == "__main__":
    main()
