"""sparsity_text: the fewest decimals of a percent that keep every two grid levels apart."""

from __future__ import annotations

import numpy as np

from geowidget.coords import sparsity_text


def test_levels_stay_apart_with_the_fewest_decimals() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        levels = np.unique(np.round(rng.uniform(0, 1, rng.integers(2, 30)), 5))
        texts = [sparsity_text(v, levels) for v in levels]
        assert len(set(texts)) == len(levels)  # every level distinct
        digits = len(texts[0].rstrip("%").partition(".")[2])
        assert all(len(t.rstrip("%").partition(".")[2]) == digits for t in texts)
        if digits:  # one decimal fewer would merge two levels (brute force)
            fewer = {f"{100 * v:.{digits - 1}f}" for v in levels}
            assert len(fewer) < len(levels)
    grid = np.linspace(0, 0.9, 12)
    assert [sparsity_text(v, grid) for v in grid][4:7] == ["33%", "41%", "49%"]
    assert sparsity_text(0.409, [0.409, 0.412]) == "40.9%"
    assert sparsity_text(0.5) == "50%"
