"""Per-sample scores and correlation tables, checked against brute-force loops and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from geowidget import testing
from geowidget.analysis.scores import (
    CorrelationTable,
    _rank,
    breakdown_sparsity,
    correlation,
    correlations,
    pie,
    robustness,
    robustness_per_benchmark,
    vulnerability,
)
from geowidget.cube import Condition, GeometryCube

SPARSITIES = [0.0, 0.3, 0.6, 0.9]
BENCH = [("fog", 1), ("fog", 2), ("rotate", 1), ("rotate", 2), ("rotate", 3)]


def random_cube(m: int = 3, n: int = 200, seed: int = 0) -> GeometryCube:
    conds = [Condition(s, "clean", 0) for s in SPARSITIES] + [Condition(0.0, b, v)
                                                              for b, v in BENCH]
    return testing.random_cube([f"m{i}" for i in range(m)], ["conv", "penult"], n=n,
                               classes=list("abcd"), seed=seed, conditions=conds)


def test_robustness_brute_force() -> None:
    cube = random_cube()
    r = robustness(cube)
    per = robustness_per_benchmark(cube)
    for mi in range(3):
        for j in range(200):
            hits = [cube.correct[mi, ki, j] for ki, c in enumerate(cube.conditions)
                    if c.benchmark != "clean"]
            assert r[mi, j] == pytest.approx(sum(hits) / 5)
            fog = [cube.correct[mi, ki, j] for ki, c in enumerate(cube.conditions)
                   if c.benchmark == "fog"]
            assert per["fog"][mi, j] == pytest.approx(sum(fog) / 2)
    assert list(per) == ["fog", "rotate"] and r.shape == (3, 200)


def test_vulnerability_breakdown_and_pie_brute_force() -> None:
    cube = random_cube()
    v, s_star = vulnerability(cube), breakdown_sparsity(cube)
    s_err = breakdown_sparsity(cube, criterion="error")
    flags = pie(cube)
    pie_mid = pie(cube, sparsity=0.3)
    for mi in range(3):
        for j in range(200):
            dense = cube.pred[mi, 0, j]
            flips = [cube.pred[mi, ki, j] != dense for ki in (1, 2, 3)]
            assert v[mi, j] == pytest.approx(sum(flips) / 3)
            first = next((SPARSITIES[1 + i] for i, f in enumerate(flips) if f), np.inf)
            assert s_star[mi, j] == first
            wrong = [not cube.correct[mi, ki, j] for ki in (0, 1, 2, 3)]
            assert s_err[mi, j] == next((SPARSITIES[i] for i, w in enumerate(wrong) if w), np.inf)
            assert flags[mi, j] == flips[2] and pie_mid[mi, j] == flips[0]
    pop = pie(cube, population=True)
    for j in range(200):
        mode_dense = np.bincount(cube.pred[:, 0, j], minlength=4).argmax()
        mode_pruned = np.bincount(cube.pred[:, 3, j], minlength=4).argmax()
        assert pop[j] == (mode_dense != mode_pruned)


def test_rank_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 6, size=(5, 40)).astype(float)
    np.testing.assert_allclose(_rank(a), stats.rankdata(a, axis=1))


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_correlation_matches_scipy_and_loop_bootstrap(method: str) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=300)
    y = 0.6 * x + rng.normal(size=300)
    y[5] = np.nan  # dropped
    r, lo, hi = correlation(x, y, method=method, ci=0.9, n_boot=300, seed=4)
    ok = np.isfinite(y)
    ref = (stats.pearsonr if method == "pearson" else stats.spearmanr)(x[ok], y[ok])[0]
    assert r == pytest.approx(ref, abs=1e-12)
    # the same resamples, one at a time
    idx = np.random.default_rng(4).integers(0, ok.sum(), size=(300, ok.sum()))
    fn = stats.pearsonr if method == "pearson" else stats.spearmanr
    boots = [fn(x[ok][i], y[ok][i])[0] for i in idx]
    assert (lo, hi) == pytest.approx(tuple(np.quantile(boots, [0.05, 0.95])), abs=1e-10)
    if method == "pearson":  # close to the Fisher-z interval for bivariate normal data
        z, se = np.arctanh(ref), 1 / np.sqrt(ok.sum() - 3)
        assert lo == pytest.approx(np.tanh(z - 1.645 * se), abs=0.03)
        assert hi == pytest.approx(np.tanh(z + 1.645 * se), abs=0.03)


def test_correlations_table_matches_scipy() -> None:
    cube = random_cube()
    table = correlations(cube, target="vulnerability", method="spearman", ci=0.95, n_boot=50)
    assert isinstance(table, CorrelationTable)
    assert list(table.index) == [("m0", 0.0), ("m1", 0.0), ("m2", 0.0)]
    assert list(table.columns[:3]) == ["rc-angle", "rc-angle lo", "rc-angle hi"]
    v = vulnerability(cube)
    for mi, model in enumerate(cube.models):
        for col, metric in [("rc-angle", "angle"), ("rc-l2", "norm"), ("rc-margin", "margin")]:
            ref = stats.spearmanr(getattr(cube, metric)[mi, 1, 0], v[mi])[0]
            assert table.loc[(model, 0.0), col] == pytest.approx(ref, abs=1e-9)
            assert table.loc[(model, 0.0), f"{col} lo"] <= table.loc[(model, 0.0), col] + 0.05
        assert table.loc[(model, 0.0), "n"] == 200
    html = table._repr_html_()
    assert html.count("<tr>") == 4 and "Spearman r" in html and "vulnerability" in html
    via_cube = cube.correlations(target="robustness", layer="conv", ci=None)
    ref = stats.pearsonr(cube.margin[1, 0, 0], robustness(cube)[1])[0]
    assert via_cube.loc[("m1", 0.0), "rc-margin"] == pytest.approx(ref, abs=1e-9)
    assert np.isnan(via_cube.loc[("m1", 0.0), "rc-margin lo"])


def test_bad_input_messages() -> None:
    cube = random_cube()
    with pytest.raises(ValueError, match="'target' .* one of .*robustness.* Got 'accuracy'"):
        correlations(cube, target="accuracy")
    with pytest.raises(ValueError, match="'method' .* one of .*pearson.* Got 'kendall'"):
        correlations(cube, method="kendall")
    with pytest.raises(ValueError, match=r"'ci' .* None or a float in \(0, 1\)\. Got 95 "):
        correlations(cube, ci=95)
    clean = cube.sel(benchmark="clean")
    with pytest.raises(ValueError, match="no corrupted condition"):
        robustness(clean)
    with pytest.raises(ValueError, match="no pruned condition"):
        vulnerability(cube.sel(sparsity=0.0))
    with pytest.raises(ValueError, match="criterion must be 'flip' or 'error'"):
        breakdown_sparsity(cube, criterion="x")
