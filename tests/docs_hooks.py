"""The documentation site's hook modules (docs/hooks/*.py), loaded from their files: the
hooks are no package, and the tests import them without touching ``sys.path``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

HOOKS = Path(__file__).resolve().parents[1] / "docs" / "hooks"

__all__ = ["HOOKS", "hook"]


def hook(name: str) -> ModuleType:
    """``docs/hooks/<name>.py`` as a module (loaded once, as ``docs_hooks.<name>``)."""
    key = f"docs_hooks.{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, HOOKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module  # before running it, as import does (dataclasses need it)
        spec.loader.exec_module(module)
    return sys.modules[key]
