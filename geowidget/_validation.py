"""Parameter constraints, declared once per function (after scikit-learn's ``validate_params``).

A public function lists, per parameter, the constraints a valid value may meet (any one)::

    @validate_params({
        "chunk_size": [None, Interval(int, 1, None)],
        "direction": [Options("weight", "weight_aug", "mean", "probe")],
    })
    def geometry(features, labels, ..., chunk_size=None): ...

A value that meets none raises :class:`InvalidParameterError`, a ``ValueError`` and a
``TypeError``, in one shape::

    The 'chunk_size' parameter of geometry must be None or an int in [1, inf). Got 0 instead.

Constraints also convert what they accept: numpy and torch scalars become Python numbers and
iterables become lists, so the function body sees plain values. Checks that relate several
parameters (labels against the number of classes, say) stay in the body and raise through
:func:`invalid`, in the same shape. ``tests/test_invalid_params.py`` generates invalid values
from every declaration, so a new declaration is tested as soon as it is written.

Nothing here imports torch: torch types are named as strings (``"torch.nn.Module"``) and
resolved only once torch is loaded, so the widgets can use this module too.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
import numbers
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np


class InvalidParameterError(ValueError, TypeError):
    """A parameter has the wrong type or value (both a ``ValueError`` and a ``TypeError``).

    The one error for bad input: a function's or method's argument, a command-line option, a
    view's trait (its ``TraitValueError`` is a subclass). The message names the parameter,
    the value and what was expected.

    Examples
    --------
    >>> import numpy as np
    >>> import geowidget as gw
    >>> try:
    ...     gw.project(np.ones((5, 3)), method="isomap")
    ... except gw.InvalidParameterError as err:
    ...     print(err)
    The 'method' parameter of project must be one of ['pca', 'mds', 'tsne', 'umap']. Got 'isomap' instead.
    """


class _Mismatch(Exception):
    """Raised by a constraint that a value does not meet, with an optional detail.

    ``rank`` says how close the value came: of the constraints a value breaks, the message
    gives the detail of the closest (an empty integer array is "empty", not "not boolean").
    """

    def __init__(self, detail: str = "", rank: int = 1) -> None:
        super().__init__(detail)
        self.detail, self.rank = detail, rank


# ---------------------------------------------------------------------------- describing values
def describe(value: Any) -> str:
    """A short description of ``value`` for an error message (arrays by shape and dtype)."""
    if _is_array(value) and getattr(value, "ndim", 0) > 0:
        kind = f"{type(value).__module__.split('.')[0]}.{type(value).__name__}"
        return f"a {kind} of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, os.PathLike):  # a path in full, as its text
        value = os.fspath(value)
    text = repr(value)
    if isinstance(value, Mapping) and ("\n" in text or len(text) > 80):  # tensors as values
        keys = [describe(k) for k in list(value)[:10]]
        return f"a {type(value).__name__} with keys [{', '.join(keys)}" + (
            ", ...]" if len(value) > 10 else "]")
    if isinstance(value, str | bytes):  # paths and names in full, unless absurdly long
        return text if len(text) <= 300 else f"{text[:60]}... ({len(value)} characters)"
    if "\n" in text or (len(text) > 80 and not isinstance(value, list | tuple)):
        return f"an object of type {type(value).__name__}"
    return text if len(text) <= 80 else f"{text[:60]}... ({len(value)} items)"


def _is_array(value: Any) -> bool:
    return (not isinstance(value, type)  # np.float32 the class has these as descriptors
            and hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "ndim"))


def _number(value: Any) -> int | float | None:
    """``value`` as a Python int or float if it is a real scalar (numpy, torch, 0-d array)."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if _is_array(value) and value.ndim == 0 and hasattr(value, "item"):
        item = value.item()
        if isinstance(item, int | float) and not isinstance(item, bool):
            return item
    return None


def _resolve(name: str) -> type | None:
    """The class a dotted name refers to, or None while its package is not imported (then no
    value can be an instance of it, and nothing needs importing)."""
    module, _, attr = name.rpartition(".")
    if module.split(".")[0] not in sys.modules:
        return None
    return getattr(importlib.import_module(module), attr)


def _with_article(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def _type_name(t: type) -> str:
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


# ---------------------------------------------------------------------------- constraints
class Constraint:
    """A condition on one value. ``convert`` returns the (converted) value or raises."""

    def convert(self, value: Any) -> Any:
        raise NotImplementedError

    def __str__(self) -> str:
        raise NotImplementedError

    def invalid_examples(self) -> list[Any]:
        """Values that break this constraint, for the generated tests."""
        return [object()]


class _NoneConstraint(Constraint):
    def convert(self, value: Any) -> Any:
        if value is not None:
            raise _Mismatch
        return value

    def __str__(self) -> str:
        return "None"

    def invalid_examples(self) -> list[Any]:
        return ["none"]


class Interval(Constraint):
    """A number in an interval: ``Interval(int, 1, None)`` is an int in [1, inf).

    ``kind`` is ``int`` (integers only, not bool) or ``float`` (any real number, NaN
    excluded). numpy and torch scalars are accepted and converted to ``kind``.
    ``closed`` is ``"both"``, ``"left"``, ``"right"`` or ``"neither"``; None bounds are open.
    """

    def __init__(
        self, kind: type, left: float | None, right: float | None, closed: str = "both"
    ) -> None:
        if kind not in (int, float) or closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"Interval({kind!r}, ..., closed={closed!r}) is not supported")
        self.kind, self.left, self.right, self.closed = kind, left, right, closed

    def convert(self, value: Any) -> Any:
        number = _number(value)
        if number is None or (self.kind is int and not isinstance(number, int)):
            raise _Mismatch
        number = self.kind(number)
        if math.isnan(number):
            raise _Mismatch
        if self.left is not None:
            if number < self.left or (number == self.left and self.closed in ("right", "neither")):
                raise _Mismatch
        if self.right is not None:
            if number > self.right or (number == self.right and self.closed in ("left", "neither")):
                raise _Mismatch
        return number

    def __str__(self) -> str:
        lo = "-inf" if self.left is None else f"{self.left:g}"
        hi = "inf" if self.right is None else f"{self.right:g}"
        left = "[" if self.left is not None and self.closed in ("both", "left") else "("
        right = "]" if self.right is not None and self.closed in ("both", "right") else ")"
        noun = "an int" if self.kind is int else "a float"
        if self.left is None and self.right is None:
            return noun
        return f"{noun} in {left}{lo}, {hi}{right}"

    def invalid_examples(self) -> list[Any]:
        step = 1 if self.kind is int else 1e-6
        out: list[Any] = ["1", None, True]
        if self.left is not None:
            out.append(self.left - step if self.closed in ("both", "left") else self.left)
        if self.right is not None:
            out.append(self.right + step if self.closed in ("both", "right") else self.right)
        out.append(1.5 if self.kind is int else math.nan)
        return out


def did_you_mean(value: Any, words: list[str]) -> str:
    """"did you mean 'gaussian_noise'?" for a string that is a typo of one of ``words``, else
    "" (cutoff 0.7: a typo such as "gausian_noise" or "foog", not another word: "isomap" is
    not "umap")."""
    import difflib

    close = difflib.get_close_matches(value, words, n=1, cutoff=0.7) if isinstance(value, str) else []
    return f"did you mean {close[0]!r}?" if close else ""


class Options(Constraint):
    """One of a fixed set of values (strings, usually)."""

    def __init__(self, *options: Any) -> None:
        self.options = list(options)

    def convert(self, value: Any) -> Any:
        try:
            if value in self.options and type(value) in {type(o) for o in self.options}:
                return value
        except (TypeError, ValueError):  # unhashable or array-valued comparisons
            pass
        hint = did_you_mean(value, [o for o in self.options if isinstance(o, str)])
        raise _Mismatch(hint, rank=0 if hint else 1)

    def __str__(self) -> str:
        return f"one of {self.options!r}"

    def invalid_examples(self) -> list[Any]:
        return ["not-an-option", 0, None]


class Instance(Constraint):
    """An instance of any of ``types``; torch types are given as dotted strings."""

    def __init__(self, *types: type | str) -> None:
        self.types = types

    def convert(self, value: Any) -> Any:
        for t in self.types:
            cls = _resolve(t) if isinstance(t, str) else t
            if cls is not None and isinstance(value, cls) and not (
                cls in (int, float) and isinstance(value, bool)
            ):
                return value
        raise _Mismatch

    def __str__(self) -> str:
        names = [_with_article(t if isinstance(t, str) else _type_name(t)) for t in self.types]
        return f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]

    def invalid_examples(self) -> list[Any]:
        return [0, "text"] if str not in self.types else [0, None]


class Boolean(Constraint):
    """``True`` or ``False`` (numpy bools too); not 0, 1 or a string."""

    def convert(self, value: Any) -> Any:
        if isinstance(value, bool | np.bool_):
            return bool(value)
        raise _Mismatch

    def __str__(self) -> str:
        return "a bool"

    def invalid_examples(self) -> list[Any]:
        return ["yes", None, 2]


class HasAttributes(Constraint):
    """Any object with the given attributes (``ImageData``-like containers)."""

    def __init__(self, *names: str) -> None:
        self.names = names

    def convert(self, value: Any) -> Any:
        if all(hasattr(value, n) for n in self.names):
            return value
        raise _Mismatch

    def __str__(self) -> str:
        return "an object with attributes " + " and ".join(f".{n}" for n in self.names)


class Matches(Constraint):
    """A string matching a regular expression, described in words."""

    def __init__(self, pattern: str, description: str) -> None:
        self.pattern, self.description = re.compile(pattern), description

    def convert(self, value: Any) -> Any:
        if isinstance(value, str) and self.pattern.fullmatch(value):
            return value
        raise _Mismatch

    def __str__(self) -> str:
        return self.description

    def invalid_examples(self) -> list[Any]:
        return ["not-valid", 3]


class AnyOf(Constraint):
    """Any one of several constraints (for the items of a :class:`ListOf`)."""

    def __init__(self, *constraints: Any) -> None:
        self.constraints = [make_constraint(c) for c in constraints]

    def convert(self, value: Any) -> Any:
        for c in self.constraints:
            try:
                return c.convert(value)
            except _Mismatch:
                pass
        raise _Mismatch

    def __str__(self) -> str:
        names = [str(c) for c in self.constraints]
        return f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]

    def invalid_examples(self) -> list[Any]:
        return [v for c in self.constraints for v in c.invalid_examples()]


class ListOf(Constraint):
    """A list (or any iterable but a string or mapping) whose items meet ``item``.

    Converted to a list of converted items. ``item`` may be a list of constraints, any of
    which an item may meet.
    """

    def __init__(self, item: Constraint | Any, min_len: int = 1) -> None:
        self.item = AnyOf(*item) if isinstance(item, list) else make_constraint(item)
        self.min_len = min_len

    def convert(self, value: Any) -> Any:
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
            raise _Mismatch
        if _is_array(value) and value.ndim != 1:
            raise _Mismatch
        items = list(value)
        if len(items) < self.min_len:
            raise _Mismatch(f"it has {len(items)} items")
        out = []
        for i, item in enumerate(items):
            try:
                out.append(self.item.convert(item))
            except _Mismatch as err:  # the item's own detail where it has one (a near option)
                why = f": {err.detail}" if err.detail else f" is not {self.item}"
                raise _Mismatch(f"item {i} ({describe(item)}){why}", err.rank) from None
        return out

    def __str__(self) -> str:
        size = "a non-empty list" if self.min_len == 1 else "a list"
        if self.min_len > 1:
            size = f"a list of at least {self.min_len} items"
        return f"{size}, each {self.item}"

    def invalid_examples(self) -> list[Any]:
        out: list[Any] = ["text", 7]
        if self.min_len > 0:
            out.append([])
        out += [[bad] * max(self.min_len, 1) for bad in self.item.invalid_examples()[:2]]
        return out


class DictOf(Constraint):
    """A dict whose keys and values meet the given constraints."""

    def __init__(self, key: Constraint | Any, value: Constraint | Any, min_len: int = 0) -> None:
        self.key, self.value = make_constraint(key), make_constraint(value)
        self.min_len = min_len

    def convert(self, value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise _Mismatch
        if len(value) < self.min_len:
            raise _Mismatch(f"it has {len(value)} items")
        for k, v in value.items():
            for part, c in ((k, self.key), (v, self.value)):
                try:
                    c.convert(part)
                except _Mismatch as err:
                    where = "key" if part is k else f"value of {describe(k)}"
                    raise _Mismatch(f"its {where} ({describe(part)}) is not {c}"
                                    + (f": {err.detail}" if err.detail else "")) from None
        return value

    def __str__(self) -> str:
        size = "a non-empty dict" if self.min_len else "a dict"
        return f"{size} mapping {self.key} to {self.value}"

    def invalid_examples(self) -> list[Any]:
        out: list[Any] = [["not", "a", "dict"], {0: None}]
        if self.min_len:
            out.append({})
        return out


_DTYPE_WORDS = {"floating": "floating-point", "integer": "integer", "bool": "boolean",
               "numeric": "numeric"}


def _dtype_kind(dtype: Any) -> str:
    """``"floating"``, ``"integer"``, ``"bool"`` or ``"other"`` for a numpy or torch dtype."""
    if hasattr(dtype, "is_floating_point"):  # torch.dtype
        if dtype.is_floating_point:
            return "floating"
        if dtype.is_complex:
            return "other"
        return "bool" if str(dtype) == "torch.bool" else "integer"
    kind = np.dtype(dtype).kind
    return {"f": "floating", "i": "integer", "u": "integer", "b": "bool"}.get(kind, "other")


def _fits(spec: tuple[str | int, ...], shape: tuple[int, ...]) -> bool:
    """Whether ``shape`` has ``spec``'s dimensions: sizes equal, and one size per name
    (``("P", "P")`` is square)."""
    if len(spec) != len(shape):
        return False
    sizes: dict[str, int] = {}
    return all(sizes.setdefault(d, n) == n if isinstance(d, str) else d == n
               for d, n in zip(spec, shape, strict=True))


class Array(Constraint):
    """A torch tensor (``library="torch"``), numpy array (``"numpy"``) or either (None).

    Parameters
    ----------
    *shapes : tuple of str or int
        Allowed shapes, one name or size per dimension: ``("N", "D")``. Any shape if none.
    dtype : {"floating", "integer", "bool", "numeric"}, optional
        ``"numeric"`` is floating or integer.
    finite : bool
        No NaN or Inf.
    low, high : float, optional
        Every value must lie in ``[low, high]``.
    nonempty : bool
        At least one element along the first dimension.
    hint : str
        Appended to the message when the value breaks this constraint: what to do instead.
    """

    def __init__(
        self,
        *shapes: tuple[str | int, ...],
        dtype: str | None = None,
        library: str | None = "torch",
        finite: bool = False,
        low: float | None = None,
        high: float | None = None,
        nonempty: bool = True,
        hint: str = "",
    ) -> None:
        self.shapes, self.dtype, self.library = shapes, dtype, library
        self.finite, self.low, self.high, self.nonempty, self.hint = finite, low, high, nonempty, hint

    def _type_ok(self, value: Any) -> bool:
        if self.library in ("torch", None):
            tensor = _resolve("torch.Tensor")
            if tensor is not None and isinstance(value, tensor):
                return True
        return self.library in ("numpy", None) and isinstance(value, np.ndarray)

    def convert(self, value: Any) -> Any:
        if not self._type_ok(value):
            raise _Mismatch
        kind = _dtype_kind(value.dtype)
        if self.dtype is not None and kind != self.dtype and not (
                self.dtype == "numeric" and kind in ("floating", "integer")):
            raise _Mismatch(f"its dtype {value.dtype} is not {_DTYPE_WORDS[self.dtype]}")
        if self.shapes and not any(_fits(s, value.shape) for s in self.shapes):
            dims = any(len(spec) == value.ndim for spec in self.shapes)
            raise _Mismatch(f"its shape is {tuple(value.shape)}" if dims
                            else f"it has {value.ndim} dimensions", rank=2)
        if self.nonempty and (value.ndim == 0 or value.shape[0] == 0):
            raise _Mismatch("it is empty", rank=2)
        checks_values = self.finite or self.low is not None or self.high is not None
        # meta tensors hold no values to check
        if checks_values and math.prod(value.shape) and not getattr(value, "is_meta", False):
            self._check_values(value)
        return value

    def _check_values(self, value: Any) -> None:
        # One pass: the extremes are NaN when any value is (both libraries propagate NaN),
        # and infinite when any value is, so they alone settle finiteness and range.
        flat = value.reshape(-1)
        if isinstance(flat, np.ndarray):
            lo, hi = float(flat.min()), float(flat.max())
        else:
            lo, hi = (float(t) for t in flat.detach().aminmax())
        if not (math.isfinite(lo) and math.isfinite(hi)):
            bad = ~(np.isfinite(flat) if isinstance(flat, np.ndarray) else flat.detach().isfinite())
            raise _Mismatch(f"it holds {int(bad.sum())} NaN or infinite values", rank=2)
        if (self.low is not None and lo < self.low) or (self.high is not None and hi > self.high):
            raise _Mismatch(f"its values span [{lo:g}, {hi:g}]", rank=2)

    def __str__(self) -> str:
        kind = {"torch": "torch.Tensor", "numpy": "numpy array", None: "tensor or array"}
        words = []
        if self.finite and self.low is None and self.high is None:
            words.append("finite")
        if self.dtype is not None:
            words.append(_DTYPE_WORDS[self.dtype])
        words.append(kind[self.library])
        if self.shapes:
            words.append(" or ".join("[" + ", ".join(map(str, s)) + "]" for s in self.shapes))
        if self.low is not None or self.high is not None:
            lo = "-inf" if self.low is None else f"{self.low:g}"
            hi = "inf)" if self.high is None else f"{self.high:g}]"
            words.append(f"with values in [{lo}, {hi}")
        return _with_article(" ".join(words))

    def invalid_examples(self) -> list[Any]:
        out: list[Any] = ["text", [[0.0]]]
        torch = sys.modules.get("torch")  # examples use torch only once it is loaded
        if torch is None:
            return out

        def make(shape: tuple[int, ...], dtype: Any, fill: float = 0.5) -> Any:
            t = torch.full(shape, fill, dtype=dtype)
            return t.numpy() if self.library == "numpy" else t

        ndims = {len(s) for s in self.shapes} or {2}
        ndim = max(ndims)
        good = {"floating": torch.float32, "integer": torch.int64, "bool": torch.bool}
        dtype = good.get(self.dtype or "floating", torch.float32)
        if self.shapes:
            out.append(make((2,) * (ndim + 1), dtype, 0))
        if self.dtype == "floating":
            out.append(make((2,) * ndim, torch.int64, 0))
        elif self.dtype == "numeric":
            out.append(make((2,) * ndim, torch.bool, 0))
        elif self.dtype is not None:
            out.append(make((2,) * ndim, torch.float32, 0.5))
        if self.nonempty:
            out.append(make((0,) * ndim, dtype, 0))
        if self.finite or self.low is not None:
            out.append(make((2,) * ndim, dtype, math.nan))
        if self.high is not None:
            out.append(make((2,) * ndim, dtype, self.high + 254))
        return out


class _File(Constraint):
    """A file path (str or PathLike), optionally with one of the given suffixes."""

    def __init__(self, *suffixes: str) -> None:
        self.suffixes = suffixes

    def path(self, value: Any) -> Path:
        if not isinstance(value, str | os.PathLike):
            raise _Mismatch
        path = Path(value).expanduser()
        if self.suffixes and path.suffix not in self.suffixes:
            raise _Mismatch(f"it does not end in {' or '.join(self.suffixes)}")
        return path

    @staticmethod
    def given(value: Any, path: Path) -> Any:
        """The checked path, ``~`` expanded, as the kind of value given (str or Path)."""
        return os.fspath(path) if isinstance(value, str) else path

    def ends(self) -> str:
        return f" ending in {' or '.join(self.suffixes)}" if self.suffixes else ""

    def invalid_examples(self) -> list[Any]:
        return [3, "missing-folder-for-geowidget-tests/file" + (self.suffixes or ("",))[0]]


class OutputFile(_File):
    """A file path that can be written: its folder exists, and it is not a folder itself."""

    def convert(self, value: Any) -> Any:
        path = self.path(value)
        folder = path.parent if str(path.parent) else Path(".")
        if path.is_dir():
            raise _Mismatch("it is a folder")
        if folder.exists() and not folder.is_dir():
            raise _Mismatch(f"{str(folder)!r} is a file, not a folder")
        if not folder.is_dir():
            raise _Mismatch(f"its folder {str(folder)!r} does not exist")
        if not os.access(folder, os.W_OK):
            raise _Mismatch(f"its folder {str(folder)!r} is not writable")
        return self.given(value, path)

    def __str__(self) -> str:
        return f"a writable file path{self.ends()} in an existing folder"


class InputFile(_File):
    """An existing file, optionally with one of the given suffixes."""

    def convert(self, value: Any) -> Any:
        path = self.path(value)
        if not path.is_file():
            raise _Mismatch("it is a folder" if path.is_dir() else "it does not exist")
        return self.given(value, path)

    def __str__(self) -> str:
        return f"an existing file{self.ends()}"


class Folder(Constraint):
    """A folder that exists or can be created (no file in the way), and is writable."""

    def convert(self, value: Any) -> Any:
        if not isinstance(value, str | os.PathLike):
            raise _Mismatch
        path = Path(value)
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            what = "it" if existing == path else f"{str(existing)!r} on its way"
            raise _Mismatch(f"{what} is a file, not a folder")
        if not os.access(existing, os.W_OK):
            raise _Mismatch(f"{str(existing)!r} is not writable")
        return value

    def __str__(self) -> str:
        return "a writable folder path (existing, or one that can be created)"

    def invalid_examples(self) -> list[Any]:
        return [3, __file__]


class NewFolder(Folder):
    """A :class:`Folder` that is new or empty, and whose name has no suffix (so that
    ``cube.csv`` is not taken for one, and nothing already there is overwritten)."""

    def convert(self, value: Any) -> Any:
        if isinstance(value, str | os.PathLike):
            path = Path(value)
            if path.suffix:
                raise _Mismatch(f"{path.suffix!r} is not a folder's name")
            if path.is_dir() and any(path.iterdir()):
                raise _Mismatch("it is a folder that is not empty")
        return super().convert(value)

    def __str__(self) -> str:
        return "a new or empty writable folder path without a suffix"

    def invalid_examples(self) -> list[Any]:
        return [3, __file__, "cube.csv"]


class ExistingFolder(Constraint):
    """A folder that exists."""

    def convert(self, value: Any) -> Any:
        if not isinstance(value, str | os.PathLike):
            raise _Mismatch
        if not Path(value).is_dir():
            raise _Mismatch("it is a file" if Path(value).exists() else "it does not exist")
        return value

    def __str__(self) -> str:
        return "an existing folder"

    def invalid_examples(self) -> list[Any]:
        return [3, "missing-folder-for-geowidget-tests"]


def make_constraint(constraint: Any) -> Constraint:
    """Turn a declaration into a :class:`Constraint`: None, a type, or a Constraint."""
    if isinstance(constraint, Constraint):
        return constraint
    if constraint is None:
        return _NoneConstraint()
    if isinstance(constraint, type | str):
        return Instance(constraint)
    raise TypeError(f"unknown constraint {constraint!r}")


# ---------------------------------------------------------------------------- checking
def invalid(
    caller: str, name: str, expected: str, value: Any, detail: str = "", *,
    what: str = "parameter",
) -> InvalidParameterError:
    """The error for parameter ``name`` of ``caller``: it must be ``expected``, got ``value``."""
    tail = f" ({detail})" if detail else ""
    return InvalidParameterError(
        f"The {name!r} {what} of {caller} must be {expected}. Got {describe(value)} instead{tail}."
    )


def check(
    caller: str, name: str, value: Any, constraints: list[Any], *, what: str = "parameter"
) -> Any:
    """Return ``value`` (converted by the first constraint it meets), or raise the one error.

    ``what`` names the kind of input in the message: ``"parameter"``, ``"option"`` (command
    line) or ``"entry"`` (a field of a file).
    """
    made = [make_constraint(c) for c in constraints]
    details: list[tuple[int, str]] = []
    for c in made:
        try:
            return c.convert(value)
        except _Mismatch as err:
            if err.detail:
                hint = f"; {c.hint}" if getattr(c, "hint", "") else ""
                details.append((-err.rank, err.detail + hint))
    names = [str(c) for c in made]
    expected = f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]
    detail = min(details, key=lambda d: d[0])[1] if details else ""  # the closest, first
    raise invalid(caller, name, expected, value, detail, what=what)


def unknown_keyword_hint(kwargs: dict[str, Any], sig: inspect.Signature) -> str:
    """"; did you mean 'sparsities'? valid: [...]" for a keyword ``sig`` does not take; "" when
    every keyword is known (the error is another one: a missing or doubled argument)."""
    names = [p.name for p in sig.parameters.values() if p.name != "self"
             and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return ""
    unknown = [k for k in kwargs if k not in names and k != "self"]
    if not unknown:
        return ""
    hint = did_you_mean(unknown[0], names)
    return (f"; {hint}" if hint else "") + f" Valid keywords: {names}"


def validate_params(constraints: dict[str, list[Any]]) -> Callable[[Callable], Callable]:
    """Decorator: check the declared parameters of every call, then call with converted values.

    ``constraints`` maps a parameter name to the list of constraints it may meet (any one):
    ``None``, a type (or a dotted name like ``"torch.nn.Module"``), or a :class:`Constraint`.
    Parameters left at their defaults are not checked. The declarations are kept on the
    function as ``parameter_constraints`` for the generated tests.
    """
    compiled = {name: [make_constraint(c) for c in cs] for name, cs in constraints.items()}

    def decorate(func: Callable) -> Callable:
        sig = inspect.signature(func)
        unknown = set(compiled) - set(sig.parameters)
        if unknown:
            raise TypeError(f"constraints for unknown parameters {sorted(unknown)} of {func}")
        caller = func.__qualname__.removesuffix(".__init__")
        # a method names the class it was called on ("PolarPlot.to_png", not the base class
        # that defines it), the way the user wrote the call
        method = "." in func.__qualname__ and next(iter(sig.parameters), None) == "self"
        suffix = "" if func.__name__ == "__init__" else f".{func.__name__}"

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                bound = sig.bind(*args, **kwargs)
            except TypeError as err:  # Python's message names neither the call nor the choices
                hint = unknown_keyword_hint(kwargs, sig) if "keyword" in str(err) else ""
                raise TypeError(f"{caller}: {err}{hint}") from None
            name_of = type(bound.arguments["self"]).__name__ + suffix if method else caller
            for name, value in bound.arguments.items():
                if name in compiled:
                    bound.arguments[name] = check(name_of, name, value, compiled[name])
            return func(*bound.args, **bound.kwargs)

        wrapper.parameter_constraints = compiled  # type: ignore[attr-defined]
        return wrapper

    return decorate


# ---------------------------------------------------------------------------- shared declarations
MODEL = [Instance("torch.nn.Module")]
DATA = [
    Instance("torch.Tensor", np.ndarray, tuple, list, "torch.utils.data.Dataset",
             "torch.utils.data.DataLoader"),
    HasAttributes("images", "labels"),
]
DEVICE = [
    Matches(r"auto|cpu|mps|cuda(:\d+)?", "'auto', 'cpu', 'cuda', 'cuda:N'"),
    Instance("torch.device"),
]
POSITIVE_INT = [Interval(int, 1, None)]
SEED = [Interval(int, None, None)]


__all__ = [
    "AnyOf", "Array", "Boolean", "Constraint", "DATA", "DEVICE", "DictOf", "ExistingFolder",
    "Folder", "HasAttributes", "InputFile", "Instance", "Interval", "InvalidParameterError",
    "ListOf", "MODEL", "Matches", "NewFolder", "Options", "OutputFile", "POSITIVE_INT", "SEED",
    "check", "describe", "invalid", "make_constraint", "validate_params",
]
