"""Deprecated spellings, kept for one release: renamed keywords and moved module names.

Both warn with a ``DeprecationWarning`` that names the new spelling, pointing at the user's
line (the first caller outside geowidget).
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["moved", "renamed"]


def renamed(kwargs: dict[str, Any], old: str, new: str, value: Any, default: Any,
            owner: str) -> Any:
    """The value of keyword ``new``, taking the deprecated spelling ``old`` from ``kwargs``
    (with a ``DeprecationWarning`` naming ``new``) when it is there; both at once is an
    error."""
    if old not in kwargs:
        return value
    if value is not default:
        raise TypeError(f"{owner} got both {old}= and {new}=; {old}= is the deprecated "
                        f"spelling of {new}=, pass {new}= only")
    warnings.warn(f"{owner}({old}=...) is deprecated; use {new}=... instead",
                  DeprecationWarning, stacklevel=_outside_the_package())
    return kwargs.pop(old)


def _outside_the_package() -> int:
    """The ``stacklevel`` of the first caller outside geowidget (a view may be built by
    another view, through a validating wrapper): the warning points at the user's line."""
    package = str(Path(__file__).resolve().parent.parent) + os.sep
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def moved(module: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``names`` (old name -> the module it moved to) that
    warns and returns the object from its new module."""

    def __getattr__(name: str) -> Any:
        if name in names:
            warnings.warn(f"{module}.{name} moved: import {name} from {names[name]}",
                          DeprecationWarning, stacklevel=2)
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
