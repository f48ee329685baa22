"""How optimistic an in-sample probe is: a zoo model's intermediate layers on the bundled digits.

For each layer of ``--model`` (default the bundled LeNet, ``lenet-s0``), on the 1,500 held-out
digits of the zoo (``geowidget.zoo.probe_data``), the error rate and the share of negative
margins of a linear probe that is

1. fitted on the same 1,500 digits it measures (in sample: what a Study did before);
2. cross-fitted on them (5 stratified folds: what a Study does by default);
3. fitted on the 3,500 training digits (``probe_data=zoo.train_data()``);

next to the model's own error on those digits. Error and share of negative margins are the
same number (a margin is negative exactly when the probe errs), so the table also gives the
smallest margin.

Run: python benchmarks/bench_probe_oos.py [--model lenet-s0] [--layers conv2 pool2 fc1]
"""

from __future__ import annotations

import argparse

import torch

from geowidget import zoo
from geowidget.engine.features import extract_features
from geowidget.engine.geometry import geometry
from geowidget.engine.probe import cross_fit, fit_probe, linear_probe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet-s0")
    parser.add_argument("--layers", nargs="+", default=["conv2", "pool2", "fc1"])
    args = parser.parse_args()
    model = zoo.load(args.model)
    test, train = zoo.probe_data(), zoo.train_data()
    feats = extract_features(model, test, args.layers, progress=False)
    y, logits = feats.labels, feats.logits
    train_feats = extract_features(model, train, args.layers, progress=False)
    train_y = train_feats.labels
    model_error = (logits.argmax(1) != y).double().mean().item()
    print(f"{args.model} on {len(y)} held-out digits; model error {100 * model_error:.1f} %")
    print(f"{'layer':>8} {'dims':>6} {'in-sample':>10} {'min margin':>11} {'cross-fit':>10} "
          f"{'train-fit':>10}")
    for layer in args.layers:
        h, ht = feats[layer].double(), train_feats[layer].double()
        w, b = linear_probe(h, y, num_classes=10)
        inside = geometry(h, y, w, b)
        cross = cross_fit(h, y, folds=5, seed=0, num_classes=10).geometry(h, y)
        trained = fit_probe(ht, train_y, num_classes=10).geometry(h, y)

        def err(g: object) -> str:
            return f"{100 * (1 - g.correct.double().mean().item()):.1f} %"

        print(f"{layer:>8} {h.shape[1]:>6} {err(inside):>10} "
              f"{inside.margin.min().item():>11.3f} {err(cross):>10} {err(trained):>10}")


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()
