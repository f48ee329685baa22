"""Web servers for the browser tests: Jupyter apps, Voila and marimo on loopback."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(name: str, cmd: list[str], root: Path, ready: str, env: dict | None = None):
    """Run ``cmd`` (a web server) in ``root`` until ``ready`` (a URL) answers; stop it after.
    Its output goes to ``root/<name>.log``, quoted when it fails to start."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "jupyter" in " ".join(cmd):
        cmd = [*cmd, "--allow-root"]
    log_path = root / f"{name}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 120
            while True:
                try:
                    urllib.request.urlopen(ready, timeout=2)
                    break
                except urllib.error.HTTPError:  # an answer, even an error one: it is up
                    break
                except OSError:
                    if proc.poll() is not None or time.time() > deadline:
                        pytest.fail(f"{name} did not start: " + log_path.read_text()[-3000:])
                    time.sleep(0.5)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def jupyter_env(root: Path) -> dict:
    """Config and runtime dirs of their own; every notebook cell kept in the DOM (no
    windowing), so off-screen widgets render and draw; the notebook's kernel started without
    asking."""
    settings = root / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "tracker.jupyterlab-settings").write_text(
        '{"windowingMode": "none", "autoStartDefaultKernel": true}')
    return {"JUPYTER_CONFIG_DIR": str(root / ".jupyter"),
            "JUPYTER_RUNTIME_DIR": str(root / ".runtime")}


def jupyter_server(app: str, root: Path, port: int, token: str) -> list[str]:
    """The command line of a Jupyter server app (lab, notebook) on loopback with a token."""
    return [sys.executable, "-m", "jupyter", app, "--no-browser", "--ip=127.0.0.1",
            f"--port={port}", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}", "--ServerApp.disable_check_xsrf=True",
            "--LabApp.news_url=",
            "--LabServerApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]


