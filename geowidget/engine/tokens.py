"""Transformer token outputs ``[N, T, D]`` reduced to one feature vector per sample ``[N, D]``.

A vision transformer's blocks output one ``D``-vector per token: a class token (CLS), maybe
register tokens, then one per image patch. Geometry needs one vector per sample, and the
right one depends on how the model classifies, so the user chooses per layer:

- ``"cls"``: the class token (token 0), what a ViT with ``global_pool="token"`` classifies;
- ``"mean"``: the mean over the patch tokens, leaving out the prefix tokens (class and
  register tokens), as timm's ``global_pool="avg"`` pools;
- ``"flatten"``: all tokens concatenated (``[N, T * D]``), for 3-D outputs that are not
  tokens (a ``Conv1d`` layer's ``[N, C, L]``).

A 3-D output has no safe default: flattening 197 tokens of a ViT-B would make 151,296-wide
features dominated by patch tokens the head never sees, so a 3-D output without a choice is
an error that lists the options.

The prefix tokens are read from the model: timm's ``num_prefix_tokens`` (and
``has_class_token``), or one class token for a model with a ``class_token`` or ``cls_token``
parameter (torchvision). For other models the class token is assumed at position 0 and
``"mean"`` averages every token.

Examples
--------
>>> import torch
>>> from torchvision.models.vision_transformer import VisionTransformer
>>> vit = VisionTransformer(32, 8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32)
>>> token_layout(vit)
TokenLayout(has_class_token=True, prefix=1)
>>> x = torch.arange(12.).reshape(1, 3, 4)       # 1 sample, 3 tokens, 4 dimensions
>>> reduce_tokens(x, "mean", token_layout(vit)).tolist()
[[6.0, 7.0, 8.0, 9.0]]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from geowidget._validation import DictOf, Options, invalid

__all__ = ["TOKENS", "TOKEN_MODES", "TokenLayout", "check_tokens", "reduce_tokens", "token_layout"]

TOKEN_MODES = ("cls", "mean", "flatten")
# the declaration of ``tokens=`` for validate_params: one mode, or a mode per layer
TOKENS = [None, Options(*TOKEN_MODES), DictOf(str, Options(*TOKEN_MODES))]


@dataclass(frozen=True)
class TokenLayout:
    """Where a model's tokens are: a class token at position 0 or not, and how many prefix
    tokens (class plus register tokens) come before the patch tokens."""

    has_class_token: bool
    prefix: int


def token_layout(model: nn.Module) -> TokenLayout:
    """The model's :class:`TokenLayout` (see the module doc for how it is read)."""
    prefix = getattr(model, "num_prefix_tokens", None)  # timm
    if isinstance(prefix, int) and not isinstance(prefix, bool):
        return TokenLayout(bool(getattr(model, "has_class_token", prefix > 0)), prefix)
    for attr in ("class_token", "cls_token"):  # torchvision, and many hand-written ViTs
        if isinstance(getattr(model, attr, None), torch.Tensor):
            return TokenLayout(True, 1)
    return TokenLayout(True, 0)


def check_tokens(
    tokens: str | Mapping[str, str] | None, layers: Iterable[str], caller: str = "extract_features"
) -> tuple[str | None, dict[str, str]]:
    """``tokens=`` (validated by :data:`TOKENS`) as ``(default for every token layer,
    {layer: mode} set per layer)``; a dict may name only layers of ``layers``."""
    if tokens is None or isinstance(tokens, str):
        return tokens, {}
    layers = list(layers)
    unknown = [k for k in tokens if k not in layers]
    if unknown:
        raise invalid(caller, "tokens", f"a dict over the requested layers {layers}", tokens,
                      f"{unknown} are not among them")
    return None, dict(tokens)


def reduce_tokens(value: torch.Tensor, mode: str, layout: TokenLayout) -> torch.Tensor:
    """``[N, T, D]`` tokens to ``[N, D]`` (``"cls"``, ``"mean"``) or ``[N, T * D]``."""
    if mode == "cls":
        if not layout.has_class_token:
            raise ValueError(
                "tokens='cls' but the model has no class token; use tokens='mean'"
            )
        return value[:, 0]
    if mode == "mean":
        if value.shape[1] <= layout.prefix:
            raise ValueError(
                f"tokens='mean' averages the tokens after the {layout.prefix} prefix token(s), "
                f"but the layer has only {value.shape[1]} tokens"
            )
        return value[:, layout.prefix :].mean(dim=1)
    if mode == "flatten":
        return value.reshape(len(value), -1)
    raise ValueError(f"tokens must be one of {list(TOKEN_MODES)}, got {mode!r}")
