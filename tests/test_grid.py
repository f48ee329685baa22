"""The Study's grid: every sparsity under every condition by default, and what it makes possible.

Robustness of a pruned model is checked against a brute-force loop over pruned copies (made
with ``prune_masks`` + ``pruned`` + ``deepcopy``, inputs corrupted with the engine's
``corrupt``); correlations, the benchmark similarity and the (method x sparsity) model map
against numpy computations of the same formulas.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch

import geowidget as gw
from geowidget.analysis.embedding import benchmark_similarity, model_embedding
from geowidget.analysis.evaluation import evaluation_grid
from geowidget.analysis.scores import correlations, robustness
from geowidget.cube import GeometryCube
from geowidget.engine.corruptions import corrupt
from geowidget.engine.pruning import prune_masks, pruned
from geowidget.study import Study
from tests.test_study import trained_digits

CORRUPTIONS, SEVERITIES, SPARSITIES = ["fog", "rotate"], (1, 4), (0.5, 0.9)
TIE = 1e-4  # logit gap under which a float's last bits may flip an argmax


@pytest.fixture(scope="module")
def setup() -> tuple[dict, tuple[torch.Tensor, torch.Tensor]]:
    return trained_digits()  # two small MLPs trained on digits, 120 other digits


@pytest.fixture(scope="module")
def cube(setup) -> GeometryCube:
    models, data = setup
    return Study(models, data, sparsities=SPARSITIES, corruptions=CORRUPTIONS,
                 severities=SEVERITIES, shard_size=100, batch_size=64, progress=False).run()


@pytest.fixture(scope="module")
def cheap(setup) -> GeometryCube:
    """A cube of the grid that corrupts only the dense model."""
    models, data = setup
    return Study(models, data, sparsities=(0.9,), corruptions=CORRUPTIONS, severities=(1,),
                 grid="dense-corrupted", progress=False).run()


def test_default_grid_fills_every_cell_of_the_evaluation_table(setup, cube) -> None:
    # 3 sparsities x (clean + 2 corruptions x 2 severities)
    assert len(cube.conditions) == 3 * 5
    assert {(c.sparsity, c.benchmark, c.severity) for c in cube.conditions} == {
        (s, b, v) for s in (0.0, *SPARSITIES)
        for b, v in [("clean", 0)] + [(b, v) for b in CORRUPTIONS for v in SEVERITIES]}
    grid = evaluation_grid(cube)
    assert grid.shape == (2 * 3, 5)
    assert (grid.condition >= 0).all() and np.isfinite(grid.accuracy).all()
    rob = evaluation_grid(cube, quantity="robustness")
    assert (rob.counts.sum(axis=2) == len(cube.labels)).all()  # every sample in every cell

    models, data = setup
    cheap = Study(models, data, sparsities=SPARSITIES, corruptions=CORRUPTIONS,
                  severities=SEVERITIES, grid="dense-corrupted", progress=False)
    assert [c.label for c in cheap.conditions] == [
        "clean@0", "clean@0.5", "clean@0.9", "fog-1@0", "fog-4@0", "rotate-1@0", "rotate-4@0"]
    some = Study(models, data, sparsities=SPARSITIES, corruptions=["fog"], severities=(1,),
                 grid=[0.9], progress=False)
    assert [c.label for c in some.conditions] == [
        "clean@0", "clean@0.5", "clean@0.9", "fog-1@0", "fog-1@0.9"]


def test_pruned_robustness_equals_a_loop_over_pruned_copies(setup, cube) -> None:
    models, (x, y) = setup
    conditions = [(b, v) for b in CORRUPTIONS for v in SEVERITIES]
    inputs = {c: corrupt(x, c[0], c[1], seed=0) for c in conditions}
    for mi, net in enumerate(models.values()):
        for s in (0.0, *SPARSITIES):
            copy_ = copy.deepcopy(net)
            masks = prune_masks(net, s) if s > 0 else {}
            correct, gap = [], []
            with pruned(copy_, masks), torch.no_grad():
                for c in conditions:
                    z = copy_(inputs[c]).double()
                    top = z.topk(2, dim=1).values
                    correct.append((z.argmax(1) == y).numpy())
                    gap.append((top[:, 0] - top[:, 1]).numpy())
            brute = np.mean(correct, axis=0)
            clear = np.min(gap, axis=0) > TIE  # no near-tie under any condition
            assert clear.mean() > 0.95
            got = robustness(cube, sparsity=s)[mi]
            np.testing.assert_array_equal(got[clear], brute[clear])
            assert np.abs(got - brute).max() <= 1 / len(conditions) * (~clear).sum()
            if s == 0.9:  # the pruned model's own cells, not copies of the dense model's
                assert (got != robustness(cube, sparsity=0.0)[mi]).any()


def test_correlations_per_sparsity_match_numpy(cube, cheap) -> None:
    table = correlations(cube, sparsity=0.9, ci=None)
    assert list(table.index) == [("net0", 0.9), ("net1", 0.9)]
    assert table.index.names == ["model", "sparsity"] and table.attrs["sparsity"] == [0.9]
    clean = cube.condition_index(0.9, "clean")
    rob = robustness(cube, sparsity=0.9)
    for mi, model in enumerate(cube.models):
        for col, metric in (("rc-angle", "angle"), ("rc-l2", "norm"), ("rc-margin", "margin")):
            x = getattr(cube, metric)[mi, 0, clean].astype(np.float64)
            ok = np.isfinite(x)
            r = np.corrcoef(x[ok], rob[mi][ok])[0, 1]
            assert table.loc[(model, 0.9), col] == pytest.approx(r, abs=1e-12)
    every = correlations(cube, sparsity=None, ci=None)
    assert list(every.index) == [(m, s) for m in ("net0", "net1") for s in (0.0, 0.5, 0.9)]
    assert every.loc[("net1", 0.9), "rc-margin"] == pytest.approx(table.loc[("net1", 0.9), "rc-margin"])
    assert every.loc[("net1", 0.0), "rc-margin"] == pytest.approx(
        correlations(cube, ci=None).loc[("net1", 0.0), "rc-margin"])
    assert "net1 · 90%" in every._repr_html_()
    with pytest.raises(ValueError, match=r"'sparsity' parameter of correlations must be 0 with "
                                         r"target='vulnerability'.*Got 0.5"):
        correlations(cube, target="vulnerability", sparsity=0.5)
    with pytest.raises(ValueError, match=r"no corrupted condition at sparsity 0.9 \(corruptions "
                                         r"were evaluated at sparsities \[0.0\]\); run the Study "
                                         r"with grid='full'"):
        correlations(cheap, sparsity=0.9)
    with pytest.raises(ValueError, match=r"'sparsity' parameter of benchmark_similarity must be "
                       r"a sparsity at which the cube has corrupted conditions \(\[0.0\]; run "
                       r"the Study with grid='full' to corrupt every sparsity\)\. Got 0.9"):
        benchmark_similarity(cheap, sparsity=0.9)


def test_benchmark_similarity_of_a_pruned_model_matches_a_loop(cube) -> None:
    sim = benchmark_similarity(cube, sparsity=0.9, models=["net1"])
    assert list(sim.index) == CORRUPTIONS
    clean = cube.condition_index(0.9, "clean")
    vecs = []
    for bench in CORRUPTIONS:
        parts = []
        for v in SEVERITIES:  # severities in order, then feature, then sample
            k = cube.condition_index(0.9, bench, v)
            for metric in ("angle", "norm", "margin"):
                a = getattr(cube, metric)[1, 0, k].astype(np.float64)
                d = a - getattr(cube, metric)[1, 0, clean]  # the change at the same sparsity
                parts.append(d)
        vecs.append(parts)
    finite = np.all([np.isfinite(p) for parts in vecs for p in parts], axis=0)
    flat = [np.concatenate([(p[finite] - p[finite].mean()) / p[finite].std() for p in parts])
            for parts in vecs]
    assert sim.loc["fog", "rotate"] == pytest.approx(np.corrcoef(flat)[0, 1], abs=1e-10)
    dense = benchmark_similarity(cube, sparsity=0.0, models=["net1"])
    assert dense.loc["fog", "rotate"] != pytest.approx(sim.loc["fog", "rotate"], abs=1e-6)


def test_model_map_of_methods_by_sparsities(setup, cheap) -> None:
    models, data = setup
    kw = dict(sparsities=SPARSITIES, corruptions=["fog"], severities=(2,), progress=False)
    both = GeometryCube.concat_models([
        Study({"mag": models["net0"]}, data, **kw).run(),
        Study({"rnd": models["net0"]}, data, pruning="random", **kw).run(),
    ])
    with pytest.warns(RuntimeWarning, match="dropped"):  # dead units of random pruning at 90 %
        emb = model_embedding(both, by="model_sparsity", sparsity=None, benchmark=None)
    keep = np.isin(both.sample_ids, emb.sample_ids)
    assert emb.matrix.shape == (2 * 3, 3 * 2 * keep.sum())  # (method x sparsity) rows
    assert emb.labels[:3] == ["mag · dense", "mag · global_magnitude 50%",
                              "mag · global_magnitude 90%"]
    assert emb.labels[5] == "rnd · random 90%" and emb.info[5]["benchmarks"] == ["clean", "fog"]
    # row "rnd at 90 %": z-scored blocks, feature-major, then clean and fog-2, then sample
    want = []
    for metric in ("angle", "norm", "margin"):
        for bench, sev in (("clean", 0), ("fog", 2)):
            v = getattr(both, metric)[1, 0, both.condition_index(0.9, bench, sev)]
            v = v[keep].astype(np.float64)
            want.append((v - v.mean()) / v.std())
    np.testing.assert_allclose(emb.matrix[5], np.concatenate(want), atol=1e-9)
    with pytest.warns(RuntimeWarning, match="dropped"):
        view = gw.ModelMap(both, by="model_sparsity")
    assert view._names == emb.labels
    rob = view._colors["robustness"]
    assert rob[5] == pytest.approx(robustness(both, sparsity=0.9)[1].mean())
    assert rob[3] == pytest.approx(robustness(both, sparsity=0.0)[1].mean())
    with pytest.raises(ValueError, match=r"needs the same \(benchmark, severity\) pairs at "
                                         r"every selected sparsity.*grid='full'"):
        model_embedding(cheap, by="model_sparsity", sparsity=None, benchmark=None)


def test_grid_bad_input(setup) -> None:
    models, data = setup
    with pytest.raises(ValueError, match=r"'grid' parameter of Study must be 'full', "
                                         r"'dense-corrupted' or a list of the study's sparsities "
                                         r"\[0.0, 0.5\]. Got \[0.0, 0.3\] instead \(\[0.3\] are "
                                         r"not among them\)"):
        Study(models, data, sparsities=(0.5,), grid=[0.3])
    with pytest.raises(ValueError, match=r"'grid' parameter of Study must be one of .*Got "
                                         r"'partial' instead"):
        Study(models, data, grid="partial")


def test_corruptions_added_to_a_pruned_study_reuse_every_unit(setup, tmp_path) -> None:
    models, data = setup
    kw = dict(sparsities=(0.5,), severities=(1,), shard_size=60, cache_dir=tmp_path,
              progress=False)
    first = Study(models, data, corruptions=["fog"], **kw)
    first.run()
    assert first.stats["computed"] == 2 * 2 * 4  # models x shards x (2 sparsities x 2 inputs)
    more = Study(models, data, corruptions=["fog", "rotate"], **kw)
    cube = more.run()
    assert more.stats == {"computed": 2 * 2 * 2, "cached": 2 * 2 * 4, "corrupt": 0}
    assert more.part_stats == {"outputs": {"computed": 8, "cached": 16},
                               "layers": {"penultimate": {"computed": 8, "cached": 16}}}
    fresh = Study(models, data, corruptions=["fog", "rotate"], **{**kw, "cache_dir": None}).run()
    assert cube.equals(fresh)
    pd.testing.assert_frame_equal(cube.correlations(ci=None, sparsity=None),
                                  fresh.correlations(ci=None, sparsity=None))
