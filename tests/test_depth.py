"""Geometry through depth: layer quantiles against numpy, and the LayerProfile widget."""

from __future__ import annotations

import numpy as np
import pytest

from geowidget.analysis.depth import layer_quantiles
from geowidget.widgets import LayerProfile
from tests.fixtures.synthetic import make_cube


@pytest.fixture(scope="module")
def cube():
    base = make_cube(m=3, layers=4, n=50, seed=2)
    angle = base.angle.copy()
    angle[1, 2, 0, :5] = np.nan  # undefined angles (a zero feature vector) are left out
    angle[2, 3, 1, :] = np.nan  # a cell with no finite sample
    return base.replace(angle=angle)


def test_quantiles_match_a_loop_over_cells(cube):
    q = layer_quantiles(cube)
    assert q.shape == (3, 4, 3, 3, 3) and q.dtype == np.float32
    for m in range(3):
        for ly in range(4):
            for k in range(3):
                for j, name in enumerate(("angle", "norm", "margin")):
                    v = getattr(cube, name)[m, ly, k].astype(float)
                    v = v[np.isfinite(v)]
                    if not v.size:
                        assert np.isnan(q[m, ly, k, j]).all()
                        continue
                    np.testing.assert_allclose(q[m, ly, k, j], np.quantile(v, [0.1, 0.5, 0.9]),
                                               rtol=1e-6)
    assert np.isnan(q[2, 3, 1, 0]).all() and np.isfinite(q[2, 3, 1, 1]).all()


def test_quantile_arguments(cube):
    q = layer_quantiles(cube, metrics=["avh"], quantiles=[0.0, 1.0])
    np.testing.assert_allclose(q[..., 0, 1], cube.avh.max(axis=-1))
    with pytest.raises(ValueError, match=r"The 'metrics' parameter of layer_quantiles must be a "
                       r"non-empty list of .*Got \['loss'\] instead"):
        layer_quantiles(cube, metrics=["loss"])
    with pytest.raises(ValueError, match=r"The 'quantiles' parameter of layer_quantiles must be "
                       r"ascending values in \[0, 1\]. Got \[0.9, 0.1\] instead"):
        layer_quantiles(cube, quantiles=[0.9, 0.1])


def test_layer_profile_sends_the_quantiles_and_picks(cube):
    view = LayerProfile(cube, model="net1", layer="layer2", benchmark="fog")
    assert (view.model, view.layer, view.condition) == (1, 2, 2)
    np.testing.assert_array_equal(view._arrays["profile"], layer_quantiles(cube))
    prof = view.profile()
    np.testing.assert_array_equal(prof["margin"], layer_quantiles(cube)[:, :, 2, 2])
    assert view._meta["metrics"] == ["angle", "norm", "margin"]
    with pytest.raises(TypeError, match=r"The 'cube' parameter of LayerProfile must be a "
                       r"geowidget.cube.GeometryCube. Got \{'angle': \[\]\} instead"):
        LayerProfile({"angle": []})
    with pytest.raises(KeyError, match=r"unknown layer 'layer9'; valid: \['layer0', "):
        LayerProfile(cube, layer="layer9")
    with pytest.raises(ValueError, match=r"The 'layer' trait of LayerProfile must be an index in "
                       r"0..3"):
        view.layer = 4


def test_the_explorer_shows_a_layer_profile_with_two_or_more_layers(cube):
    from geowidget.widgets import Explorer

    ex = Explorer(cube)
    assert isinstance(ex.profile, LayerProfile) and ex.profile in ex.views()
    ex.polar.layer = 3  # linked: the profile's current layer follows
    assert ex.profile.layer == 3
    one = Explorer(make_cube(m=2, layers=1))
    assert one.profile is None
    assert not any(isinstance(v, LayerProfile) for v in one.views())
