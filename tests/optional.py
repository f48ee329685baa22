"""Optional dependencies of tests, decided at collection time: a test that needs one is
reported as skipped, with the extra that installs it, before anything of it runs."""

from __future__ import annotations

import importlib.util

import pytest

__all__ = ["needs"]


def needs(module: str, extra: str) -> pytest.MarkDecorator:
    """Skip the test unless ``module`` is installed (``pip install geowidget[extra]``)."""
    return pytest.mark.skipif(importlib.util.find_spec(module) is None,
                              reason=f"needs {module}: pip install 'geowidget[{extra}]'")
