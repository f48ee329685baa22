"""Per-layer units: adding a layer to a finished study computes that layer only.

The store's counters (``Study.part_stats``) say which parts were computed, and forward hooks
count how far each forward pass ran: the added layer's passes stop at the layer.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from geowidget.cube import ARRAYS
from geowidget.engine.features import extract_features
from geowidget.study import Study

N, SHARD, BATCH = 120, 40, 8


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv_1 = nn.Conv2d(1, 4, 3, padding=1)
        self.pool_1 = nn.MaxPool2d(2)
        self.conv_2 = nn.Conv2d(4, 8, 3, padding=1)
        self.pool_2 = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(8 * 3 * 3, 16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pool_1(torch.relu(self.conv_1(x)))
        h = self.pool_2(torch.relu(self.conv_2(h)))
        return self.fc(torch.relu(self.fc1(h.flatten(1))))


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(N, 1, 12, 12, generator=g), torch.arange(N) % 10


def count_calls(*modules: nn.Module) -> tuple[list[int], list]:
    calls = [0] * len(modules)
    hooks = [m.register_forward_hook(lambda *_, i=i: calls.__setitem__(i, calls[i] + 1))
             for i, m in enumerate(modules)]
    return calls, hooks


def test_adding_a_layer_computes_only_that_layer(data, tmp_path) -> None:
    net = SmallCNN().eval()
    kw = dict(sparsities=(0.5,), corruptions=["fog"], severities=(1,), shard_size=SHARD,
              batch_size=BATCH, cache_dir=tmp_path, progress=False)
    units = (N // SHARD) * 2 * 2  # shards x sparsities x (clean, fog-1)
    first = Study({"cnn": net}, data, layers=["penultimate"], **kw)
    first.run()
    assert first.stats["computed"] == units

    study = Study({"cnn": net}, data, layers=["pool_1", "penultimate"], **kw)
    assert study.plan.layers == ["pool_1", "penultimate"]  # resolved before counting: its
    # one forward pass (counting the classes) is not among the passes counted below
    calls, hooks = count_calls(net.conv_1, net.conv_2, net.fc)
    cube = study.run()
    for h in hooks:
        h.remove()
    conv_1, conv_2, fc = calls
    # every unit gains a part, so every unit counts as computed; the counters of the parts
    # show that only pool_1 was computed and the outputs and the penultimate layer were reused
    assert study.stats == {"computed": units, "cached": 0, "corrupt": 0}
    assert study.part_stats == {
        "outputs": {"computed": 0, "cached": units},
        "layers": {"pool_1": {"computed": units, "cached": 0},
                   "penultimate": {"computed": 0, "cached": units}},
    }
    # forward passes: the probe of pool_1 is fitted on one whole pass over the probe samples
    # (N, the study's probe set); then the first batch runs whole (to learn how often each
    # module runs, kept with the model) and every later batch stops at pool_1
    probe_batches = math.ceil(N / BATCH)
    assert conv_1 == probe_batches + units * SHARD // BATCH
    assert conv_2 == fc == probe_batches + 1

    fresh = Study({"cnn": net}, data, layers=["pool_1", "penultimate"],
                  **{**kw, "cache_dir": None}).run()
    for name in ARRAYS:  # the same process and kernels: equal up to float32 rounding
        np.testing.assert_allclose(getattr(cube, name), getattr(fresh, name), rtol=1e-6,
                                   atol=1e-7, equal_nan=True, err_msg=name)

    # dropping, reordering or adding layers, sparsities and corruptions reuses every part
    again = Study({"cnn": net}, data, layers=["penultimate", "pool_1"], **kw)
    again.run()
    assert again.stats == {"computed": 0, "cached": units, "corrupt": 0}
    wider = Study({"cnn": net}, data, layers=["pool_1"], **{**kw, "sparsities": (0.5, 0.9)})
    wider.run()
    assert wider.stats == {"computed": units // 2, "cached": units, "corrupt": 0}
    assert wider.part_stats["layers"]["pool_1"] == {"computed": units // 2, "cached": units}


class Twice(nn.Module):
    """A block that runs twice in one forward pass: its features are its last call's."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.block = nn.Sequential(nn.Linear(6, 6), nn.Tanh())
        self.head = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(self.block(x)))


def test_stop_early_gives_the_whole_pass_features() -> None:
    net, x = SmallCNN().eval(), torch.rand(20, 1, 12, 12)
    whole = extract_features(net, x, ["pool_1", "fc1:input"], batch_size=6, progress=False)
    feats = extract_features(net, x, ["pool_1", "fc1:input"], batch_size=6, progress=False,
                             stop_early=True)
    assert feats.logits is None and feats.labels is None
    for name in whole:
        assert torch.equal(feats[name], whole[name])
    with torch.no_grad():
        assert torch.equal(feats["pool_1"], net.pool_1(torch.relu(net.conv_1(x))).flatten(1))

    twice, v = Twice().eval(), torch.randn(10, 6)
    with torch.no_grad():
        last = twice.block(twice.block(v))
    heads, hooks = count_calls(twice.head)
    for _ in range(2):  # the second call knows the count from the first: no whole batch
        with pytest.warns(RuntimeWarning, match="ran 2 times"):
            early = extract_features(twice, v, ["block"], batch_size=4, progress=False,
                                     stop_early=True)["block"]
        torch.testing.assert_close(early, last, rtol=0, atol=0)
    assert heads == [1]
