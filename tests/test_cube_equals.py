"""GeometryCube.equals with a tolerance: floats within the stated bound, all else exact."""

from __future__ import annotations

import numpy as np
import pytest

from geowidget.cube import LAYER_METRICS
from tests.test_cube import make_cube


def within(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> bool:
    """The bound element by element, in float64: |a - b| <= atol + rtol |b|, NaN only at NaN."""
    for x, y in zip(a.ravel().tolist(), b.ravel().tolist(), strict=True):
        if np.isnan(x) or np.isnan(y):
            if not (np.isnan(x) and np.isnan(y)):
                return False
        elif not abs(x - y) <= atol + rtol * abs(y):
            return False
    return True


def test_exact_by_default_and_floats_within_the_stated_bound() -> None:
    cube = make_cube()
    angle = cube.angle
    # one value moved by 3e-6 relative: the last bits of a float32 sum taken in another order
    moved = angle.copy()
    moved[1, 0, 3, 7] *= np.float32(1 + 3e-6)
    other = cube.replace(angle=moved)
    assert not other.equals(cube)
    for rtol in (1e-6, 2e-6, 5e-6, 1e-5):  # equals agrees with the bound checked one by one
        assert other.equals(cube, rtol=rtol) == within(moved, angle, rtol, 0.0)
    assert not other.equals(cube, rtol=1e-6) and other.equals(cube, rtol=5e-6)
    # an absolute bound, for values near zero (a margin's difference is not relative to it)
    near_zero = cube.margin.copy()
    near_zero[0, 0, 0, 0] = 0.0
    shifted = near_zero.copy()
    shifted[0, 0, 0, 0] = 1e-6
    a, b = cube.replace(margin=shifted), cube.replace(margin=near_zero)
    assert not a.equals(b, rtol=1e-3) and a.equals(b, atol=2e-6)
    assert within(shifted, near_zero, 0.0, 2e-6) and not within(shifted, near_zero, 1e-3, 0.0)
    # projections are floats: the same bound
    xy = np.random.default_rng(0).normal(size=(2, 2, 30, 2)).astype(np.float32)
    p, q = cube.replace(projections={"pca": xy}), cube.replace(projections={"pca": xy * 1.00001})
    assert not p.equals(q) and p.equals(q, rtol=2e-5) and not p.equals(q, rtol=5e-6)


def test_nan_and_integer_arrays_stay_exact_under_any_tolerance() -> None:
    cube = make_cube()
    assert np.isnan(cube.angle).any()
    assert cube.equals(cube.replace(angle=cube.angle.copy()), rtol=0.1)  # NaN equals NaN
    filled = np.nan_to_num(cube.angle, nan=0.0)
    assert not cube.replace(angle=filled).equals(cube, rtol=1.0, atol=1e9)
    pred = cube.pred.copy()
    pred[0, 0, 0] += 1
    assert not cube.replace(pred=pred).equals(cube, rtol=1.0, atol=10.0)
    correct = cube.correct.copy()
    correct[1, 2, 3] = ~correct[1, 2, 3]
    assert not cube.replace(correct=correct).equals(cube, rtol=1.0, atol=10.0)
    assert not cube.replace(labels=(cube.labels + 1) % 3).equals(cube, rtol=1.0, atol=10.0)
    assert not cube.replace(sample_ids=cube.sample_ids + 1).equals(cube, atol=10.0)
    assert not cube.replace(models=["a", "b"]).equals(cube, atol=10.0)
    # every float array is compared: a change in any one beyond the bound is seen
    for name in (*LAYER_METRICS, "logit_margin"):
        v = cube.values(name).copy()
        v.flat[-1] += 1.0
        assert not cube.replace(**{name: v}).equals(cube, rtol=1e-3, atol=1e-3), name
        assert cube.replace(**{name: v}).equals(cube, atol=1.01), name


@pytest.mark.parametrize("name, value, shown", [("rtol", -1e-6, "-1e-06"), ("atol", float("nan"), "nan"),
                                                ("rtol", "x", "'x'")])
def test_a_bad_tolerance_names_the_parameter_and_the_value(name: str, value: object,
                                                           shown: str) -> None:
    cube = make_cube()
    with pytest.raises(ValueError, match=rf"The '{name}' parameter of GeometryCube.equals must "
                                         rf"be a float in \[0, inf\). Got {shown} instead"):
        cube.equals(cube, **{name: value})
