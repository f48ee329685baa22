"""ModelMap's colour fields: the pruning method says "dense" at sparsity 0, and the map sends
the number of classes so its accuracy colour starts at chance, as the evaluation table's."""

from __future__ import annotations

import numpy as np

import geowidget as gw
from tests.test_evaluation import grid_cube


def test_method_is_dense_at_sparsity_zero():
    cube = grid_cube(m=3)
    mm = gw.ModelMap(cube, by="model_condition", sparsity=None, color_by="method")
    names = mm._meta["category_names"]["method"]
    shown = [names[int(v)] for v in mm._arrays["c_method"]]
    pm, pk = mm._arrays["pm"], mm._arrays["pk"]
    want = ["dense" if cube.conditions[k].sparsity == 0 else cube.model_info[m]["pruning"]
            for m, k in zip(pm, pk, strict=True)]
    assert shown == want
    assert "dense" in shown and {"magnitude", "random"} <= set(shown)


def test_accuracy_and_classes_sent_for_the_chance_scale():
    cube = grid_cube(m=3)
    mm = gw.ModelMap(cube, color_by="accuracy")
    assert mm._meta["classes"] == len(cube.class_names) == 4
    pm, pk = mm._arrays["pm"], mm._arrays["pk"]
    brute = [np.mean([float(cube.correct[m, k, i]) for i in range(len(cube.labels))])
             for m, k in zip(pm, pk, strict=True)]
    np.testing.assert_allclose(mm._arrays["c_accuracy"], brute, atol=1e-6)
    assert "classes" not in gw.ModelMap(xy=[[0, 0], [1, 1]])._meta  # no cube: [0, 1] scale
