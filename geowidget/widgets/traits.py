"""The checked trait types of the views: an invalid value raises :class:`TraitValueError`.

:class:`TraitValueError` is a ``traitlets.TraitError`` (so traitlets rolls the change back and,
for a value from the browser, :class:`~geowidget.widgets.view.GeoView` sends the kernel's
value back) and a ``ValueError`` (what a caller checking arguments expects). Each type says
what it expects in the one message format of :func:`invalid`.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import traitlets as t

from geowidget._validation import describe

__all__ = ["Bool", "Colors", "Dict", "Enum", "Float", "Int", "List", "TraitValueError",
           "as_is", "invalid"]

_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


class as_is(str):  # noqa: N801 (reads as a function at the call site)
    """Text that error messages show as it is, not quoted (a description of a bad value)."""

    def __repr__(self) -> str:
        return str(self)


class TraitValueError(t.TraitError, ValueError):
    """An invalid trait value. As a ``TraitError`` it makes traitlets roll the change back;
    as a ``ValueError`` it is what a caller checking arguments expects."""


def invalid(owner: Any, name: str, expected: str, got: Any) -> TraitValueError:
    """The error for trait ``name`` of ``owner``: what was expected and what came."""
    return TraitValueError(f"The {name!r} trait of {type(owner).__name__} must be {expected}. "
                           f"Got {describe(got)} instead.")


class _Checked:
    """Mixin: a trait type whose validation errors are :class:`TraitValueError`."""

    def validate(self, obj: Any, value: Any) -> Any:
        try:
            return super().validate(obj, value)  # type: ignore[misc]
        except TraitValueError:
            raise
        except t.TraitError as err:
            raise TraitValueError(str(err)) from None


def _bounds(trait: Any, noun: str) -> str:
    lo = "-inf" if trait.min is None else f"{trait.min:g}"
    hi = "inf" if trait.max is None else f"{trait.max:g}"
    return f"{noun} in [{lo}, {hi}]"


class Int(_Checked, t.Int):
    """``traitlets.Int`` (with ``min`` / ``max``) raising :class:`TraitValueError`."""

    def validate(self, obj: Any, value: Any) -> Any:
        if isinstance(value, np.integer):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or \
                (self.min is not None and value < self.min) or \
                (self.max is not None and value > self.max):
            # a bool is an int to Python, but never an index or a size
            raise invalid(obj, self.name, _bounds(self, "an int"), value)
        return super().validate(obj, value)


class Float(_Checked, t.Float):
    """``traitlets.Float`` (with ``min`` / ``max``) that also refuses NaN and infinities."""

    def validate(self, obj: Any, value: Any) -> Any:
        number = value if isinstance(value, int | float | np.number) else None
        if number is None or isinstance(value, bool) or not math.isfinite(number) or \
                (self.min is not None and number < self.min) or \
                (self.max is not None and number > self.max):
            raise invalid(obj, self.name, _bounds(self, "a finite number"), value)
        return super().validate(obj, float(number))


class Enum(_Checked, t.Enum):
    """``traitlets.Enum`` raising :class:`TraitValueError`."""

    def validate(self, obj: Any, value: Any) -> Any:
        if not isinstance(value, str | int | float) or value not in self.values:
            raise invalid(obj, self.name, f"one of {list(self.values)}", value)
        return value


class Bool(_Checked, t.Bool):
    """``traitlets.Bool`` raising :class:`TraitValueError` (numpy bools accepted)."""

    def validate(self, obj: Any, value: Any) -> Any:
        if not isinstance(value, bool | np.bool_):
            raise invalid(obj, self.name, "a bool", value)
        return bool(value)


class List(_Checked, t.List):
    """``traitlets.List`` raising :class:`TraitValueError`; ``items`` says what each element
    must be (e.g. ``"ints >= 0"``)."""

    def __init__(self, trait: Any = None, items: str = "values", **kwargs: Any) -> None:
        super().__init__(trait, **kwargs)
        self.items = items

    def validate(self, obj: Any, value: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise invalid(obj, self.name, f"a list of {self.items}", value)
        if self._trait is not None:
            for v in value:
                try:
                    self._trait.validate(obj, v)
                except t.TraitError:
                    raise invalid(obj, self.name, f"a list of {self.items}", value) from None
        return super().validate(obj, list(value))


class Dict(_Checked, t.Dict):
    """``traitlets.Dict`` raising :class:`TraitValueError`."""


class Colors(_Checked, t.List):
    """A list of CSS hex colours (``'#1b9e77'`` or ``'#abc'``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(t.Unicode(), **kwargs)

    def validate(self, obj: Any, value: Any) -> Any:
        value = super().validate(obj, value)
        bad = [c for c in value if not _HEX.fullmatch(c)]
        if bad:
            raise invalid(obj, self.name, "a list of hex colours like '#1b9e77' or '#abc'", bad)
        return value
