"""The views that read many cells, on a live cube: what is computed, what they ask for, refresh.

A live cube (``Study.live()``) computes a cell the first time anyone reads it. The views that
summarise many cells (the evaluation table, the layer profile, robustness colours and axes)
must not compute them all behind the user's back, so on a live cube they

- show the cells computed so far and mark the others (:func:`cells_computed`,
  :func:`outputs_computed`: what the cube holds now; reading them computes nothing);
- ask the cube's request worker (``cube.requests``, one thread per cube, off the kernel's main
  thread) for the few cells the shown pick needs (:class:`Sweep`); a newer pick of the view
  supersedes the cells of its older sweep that have not started;
- redraw as cells arrive, from whatever computed them: a view, a notebook cell, an analysis
  (:class:`Refresh`, told by the cube's ``listeners``).

Other cubes hold every cell: :func:`is_live` is False and the views read them whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import warnings
import weakref
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from geowidget.coords import sparsity_text
from geowidget.cube_schema import LAYER_METRICS

__all__ = ["Refresh", "Sweep", "cells_computed", "compute_shown", "is_live", "outputs_computed"]

Cell = tuple[int, int, int]  # (model, layer, condition) positions


def is_live(cube: Any) -> bool:
    """Whether ``cube`` computes its cells when read (a live cube)."""
    # the class's: reading the instance's `requests` would start its worker
    return cube is not None and hasattr(cube, "live") and hasattr(type(cube), "requests")


def cells_computed(cube: Any) -> np.ndarray:
    """Which cells ``cube`` holds now, bool ``[M, L, K]`` (every one, for a cube not live)."""
    if is_live(cube):
        return cube.computed()
    return np.ones((len(cube.models), len(cube.layers), len(cube.conditions)), bool)


def outputs_computed(cube: Any) -> np.ndarray:
    """Which (model, condition) outputs (``pred``, ``correct``) ``cube`` holds now, bool
    ``[M, K]`` (every one, for a cube not live)."""
    m, k = len(cube.models), len(cube.conditions)
    if not is_live(cube):
        return np.ones((m, k), bool)
    return np.array([[cube.live.has_outputs(a, c) for c in range(k)] for a in range(m)],
                    bool).reshape(m, k)


class Refresh:
    """Call ``view.<method>()`` shortly after cells of ``cube`` were computed, at most once per
    ``delay`` seconds (a block read computing many cells refreshes a few times, not once per
    cell), for as long as the view lives.

    In a kernel the call runs on the kernel's event loop (the main thread, between messages:
    widget traits are set there only, never from two threads at once); where no loop runs (a
    script, a test) on a timer thread.

    Parameters
    ----------
    cube : LiveCube
    view : object
        Held weakly: a view that is gone stops listening.
    method : str
        The view's method that reads the computed cells anew.
    delay : float
        Seconds between a computed cell and the refresh.
    """

    def __init__(self, cube: Any, view: Any, method: str, delay: float = 0.2) -> None:
        self._view = weakref.ref(view)
        self._method, self._delay = method, delay
        self._listeners: list[Callable[[int, int], None]] = cube.live.listeners
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._loop = _kernel_loop()
        self._listeners.append(self._told)

    def _told(self, model: int, condition: int) -> None:
        if self._view() is None:
            if self._told in self._listeners:
                self._listeners.remove(self._told)
            return
        self.schedule()

    def schedule(self) -> None:
        """Refresh once, ``delay`` seconds from now (one refresh for all calls until then)."""
        with self._lock:
            if self._timer is None:
                self._timer = threading.Timer(self._delay, self._fire)
                self._timer.daemon = True
                self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            self._timer = None
        if self._loop is None:
            self._call()
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: the kernel is shutting down
            self._loop.call_soon_threadsafe(self._call)

    def _call(self) -> None:
        view = self._view()
        if view is None:
            return
        try:
            getattr(view, self._method)()
        except Exception as err:  # off the caller's stack: say it, never fail silently
            warnings.warn(f"geowidget: refreshing {type(view).__name__} failed: "
                          f"{type(err).__name__}: {err}", RuntimeWarning, stacklevel=1)


def compute_shown(views: Sequence[Any]) -> None:
    """Compute the cells ``views`` of live cubes show now (``view._shown_cells()``), then tell
    the views (``view._cells_computed()``: the table, the layer profile and the probes'
    accuracies read the computed cells anew): an exported page shows the picture the
    user asked for, not a blank plot, even where no browser ever asked for its cell (a
    script). One read per (model, condition) of a cube, with the cube's progress bar over
    its missing cells; a cell that cannot be computed is said in a warning, and its page says
    it was not computed."""
    groups: dict[tuple[int, int, int], tuple[Any, list[int]]] = {}
    for view in views:
        cube, cells = view._shown_cells()
        if not is_live(cube):
            continue
        for m, ly, k in cells:
            groups.setdefault((id(cube), m, k), (cube, []))[1].append(ly)
    for (_, m, k), (cube, layers) in groups.items():
        _compute(cube, m, sorted(set(layers)), k)
    for view in views:
        if is_live(view._shown_cells()[0]):
            view._cells_computed()


def _compute(cube: Any, m: int, layers: list[int], k: int) -> None:
    """Compute cells (m, layers, k) of a live cube; where that fails, each layer alone, so one
    layer that cannot be computed leaves the others computed (and is said in a warning)."""
    try:  # any layered array: its read computes every part of these cells
        cube.live.block(LAYER_METRICS[0], [m], layers, [k])
        return
    except Exception as err:
        if len(layers) == 1:
            cond = cube.conditions[k]
            levels = [c.sparsity for c in cube.conditions]
            warnings.warn(f"geowidget: the page is exported without the cell of model "
                          f"{cube.models[m]!r}, layer {cube.layers[layers[0]]!r}, sparsity "
                          f"{sparsity_text(cond.sparsity, levels)}, benchmark "
                          f"{cond.benchmark!r}, severity {cond.severity}: it could not be "
                          f"computed ({type(err).__name__}: {err})", RuntimeWarning,
                          stacklevel=4)
            return
    for ly in layers:
        _compute(cube, m, [ly], k)


def _kernel_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop of the Jupyter kernel this runs in (views are made in a cell, on its
    main thread), or None: elsewhere a loop may run that nothing serves while code blocks."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Sweep:
    """The cells a view needs besides the one it shows, asked of a live cube's request worker.

    Each cell of an :meth:`ask` is asked on behalf of its own owner, ``(view, name, i)``, so
    the cells of one ask never supersede each other, and the i-th cell of a newer ask
    supersedes the i-th of the older one: a cell of the old sweep that has not started is
    dropped, one running is stopped at its next batch (unless another view waits for it).

    Parameters
    ----------
    view : object
        The view the cells are asked for.
    cube : LiveCube
    name : str
        What the cells are for (one sweep per name and view).
    replied : callable
        Called (on the worker thread) after each reply.
    """

    def __init__(self, view: Any, cube: Any, name: str, replied: Callable[[], None]) -> None:
        self._cube, self._replied = cube, replied
        self._owner: Hashable = (id(view), name)
        self._lock = threading.Lock()
        self.pending: set[Cell] = set()
        self.failed: dict[Cell, str] = {}
        self._asked = 0

    def ask(self, cells: Sequence[Cell], ready: Callable[[int, int, int], bool] | None = None
            ) -> None:
        """Ask for ``cells``, those not ``ready`` (default: not computed), superseding the
        previous ask's."""
        ready = self._cube.live.ready if ready is None else ready
        todo = [c for c in dict.fromkeys(cells) if not ready(*c)]
        with self._lock:
            self._asked += 1
            ask = self._asked
            self.pending, self.failed = set(todo), {}
        for i, cell in enumerate(todo):
            self._cube.requests.submit((*self._owner, i), cell,
                                       lambda err, c=cell: self._reply(ask, c, err))

    def _reply(self, ask: int, cell: Cell, error: BaseException | None) -> None:
        with self._lock:
            if ask != self._asked:
                return  # an older ask's cell: superseded, or computed and kept all the same
            self.pending.discard(cell)
            if error is not None:
                self.failed[cell] = f"{type(error).__name__}: {error}"
        self._replied()

    def state(self, shape: tuple[int, int, int], done: np.ndarray) -> np.ndarray:
        """Per cell of the cube, uint8 ``[M, L, K]``: 0 not computed, 1 computed (``done``),
        2 asked and not there yet, 3 failed."""
        out = np.asarray(done, bool).astype(np.uint8).reshape(shape)
        with self._lock:
            for cell in self.pending:
                if not out[cell]:
                    out[cell] = 2
            for cell in self.failed:
                out[cell] = 3
        return out
