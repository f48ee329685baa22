"""The notebooks, executed once per content, with their widget state, for the site's pages.

A notebook runs in a fresh kernel (nbclient, from ``notebooks/``, as ``tests/test_notebooks.py``
runs it) and the executed copy, widget state included, is kept in a folder keyed by the
notebook's bytes and the geowidget package's files: a changed notebook or a changed package
runs again, anything else is read back. ``tests/test_notebooks.py`` and the site's build share
the folder within a test session, so each notebook runs once per session.

:func:`page_state` slims the widget state a page embeds: the bundle and styles each view's
state repeats (``_esm``, ``_css``) are served once by the site, and a buffer that repeats one
already in the page (linked views show the same slab) is stored once and referenced
(``{"same_as": [model_id, index]}``), which ``assets/geowidget/mount.js`` resolves.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

__all__ = ["CACHE_ENV", "cache_dir", "executed", "key", "kept", "page_state"]

ROOT = Path(__file__).resolve().parents[2]
CACHE_ENV = "GEOWIDGET_NOTEBOOK_CACHE"  # the folder of executed notebooks
TIMEOUT = 600  # s per cell
SHARED_MIN = 1024  # base64 characters: smaller buffers are kept in place
# Guides whose widgets compute each pick on demand (a live cube): without a kernel their views
# have nothing to draw, so the site shows their prose and code, not a run's dead widgets.
KERNEL_ONLY = ("live",)


def cache_dir() -> Path:
    """``$GEOWIDGET_NOTEBOOK_CACHE``, else ``notebooks/`` under geowidget's cache folder."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    from geowidget.demo import cache_root

    return cache_root() / "notebooks"


def _package_digest() -> str:
    """One hash of the geowidget package's files (code and bundled weights). The JS bundle
    (``static/``) is left out: a page draws with the bundle the site serves, not the copy in
    the saved state."""
    h = hashlib.sha256()
    package = ROOT / "geowidget"
    for path in sorted(package.rglob("*")):
        if path.is_file() and not {"__pycache__", "static"} & set(path.relative_to(package).parts):
            h.update(str(path.relative_to(package)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def key(path: Path) -> str:
    """The executed copy's key: the notebook's bytes and the package's files."""
    h = hashlib.sha256(Path(path).read_bytes())
    h.update(_package_digest().encode())
    return h.hexdigest()[:16]


def kept(path: Path, folder: Path | None = None) -> Path:
    """Where the run of notebook ``path`` is kept in ``folder`` (default :func:`cache_dir`):
    ``<key>/notebooks/<name>``, the path a page's source has below the site's source folder."""
    path = Path(path)
    return (cache_dir() if folder is None else Path(folder)) / key(path) / "notebooks" / path.name


def executed(path: Path, folder: Path | None = None) -> Path:
    """The executed copy of notebook ``path`` (run now unless :func:`kept` has it).

    Raises nbclient's ``CellExecutionError``, with the traceback, when a cell fails; nothing
    is kept then.
    """
    import nbformat
    from nbclient import NotebookClient

    path, out = Path(path), kept(path, folder)
    if out.exists():
        return out
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    nbformat.write(nb, tmp)
    tmp.replace(out)  # whole or not at all, should two builds run at once
    return out


def page_state(state: dict[str, Any]) -> dict[str, Any]:
    """A notebook's widget state (``{"state": {model_id: model}}``) as a page embeds it: no
    ``_esm``/``_css`` (the site serves the bundle) and each repeated buffer stored once."""
    seen: dict[str, list[Any]] = {}
    models = {}
    for mid, model in state["state"].items():
        inner = {k: v for k, v in model["state"].items() if k not in ("_esm", "_css")}
        buffers = []
        for i, b in enumerate(model.get("buffers", [])):
            data = b.get("data", "")
            if len(data) >= SHARED_MIN and data in seen:
                b = {k: v for k, v in b.items() if k != "data"} | {"same_as": seen[data]}
            elif len(data) >= SHARED_MIN:
                seen[data] = [mid, i]
            buffers.append(b)
        models[mid] = {**model, "state": inner, "buffers": buffers}
    return {**state, "state": models}
