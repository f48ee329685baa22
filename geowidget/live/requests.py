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
  layer profile's several cells) are never delayed;
- in idle time (a pick answered, nothing asked for, no pick for ``SETTLE``) the neighbours of
  the last pick are computed ahead (``ahead``), one at a time; any request stops the one
  running at its next torch operation, and a pick of it joins it, and so does a computation
  that the notebook asks for (``live.cell``, an analysis).

Dragging across many values therefore computes the first pick (it was lone; when cells are
slower than the picks it is stopped when the second comes) and the last, ``SETTLE`` after it,
whatever the speed of a cell against the interval between picks. A pick of a computed cell is
answered by the view at once, and supersedes the view's waiting pick.
"""

from __future__ import annotations

import atexit
import math
import threading
import time
import weakref
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
    pick: bool = False  # some waiter picked it: its neighbours are worth computing ahead

    def ready(self, now: float) -> bool:
        return min(self.due.values()) <= now


_WORKERS: weakref.WeakSet[CellRequests] = weakref.WeakSet()


@atexit.register
def _stop_workers() -> None:
    """At exit, stop each live cube's worker thread and wait for it: a daemon thread still
    inside a torch operation while the interpreter finalizes aborts the process."""
    for requests in list(_WORKERS):
        requests.stop()


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
    ahead : callable, optional
        The neighbours of a picked cell, ``cell -> [cell, ...]``, nearest first: once a pick
        is answered, nothing is asked for and no view picked for ``settle`` seconds, they are
        computed ahead, one at a time, and a request stops the one running at its next torch
        operation. None: nothing ahead.
    """

    def __init__(self, arrays: LiveArrays, settle: float = SETTLE,
                 clock: Callable[[], float] = time.monotonic,
                 ahead: Callable[[tuple[int, int, int]], list[tuple[int, int, int]]]
                 | None = None) -> None:
        if not settle >= 0:
            raise ValueError(f"settle must be a number of seconds >= 0, got {settle!r}")
        self.arrays, self.settle, self.clock, self.ahead = arrays, settle, clock, ahead
        self.started: list[tuple[int, int, int]] = []  # asked-for cells whose computation started
        self.finished: list[tuple[int, int, int]] = []  # ... and ran to the end
        self.prefetched: list[tuple[int, int, int]] = []  # computed ahead to the end
        self._queue: dict[tuple[int, int, int], _Job] = {}  # FIFO: dicts keep their order
        self._next: list[tuple[int, int, int]] = []  # to compute ahead, when idle
        self._running: _Job | None = None
        self._picked: dict[Hashable, float] = {}  # each owner's last pick, while recent
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        if ahead is not None:
            arrays.give_way = self.give_way
        self._stopped = False
        _WORKERS.add(self)

    def submit(self, owner: Hashable, cell: tuple[int, int, int], reply: Reply,
               pick: bool = False) -> None:
        """Ask for ``cell`` (model, layer, condition) on behalf of ``owner`` (a view);
        ``reply(None)`` once it is in the cache, ``reply(error)`` if it failed or was
        superseded by a newer request of the same owner (:class:`Superseded`).

        ``pick``: the cell the view shows. A pick that comes less than ``settle`` after the
        owner's previous pick waits until the owner has been quiet for ``settle``, and once
        computed its neighbours are computed ahead; other requests never wait."""
        with self._wake:
            if self._stopped:
                raise RuntimeError("the live cube's request worker was stopped (the "
                                   "interpreter is exiting)")
            due = self._picked_at(owner) if pick else self.clock()
            self._next.clear()  # nothing ahead while asked: the request first
            dropped = self._supersede(owner, cell)
            running = self._running if self._running and self._running.cell == cell else None
            if self._running is not None and not self._running.waiters:  # computed ahead
                if running is None:
                    self._running.cancel.set()  # it gives way to the request
                else:
                    self.started.append(cell)  # asked for now: it counts as started
            job = running or self._queue.setdefault(cell, _Job(cell))
            job.waiters[owner] = reply
            job.due[owner] = due
            job.pick = job.pick or pick
            self._start()
            self._wake.notify()
        for old in dropped:
            old(Superseded(SUPERSEDED))

    def _picked_at(self, owner: Hashable) -> float:
        """Note a pick of ``owner`` now; when it may start (the lock held)."""
        now = self.clock()
        last = self._picked.get(owner)
        self._picked = {o: t for o, t in self._picked.items() if now - t < self.settle}
        self._picked[owner] = now
        return now + self.settle if last is not None and now - last < self.settle else now

    def _supersede(self, owner: Hashable, cell: tuple[int, int, int] | None) -> list[Reply]:
        """Drop ``owner``'s requests for cells other than ``cell``: those no one else waits
        for are dequeued, or stopped when running; their replies are returned, to be told
        :class:`Superseded` once the lock is released (the lock held)."""
        dropped = []
        for job in [*self._queue.values(), *([self._running] if self._running else [])]:
            if job.cell != cell and owner in job.waiters:
                dropped.append(job.waiters.pop(owner))
                job.due.pop(owner, None)
                if not job.waiters:
                    if job is self._running:
                        job.cancel.set()  # stopped at its next torch operation
                    else:
                        del self._queue[job.cell]
        return dropped

    def stop(self, timeout: float = 10.0) -> None:
        """Stop for good (at the interpreter's exit): nothing queued or ahead starts, the
        running cell stops at its next torch operation, and no reply is sent; waits up to
        ``timeout`` seconds for the thread to end."""
        with self._wake:
            self._stopped = True
            self._queue.clear()
            self._next.clear()
            if self._running is not None:
                self._running.cancel.set()
            thread = self._thread
            self._wake.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def give_way(self) -> None:
        """Stop the cell being computed ahead, if any, for a computation another thread
        (the notebook's) needs now."""
        with self._wake:
            job = self._running
            if job is not None and not job.waiters and \
                    threading.current_thread() is not self._thread:
                job.cancel.set()

    def idle(self) -> bool:
        """Whether nothing is queued, running or left to compute ahead."""
        with self._wake:
            return self._running is None and not self._queue and not self._next

    def _take(self) -> _Job | None:
        """The next job: the first request due, else a cell to compute ahead; None to stop
        the thread (idle for 30 s)."""
        while True:
            if self._stopped:
                self._thread = None
                return None
            now = self.clock()
            cell = next((c for c, j in self._queue.items() if j.ready(now)), None)
            if cell is not None:
                self.started.append(cell)
                return self._queue.pop(cell)
            if self._queue:  # settling picks: wait until the first is due
                first = min(min(j.due.values()) for j in self._queue.values())
                self._wake.wait(timeout=max(first - now, 1e-3))
                continue
            quiet = max(self._picked.values(), default=-math.inf) + self.settle
            if self._next and now < quiet:  # ahead in idle time only, not during a drag
                self._wake.wait(timeout=max(quiet - now, 1e-3))
                continue
            while self._next:
                cell = self._next.pop(0)
                if not self.arrays.ready(*cell):
                    return _Job(cell)
            if not self._wake.wait(timeout=30) and not self._queue:
                self._thread = None  # idle: the next request starts a new thread
                return None

    def _look_ahead(self, cell: tuple[int, int, int]) -> None:
        """After a pick of ``cell``, with nothing asked for: its neighbours next, in place of
        those of an earlier pick (the lock held)."""
        running = self._running
        if self.ahead is None or self._queue or (running is not None and running.waiters):
            return
        self._next = [c for c in self.ahead(cell) if c != cell]
        if running is not None:  # computing ahead for an earlier pick
            if running.cell in self._next:
                self._next.remove(running.cell)
            else:
                running.cancel.set()
        self._start()
        self._wake.notify()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name="geowidget-live",
                                            daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while True:
            with self._wake:
                job = self._running = self._take()
            if job is None:
                return
            cell = job.cell
            m, ly, k = cell
            error: BaseException | None = None
            try:
                self.arrays.parts(m, k, [self.arrays.layers[ly], OUTPUTS_PART], job.cancel)
            except Cancelled as err:
                error = Superseded(str(err))
            except Exception as err:  # a boundary: every waiter gets an answer
                error = err
            with self._wake:
                self._running = None
                waiters = list(job.waiters.values())
                if error is None:
                    (self.finished if waiters else self.prefetched).append(cell)
                    if job.pick:
                        self._look_ahead(cell)
                requeue = isinstance(error, Superseded) and waiters and not self._stopped
                if requeue:  # asked again while it was being cancelled: compute it anew
                    self._queue[cell] = _Job(cell, job.waiters, due=job.due, pick=job.pick)
            if not requeue and not self._stopped:
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
        msg = content["msg"]
        pick = msg.get("pick") is True
        if self.arrays.ready(m, ly, k):
            if pick:  # the view answers at once; its older picks are superseded, and the
                # neighbours computed ahead all the same
                with self._wake:
                    self._picked_at(id(view))
                    dropped = self._supersede(id(view), (m, ly, k))
                    self._look_ahead((m, ly, k))
                for old in dropped:
                    old(Superseded(SUPERSEDED))
            return False

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
        self.submit(id(view) if pick else object(), (m, ly, k), reply, pick)
        return True


class Superseded(Exception):
    """A request that a newer request of the same view replaced before its cell was ready."""
