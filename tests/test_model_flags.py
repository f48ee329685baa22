"""The user's model is never changed: flags, weights, buffers, hooks, attributes, grads.

Every operation that takes a model runs on a model that mixes train/eval flags (an eval-mode
BatchNorm inside a training model), has a frozen parameter and carries user hooks; after it,
and after it raised half-way through the data, the model must be exactly as before.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import geowidget as gw
from geowidget.engine.head import find_head
from geowidget.engine.pruning import METHODS, PruningPlan, prune_scores, pruning_sweep

TRIP = 1e4  # an input above this makes the user's hook raise, as a failing forward would


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(0.5)
        self.fc1 = nn.Linear(4 * 6 * 6, 16)
        self.act2 = nn.ReLU()
        self.fc = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(self.act(self.bn(self.conv(x))))
        return self.fc(self.act2(self.fc1(torch.flatten(h, 1))))


def user_model() -> tuple[nn.Module, list[int]]:
    torch.manual_seed(0)
    net = Net().train()
    net.bn.eval()  # mixed flags: a frozen-statistics BatchNorm inside a training model
    net.bn.weight.requires_grad_(False)  # a frozen parameter
    calls = [0]

    def count(_m, _inp):
        calls[0] += 1

    def trip(_m, _inp, out):
        if out.abs().max() > TRIP:
            raise RuntimeError("user hook: input out of range")

    net.fc1.register_forward_pre_hook(count)
    net.act.register_forward_hook(trip)
    return net, calls


def snapshot(model: nn.Module) -> dict:
    """Everything an operation could leave behind, in comparable form."""
    out = {}
    for name, m in model.named_modules():
        out[name, "training"] = m.training
        out[name, "attributes"] = sorted(vars(m))
        for hooks in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks",
                      "_backward_pre_hooks", "_state_dict_hooks", "_load_state_dict_pre_hooks"):
            out[name, hooks] = [(k, id(h)) for k, h in getattr(m, hooks).items()]
    for name, p in model.named_parameters():
        out[name] = (p.detach().clone().numpy().tobytes(), p.requires_grad, p.grad is None)
    for name, b in model.named_buffers():
        out[name] = b.detach().clone().numpy().tobytes()
    return out


def data(n: int = 12, raise_at: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(n, 1, 8, 8, generator=gen)
    if raise_at is not None:
        x[raise_at:] = 10 * TRIP
    return x, torch.arange(n) % 3


def run_all_levels(model: nn.Module, d: tuple, method: str = "global_magnitude") -> None:
    for _, m in pruning_sweep(model, [0.2, 0.6, 0.4], method, data=d):
        m(d[0])


def forward_inside_pruned(model: nn.Module, d: tuple) -> None:
    with gw.pruned(model, gw.prune_masks(model, 0.5)) as m:
        m.eval()  # the user may change flags inside the block: they are restored too
        m(d[0])


# (name, operation(model, data)); each runs twice: on good data, then on data whose second
# half makes the forward pass raise.
OPERATIONS = [
    ("extract_features, hooks", lambda m, d: gw.extract_features(
        m, d, ["fc1", "fc:input"], batch_size=4, progress=False)),
    ("extract_features, traced", lambda m, d: gw.extract_features(
        m, d, ["flatten", "bn"], batch_size=4, progress=False)),
    ("get_layer_names", lambda m, d: gw.get_layer_names(m)),
    ("find_head", lambda m, d: find_head(m)),
    ("geometry_from_model", lambda m, d: gw.geometry_from_model(m, d, batch_size=4,
                                                                progress=False)),
    ("layer_margin", lambda m, d: gw.layer_margin(m, d, "fc1", k=2, batch_size=4,
                                                  progress=False)),
    ("layer_margin, input", lambda m, d: gw.layer_margin(m, d, "fc:input", batch_size=4,
                                                         progress=False)),
    *[(f"prune_masks {method}", lambda m, d, method=method: gw.prune_masks(
        m, [0.3, 0.6], method, data=d, calibration_size=8)) for method in METHODS],
    ("prune_scores snip", lambda m, d: prune_scores(m, "snip", data=d, calibration_size=8)),
    ("PruningPlan snip", lambda m, d: PruningPlan.from_model(m, "snip", data=d)),
    ("pruned", forward_inside_pruned),
    ("pruning_sweep", run_all_levels),
    ("pruning_sweep structured", lambda m, d: run_all_levels(m, d, "structured_l2")),
    ("occlusion", lambda m, d: gw.occlusion(m, d[0][-1], 1, patch=3, stride=2,
                                            batch_size=8)),
    ("Study", lambda m, d: gw.Study({"net": m}, d, sparsities=(0.5,), pruning="snip",
                                    calibration_size=8, shard_size=6, batch_size=4,
                                    progress=False).run()),
]


NO_FORWARD = {"get_layer_names", "find_head", "prune_masks global_magnitude",
              "prune_masks layerwise_magnitude", "prune_masks random", "prune_masks structured_l2"}


@pytest.mark.parametrize(("name", "operation"), OPERATIONS, ids=[n for n, _ in OPERATIONS])
def test_operation_leaves_the_model_as_it_was(name, operation) -> None:
    model, calls = user_model()
    before = snapshot(model)
    operation(model, data())
    assert snapshot(model) == before
    if name in NO_FORWARD:
        return
    assert calls[0] > 0  # the user's hooks stayed live during the operation
    failing = data(raise_at=6)
    with pytest.raises(RuntimeError, match="user hook: input out of range"):
        operation(model, failing)
    assert snapshot(model) == before


def test_model_is_restored_when_the_block_or_the_sweep_raises() -> None:
    model, _ = user_model()
    before = snapshot(model)
    with pytest.raises(KeyError):
        with gw.pruned(model, gw.prune_masks(model, 0.7)) as m:
            m.eval()
            raise KeyError("user code fails inside the block")
    assert snapshot(model) == before
    with pytest.raises(KeyError):
        for _, m in pruning_sweep(model, [0.5, 0.9]):
            m.eval()
            raise KeyError("user code fails inside the sweep")
    assert snapshot(model) == before
    for _, _m in pruning_sweep(model, [0.5, 0.9]):
        break  # the generator is closed: restored too
    assert snapshot(model) == before


def test_snip_refusing_a_frozen_weight_changes_nothing() -> None:
    model, _ = user_model()
    model.fc1.weight.requires_grad_(False)
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"\['fc1.weight'\] are frozen"):
        gw.prune_masks(model, 0.5, "snip", data=data())
    assert snapshot(model) == before


def test_snapshot_sees_each_kind_of_change() -> None:
    """The check above can fail: every kind of change it looks for is detected."""
    changes = [
        lambda m: m.train(m.training),  # the root's flag pushed onto the eval-mode BatchNorm
        lambda m: setattr(m, "_geowidget_pruned", False),
        lambda m: m.act.register_forward_hook(lambda *a: None),
        lambda m: m.fc.weight.data.mul_(1.0000001),
        lambda m: m.bn.weight.requires_grad_(True),
        lambda m: m(data()[0]).sum().backward(),  # leaves .grad
        lambda m: m.bn.train() and m(data()[0]),  # running statistics move
    ]
    for change in changes:
        model, _ = user_model()
        before = snapshot(model)
        change(model)
        assert snapshot(model) != before
