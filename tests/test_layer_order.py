"""Layers by depth: a Study stores them from the input to the output whatever order they are
given in, so the pickers, the layer profile and the tables (all in the cube's order) never
run backwards through the network."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from geowidget.engine.features import forward_order, sort_by_depth
from geowidget.study import Study


class Backwards(nn.Module):
    """Modules defined in the reverse of the order the forward pass reaches them."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(8, 3)
        self.fc = nn.Linear(12, 8)
        self.conv2 = nn.Sequential(nn.Conv2d(4, 3, 3), nn.ReLU())
        self.conv1 = nn.Conv2d(1, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(torch.relu(self.conv1(x)))
        return self.head(torch.relu(self.fc(h.mean((2, 3)).repeat(1, 4))))


def test_forward_order_is_the_order_of_the_forward_pass() -> None:
    order = forward_order(Backwards())
    at = {name: order.index(name) for name in ("conv1", "conv2.0", "fc", "head")}
    assert at["conv1"] < at["conv2.0"] < at["fc"] < at["head"]


def test_sort_by_depth_follows_the_forward_pass() -> None:
    net = Backwards()
    got = sort_by_depth(net, ["head:input", "penultimate", "conv2", "fc", "conv1", "nope"],
                        last=("penultimate",))
    # a block at its first node, an input just before its module, unknown names after the
    # known ones, the penultimate layer last
    assert got == ["conv1", "conv2", "fc", "head:input", "nope", "penultimate"]
    assert sort_by_depth(net, ["fc", "fc:input"]) == ["fc:input", "fc"]


def test_study_stores_layers_by_depth() -> None:
    torch.manual_seed(0)
    net = Backwards().eval()
    x = torch.rand(24, 1, 8, 8)
    y = torch.arange(24) % 3
    given = ["penultimate", "fc", "conv1"]
    cube = Study({"net": net}, (x, y), layers=given, progress=False).run()
    # the penultimate layer is the input of the head the study finds (``fc``, by its name)
    assert cube.layers == ["conv1", "penultimate", "fc"]
    # each layer's numbers moved with its name: as a study of that layer alone gives them
    for name in ("fc", "penultimate"):
        alone = Study({"net": net}, (x, y), layers=[name], progress=False).run()
        li = cube.layers.index(name)
        for field in ("angle", "norm", "margin"):
            np.testing.assert_allclose(getattr(cube, field)[0, li], getattr(alone, field)[0, 0],
                                       rtol=1e-4, atol=1e-5)


def test_penultimate_sits_at_the_heads_input() -> None:
    """The penultimate layer is the head's input: with ``layers="all"`` it comes right
    before the head (the logits), as the model's own module order places the head."""
    from geowidget.zoo.models import lenet

    torch.manual_seed(0)
    net = lenet(seed=0).eval()
    x, y = torch.rand(20, 1, 28, 28), torch.arange(20) % 10
    cube = Study({"lenet": net}, (x, y), layers="all", sparsities=(), progress=False).run()
    # independent: the modules in the order torch.fx's trace calls them, the head the last
    # Linear the model registers
    traced = torch.fx.symbolic_trace(net)
    called = [str(n.target) for n in traced.graph.nodes if n.op == "call_module"]
    head = [n for n, m in net.named_modules() if isinstance(m, nn.Linear)][-1]
    assert head == "fc" and called[-1] == head
    assert cube.layers == [*called[:-1], "penultimate", head]
    # its numbers are the head's geometry, as a study of the penultimate layer alone gives
    alone = Study({"lenet": net}, (x, y), sparsities=(), progress=False).run()
    li = cube.layers.index("penultimate")
    for field in ("angle", "norm", "margin"):
        np.testing.assert_allclose(getattr(cube, field)[0, li], getattr(alone, field)[0, 0],
                                   rtol=1e-4, atol=1e-5)
    # a model without a Linear head keeps it last (nothing to place it before)
    assert sort_by_depth(net, ["fc1", "penultimate", "conv1"], last=("penultimate",)) == \
        ["conv1", "fc1", "penultimate"]


def test_modules_named_with_digits_are_placed_by_their_own_calls() -> None:
    """The traced graph's node names drop a module name's "_<digits>" ("relu_2" is the node
    "relu_1"); a layer named after a module is that module, at its own depth."""
    from collections import OrderedDict

    names = ["conv_1", "relu_1", "pool_1", "flat", "fc1", "relu_2", "fc"]
    mods = [nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(144, 16), nn.ReLU(), nn.Linear(16, 10)]
    net = nn.Sequential(OrderedDict(zip(names, mods, strict=True))).eval()
    # independent: an nn.Sequential calls its modules in definition order
    assert [n for n, _ in net.named_modules() if n] == names
    assert sort_by_depth(net, names[::-1]) == names
    assert sort_by_depth(net, ["penultimate", "pool_1", "relu_2", "fc", "fc1"],
                         at={"penultimate": "fc:input"}) == \
        ["pool_1", "fc1", "relu_2", "penultimate", "fc"]
