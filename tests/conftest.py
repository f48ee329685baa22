"""Fixtures shared across test directories."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.optional import OPTIONAL, missing_for


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


# Test modules that need an optional package which is not installed are left out at
# collection, and the header of the run says which and why (tests/optional.py).
_LEFT_OUT: dict[str, list[str]] = {}


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    if collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    missing = missing_for(collection_path)
    if missing:
        _LEFT_OUT[collection_path.name] = missing
        return True
    return None


def pytest_report_collectionfinish(config, start_path, items) -> list[str]:
    if not _LEFT_OUT:
        return []
    extras = sorted({f"geowidget[{OPTIONAL[m]}]" for ms in _LEFT_OUT.values() for m in ms})
    return [f"left out {len(_LEFT_OUT)} test modules whose optional packages are missing "
            f"(install {', '.join(extras)}):",
            *(f"  {name}: needs {', '.join(ms)}" for name, ms in sorted(_LEFT_OUT.items()))]
