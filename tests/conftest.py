"""Fixtures shared across test directories."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import pytest


class DemoCache(NamedTuple):
    root: Path
    cube: Any


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory):
    """The demo study, computed once per test session and read from its cache after that.

    GEOWIDGET_CACHE points at one folder under the session's base temp dir for the duration
    of the module, then is restored.
    """
    from geowidget.demo import CACHE_ENV, demo_cube

    root = tmp_path_factory.getbasetemp() / "gw-demo-cache"
    old = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(root)
    try:
        yield DemoCache(root, demo_cube(progress=False))
    finally:
        if old is None:
            os.environ.pop(CACHE_ENV, None)
        else:
            os.environ[CACHE_ENV] = old


@pytest.fixture(scope="session")
def notebook_cache(tmp_path_factory) -> Path:
    """The session's executed notebooks (docs/hooks/notebook_runs.py keeps them by content):
    tests/test_notebooks.py and the site's build share them, so each notebook runs once."""
    return tmp_path_factory.getbasetemp() / "gw-notebooks"
