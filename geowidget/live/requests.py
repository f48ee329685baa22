"""The views' cell requests on a live cube: computed off the kernel's main thread, newest first.

A view that shows a cell the cube does not hold asks for it (``_slice``); the kernel must stay
responsive meanwhile (another notebook cell runs, other views switch to computed cells), and a
user dragging a slider asks for many cells of which only the last matters. So:

- one worker thread per live cube computes the cells asked for, one at a time;
- a view's new request supersedes its older ones: those not started are answered
  "superseded" at once and never computed; a running one that no other view waits for is
  stopped at its next torch operation (:class:`~geowidget.live.arrays.Cancelled`);
- views asking for the same cell share one computation;
- a pick that comes less than :data:`SETTLE` after the view's previous pick (the view is being
  dragged) waits until the view has been quiet for ``SETTLE``: a newer pick supersedes it
  before it starts. A lone pick (a click) starts at once, and requests that are not picks (a
  layer profile's several cells) are never delayed.

Dragging across many values therefore computes the first pick (it was lone; when cells are
slower than the picks it is stopped when the second comes) and the last, ``SETTLE`` after it,
whatever the speed of a cell against the interval between picks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from geowidget.live.arrays import Cancelled, LiveArrays
from geowidget.study.units import OUTPUTS_PART

__all__ = ["SETTLE", "SUPERSEDED", "CellRequests", "Superseded"]

SUPERSEDED = "superseded by a newer pick"
# Seconds a view must be quiet before a pick that follows another this closely starts. A
# slider drag sends picks 16 to 100 ms apart (60 to 10 Hz) and a busy browser or kernel
# delays some of them, so twice the slowest drag's interval tells a drag from a pause; it is
# added only after the last pick of a drag, never to a lone pick.
SETTLE = 0.2
Reply = Callable[[BaseException | None], None]  # None: the cell is ready in the cache


@dataclass
class _Job:
    cell: tuple[int, int, int]
    waiters: dict[Hashable, Reply] = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event)
    due: dict[Hashable, float] = field(default_factory=dict)  # per waiter: start from then

    def ready(self, now: float) -> bool:
        return min(self.due.values()) <= now


class CellRequests:
    """The worker thread of a live cube (see the module doc).

    Parameters
    ----------
    arrays : LiveArrays
        The live backend the cells are computed by.
    settle : float
        Seconds a view must be quiet before a pick that followed its previous pick by less
        starts (:data:`SETTLE`).
    clock : callable
        Seconds, monotonic (tests give a clock of their own).
    """

    def __init__(self, arrays: LiveArrays, settle: float = SETTLE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not settle >= 0:
            raise ValueError(f"settle must be a number of seconds >= 0, got {settle!r}")
        self.arrays, self.settle, self.clock = arrays, settle, clock
        self.started: list[tuple[int, int, int]] = []  # cells whose computation started
        self.finished: list[tuple[int, int, int]] = []  # ... and ran to the end
        self._queue: dict[tuple[int, int, int], _Job] = {}  # FIFO: dicts keep their order
        self._running: _Job | None = None
        self._picked: dict[Hashable, float] = {}  # each owner's last request, while recent
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, owner: Hashable, cell: tuple[int, int, int], reply: Reply) -> None:
        """Ask for ``cell`` (model, layer, condition) on behalf of ``owner`` (a view);
        ``reply(None)`` once it is in the cache, ``reply(error)`` if it failed or was
        superseded by a newer request of the same owner (:class:`Superseded`). A request
        that comes less than ``settle`` after the owner's previous one waits until the owner
        has been quiet for ``settle``."""
        dropped: list[Reply] = []
        with self._wake:
            now = self.clock()
            last = self._picked.get(owner)
            self._picked = {o: t for o, t in self._picked.items() if now - t < self.settle}
            self._picked[owner] = now
            due = now + self.settle if last is not None and now - last < self.settle else now
            jobs = [*self._queue.values(), *([self._running] if self._running else [])]
            for job in jobs:
                if job.cell != cell and owner in job.waiters:
                    dropped.append(job.waiters.pop(owner))
                    job.due.pop(owner, None)
                    if not job.waiters:
                        if job is self._running:
                            job.cancel.set()  # stopped at its next torch operation
                        else:
                            del self._queue[job.cell]
            running = self._running if self._running and self._running.cell == cell else None
            job = running or self._queue.setdefault(cell, _Job(cell))
            job.waiters[owner] = reply
            job.due[owner] = due
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="geowidget-live",
                                                daemon=True)
                self._thread.start()
            self._wake.notify()
        for old in dropped:
            old(Superseded(SUPERSEDED))

    def idle(self) -> bool:
        """Whether nothing is queued or running."""
        with self._wake:
            return self._running is None and not self._queue

    def _work(self) -> None:
        while True:
            with self._wake:
                while True:
                    now = self.clock()
                    cell = next((c for c, j in self._queue.items() if j.ready(now)), None)
                    if cell is not None:
                        break
                    if self._queue:  # settling picks: wait until the first is due
                        first = min(min(j.due.values()) for j in self._queue.values())
                        self._wake.wait(timeout=max(first - now, 1e-3))
                    elif not self._wake.wait(timeout=30):
                        self._thread = None  # idle: the next request starts a new thread
                        return
                job = self._running = self._queue.pop(cell)
                self.started.append(cell)
            m, ly, k = cell
            error: BaseException | None = None
            try:
                self.arrays.parts(m, k, [self.arrays.layers[ly], OUTPUTS_PART], job.cancel)
                self.finished.append(cell)
            except Cancelled as err:
                error = Superseded(str(err))
            except Exception as err:  # a boundary: every waiter gets an answer
                error = err
            with self._wake:
                self._running = None
                waiters = list(job.waiters.values())
                requeue = isinstance(error, Superseded) and waiters
                if requeue:  # asked again while it was being cancelled: compute it anew
                    self._queue[cell] = _Job(cell, job.waiters, due=job.due)
            if not requeue:
                for reply in waiters:
                    reply(error)

    def answer(self, view: Any, content: Any) -> bool:
        """Answer a view's ``_slice`` request for a cell of a live cube that is not computed yet:
        the cell is computed on the worker thread, and the reply sent from there. False when the
        request is not one (the view answers it itself, at once)."""
        rid = content.get("id") if isinstance(content, dict) else None
        if not (isinstance(rid, str) and len(rid) <= 64 and content.get("name") == "_slice"
                and content.get("kind") == "anywidget-command"):
            return False
        try:
            m, ly, k = view._cell_request(content.get("msg"))
        except Exception:
            return False  # the view's own answer names what is wrong with the request
        if self.arrays.ready(m, ly, k):
            return False
        msg = content["msg"]

        def reply(error: BaseException | None) -> None:
            if error is None:
                response, out = view._slice(msg, [])  # the cell is in memory now
            else:
                response = {"error": f"{type(error).__name__}: {error}", "cell": [m, ly, k]}
                if isinstance(error, Superseded):
                    response["superseded"] = True
                out = []
            view.send({"id": rid, "kind": "anywidget-command-response",
                       "response": response}, out)

        # only the view's picks supersede each other; other cells it asks for (a layer
        # profile's) are all needed
        owner = id(view) if msg.get("pick") is True else object()
        self.submit(owner, (m, ly, k), reply)
        return True


class Superseded(Exception):
    """A request that a newer request of the same view replaced before its cell was ready."""
