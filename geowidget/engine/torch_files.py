"""Reading ``torch.save`` files safely, with errors that name the file.

Files are read with ``torch.load(..., weights_only=True)``: tensors, and dicts, lists and
numbers around them, but never arbitrary pickled objects, whose unpickling could run code.
torch's own refusal suggests ``weights_only=False``; the errors here never do.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from typing import Any

import torch

__all__ = ["read_torch_file"]


def read_torch_file(path: str | os.PathLike, what: str) -> Any:
    """The content of a ``torch.save`` file; ``what`` names it in errors (``"--data 'd.pt'"``).

    Raises
    ------
    ValueError
        When the file was not written by ``torch.save``, or holds other pickled objects than
        tensors and their containers.
    FileNotFoundError
        When it does not exist.
    """
    with open(path, "rb") as f:
        # torch.save writes a zip archive (a bare pickle in its legacy format)
        from_torch = zipfile.is_zipfile(f) or (f.seek(0) == 0 and f.read(1) == b"\x80")
    name = os.fspath(path)
    if not from_torch:
        raise ValueError(f"{what}: {name!r} is not a file written by torch.save")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ValueError(
            f"{what}: {name!r} is not a plain tensor or state dict; it holds other pickled "
            "Python objects, which geowidget does not load. Save only tensors (and dicts or "
            "lists of them) with torch.save"
        ) from None
    except Exception as err:  # noqa: BLE001 -- any unreadable file gets the same message
        raise ValueError(
            f"{what}: {name!r} is not a file written by torch.save ({type(err).__name__})"
        ) from None
