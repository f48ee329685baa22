"""The API reference page: one entry per name of ``geowidget.__all__``, so it cannot drift."""

from __future__ import annotations

import importlib


def reference_path(name: str) -> str:
    """The dotted path of the object ``geowidget.<name>`` where it is defined.

    A class or function is documented where its code lives (``geowidget.widgets.link`` is a
    module, its function ``link`` is ``geowidget.widgets.link.link``); any other value (a
    constant) under the module ``geowidget`` loads it from.
    """
    import geowidget

    module = geowidget._EXPORTS[name]
    value = getattr(importlib.import_module(module), name)
    home = getattr(value, "__module__", None)
    if home and home.startswith("geowidget.") and getattr(value, "__name__", None) == name:
        module = home
    return f"{module}.{name}"


def api_page() -> str:
    """The Markdown of the API page: a mkdocstrings entry per public name."""
    import geowidget

    lines = ["# API reference\n",
             "Every public name of `geowidget` (`import geowidget as gw; gw.NAME`), from its "
             "docstring: signature, parameters and an example.\n"]
    lines += [f"::: {reference_path(name)}\n" for name in geowidget.__all__]
    return "\n".join(lines)
