"""The command line, checked against direct computation."""

from __future__ import annotations

import re

import numpy as np
import torch

from geowidget import zoo
from geowidget.cli import main


def test_summary_prints_accuracy_and_mean_margin_of_the_bundled_model(capsys):
    assert main(["summary", "--quiet", "--model", "mlp-s0"]) == 0
    out = capsys.readouterr().out
    row = re.search(r"^\s+all\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(-?[\d.]+)", out, re.M)
    assert row, out
    model, data = zoo.load("mlp-s0"), zoo.probe_data()
    with torch.no_grad():
        logits = model(data.images)
    acc = (logits.argmax(1) == data.labels).double().mean().item()
    assert int(row.group(1)) == len(data.labels)
    assert float(row.group(2)) == round(acc, 3)
    # mean margin: z_y - z_j over |W_y - W_j|, by a loop over competitors
    head = model.fc
    with torch.no_grad():
        z = logits.double()
        w = head.weight.double()
    y = data.labels
    margins = np.full(len(y), np.inf)
    for j in range(10):
        dist = (w[y] - w[j]).norm(dim=1).numpy()
        ratio = (z[torch.arange(len(y)), y] - z[:, j]).numpy() / np.where(dist == 0, np.nan, dist)
        ratio[(y == j).numpy()] = np.inf
        margins = np.minimum(margins, ratio)
    assert float(row.group(5)) == round(margins.mean(), 3)
