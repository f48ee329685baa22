"""Session-scoped headless Chromium (playwright) and JupyterLab for the browser tests."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.browser.servers import ROOT, free_port, jupyter_env, jupyter_server, server

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str | None:
    for cand in (os.environ.get("GEOWIDGET_CHROMIUM"), shutil.which("chromium"),
                 shutil.which("chromium-browser")):
        if cand and Path(cand).exists():
            return cand
    return None


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def bundle() -> Path:
    """The built JS bundle; built with npm when missing."""
    out = ROOT / "geowidget" / "static" / "widgets.js"
    css = out.with_suffix(".css")
    if not (out.exists() and css.exists()) and shutil.which("npm"):
        subprocess.run(["npm", "run", "build"], cwd=ROOT, check=True, capture_output=True)
    if not (out.exists() and css.exists()):
        pytest.fail("geowidget/static/widgets.js or widgets.css is missing; run `npm run build`")
    return out


@pytest.fixture(scope="session")
def browser(bundle):
    path = chromium_path()
    if path is None:
        message = "no Chromium found: install it (make setup does) or set GEOWIDGET_CHROMIUM"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{message}; under CI the browser tests must run, not skip")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 820, "height": 900})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    yield pg
    ctx.close()


@pytest.fixture(scope="session")
def jupyter_lab(tmp_path_factory, bundle):
    """A JupyterLab server on loopback with a token, serving a temporary notebook dir."""
    root = tmp_path_factory.mktemp("lab")
    port, token = free_port(), secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}"
    with server("lab", jupyter_server("lab", root, port, token), root,
                f"{url}/api/status?token={token}", jupyter_env(root)):
        yield {"url": url, "token": token, "root": root}
