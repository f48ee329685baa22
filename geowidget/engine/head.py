"""Finding a classifier's final linear head, and geometry straight from a model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from geowidget._validation import (
    DATA,
    DEVICE,
    MODEL,
    POSITIVE_INT,
    Boolean,
    Instance,
    Interval,
    Options,
    invalid,
    validate_params,
)
from geowidget.engine.features import extract_features
from geowidget.engine.geometry import DIRECTIONS, Geometry, geometry
from geowidget.engine.tokens import TOKENS

__all__ = ["HEAD_NAMES", "find_head", "geometry_from_model"]

HEAD_NAMES = ("fc", "classifier", "head", "heads", "last_linear", "linear", "out")


@validate_params({"model": MODEL})
def find_head(model: nn.Module) -> tuple[str, nn.Linear, str]:
    """The final ``nn.Linear`` of a classifier: ``(module name, module, penultimate layer)``.

    Looks at the attributes named in ``HEAD_NAMES`` (torchvision and timm conventions),
    taking the last Linear inside one that is a container (a torchvision ViT's
    ``heads.head``); then at the last Linear the model registers. A head attribute that is
    ``nn.Identity`` (timm's ``num_classes=0``) means the head was removed, which is an
    error rather than a reason to take a Linear inside the last block. The penultimate
    features are that Linear's input, named ``"<head>:input"`` for :func:`extract_features`.

    Examples
    --------
    >>> import torchvision
    >>> find_head(torchvision.models.resnet18())
    ('fc', Linear(in_features=512, out_features=1000, bias=True), 'fc:input')
    """
    named = dict(model.named_modules())
    for attr in HEAD_NAMES:
        module = getattr(model, attr, None)
        if isinstance(module, nn.Identity):
            raise ValueError(
                f"{type(model).__name__}.{attr} is nn.Identity: the model has no classification "
                "head (timm models built with num_classes=0 drop it); build it with the number "
                "of classes, or pass features and a weight to geowidget.geometry()"
            )
        if isinstance(module, nn.Linear):
            return attr, module, f"{attr}:input"
        if isinstance(module, nn.Module):
            inner = [(f"{attr}.{n}", m) for n, m in module.named_modules() if isinstance(m, nn.Linear)]
            if inner:
                name = inner[-1][0].rstrip(".")
                return name, inner[-1][1], f"{name}:input"
    linears = [(n, m) for n, m in named.items() if isinstance(m, nn.Linear)]
    if linears:
        name, module = linears[-1]
        return name, module, f"{name}:input"
    children = [n for n, _ in model.named_children()]
    raise ValueError(
        f"{type(model).__name__} has no final nn.Linear: looked for attributes {list(HEAD_NAMES)} "
        f"and for any nn.Linear among its {len(named) - 1} modules (top-level: {children}). "
        "Pass features and the head's weight to geowidget.geometry() directly."
    )


@validate_params({
    "model": MODEL,
    "data": DATA,
    "layer": [None, str],
    "direction": [None, Options(*DIRECTIONS)],
    "batch_size": POSITIVE_INT,
    "device": DEVICE,
    "progress": [Boolean()],
    "dtype": [None, Instance("torch.dtype")],
    "tokens": TOKENS,
    "probe_data": [None, *DATA],
    "probe_folds": [Interval(int, 2, None)],
})
def geometry_from_model(
    model: nn.Module,
    data: Any,
    layer: str | None = None,
    *,
    direction: str | None = None,
    batch_size: int = 256,
    device: str | torch.device = "auto",
    progress: bool = True,
    dtype: torch.dtype | None = None,
    tokens: str | Mapping[str, str] | None = None,
    probe_data: Any = None,
    probe_folds: int = 5,
) -> Geometry:
    """Geometry of ``data`` in ``model``: at the penultimate layer by default.

    With ``layer=None`` the features are the input of the final Linear (see
    :func:`find_head`) and that Linear is the head (``direction="weight"`` unless given).
    With a named ``layer`` there is no head, so a linear probe is fitted on that layer's
    features (``direction="probe"``), and predictions and margins there are the probe's.
    No sample is measured by a probe that saw it: the probe is fitted on ``probe_data``
    (labelled, like ``data``) when given, else ``data`` is cross-fitted in ``probe_folds``
    stratified folds (see :func:`geowidget.engine.probe.cross_fit`). Labels come from
    ``data``, which must carry them. ``tokens`` reduces a transformer layer's tokens
    (``"cls"``, ``"mean"``; see :func:`extract_features`).

    Examples
    --------
    >>> import torch, torchvision
    >>> model = torchvision.models.resnet18(num_classes=3)
    >>> x, y = torch.randn(6, 3, 32, 32), torch.tensor([0, 1, 2, 0, 1, 2])
    >>> geometry_from_model(model, (x, y), progress=False).margin.shape
    torch.Size([6])
    """
    head, name = (find_head(model)[1:]) if layer is None else (None, layer)
    if probe_data is not None and (head is not None or direction not in (None, "probe")):
        raise invalid("geometry_from_model", "probe_data", "None unless a probe is fitted "
                      "(a named layer, direction='probe')", probe_data)

    def features(which: Any, what: str) -> tuple[torch.Tensor, torch.Tensor]:
        out = extract_features(
            model, which, [name], batch_size=batch_size, device=device,
            progress=progress, dtype=dtype, tokens=tokens,
        )
        labels = out.labels
        if labels is None:
            raise invalid("geometry_from_model", what, "labelled: an (inputs, labels) pair or "
                          "a Dataset of (x, y)", which, "it carries no labels")
        return out[name], labels

    h, labels = features(data, "data")
    if head is not None:
        w = head.weight.detach().to("cpu", h.dtype)
        b = None if head.bias is None else head.bias.detach().to("cpu", h.dtype)
        return geometry(h, labels, w, b, direction=direction or "weight")
    if probe_data is None:
        return geometry(h, labels, direction=direction or "probe", probe_folds=probe_folds)
    from geowidget.engine.probe import fit_probe

    fit_h, fit_y = features(probe_data, "probe_data")
    classes = int(max(labels.max(), fit_y.max())) + 1
    return fit_probe(fit_h, fit_y, num_classes=max(classes, 2)).geometry(h, labels)
