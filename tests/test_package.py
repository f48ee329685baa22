"""The public namespace: every advertised name resolves, and importing stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import geowidget as gw


def test_every_public_name_resolves():
    missing = [name for name in gw.__all__ if getattr(gw, name, None) is None]
    assert missing == []


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'PolarPlott'"):
        gw.PolarPlott  # noqa: B018


def test_import_does_not_pull_in_torch_or_widgets():
    code = "import sys, geowidget; print('torch' in sys.modules, 'anywidget' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
