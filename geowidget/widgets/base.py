"""Deprecated: the views' base module was split in three (kept for one release).

- trait types: :mod:`geowidget.widgets.traits` (``Int``, ``Float``, ``Enum``, ``Bool``,
  ``List``, ``Dict``, ``Colors``, ``TraitValueError``, ``invalid``);
- view classes: :mod:`geowidget.widgets.view` (``GeoView``, ``SampleView``, ``SlabView``);
- export: :mod:`geowidget.widgets.export` (``export_state``, ``write_html``, the paths of the
  bundle).

Every old name still imports from here, with a ``DeprecationWarning`` naming its new module.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

__all__: list[str] = []  # nothing new lives here

_MOVED = {
    **dict.fromkeys(("Bool", "Colors", "Dict", "Enum", "Float", "Int", "List", "TraitValueError",
                     "as_is", "invalid"), "traits"),
    **dict.fromkeys(("BROWSER_WRITABLE_PRIVATE", "DEFAULT_BUDGET", "MAX_REQUEST_ID", "GeoView",
                     "SampleView", "SlabView"), "view"),
    **dict.fromkeys(("CSS_PATH", "ESM_PATH", "STATIC", "export_state", "write_html"), "export"),
    "new_link_id": "link",
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        module = f"geowidget.widgets.{_MOVED[name]}"
        warnings.warn(f"geowidget.widgets.base is deprecated; import {name} from {module}",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
