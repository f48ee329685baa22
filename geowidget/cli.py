"""The ``geowidget`` command line.

- ``geowidget demo``: geometry of a bundled MNIST model on real held-out digits, as a table.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def demo(args: argparse.Namespace) -> int:
    """Per-class summary of angle, norm and margin for one bundled model."""
    import numpy as np

    from geowidget import zoo
    from geowidget.engine.head import geometry_from_model

    model = zoo.load(args.model)
    data = zoo.probe_data()
    geo = geometry_from_model(model, data.as_pair(), progress=not args.quiet).to_numpy()
    labels = data.labels.numpy()
    print(f"geowidget demo: {args.model} on {len(labels)} held-out MNIST digits "
          f"(accuracy {geo['correct'].mean():.3f})")
    print("angle: to the true class's weight row, degrees; margin: signed L2 distance to the "
          "decision boundary in feature space")
    header = f"{'class':>5} {'n':>5} {'acc':>6} {'angle':>8} {'norm':>8} {'margin':>8} {'AVH':>7}"
    print(header)
    print("-" * len(header))
    rows = [(name, labels == c) for c, name in enumerate(data.class_names)]
    for name, mask in [*rows, ("all", np.ones_like(labels, dtype=bool))]:
        print(
            f"{name:>5} {mask.sum():>5} {geo['correct'][mask].mean():>6.3f} "
            f"{np.degrees(np.nanmean(geo['angle'][mask])):>8.2f} "
            f"{np.nanmean(geo['norm'][mask]):>8.2f} {np.nanmean(geo['margin'][mask]):>8.3f} "
            f"{np.nanmean(geo['avh'][mask]):>7.4f}"
        )
    r = np.corrcoef(np.degrees(geo["angle"]), geo["margin"])[0, 1]
    print(f"Pearson r(angle, margin) = {r:.3f}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="geowidget", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="geometry of a bundled model, as a table")
    p_demo.add_argument("--model", default="lenet-s0", help="a name from geowidget.zoo.names()")
    p_demo.add_argument("--quiet", action="store_true", help="no progress bar")
    p_demo.set_defaults(func=demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
