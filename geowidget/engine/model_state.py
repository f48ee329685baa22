"""The user's model is never changed: snapshot what an operation may touch, restore it after.

Operations that run a model (features, margins, SNIP scores, occlusion) switch it to eval
mode; pruning writes zeros into its weights. :func:`preserved` records every module's own
train/eval flag (a model may mix them: an eval-mode BatchNorm inside a training model) and,
on request, the values of some parameters, and puts all of it back on exit, also when the
block raises. Restoring with ``model.train(was)`` instead would overwrite each submodule's
own flag with the root's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["evaluating", "preserved"]


@contextmanager
def preserved(
    model: nn.Module, *, params: Iterable[str] = (), eval_mode: bool = False
) -> Iterator[dict[str, torch.Tensor]]:
    """Restore every module's train/eval flag, and the named parameters bit for bit, on exit.

    Parameters
    ----------
    model : nn.Module
    params : iterable of str
        Parameter names (``model.get_parameter``) the block may change in place; they are
        cloned first and copied back after.
    eval_mode : bool
        Put the whole model in eval mode inside the block.

    Yields
    ------
    dict of str to Tensor
        The saved clones of ``params`` (read-only for the block: they are what gets restored).
    """
    flags = [(m, m.training) for m in model.modules()]
    saved = {n: model.get_parameter(n).detach().clone() for n in params}
    if eval_mode:
        model.eval()
    try:
        yield saved
    finally:
        with torch.no_grad():
            for name, value in saved.items():
                model.get_parameter(name).copy_(value)
        for module, flag in flags:
            module.training = flag


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode inside the block; every module's own train/eval flag is restored after."""
    with preserved(model, eval_mode=True):
        yield model
