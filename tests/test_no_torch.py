"""Viewing a saved cube needs no torch: ``pip install geowidget`` opens a cube folder and
shows every view; the engine comes with ``geowidget[torch]``.

The test builds what that install gives, offline: a fresh virtual environment (no system
site-packages, hence no user site either) that sees geowidget's source and exactly the
distributions its base dependencies (pyproject.toml, markers evaluated, transitively)
need, linked from this interpreter's installation one by one. torch is not among them, so
it cannot be imported there at all. In that environment ``tests/viewer_without_torch.py``
saves and opens a cube, runs the analyses, builds every view kind and exports each to
HTML, while a finder on ``sys.meta_path`` records any attempt to import torch.
"""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
import venv
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
ENGINE = {"torch", "torchvision"}


def base_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(r) for r in project["dependencies"]]


def closure(requirements: list[Requirement]) -> dict[str, metadata.Distribution]:
    """Every installed distribution the requirements need (their extras and markers
    honoured), by canonical name."""
    found: dict[str, metadata.Distribution] = {}
    todo = [(r, "") for r in requirements]
    seen: set[tuple[str, str]] = set()
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        extras = sorted(req.extras)
        if all((name, e) in seen for e in ["", *extras]):
            continue
        seen.update((name, e) for e in ["", *extras])
        try:
            dist = found.get(name) or metadata.distribution(name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{req} (needed by geowidget's base dependencies) is not installed")
        found[name] = dist
        for spec in dist.requires or []:
            todo += [(Requirement(spec), e) for e in ["", *extras]]
    return found


def top_level_entries(dist: metadata.Distribution) -> set[Path]:
    """The files and folders a distribution installed at the top of its site-packages."""
    base = Path(dist.locate_file(""))
    if dist.files is None:
        pytest.fail(f"{dist.metadata['Name']} has no RECORD: cannot tell which files are its")
    tops = {Path(f).parts[0] for f in dist.files if Path(f).parts[0] not in ("..", "__pycache__")}
    return {base / top for top in tops if (base / top).exists()}


def test_the_base_dependencies_need_no_torch() -> None:
    names = set(closure(base_requirements()))
    assert {"numpy", "pyarrow", "anywidget"} <= names
    assert not names & ENGINE, sorted(names & ENGINE)


def test_the_closure_follows_extras_and_markers(monkeypatch) -> None:
    """The walker itself, on made-up distributions: an extra pulls its requirements in, a
    false marker keeps one out, and a requirement seen twice is walked once."""

    class Dist:
        def __init__(self, requires: list[str]) -> None:
            self.requires = requires

    fake = {"app": Dist(["lib[fast]", "win; sys_platform == 'nonesuch'", "lib"]),
            "lib": Dist(["core", "speedups; extra == 'fast'", "docs; extra == 'docs'"]),
            "core": Dist([]), "speedups": Dist(["core"]), "win": Dist([]), "docs": Dist([])}
    monkeypatch.setattr(metadata, "distribution", lambda name: fake[name])
    assert set(closure([Requirement("app")])) == {"app", "lib", "core", "speedups"}
    assert set(closure([Requirement("lib")])) == {"lib", "core"}


@pytest.fixture(scope="module")
def viewer_env(tmp_path_factory) -> Path:
    """A venv's python that sees geowidget's source and only its base dependencies."""
    root = tmp_path_factory.mktemp("no-torch")
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(root / "venv")
    python = root / "venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = subprocess.run([python, "-I", "-c", "import sysconfig; print(sysconfig.get_path("
                           "'purelib'))"], capture_output=True, text=True, check=True)
    deps = root / "deps"  # links to the needed distributions' files, nothing else
    deps.mkdir()
    for dist in closure(base_requirements()).values():
        for entry in top_level_entries(dist):
            if not (deps / entry.name).exists():
                (deps / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    (Path(site.stdout.strip()) / "geowidget-viewer.pth").write_text(
        f"{ROOT}\nimport site; site.addsitedir({str(deps)!r})\n", encoding="utf-8")
    return python


def test_the_viewer_runs_without_torch(viewer_env, tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    run = subprocess.run([viewer_env, "-I", "-m", "tests.viewer_without_torch", str(tmp_path)],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-4000:]
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found["torch_found"] is False  # the environment really has no torch
    assert found["engine_loaded"] == [] and found["engine_attempts"] == []
    # the saved cube reads back equal, and the analyses give shapes of its dimensions
    assert found["equal"] is True and found["shape"] == [3, 2, 4, 40]
    assert found["demo_equal"] is True  # gw.demo_cube() read its cache
    assert found["analyses"] == {"correlations": [3, 10], "model_embedding": [3, 120],
                                 "benchmark_similarity": [2, 2], "project": [40, 2],
                                 "distortion_k": 5}
    # every view kind the widgets export was built, and each page carries its own kind
    kinds = found["view_kinds"]
    assert set(found["built"]) == set(kinds) and len(kinds) >= 9
    for name, kind in kinds.items():
        assert found["pages"][name]["kinds"] == [kind], name
    assert found["pages"]["Explorer"]["kinds"] == sorted(
        {"evaltable", "histogram", "layerprofile", "modelmap", "panel", "parallel", "polar"})
    assert found["pages"]["SideBySide"]["kinds"] == ["polar"]
    assert found["pages"]["link"]["kinds"] == ["histogram", "polar"]


def test_the_recorder_sees_an_attempt(viewer_env, tmp_path) -> None:
    """The check can fail: in the same environment, asking for torch is recorded (and
    fails, since torch is absent)."""
    code = ("from tests.viewer_without_torch import RecordEngineImports\n"
            "import sys\nr = RecordEngineImports(); sys.meta_path.insert(0, r)\n"
            "try:\n    import torchvision.models\nexcept ImportError as e:\n    print(e.name)\n"
            "print([a['module'] for a in r.attempts])\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    run = subprocess.run([viewer_env, "-I", "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env=env, check=True)
    assert run.stdout.split("\n")[:2] == ["torchvision", "['torchvision']"]


def test_the_namespace_names_the_extra_without_torch(viewer_env, tmp_path) -> None:
    code = ("import geowidget as gw\ntry:\n    gw.Study\nexcept ModuleNotFoundError as e:\n"
            "    print(e.name, '|', e)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    run = subprocess.run([viewer_env, "-I", "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env=env, check=True)
    assert run.stdout.strip() == (
        "torch | geowidget.Study runs models and needs torch: pip install 'geowidget[torch]' "
        "(opening a saved cube and its views needs no torch)")

