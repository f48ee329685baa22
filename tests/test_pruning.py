"""Pruning masks, checked against brute-force selections and manual gradients."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from geowidget.engine.pruning import (
    METHODS,
    PruningPlan,
    measured_sparsity,
    prune_masks,
    prune_scores,
    pruned,
    pruning_sweep,
)

LEVELS = [0.0, 0.1, 0.3, 0.5, 0.7, 0.9]


def small_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 6, 3),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.Conv2d(6, 7, 3),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(28, 13),
        nn.ReLU(),
        nn.Linear(13, 3),
    )


def batch(n: int = 40, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 9, 9, generator=gen), torch.randint(0, 3, (n,), generator=gen)


def bits(t: torch.Tensor) -> torch.Tensor:
    return t.detach().contiguous().view(torch.int32)


def test_global_magnitude_prunes_exactly_the_smallest_weights() -> None:
    net = small_cnn()
    weights = {n: net.get_parameter(n).detach() for n in ("0.weight", "3.weight", "7.weight",
                                                          "9.weight")}
    flat = torch.cat([w.abs().reshape(-1) for w in weights.values()])
    plan = PruningPlan.from_model(net, "global_magnitude")
    masks = {s: plan.masks(s) for s in LEVELS}
    assert list(masks[0.5]) == list(weights)
    for s in LEVELS:
        keep = torch.cat([masks[s][n].reshape(-1) for n in weights])
        assert int((~keep).sum()) == round(s * flat.numel())
        if 0 < s:
            # brute force: every pruned |w| is <= every kept |w|
            assert flat[~keep].max() <= flat[keep].min()
    # nested: pruned at 0.3 stays pruned at 0.5
    for n in weights:
        assert not (masks[0.5][n] & ~masks[0.3][n]).any()


def test_layerwise_magnitude_is_per_layer_within_one_weight() -> None:
    net = small_cnn()
    masks = {s: prune_masks(net, s, "layerwise_magnitude") for s in (0.3, 0.7)}
    total = sum(m.numel() for m in masks[0.3].values())
    for s in (0.3, 0.7):
        assert sum(int((~m).sum()) for m in masks[s].values()) == round(s * total)
        for n, m in masks[s].items():
            w = net.get_parameter(n).detach().abs().reshape(-1)
            k = int((~m).sum())
            assert abs(k - s * m.numel()) <= 1.0
            assert torch.equal(torch.sort(w).values[:k], torch.sort(w[~m.reshape(-1)]).values)


def test_random_is_seeded_and_exact() -> None:
    net = small_cnn()
    a = prune_masks(net, 0.5, "random", seed=3)
    b = prune_masks(net, 0.5, "random", seed=3)
    c = prune_masks(net, 0.5, "random", seed=4)
    total = sum(m.numel() for m in a.values())
    assert measured_sparsity(a) == pytest.approx(round(0.5 * total) / total, abs=0)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert not all(torch.equal(a[n], c[n]) for n in a)


def test_snip_scores_match_manual_gradient_and_leave_model_untouched() -> None:
    net = small_cnn()
    net.train()
    x, y = batch()
    before = copy.deepcopy(net.state_dict())
    scores = prune_scores(net, "snip", data=(x, y), calibration_size=32)
    ref = copy.deepcopy(net).eval()
    loss = nn.functional.cross_entropy(ref(x[:32]), y[:32])
    loss.backward()
    for name, s in scores.items():
        p = ref.get_parameter(name)
        torch.testing.assert_close(s, (p.detach() * p.grad).abs().double(), rtol=1e-5, atol=1e-9)
    assert net.training
    assert all(p.grad is None for p in net.parameters())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_structured_prunes_lowest_norm_channels_per_layer() -> None:
    net = small_cnn()
    masks = prune_masks(net, 0.5, "structured_l2")
    assert sorted(masks) == ["0.weight", "3.weight"]
    pruned_channels = 0
    for name, m in masks.items():
        w = net.get_parameter(name).detach()
        chan_keep = m.flatten(1).all(dim=1)
        assert torch.equal(m.flatten(1).any(dim=1), chan_keep)  # whole channels only
        norms = [float(w[c].norm()) for c in range(w.shape[0])]  # brute-force loop
        dropped = sorted(range(w.shape[0]), key=lambda c: norms[c])[: int((~chan_keep).sum())]
        assert set(dropped) == set(torch.nonzero(~chan_keep).flatten().tolist())
        pruned_channels += int((~chan_keep).sum())
    assert pruned_channels == round(0.5 * (6 + 7))


def test_pruned_context_applies_masks_and_restores_bits() -> None:
    net = small_cnn()
    x, _ = batch()
    original = {n: bits(p).clone() for n, p in net.named_parameters()}
    masks = prune_masks(net, 0.7, "global_magnitude")
    manual = copy.deepcopy(net)
    with torch.no_grad():
        for n, m in masks.items():
            manual.get_parameter(n).mul_(m)
    net.eval()
    manual.eval()
    with pruned(net, masks) as p:
        assert p is net
        assert measured_sparsity(masks) == pytest.approx(0.7, abs=1 / 1000)
        torch.testing.assert_close(net(x), manual(x), rtol=0, atol=0)
        with pytest.raises(RuntimeError, match="never compound"):
            with pruned(net, masks):
                pass
    assert all(torch.equal(bits(p), original[n]) for n, p in net.named_parameters())
    with pytest.raises(ZeroDivisionError):
        with pruned(net, masks):
            raise ZeroDivisionError
    assert all(torch.equal(bits(p), original[n]) for n, p in net.named_parameters())


def test_sweep_levels_do_not_compound() -> None:
    net = small_cnn()
    total = sum(net.get_parameter(n).numel() for n in prune_masks(net, 0.1))
    zeros = [
        sum(int((m.get_parameter(n) == 0).sum()) for n in ("0.weight", "3.weight", "7.weight",
                                                          "9.weight"))
        for _, m in pruning_sweep(net, [0.5, 0.1, 0.3])
    ]
    assert zeros == [round(0.5 * total), round(0.1 * total), round(0.3 * total)]


def test_plan_counts_split_by_largest_remainder() -> None:
    plan = PruningPlan.from_model(small_cnn(), "layerwise_magnitude")
    counts = plan.counts(0.25)
    sizes = {"0.weight": 54, "3.weight": 378, "7.weight": 364, "9.weight": 39}
    assert sum(counts.values()) == round(0.25 * sum(sizes.values()))
    assert all(abs(counts[n] - 0.25 * sizes[n]) < 1 for n in sizes)


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, float("nan")])
def test_bad_sparsity(bad: float) -> None:
    with pytest.raises(ValueError, match=r"'sparsities' parameter of prune_masks must be a float in "
                                         r"\[0, 1\) or a non-empty list, each a float in \[0, 1\)\."
                                         r".*item 1 \((1\.0|-0\.1|1\.5|nan)\)"):
        prune_masks(small_cnn(), [0.1, bad])


def test_bad_method_lists_valid_ones() -> None:
    with pytest.raises(ValueError, match="'method' parameter of prune_masks must be one of "
                                         r"\['global_magnitude'.*Got 'l0' instead"):
        prune_masks(small_cnn(), 0.5, "l0")
    assert "snip" in METHODS
    with pytest.raises(ValueError, match="'data' .* labelled calibration data.*method='snip'"):
        prune_masks(small_cnn(), 0.5, "snip")
    with pytest.raises(ValueError, match="convolution layer to prune.*Linear has none"):
        prune_masks(nn.Linear(3, 2), 0.5, "structured_l2")
    with pytest.raises(ValueError, match="'1' is not one; valid layers"):
        prune_masks(small_cnn(), 0.5, layers=["1"])


def test_sweep_weights_equal_masked_originals_and_restore_on_break() -> None:
    net = small_cnn()
    original = {n: bits(p).clone() for n, p in net.named_parameters()}
    levels = [0.2, 0.6, 0.4, 0.9]
    plan = PruningPlan.from_model(net, "random", seed=2)
    for i, (s, m) in enumerate(pruning_sweep(net, levels, "random", seed=2)):
        for name, keep in plan.masks(s).items():
            orig = original[name].view(torch.float32)
            expected = torch.where(keep, orig, torch.zeros_like(orig))
            assert torch.equal(bits(m.get_parameter(name)), bits(expected))
        if i == 2:
            break
    assert all(torch.equal(bits(p), original[n]) for n, p in net.named_parameters())


def test_sparsities_as_numpy_and_torch_scalars_or_lists_of_them() -> None:
    import numpy as np

    net = small_cnn()
    want = prune_masks(net, 0.5)
    for value in (np.float32(0.5), np.float64(0.5), torch.tensor(0.5), np.array(0.5)):
        got = prune_masks(net, value)
        assert list(got) == list(want) and all(torch.equal(got[n], want[n]) for n in want)
    with pytest.warns(DeprecationWarning, match=r"PruningPlan.from_model\(model, method, "):
        levels = prune_masks(net, np.array([0.25, 0.5]))
    assert list(levels) == [0.25, 0.5] and all(type(s) is float for s in levels)
    assert all(torch.equal(levels[0.5][n], want[n]) for n in want)


def test_one_level_gives_one_dict_of_masks_and_a_list_is_deprecated() -> None:
    import warnings

    net = small_cnn()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one level: no warning
        masks = prune_masks(net, 0.3)
    assert set(masks) == {"0.weight", "3.weight", "7.weight", "9.weight"}
    assert all(isinstance(m, torch.Tensor) and m.dtype == torch.bool for m in masks.values())
    # the deprecated list still gives one dict per level for this release: the plan's masks,
    # and the warning points at the caller's line
    with pytest.warns(DeprecationWarning, match=r"deprecated .* plan.masks\(s\)") as record:
        levels = prune_masks(net, [0.3, 0.6])
    assert record[0].filename == __file__
    plan = PruningPlan.from_model(net)
    for s in (0.3, 0.6):
        assert all(torch.equal(levels[s][n], plan.masks(s)[n]) for n in masks)
    # brute force: 0.3 of the weights, the smallest |w|, are pruned
    flat = torch.cat([net.get_parameter(n).detach().abs().reshape(-1) for n in masks])
    keep = torch.cat([masks[n].reshape(-1) for n in masks])
    assert int((~keep).sum()) == round(0.3 * flat.numel())
    assert flat[~keep].max() <= flat[keep].min()


@pytest.mark.parametrize(("args", "error", "message"), [
    ((small_cnn(), "half"), TypeError,
     r"^The 'sparsities' parameter of prune_masks must be a float in \[0, 1\) or a non-empty "
     r"list, each a float in \[0, 1\)\. Got 'half' instead\.$"),
    ((small_cnn(), []), ValueError, r"'sparsities' .* Got \[\] instead \(it has 0 items\)"),
    (("net", 0.5), TypeError, r"'model' parameter of prune_masks must be a torch.nn.Module\. "
                              r"Got 'net' instead"),
    ((small_cnn(), 0.5, "global_magnitude", {"seed": 1.5}), TypeError, r"'seed' .* Got 1.5"),
    ((small_cnn(), 0.5, "snip", {"data": batch(), "calibration_size": 0}), ValueError,
     r"'calibration_size' parameter of prune_masks must be an int in \[1, inf\)\. Got 0"),
    ((small_cnn(), 0.5, "global_magnitude", {"layers": "0"}), TypeError,
     r"'layers' .* must be None or a non-empty list, each a str\. Got '0' instead"),
])
def test_bad_arguments_name_the_parameter(args, error, message) -> None:
    kwargs = args[-1] if isinstance(args[-1], dict) else {}
    with pytest.raises(error, match=message):
        prune_masks(*(args[:-1] if kwargs else args), **kwargs)


def test_snip_with_a_frozen_weight_says_what_to_change() -> None:
    net = small_cnn()
    net[3].weight.requires_grad_(False)
    with pytest.raises(ValueError, match=r"'model' .* weights require grad with method='snip'.*"
                                         r"\['3.weight'\] are frozen: unfreeze them with "
                                         r"p.requires_grad_\(True\) while scoring, or leave their "
                                         r"modules out with layers="):
        prune_masks(net, 0.5, "snip", data=batch())
    assert not net[3].weight.requires_grad
    # leaving the frozen layer out works
    masks = prune_masks(net, 0.5, "snip", data=batch(), layers=["0", "7", "9"])
    assert list(masks) == ["0.weight", "7.weight", "9.weight"]


def test_pruned_refuses_masks_that_are_not_boolean_or_do_not_fit() -> None:
    net = small_cnn()
    with pytest.raises(TypeError, match=r"'masks' parameter of pruned must be a dict mapping a "
                                        r"str to a boolean torch.Tensor.*dtype torch.float32"):
        pruned(net, {"0.weight": torch.ones(6, 1, 3, 3)})
    with pytest.raises(ValueError, match=r"'masks' .* keyed by parameter names.*'0.bias2'"):
        with pruned(net, {"0.bias2": torch.ones(6, dtype=torch.bool)}):
            pass
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(6,\), its parameter"):
        with pruned(net, {"0.weight": torch.ones(6, dtype=torch.bool)}):
            pass
