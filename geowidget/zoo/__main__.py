"""``python -m geowidget.zoo build [--out DIR] [--only NAME ...]``: train the demo zoo."""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    from geowidget.zoo.build import ZOO_SPECS

    parser = argparse.ArgumentParser(prog="python -m geowidget.zoo", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="train the zoo models (seeded) and write their weights")
    b.add_argument("--out", default=None, help="output folder (default: the package's weights/)")
    b.add_argument(
        "--only", nargs="+", default=None, choices=[s["name"] for s in ZOO_SPECS],
        help="train only these models",
    )
    b.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    sub.add_parser("list", help="list the shipped models and their test accuracy")
    args = parser.parse_args(argv)
    if args.command == "list":
        from geowidget.zoo import info, names

        for name in names():
            d = info(name)
            print(f"{name:20s} {d['arch']:9s} {d['training']:9s} acc={d['test_accuracy']:.3f}")
        return 0
    from geowidget.zoo.build import build

    start = time.perf_counter()
    manifest = build(args.out, names=args.only, progress=not args.no_progress)
    for name, d in manifest.items():
        print(f"{name:20s} acc={d['test_accuracy']:.3f} density={d['density']:.2f} "
              f"{d['train_seconds']:.1f}s")
    print(f"built {len(args.only or manifest)} models in {time.perf_counter() - start:.1f}s")
    return 0


__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
