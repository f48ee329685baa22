"""Progress bars that leave a valid widget behind.

tqdm's notebook bar with ``leave=False`` closes its widget when it finishes. The cell output
still refers to the closed widget, so Voila and saved notebooks (whose widget state holds only
open widgets) show "Error displaying widget: model not found" in its place. The bar here hides
its widget instead: the output stays valid and shows nothing. Outside notebooks it is tqdm's
console bar, unchanged.
"""

from __future__ import annotations

from functools import cache
from typing import Any

__all__ = ["progress"]


@cache
def _hiding_bar() -> type | None:
    """tqdm's notebook bar, hiding instead of closing; None where tqdm.auto is not the notebook
    bar (a console)."""
    from tqdm.auto import tqdm as auto

    try:
        from tqdm.notebook import tqdm as notebook
    except ImportError:  # no ipywidgets: tqdm.auto is the console bar
        return None
    if not issubclass(auto, notebook):
        return None

    class HidingBar(notebook):  # type: ignore[misc, valid-type]
        def display(self, *args: Any, close: bool = False, **kwargs: Any) -> Any:
            if close and getattr(self, "container", None) is not None:
                self.container.layout.display = "none"
                return None
            return super().display(*args, close=close, **kwargs)

    return HidingBar


def progress(iterable: Any = None, **kwargs: Any) -> Any:
    """``tqdm.auto.tqdm(iterable, leave=False, **kwargs)`` whose notebook widget, once done, is
    hidden rather than closed."""
    kwargs.setdefault("leave", False)
    bar = _hiding_bar()
    if bar is None:
        from tqdm.auto import tqdm

        return tqdm(iterable, **kwargs)
    return bar(iterable, **kwargs)
