"""The views' cell requests on a live cube: computed off the kernel's main thread, newest first.

A view that shows a cell the cube does not hold asks for it (``_slice``); the kernel must stay
responsive meanwhile (another notebook cell runs, other views switch to computed cells), and a
user dragging a slider asks for many cells of which only the last matters. So:

- one worker thread per live cube computes the cells asked for, one at a time;
- a view's new request supersedes its older ones: those not started are answered
  "superseded" at once and never computed; a running one that no other view waits for is
  stopped at its next batch (:class:`~geowidget.live.arrays.Cancelled`);
- views asking for the same cell share one computation.

Dragging across many values therefore computes the last pick to the end; a pick that started
before a newer one came is stopped within one batch, and at most two complete (one running
when the last pick came, if it had no batch left to stop at, and the last).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from geowidget.live.arrays import Cancelled, LiveArrays
from geowidget.study.units import OUTPUTS_PART

__all__ = ["SUPERSEDED", "CellRequests", "Superseded"]

SUPERSEDED = "superseded by a newer pick"
Reply = Callable[[BaseException | None], None]  # None: the cell is ready in the cache


@dataclass
class _Job:
    cell: tuple[int, int, int]
    waiters: dict[Hashable, Reply] = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event)


class CellRequests:
    """The worker thread of a live cube (see the module doc).

    Parameters
    ----------
    arrays : LiveArrays
        The live backend the cells are computed by.
    """

    def __init__(self, arrays: LiveArrays) -> None:
        self.arrays = arrays
        self.started: list[tuple[int, int, int]] = []  # cells whose computation started
        self.finished: list[tuple[int, int, int]] = []  # ... and ran to the end
        self._queue: dict[tuple[int, int, int], _Job] = {}  # FIFO: dicts keep their order
        self._running: _Job | None = None
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, owner: Hashable, cell: tuple[int, int, int], reply: Reply) -> None:
        """Ask for ``cell`` (model, layer, condition) on behalf of ``owner`` (a view);
        ``reply(None)`` once it is in the cache, ``reply(error)`` if it failed or was
        superseded by a newer request of the same owner (:class:`Superseded`)."""
        dropped: list[Reply] = []
        with self._wake:
            jobs = [*self._queue.values(), *([self._running] if self._running else [])]
            for job in jobs:
                if job.cell != cell and owner in job.waiters:
                    dropped.append(job.waiters.pop(owner))
                    if not job.waiters:
                        if job is self._running:
                            job.cancel.set()  # stopped at its next batch
                        else:
                            del self._queue[job.cell]
            running = self._running if self._running and self._running.cell == cell else None
            job = running or self._queue.setdefault(cell, _Job(cell))
            job.waiters[owner] = reply
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
                while not self._queue:
                    if not self._wake.wait(timeout=30):
                        self._thread = None  # idle: the next request starts a new thread
                        return
                cell = next(iter(self._queue))
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
                    self._queue[cell] = _Job(cell, job.waiters)
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
