"""Under CI (``CI=true``) a missing Chromium fails the browser tests loudly instead of
skipping them (elsewhere they skip, with the same reason)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.optional import needs

ROOT = Path(__file__).resolve().parents[2]
TARGET = "tests/browser/test_render.py::test_points_land_where_the_polar_frame_says"


@needs("playwright", "png")  # the browser test it runs imports playwright
def test_missing_chromium_fails_under_ci(tmp_path):
    env = {**os.environ, "CI": "true", "GEOWIDGET_CHROMIUM": str(tmp_path / "no-chromium"),
           "PATH": str(tmp_path)}  # nothing to find on PATH
    run = subprocess.run([sys.executable, "-m", "pytest", f"{TARGET}[1]", "-q", "-rs",
                          "-p", "no:cacheprovider"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    out = run.stdout + run.stderr
    assert "1 error" in out and run.returncode != 0, out[-2000:]
    assert "no Chromium found" in out
    assert "under CI the browser tests must run, not skip" in out
