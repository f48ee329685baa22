"""Outside references: the corruptions against ``imagecorruptions``, pruning masks against
``torch.nn.utils.prune``.

``imagecorruptions`` (Michaelis et al. 2019) is the maintained package of the ImageNet-C code.
It predates numpy 2 and scikit-image 0.19 and imports ``pkg_resources``, so two small shims,
local to this file, let it run: a stand-in ``pkg_resources`` while it imports, and a
module-local ``np``/``gaussian`` pair with the names it expects. Both corrupt the same 224-pixel
crops of scikit-learn's two bundled photos with the ImageNet parameters. Deterministic
corruptions must agree pixel by pixel (mean absolute difference at most 25 % of the
reference's mean change); random ones in strength (our mean change within 25 % of the
reference's). Nothing is cached between runs.
"""

from __future__ import annotations

import copy
import sys
import types
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from geowidget.engine.corruptions import IMAGENET_C, SEVERITIES, corrupt
from geowidget.engine.pruning import prune_masks

DETERMINISTIC = {"gaussian_blur", "defocus_blur", "zoom_blur", "contrast", "brightness",
                 "saturate", "jpeg_compression", "pixelate"}
TOLERANCE = 0.25


# ---------------------------------------------------------------------------- the reference
@pytest.fixture(scope="module")
def reference():
    """``imagecorruptions``' corruption functions, importable under numpy 2 and skimage 0.26."""
    import skimage.filters

    stub = types.ModuleType("pkg_resources")  # shim 1: only used to locate frost images
    stub.resource_filename = lambda package, name: name
    saved = sys.modules.get("pkg_resources")
    sys.modules["pkg_resources"] = saved or stub
    try:
        with warnings.catch_warnings():  # it imports from a deprecated scipy namespace
            warnings.simplefilter("ignore", DeprecationWarning)
            import imagecorruptions.corruptions as ic
    finally:
        if saved is None:
            del sys.modules["pkg_resources"]

    # shim 2: the names it calls that numpy 2 and scikit-image 0.19 renamed, for it alone
    def gaussian(image, sigma=1, multichannel=None, **kwargs):
        if multichannel:
            kwargs["channel_axis"] = -1
        return skimage.filters.gaussian(image, sigma=sigma, **kwargs)

    numpy_v1 = types.ModuleType("numpy")
    numpy_v1.__dict__.update(np.__dict__)
    numpy_v1.float_ = np.float64
    ic.gaussian, ic.np = gaussian, numpy_v1
    return ic


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    """One 224-pixel crop of each of scikit-learn's two photos, uint8 ``[2, 224, 224, 3]``."""
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    return np.stack([china[100:324, 200:424], flower[100:324, 250:474]])


@pytest.mark.parametrize("name", IMAGENET_C)
def test_corruption_agrees_with_imagecorruptions(name, reference, photos) -> None:
    from PIL import Image

    clean = photos / 255.0
    x = torch.from_numpy(clean).permute(0, 3, 1, 2).float()
    rows = []
    for severity in SEVERITIES:
        ours = corrupt(x, name, severity, seed=severity, preset="imagenet")
        ours = ours.permute(0, 2, 3, 1).double().numpy()
        ref = []
        for i, photo in enumerate(photos):
            np.random.seed(100 * severity + i)  # noqa: NPY002 -- the reference uses the global RNG
            out = getattr(reference, name)(Image.fromarray(photo), severity)
            ref.append(np.asarray(out, dtype=np.float64) / 255)
        ref = np.stack(ref)
        ref_change = np.abs(ref - clean).mean()
        our_change = np.abs(ours - clean).mean()
        difference = np.abs(ours - ref).mean()
        rows.append((severity, ref_change, our_change, difference))
    table = "\n".join(f"severity {s}: reference change {r:.4f}, ours {o:.4f} ({o / r:.2f}x), "
                      f"|ours - reference| {d:.4f} ({d / r:.2f} of the change)"
                      for s, r, o, d in rows)
    for _, ref_change, our_change, difference in rows:
        if name in DETERMINISTIC:
            assert difference <= TOLERANCE * ref_change, f"{name}\n{table}"
        else:
            assert abs(our_change / ref_change - 1) <= TOLERANCE, f"{name}\n{table}"


@pytest.mark.parametrize("severity", SEVERITIES)
def test_motion_blur_runs_along_the_references_direction(severity, reference) -> None:
    # the mean change cannot tell a horizontal blur from a vertical one: the blur of one
    # bright dot shows the direction (ImageMagick's angle in [-45, 45] degrees: mostly along
    # the rows, for the reference and for ours)
    from PIL import Image

    dot = np.zeros((2, 64, 64, 3), np.uint8)
    dot[:, 32, 32] = 255

    def extent(img: np.ndarray) -> tuple[int, int]:  # (columns, rows) the blurred dot covers
        ys, xs = np.nonzero(img.mean(-1) > 1e-3 * img.max())
        return int(xs.max() - xs.min()), int(ys.max() - ys.min())

    ours = corrupt(torch.from_numpy(dot / 255).permute(0, 3, 1, 2).float(), "motion_blur",
                   severity, seed=severity, preset="imagenet").permute(0, 2, 3, 1).numpy()
    for i in range(2):
        np.random.seed(10 * severity + i)  # noqa: NPY002 -- the reference uses the global RNG
        ref = np.asarray(reference.motion_blur(Image.fromarray(dot[i]), severity), np.float64)
        (rx, ry), (ox, oy) = extent(ref), extent(ours[i])
        assert rx >= ry and ox >= oy, (severity, i, (rx, ry), (ox, oy))


# ---------------------------------------------------------------------------- pruning masks
def conv_net(seed: int = 0, ties: bool = False) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 6, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(6 * 4 * 4, 20), nn.ReLU(), nn.Linear(20, 5),
    )
    if ties:  # weights on a coarse grid: many equal magnitudes, so ties decide
        with torch.no_grad():
            for p in net.parameters():
                p.copy_((p * 20).round() / 20)
    return net


def torch_masks(net: nn.Module, prune_fn) -> dict[str, torch.Tensor]:
    """Run a torch.nn.utils.prune function on a copy; return its keep-masks by weight name."""
    twin = copy.deepcopy(net)
    prune_fn(twin)
    return {f"{name}.weight": m.weight_mask.bool() for name, m in twin.named_modules()
            if hasattr(m, "weight_mask")}


def assert_same_up_to_ties(ours: dict, theirs: dict, net: nn.Module, score) -> int:
    """Masks agree except among weights whose score equals the cut-off; returns how many
    differ. Both prune the same number of units with the smallest scores."""
    assert list(ours) == list(theirs)
    differing = 0
    for name in ours:
        a, b = ours[name], theirs[name]
        assert int(a.sum()) == int(b.sum()), name
        if torch.equal(a, b):
            continue
        s = score(net.get_parameter(name).detach())
        cut = s[~a].max()  # our largest pruned score is the cut-off value...
        assert torch.equal(s[a != b], torch.full_like(s[a != b], cut)), name  # ...all ties
        differing += int((a != b).sum())
    return differing


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("sparsity", [0.2, 0.5, 0.9])
def test_global_magnitude_equals_global_unstructured_l1(sparsity, ties) -> None:
    net = conv_net(ties=ties)
    names = [n for n, m in net.named_modules() if isinstance(m, nn.Linear | nn.Conv2d)]

    def global_l1(twin):
        torch_prune.global_unstructured(
            [(twin.get_submodule(n), "weight") for n in names],
            pruning_method=torch_prune.L1Unstructured, amount=sparsity,
        )

    ours = prune_masks(net, sparsity, "global_magnitude")
    theirs = torch_masks(net, global_l1)
    # global: one cut-off over all layers, so compare the concatenation
    a = torch.cat([m.reshape(-1) for m in ours.values()])
    b = torch.cat([m.reshape(-1) for m in theirs.values()])
    w = torch.cat([net.get_parameter(n).detach().abs().reshape(-1) for n in ours])
    assert int((~a).sum()) == int((~b).sum()) == round(sparsity * a.numel())
    if not ties:
        assert torch.equal(a, b)
    else:
        assert torch.equal(w[a != b], torch.full_like(w[a != b], w[~a].max()))


def per_layer_counts(masks: dict[str, torch.Tensor], unit_dims: int = 0) -> dict[str, int]:
    if unit_dims:
        return {n: int((~m.reshape(m.shape[0], -1).all(dim=1)).sum()) for n, m in masks.items()}
    return {n: int((~m).sum()) for n, m in masks.items()}


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("sparsity", [0.3, 0.55, 0.9])
def test_layerwise_magnitude_equals_l1_unstructured_per_layer(sparsity, ties) -> None:
    """Same weights pruned per layer, given the same count per layer.

    The one difference that is not a tie is the count: torch prunes round(s * n_l) in each
    layer, we split round(s * sum n_l) over the layers by largest remainders, so the whole
    model is exactly at s and every layer within one weight of it. Each layer's count is
    therefore floor or ceil of s * n_l; with it, torch prunes the same weights.
    """
    net = conv_net(ties=ties)
    ours = prune_masks(net, sparsity, "layerwise_magnitude")
    counts = per_layer_counts(ours)
    total = sum(m.numel() for m in ours.values())
    assert sum(counts.values()) == round(sparsity * total)
    for name, k in counts.items():
        n = ours[name].numel()
        assert abs(k - sparsity * n) < 1, (name, k, sparsity * n)

    def l1_per_layer(twin):
        for name, k in counts.items():
            torch_prune.l1_unstructured(twin.get_submodule(name[: -len(".weight")]), "weight",
                                        amount=k)

    theirs = torch_masks(net, l1_per_layer)
    differing = assert_same_up_to_ties(ours, theirs, net, torch.abs)
    assert differing == 0 or ties
    # torch's own per-layer counts differ from ours by at most one weight
    own = per_layer_counts(torch_masks(net, lambda t: [
        torch_prune.l1_unstructured(t.get_submodule(n[: -len(".weight")]), "weight",
                                    amount=sparsity) for n in counts]))
    assert all(abs(own[n] - counts[n]) <= 1 for n in counts)


@pytest.mark.parametrize("sparsity", [0.25, 0.5, 0.8])
def test_structured_l2_equals_ln_structured_per_conv(sparsity) -> None:
    """Whole output channels with the smallest L2 norm, per convolution (dim=0, n=2)."""
    net = conv_net()
    ours = prune_masks(net, sparsity, "structured_l2")
    assert list(ours) == ["0.weight", "2.weight"]
    counts = per_layer_counts(ours, unit_dims=1)
    channels = {n: m.shape[0] for n, m in ours.items()}
    assert sum(counts.values()) == round(sparsity * sum(channels.values()))
    assert all(abs(counts[n] - sparsity * channels[n]) < 1 for n in counts)

    def ln_per_conv(twin):
        for name, k in counts.items():
            torch_prune.ln_structured(twin.get_submodule(name[: -len(".weight")]), "weight",
                                      amount=k, n=2, dim=0)

    theirs = torch_masks(net, ln_per_conv)
    for name in ours:  # channels are all-or-nothing in both
        assert torch.equal(ours[name], theirs[name]), name
