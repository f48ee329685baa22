"""Deprecated: the views' base module was split in three (kept for one release).

- trait types: :mod:`geowidget.widgets.traits` (``Int``, ``Float``, ``Enum``, ``Bool``,
  ``List``, ``Dict``, ``Colors``, ``TraitValueError``, ``invalid``);
- view classes: :mod:`geowidget.widgets.view` (``GeoView``, ``SampleView``, ``SlabView``);
- export: :mod:`geowidget.widgets.export` (``export_state``, ``write_html``, the paths of the
  bundle).

Every old name still imports from here, with a ``DeprecationWarning`` naming its new module.
"""

from __future__ import annotations

from geowidget.widgets.deprecation import moved

__all__: list[str] = []  # nothing new lives here

_NEW = {
    **dict.fromkeys(("Bool", "Colors", "Dict", "Enum", "Float", "Int", "List", "TraitValueError",
                     "as_is", "invalid"), "traits"),
    **dict.fromkeys(("BROWSER_WRITABLE_PRIVATE", "DEFAULT_BUDGET", "MAX_REQUEST_ID", "GeoView",
                     "SampleView", "SlabView"), "view"),
    **dict.fromkeys(("CSS_PATH", "ESM_PATH", "STATIC", "export_state", "write_html"), "export"),
    "new_link_id": "link",
}
__getattr__ = moved(__name__, {name: f"geowidget.widgets.{module}" for name, module in _NEW.items()})
