"""Geometric attribution by occlusion: which input regions move a sample's angle or margin.

A square patch of side ``patch`` pixels, filled with ``fill``, slides over the image with
step ``stride``. For every position the occluded image goes through the model and its
geometry (see :mod:`geowidget.engine.geometry`) is compared with the intact image's:

- ``delta_angle[i, j] = θ(occluded at (i, j)) - θ(image)`` (radians; positive: the patch
  turned the features away from the true class direction);
- ``delta_margin[i, j] = m(occluded) - m(image)`` (signed feature-space margin units;
  negative: the patch moved the sample towards the decision boundary).

All positions go through the model as one batch (or a few, ``batch_size`` at a time), not
as a loop of single forwards. ``*_map`` arrays spread the deltas back over the image: each
pixel gets the mean over the patches that cover it (NaN where none does).

Examples
--------
>>> from geowidget import zoo
>>> model, probe = zoo.load("lenet-s0"), zoo.probe_data()
>>> occ = occlusion(model, probe.images[0], int(probe.labels[0]), patch=4, stride=2)
>>> occ.delta_angle.shape, occ.delta_angle_map.shape
(torch.Size([13, 13]), torch.Size([28, 28]))
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import nn

from geowidget._validation import (
    DEVICE,
    MODEL,
    POSITIVE_INT,
    Array,
    Interval,
    invalid,
    validate_params,
)
from geowidget.engine.features import (
    InputDtypeError,
    _target,
    check_input_dtype,
    extract_features,
)
from geowidget.engine.geometry import geometry
from geowidget.engine.head import find_head

__all__ = ["Occlusion", "occluded_batch", "occlusion", "patch_positions", "pixel_map"]


@dataclass(frozen=True)
class Occlusion:
    """Result of :func:`occlusion`; maps are ``[H', W']`` (positions) or ``[H, W]`` (pixels).

    Attributes
    ----------
    delta_angle, delta_margin : Tensor ``[H', W']``
        Change of the true-class angle (radians) and of the signed margin per position.
    angle, margin, pred : Tensor ``[H', W']``
        Angle, margin and predicted class of each occluded image.
    delta_angle_map, delta_margin_map : Tensor ``[H, W]``
        Per pixel, the mean delta over the patches that cover it (NaN if uncovered).
    base_angle, base_margin : float
        Angle (radians) and margin of the intact image.
    base_pred : int
        Predicted class of the intact image.
    tops, lefts : Tensor ``[H']``, ``[W']``
        Top row and left column of each patch position.
    patch, stride, label, layer : int, int, int, str
    """

    delta_angle: torch.Tensor
    delta_margin: torch.Tensor
    angle: torch.Tensor
    margin: torch.Tensor
    pred: torch.Tensor
    delta_angle_map: torch.Tensor
    delta_margin_map: torch.Tensor
    base_angle: float
    base_margin: float
    base_pred: int
    tops: torch.Tensor
    lefts: torch.Tensor
    patch: int
    stride: int
    label: int
    layer: str

    def to_numpy(self) -> dict[str, object]:
        """Every field, tensors as numpy arrays."""
        return {
            f.name: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v)
            for f in fields(self)
            for v in [getattr(self, f.name)]
        }


def patch_positions(size: int, patch: int, stride: int) -> torch.Tensor:
    """Start offsets ``0, stride, 2 stride, ...`` of patches that fit in ``size`` pixels.

    The last patch is flush with the border when ``(size - patch)`` is not a multiple of
    ``stride``, so every pixel is covered when ``stride <= patch``.

    Examples
    --------
    >>> patch_positions(28, 4, 2).tolist()[-3:]
    [20, 22, 24]
    >>> patch_positions(10, 4, 4).tolist()
    [0, 4, 6]
    """
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return torch.tensor(starts, dtype=torch.long)


def occluded_batch(
    image: torch.Tensor,
    tops: torch.Tensor,
    lefts: torch.Tensor,
    patch: int,
    fill: float,
    index: torch.Tensor,
) -> torch.Tensor:
    """Copies of ``image`` ``[C, H, W]``, one per flat position in ``index``, each occluded."""
    c, h, w = image.shape
    nw = len(lefts)
    rows = torch.arange(h)
    cols = torch.arange(w)
    top, left = tops[index // nw], lefts[index % nw]
    in_rows = (rows[None, :] >= top[:, None]) & (rows[None, :] < top[:, None] + patch)
    in_cols = (cols[None, :] >= left[:, None]) & (cols[None, :] < left[:, None] + patch)
    mask = in_rows[:, None, :, None] & in_cols[:, None, None, :]  # [B, 1, H, W]
    fill_t = torch.as_tensor(fill, dtype=image.dtype)
    return torch.where(mask, fill_t, image.unsqueeze(0))


@validate_params({
    "model": MODEL,
    "image": [Array(("C", "H", "W"), (1, "C", "H", "W"), finite=True)],
    "label": [Interval(int, 0, None)],
    "patch": POSITIVE_INT,
    "stride": POSITIVE_INT,
    "layer": [None, str],
    "fill": [Interval(float, None, None)],
    "weight": [None, Array(("C", "D"), dtype="floating", finite=True)],
    "bias": [None, Array(("C",), dtype="floating", finite=True)],
    "batch_size": POSITIVE_INT,
    "device": DEVICE,
})
def occlusion(
    model: nn.Module,
    image: torch.Tensor,
    label: int,
    *,
    patch: int = 4,
    stride: int = 2,
    layer: str | None = None,
    fill: float = 0.0,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
) -> Occlusion:
    """Occlusion maps of the change in angle and margin for one sample.

    Parameters
    ----------
    model : nn.Module
        A classifier; it is put in eval mode for the pass and restored after.
    image : Tensor ``[C, H, W]`` or ``[1, C, H, W]``
        The input, in the model's input units.
    label : int
        True class of the sample; angles and margins refer to it.
    patch : int
        Side of the square occluding patch, in pixels.
    stride : int
        Step between patch positions, in pixels.
    layer : str, optional
        Feature layer. Default: the input of the final linear head (:func:`find_head`),
        whose weight and bias then define directions and margins. Any other layer needs
        ``weight`` (``[C, D]``) and optionally ``bias``, e.g. a linear probe of that layer.
    fill : float
        Value written into the patch (in input units; 0 is black for [0, 1] images).
    weight, bias : Tensor, optional
        Class directions and offsets at ``layer``; default the head's.
    batch_size : int
        Occluded images per forward pass; all ``H' W'`` of a 28x28 image fit in one.
    device : str or torch.device
        Where the forward passes run.

    Returns
    -------
    Occlusion
        Deltas per position and per pixel; see :class:`Occlusion`.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))
    >>> occ = occlusion(net, torch.rand(1, 8, 8), label=0, patch=4, stride=4)
    >>> tuple(occ.delta_margin.shape)
    (2, 2)
    """
    if image.ndim == 4:
        image = image[0]
    image = image.detach().cpu()
    if not image.dtype.is_floating_point:
        image = image.float()
    _, h, w = image.shape
    if patch > min(h, w):
        raise invalid("occlusion", "patch", f"at most the image side {min(h, w)}", patch)
    if layer is not None:
        _target(model, layer, "occlusion", "layer")  # a typo is named before weight= is asked
    if layer is None:
        _, head, layer = find_head(model)
        if weight is None:
            weight = head.weight.detach()
            bias = None if head.bias is None else head.bias.detach()
    elif weight is None:
        raise invalid(
            "occlusion", "weight", f"the class directions [C, D] at layer={layer!r}, which is "
            "not the head's input", weight,
            "pass weight= (and bias=), e.g. from geowidget.linear_probe on that layer's "
            "features, or leave layer=None",
        )
    num_classes = weight.shape[0]
    if label >= num_classes:
        raise invalid("occlusion", "label", f"a class in [0, {num_classes})", label)
    tops, lefts = patch_positions(h, patch, stride), patch_positions(w, patch, stride)
    n_pos = len(tops) * len(lefts)
    # the intact image first, then every occluded copy, chunked into batches
    # (images are built one batch at a time, so memory stays at batch_size images)
    parts = []
    for start in range(0, n_pos, batch_size):
        index = torch.arange(start, min(start + batch_size, n_pos))
        batch = occluded_batch(image, tops, lefts, patch, fill, index)
        if start == 0:
            batch = torch.cat([image.unsqueeze(0), batch])
        try:
            parts.append(extract_features(
                model, batch, [layer], batch_size=len(batch), device=device, progress=False
            )[layer])
        except InputDtypeError:  # named as this function's parameter
            check_input_dtype(model, image, "occlusion", "image")
            raise
    feats = torch.cat(parts)
    labels = torch.full((feats.shape[0],), label, dtype=torch.long)
    geo = geometry(feats, labels, weight.to(feats.dtype), None if bias is None else
                   bias.to(feats.dtype))
    shape = (len(tops), len(lefts))
    angle, margin = geo.angle[1:].view(shape), geo.margin[1:].view(shape)
    d_angle, d_margin = angle - geo.angle[0], margin - geo.margin[0]
    return Occlusion(
        delta_angle=d_angle,
        delta_margin=d_margin,
        angle=angle,
        margin=margin,
        pred=geo.pred[1:].view(shape),
        delta_angle_map=pixel_map(d_angle, tops, lefts, patch, (h, w)),
        delta_margin_map=pixel_map(d_margin, tops, lefts, patch, (h, w)),
        base_angle=float(geo.angle[0]),
        base_margin=float(geo.margin[0]),
        base_pred=int(geo.pred[0]),
        tops=tops,
        lefts=lefts,
        patch=patch,
        stride=stride,
        label=label,
        layer=layer,
    )


def pixel_map(
    values: torch.Tensor,
    tops: torch.Tensor,
    lefts: torch.Tensor,
    patch: int,
    size: tuple[int, int],
) -> torch.Tensor:
    """Spread ``[H', W']`` per-position values over ``[H, W]`` pixels: mean over covering patches.

    Uses that patch coverage is separable: ``map = R^T V C / (R^T 1 C)`` with ``R [H', H]``
    and ``C [W', W]`` the row and column coverage indicators. Pixels with no
    covering patch of finite value are NaN.
    """
    h, w = size
    rows = torch.arange(h)
    cols = torch.arange(w)
    r = ((rows[None, :] >= tops[:, None]) & (rows[None, :] < tops[:, None] + patch)).to(
        torch.float64
    )
    c = ((cols[None, :] >= lefts[:, None]) & (cols[None, :] < lefts[:, None] + patch)).to(
        torch.float64
    )
    v = values.to(torch.float64)
    finite = torch.isfinite(v)
    total = r.T @ torch.where(finite, v, 0.0) @ c
    count = r.T @ finite.to(torch.float64) @ c
    out = torch.where(count > 0, total / count.clamp_min(1), torch.nan)
    return out.to(values.dtype)
