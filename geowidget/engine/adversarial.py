"""Each sample's adversarial distance: the smallest input perturbation that changes the prediction.

The attacks come from foolbox (``pip install "geowidget[adversarial]"``), batched over samples:

- ``norm="l2"``: DDN (Rony et al. 2019) first, L2 DeepFool (Moosavi-Dezfooli et al. 2016)
  as the second attack. foolbox's L2 FMN is not used: its projection onto the L2 ball is a
  no-op in foolbox 3.3 (it scales by ``norms / norms``), so it returns larger perturbations;
- ``norm="linf"``: L-inf FMN (Pintor et al. 2021) first, L-inf DeepFool second.

Both stay within ``bounds`` (the valid pixel range). Each attack's adversarial is then pulled
back to the boundary by a bisection along the segment from the clean input (``REFINE``
forward passes, batched): DDN's norm moves in steps of 5% and DeepFool overshoots by 2%, so
without it every distance would carry that slack. The attacks stop at a point of the
boundary that is not its nearest (DDN follows the cross-entropy gradient, DeepFool's steps
are greedy), so each result is then shortened along the boundary:

- the first attack (every sample): ``PROJECTIONS`` boundary-projection rounds
  (``_project``): the boundary is linearised at the found point, rays from the clean input
  turned toward that plane's nearest point are bisected back to the boundary, and a ray's
  point is kept only where it is adversarial and shorter;
- the second attack (the checked subsample) is thorough, a multi-start search: its own
  result, the first attack's and ``RESTARTS`` random restarts (``_restart``: of ``STARTS``
  random rays to the edge of the box, bisected back to the boundary, the best into each
  class first) are each refined ``SCREEN`` rounds (``_refine``: a boundary projection, then
  a local search of ``SEARCH`` random rays around the point, ``_search``, that finds the
  way along the kinks of a piecewise linear boundary where the projection stalls);
  ``FINALISTS`` of them (again by class, in distinct directions) ``ROUNDS`` rounds more,
  each then probed by a cone of ``PROBES`` rays around its direction (``_probe``) for a
  nearby local minimum; the shortest is kept. The restarts find other local minima of the
  distance than the attacks' (other classes, other linear pieces): the nearest boundary may
  be to a class neither attack aims at.

A minimum-norm attack gives an upper bound on the true distance, and a weak attack misleads
silently, so the result is guarded:

- every returned perturbation is checked with a forward pass (``verified``); one that does
  not change the prediction counts as a failure, not as a distance;
- the second attack runs on a random subsample (``check`` samples) and the smaller verified
  distance is kept; ``first_not_smallest`` says how often the second attack beat the first
  (by more than a relative 1e-3). Pass ``check`` >= the number of samples for the tightest
  distances;
- a sample where every attack failed gets NaN and ``success=False``, never 0 or inf.

Samples the model misclassifies (prediction != label) get distance 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

import geowidget._validation as v
from geowidget.engine.batches import count_samples, iter_batches, resolve_device
from geowidget.engine.model_state import evaluating
from geowidget.engine.progress import progress as progress_bar

__all__ = ["NORMS", "VERSION", "AdversarialDistance", "adversarial_distance"]

NORMS = ("l2", "linf")
# bumped when the attack changes what it finds (2: the multi-start second attack; 3: its
# restarts by class, distinct finalists and probes), so that a Study's stored distances are never
# those of an older attack
VERSION = 3
INSTALL = 'pip install "geowidget[adversarial]"'
REFINE = 16  # bisection steps toward the boundary: 2**-16 of the found distance
PROJECTIONS = 3  # boundary-projection rounds after the first attack (see _project)
ROUNDS = 12  # rounds after the second: a boundary projection, then a local search (_refine)
TURNS = (1.0, 0.25)  # how far each projection turns the ray toward the projected point
SEARCH = 8  # random rays per sample and round of the local search (see _search)
SPREAD = (0.3, 1e-5, 1.0)  # the local search's angle: start, floor, ceiling (radians, about)
WINDOW, SEARCH_STEPS = 2.0, 8  # its bisection: over [1 - WINDOW * angle, 1] of the ray
GROW, SHRINK = 2.0, 0.5  # the angle after a round that did / did not shorten the distance
STARTS = 64  # random rays per sample for the restarts of the second attack (see _restart)
RESTARTS = 8  # of them refined as restarts (the best into each class first)
SCREEN = 4  # rounds every start of the second attack is refined
FINALISTS = 3  # starts refined ROUNDS more and probed (the best into each class first)
DISTINCT = 20.0  # degrees between the finalists' directions, where the starts allow it
PROBES, PROBE_ROUNDS, PROBE_REFINE = 512, 2, 4  # rays per probe round, rounds, refinement
CONE = (10 ** -1.5, 10 ** 0.5)  # the probe's turn: log-uniform weight of a random direction
PROBE_ELEMENTS = 1 << 24  # input elements per probe chunk (memory bound, 64 MB in float32)
TIE = 1e-3  # relative: the second attack "beats" the first only by more than this
ATTACKS = {"l2": ("DDN", "L2DeepFool"), "linf": ("LInfFMN", "LinfDeepFool")}


@dataclass(frozen=True)
class AdversarialDistance:
    """Per-sample adversarial distances and the guards' report.

    Attributes
    ----------
    distance : Tensor[N] float32
        Smallest verified perturbation norm found; 0 for misclassified samples; NaN where
        every attack failed.
    success : Tensor[N] bool
        A verified adversarial was found (True for misclassified samples).
    verified : Tensor[N] bool
        The first attack's perturbation changed the prediction in a fresh forward pass.
    correct : Tensor[N] bool
        The model's clean prediction equals the label.
    second : Tensor[N] float32
        The second attack's verified distance on the checked subsample; NaN elsewhere.
    checked : Tensor[N] bool
        The samples the second attack ran on (correctly classified ones).
    first_not_smallest : float
        Fraction of the checked samples where the second attack found a smaller perturbation
        than the first (NaN when none was checked).
    norm : str
    attacks : tuple of str
        The first and the second attack.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    >>> x = torch.rand(6, 4)
    >>> result = adversarial_distance(model, (x, model(x).argmax(1)), progress=False)
    >>> result.distance.shape, bool(result.success.all()), result.norm
    (torch.Size([6]), True, 'l2')
    """

    distance: torch.Tensor
    success: torch.Tensor
    verified: torch.Tensor
    correct: torch.Tensor
    second: torch.Tensor
    checked: torch.Tensor
    first_not_smallest: float
    norm: str
    attacks: tuple[str, str]

    @property
    def failed(self) -> int:
        """Samples where every attack failed."""
        return int((~self.success).sum())


def _foolbox(caller: str) -> Any:
    try:
        import foolbox
    except ImportError:
        raise ImportError(f"{caller} needs the attack library foolbox, which is not "
                          f"installed; install it with: {INSTALL}") from None
    return foolbox


def _make_attacks(fb: Any, norm: str, steps: int) -> tuple[Any, Any]:
    a = fb.attacks
    if norm == "l2":
        return a.DDNAttack(steps=steps), a.L2DeepFoolAttack(steps=min(steps, 50))
    return a.LInfFMNAttack(steps=steps), a.LinfDeepFoolAttack(steps=min(steps, 50))


def _size(delta: torch.Tensor, norm: str) -> torch.Tensor:
    flat = delta.flatten(1)
    return flat.norm(dim=1) if norm == "l2" else flat.abs().amax(dim=1)


def _along(x: torch.Tensor, delta: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return x + t.view(-1, *[1] * (x.ndim - 1)) * delta


def _bisect(model: nn.Module, x: torch.Tensor, y: torch.Tensor, delta: torch.Tensor,
            low: float | torch.Tensor = 0.0, steps: int = REFINE) -> torch.Tensor:
    """``delta`` scaled back to the boundary along the segment from ``x`` (batched).

    The bisection runs over the scale ``t`` in ``[low, 1]`` (``low`` per sample or one
    number): where ``x + low * delta`` changes the prediction already, ``low * delta`` is
    returned, an adversarial shorter than ``delta``. Where ``x + delta`` does not change the
    prediction, ``delta`` is returned unchanged.
    """
    flips = lambda t: model(_along(x, delta, t)).argmax(1) != y  # noqa: E731
    # bisection on t: hi stays adversarial (where x + delta is), lo is the other end
    lo = torch.zeros(len(x), device=x.device) + low
    hi = torch.ones(len(x), device=x.device)
    for _ in range(steps):
        mid = (lo + hi) / 2
        adv_mid = flips(mid)
        hi, lo = torch.where(adv_mid, mid, hi), torch.where(adv_mid, lo, mid)
    if not isinstance(low, float) or low > 0:
        hi = torch.where(flips(lo), lo, hi)
    return delta * hi.view(-1, *[1] * (x.ndim - 1))


def _plane(model: nn.Module, x: torch.Tensor, y: torch.Tensor, delta: torch.Tensor,
           norm: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(distance, u)``: the boundary linearised at ``x + delta``, and its nearest point to ``x``.

    The margin of the strongest other class over the label, and its gradient ``g``, give a
    plane; its point nearest to ``x`` in ``norm`` is ``x + distance * u``, ``u`` of unit
    size along the dual of ``g``. ``distance`` is inf where the plane does not lie on the
    far side of ``x`` (or the gradient vanishes). One forward and one backward pass.
    """
    b = (x + delta).detach().requires_grad_(True)
    with torch.enable_grad():
        z = model(b)
        rival = z.detach().scatter(1, y[:, None], -torch.inf).argmax(1)
        margin = z.gather(1, rival[:, None]) - z.gather(1, y[:, None])
        (grad,) = torch.autograd.grad(margin.sum(), b)
    g = grad.flatten(1)
    # the plane margin(b) + g . (p - b) = 0, at p = x + s * u: s * (g . u) = g . delta - margin
    r = (g * delta.flatten(1)).sum(1) - margin.detach().flatten()
    u = g / g.norm(dim=1, keepdim=True).clamp_min(1e-12) if norm == "l2" else g.sign()
    slope = (g * u).sum(1)
    distance = torch.where((r > 0) & (slope > 0), r / slope.clamp_min(1e-30), torch.inf)
    return distance, u.view_as(x)


def _project(model: nn.Module, x: torch.Tensor, y: torch.Tensor, delta: torch.Tensor,
             norm: str, bounds: tuple[float, float]) -> torch.Tensor:
    """One boundary-projection round: a shorter adversarial ``delta`` where one is found.

    ``x + delta`` lies just past the boundary. The boundary is linearised there (the margin
    of the strongest other class over the label, and its gradient); the point of that plane
    nearest to ``x`` in ``norm`` gives a direction. Rays from ``x`` turned toward it (the
    whole way, then a quarter: on a piecewise linear boundary the full turn can overshoot a
    kink), at the current length and clipped to ``bounds``, are bisected back to the
    boundary. A ray's point replaces ``delta`` only where it changes the prediction and is
    shorter, so a round never makes a distance larger.
    """
    shape = [-1, *[1] * (x.ndim - 1)]
    plane, u = _plane(model, x, y, delta, norm)
    useful = torch.isfinite(plane)
    size = _size(delta, norm)
    here = delta / size.view(shape).clamp_min(1e-12)
    for turn in TURNS:
        ray = here + turn * (u - here)
        ray = ray / _size(ray, norm).view(shape).clamp_min(1e-12)
        with torch.no_grad():
            cand = _bisect(model, x, y, (x + size.view(shape) * ray).clamp(*bounds) - x)
            new = _size(cand, norm)
            better = useful & (new < size) & (model(x + cand).argmax(1) != y)
        delta, size = torch.where(better.view(shape), cand, delta), torch.where(better, new, size)
    return delta


def _unit(t: torch.Tensor, norm: str) -> torch.Tensor:
    """``t`` scaled to size 1 in ``norm``, per sample."""
    return t / _size(t, norm).view(-1, *[1] * (t.ndim - 1)).clamp_min(1e-12)


def _shortest(model: nn.Module, x: torch.Tensor, y: torch.Tensor, cand: torch.Tensor,
              norm: str, keep: int = 1, low: float | torch.Tensor = 0.0,
              steps: int = REFINE) -> tuple[torch.Tensor, torch.Tensor]:
    """``(delta, size)``: per sample, the ``keep`` shortest candidates that flip the prediction.

    ``cand`` is ``[N * k, ...]`` (sample-major), each bisected back to the boundary along its
    segment from ``x`` (over ``[low, 1]`` of it, see ``_bisect``). Returns ``[keep * N, ...]`` and ``[keep * N]`` (rank-major: the
    shortest of every sample first); size is inf where a candidate does not flip.
    """
    k = len(cand) // len(x)
    xs, ys = x.repeat_interleave(k, 0), y.repeat_interleave(k)
    with torch.no_grad():
        cand = _bisect(model, xs, ys, cand, low, steps)
        flips = model(xs + cand).argmax(1) != ys
    size = torch.where(flips, _size(cand, norm), torch.inf).view(len(x), k)
    best, pick = size.topk(keep, dim=1, largest=False)
    rows = torch.arange(len(x), device=x.device)[None]
    return cand.view(len(x), k, *x.shape[1:])[rows, pick.T].flatten(0, 1), best.T.flatten()


def _search(model: nn.Module, x: torch.Tensor, y: torch.Tensor, delta: torch.Tensor,
            spread: torch.Tensor, norm: str, bounds: tuple[float, float],
            gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One local-search round: ``(delta, spread)``, ``delta`` shorter where a ray found one.

    ``SEARCH`` rays from ``x``, turned from ``delta``'s direction by random directions at
    about the angle ``spread`` (per sample), at the current length and clipped to
    ``bounds``, are bisected back to the boundary; the shortest that changes the prediction
    replaces ``delta`` where it is shorter. The angle grows after a success and shrinks
    after a failure. Why: the boundary projection follows one linearisation, and at a kink
    of a piecewise linear boundary (where the nearest point often lies) it stalls; random
    rays around the point still find the way along the kink.
    """
    shape = [-1, *[1] * (x.ndim - 1)]
    size = _size(delta, norm)
    noise = torch.randn((len(x) * SEARCH, *x.shape[1:]), generator=gen, device=x.device)
    rays = _unit(delta, norm).repeat_interleave(SEARCH, 0)
    rays = _unit(rays + spread.repeat_interleave(SEARCH).view(shape) * _unit(noise, norm), norm)
    xs, length = x.repeat_interleave(SEARCH, 0), size.repeat_interleave(SEARCH).view(shape)
    # a ray turned by a small angle meets the boundary near the current length: bisect
    # only that window (a ray flipping below it still gives a shorter adversarial)
    low = (1 - WINDOW * spread).clamp_min(0.0).repeat_interleave(SEARCH)
    cand, new = _shortest(model, x, y, (xs + length * rays).clamp(*bounds) - xs, norm,
                          low=low, steps=SEARCH_STEPS)
    better = new < size
    lo, hi = SPREAD[1:]
    spread = torch.where(better, spread * GROW, spread * SHRINK).clamp(lo, hi)
    return torch.where(better.view(shape), cand, delta), spread


def _refine(model: nn.Module, x: torch.Tensor, y: torch.Tensor, delta: torch.Tensor,
            norm: str, bounds: tuple[float, float], gen: torch.Generator,
            rounds: int = ROUNDS) -> torch.Tensor:
    """``rounds`` rounds of a boundary projection and a local search; never lengthens."""
    spread = torch.full((len(x),), SPREAD[0], device=x.device)
    for _ in range(rounds):
        delta = _project(model, x, y, delta, norm, bounds)
        delta, spread = _search(model, x, y, delta, spread, norm, bounds, gen)
    with torch.no_grad():  # the search's coarse bisections leave slack: back to the boundary
        return _bisect(model, x, y, delta)


def _to_edge(x: torch.Tensor, rays: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
    """``rays`` scaled to end on the edge of the ``bounds`` box, each keeping its direction.

    Clamping a long ray to the box instead bends it toward the box's corners: in 5
    dimensions, random rays clamped so covered few directions, and the restarts missed the
    classes that lie between them.
    """
    lo, hi = bounds
    flat, start = rays.flatten(1), x.flatten(1)
    room = torch.where(flat > 0, (hi - start) / flat, (lo - start) / flat)
    room = torch.where(flat != 0, room, torch.inf).amin(1).clamp_min(0.0)
    return rays * room.view(-1, *[1] * (x.ndim - 1))


def _by_class(rank: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """Per row, the columns in the order starts are taken: the best (smallest ``rank``) of
    each ``label`` first, by rank, then the others by rank; inf ranks last.

    Why: the nearest boundary may be to a class that few starts reach (the untargeted
    attacks aim at the strongest other class, random rays mostly cross into the commonest),
    so every class reached gets its best start before any class gets a second.
    """
    k = rank.shape[1]
    pos = torch.arange(k, device=rank.device).expand_as(rank)
    order = rank.argsort(dim=1, stable=True)
    label = label.gather(1, order)
    group = label.argsort(dim=1, stable=True)  # by label, each label's columns still by rank
    first = torch.ones_like(label, dtype=torch.bool)
    first[:, 1:] = label.gather(1, group)[:, 1:] != label.gather(1, group)[:, :-1]
    best = torch.zeros_like(first).scatter_(1, group, first)  # the best of its label
    finite = torch.isfinite(rank.gather(1, order))
    key = torch.where(finite, torch.where(best, pos, k + pos), 2 * k + pos)
    return order.gather(1, key.argsort(dim=1))


def _distinct(order: torch.Tensor, delta: torch.Tensor, f: int) -> torch.Tensor:
    """``[n, f]``: per row, ``f`` columns taken greedily in ``order`` (``[n, k]``), each the
    first in order more than ``DISTINCT`` degrees from every one already taken (if none is,
    the first in order not taken). ``delta`` is ``[k, n, ...]``, the columns' points.

    Why: the starts that lead after screening often sit in one basin of the distance, a few
    degrees apart; the finalists should be local minima from different ones.
    """
    k, n = delta.shape[:2]
    u = torch.nn.functional.normalize(delta.flatten(2).transpose(0, 1), dim=2)  # [n, k, d]
    close = u @ u.transpose(1, 2) > math.cos(math.radians(DISTINCT))  # [n, k, k]
    rows, cols = torch.arange(n, device=order.device), torch.arange(k, device=order.device)
    rank = torch.empty_like(order).scatter_(1, order, cols.expand(n, k))  # of each column
    taken = torch.zeros(n, k, dtype=torch.bool, device=order.device)
    near = torch.zeros_like(taken)
    picks = []
    for _ in range(min(f, k)):  # f steps, batched over samples
        pick = (rank + k * near.long() + 2 * k * taken.long()).argmin(1)
        picks.append(pick)
        taken[rows, pick] = True
        near |= close[rows, pick]
    return torch.stack(picks, 1)


def _labels(model: nn.Module, x: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x + delta).argmax(1)


def _restart(model: nn.Module, x: torch.Tensor, y: torch.Tensor, norm: str,
             bounds: tuple[float, float], gen: torch.Generator) -> torch.Tensor:
    """Starts away from the attacks' local minimum: ``RESTARTS`` of ``STARTS`` random rays
    per sample, ``[RESTARTS * N, ...]`` (rank-major).

    Each ray runs from ``x`` to the edge of the ``bounds`` box (``_to_edge``) and is
    bisected back to the boundary. The rays are ranked by how near to ``x`` the boundary's
    plane at their point comes (``_plane``: where a refinement from there heads, rather
    than where the random ray happened to cross) and taken class by class (``_by_class``).
    Rays that never change the prediction give ``delta`` of zero (not adversarial).
    """
    noise = torch.randn((len(x) * STARTS, *x.shape[1:]), generator=gen, device=x.device)
    xs = x.repeat_interleave(STARTS, 0)
    cand, size = _shortest(model, x, y, _to_edge(xs, _unit(noise, norm), bounds), norm,
                           keep=STARTS)  # every ray, rank-major
    xk, yk = x.repeat(STARTS, *[1] * (x.ndim - 1)), y.repeat(STARTS)
    plane = torch.where(torch.isfinite(size), _plane(model, xk, yk, cand, norm)[0], torch.inf)
    pick = _by_class(plane.view(STARTS, -1).T, _labels(model, xk, cand).view(STARTS, -1).T)
    pick = pick[:, :RESTARTS].T
    rows = torch.arange(len(x), device=x.device)
    cand = cand.view(STARTS, len(x), *x.shape[1:])[pick, rows].flatten(0, 1)
    size = size.view(STARTS, -1)[pick, rows].flatten()
    return torch.where(torch.isfinite(size).view(-1, *[1] * (x.ndim - 1)), cand, 0.0)


def _probe(model: nn.Module, x: torch.Tensor, y: torch.Tensor, delta: torch.Tensor,
           norm: str, bounds: tuple[float, float], gen: torch.Generator) -> torch.Tensor:
    """One probe round: ``delta`` shorter where a nearer boundary point lies around it.

    ``PROBES`` rays per sample, turned from ``delta``'s direction by random directions at
    angles spread from about 2 to 70 degrees (a log-uniform weight in ``CONE``), are tried
    at the current length: one forward pass each, as a ray changes the prediction only if
    it crosses the boundary before that length. The rays that do are bisected back to the
    boundary, and the shortest is refined ``PROBE_REFINE`` rounds (``_refine``). Why: the
    refinement stops at a local minimum of the distance, and the better ones it misses lie
    near it (another kink of the boundary 10-50 degrees away, where a boundary "spike"
    toward ``x`` covers 1e-5 of all directions at that length, far more of this cone).
    Never lengthens; rays are clipped to ``bounds``.
    """
    shape = [-1, *[1] * (x.ndim - 1)]
    n, size = len(x), _size(delta, norm)
    best, found = size.clone(), delta.clone()
    here = _unit(delta, norm)
    chunk = max(1, PROBE_ELEMENTS // max(1, n * x[0].numel()))  # rays per chunk, bounded memory
    for a in range(0, PROBES, chunk):
        k = min(chunk, PROBES - a)
        noise = torch.randn((n * k, *x.shape[1:]), generator=gen, device=x.device)
        lo, hi = np.log10(CONE)
        turn = 10 ** (lo + (hi - lo) * torch.rand(n * k, generator=gen, device=x.device))
        rays = _unit(here.repeat_interleave(k, 0) + turn.view(shape) * _unit(noise, norm), norm)
        xs, ys = x.repeat_interleave(k, 0), y.repeat_interleave(k)
        rays = (xs + size.repeat_interleave(k).view(shape) * rays).clamp(*bounds) - xs
        hit = torch.nonzero(_labels(model, xs, rays) != ys).flatten()
        if len(hit) == 0:
            continue
        with torch.no_grad():
            cand = _bisect(model, xs[hit], ys[hit], rays[hit])
        new = torch.where(_labels(model, xs[hit], cand) != ys[hit], _size(cand, norm), torch.inf)
        owner = hit // k
        shortest = best.scatter_reduce(0, owner, new, "amin")
        take = torch.nonzero((new == shortest[owner]) & (new < best[owner])).flatten()
        found[owner[take]], best = cand[take], shortest
    improved = torch.nonzero(best < size).flatten()
    if len(improved):
        found[improved] = _refine(model, x[improved], y[improved], found[improved], norm,
                                  bounds, gen, rounds=PROBE_REFINE)
    keep = (_labels(model, x, found) != y) & (_size(found, norm) < size)
    return torch.where(keep.view(shape), found, delta)


def _attack(fmodel: Any, attack: Any, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
            norm: str, bounds: tuple[float, float], gen: torch.Generator,
            thorough: bool = False, start: torch.Tensor | None = None,
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(distance, verified, delta)``: the attack's perturbation, checked by a forward pass.

    The attack's adversarial is bisected back to the boundary, then shortened by
    ``PROJECTIONS`` boundary projections (the first attack, on every sample), or, where
    ``thorough`` (the second attack, on the checked subsample), searched from many starts:
    the attack's result, ``start`` (the first attack's perturbation) and ``RESTARTS``
    random restarts (``_restart``) are refined ``SCREEN`` rounds (``_refine``);
    ``FINALISTS`` of them (by class, ``_by_class``, in distinct directions, ``_distinct``)
    ``ROUNDS`` more, each then probed
    ``PROBE_ROUNDS`` times (``_probe``); the shortest is kept. ``verified`` says the
    attack's own perturbation (or, where ``thorough``, a restart's) changed the prediction.
    """
    if len(x) == 0:
        return x.new_zeros(0), torch.zeros(0, dtype=torch.bool, device=x.device), x
    _, adv, _ = attack(fmodel, x, y, epsilons=None)
    with torch.no_grad():
        delta = adv.detach() - x
        verified = model(x + delta).argmax(1) != y
        delta = _bisect(model, x, y, delta)
    if not thorough:
        for _ in range(PROJECTIONS):
            delta = _project(model, x, y, delta, norm, bounds)
    else:  # all batched: every start a few rounds, the finalists to the end
        starts = [delta, _restart(model, x, y, norm, bounds, gen)]
        starts += [] if start is None else [start]
        n, k = len(x), sum(len(d) for d in starts) // len(x)
        xs, ys = x.repeat(k, *[1] * (x.ndim - 1)), y.repeat(k)
        every = _refine(model, xs, ys, torch.cat(starts), norm, bounds, gen, rounds=SCREEN)
        flips = _labels(model, xs, every)
        ok = flips != ys
        verified = verified | ok.view(k, n)[1:].any(0)
        size = torch.where(ok, _size(every, norm), torch.inf).view(k, n)
        f, cols = min(FINALISTS, k), torch.arange(n, device=x.device)
        top = _distinct(_by_class(size.T, flips.view(k, n).T), every.view(k, n, *x.shape[1:]),
                        f).T
        xf, yf = x.repeat(f, *[1] * (x.ndim - 1)), y.repeat(f)
        every = _refine(model, xf, yf, every.view(k, n, *x.shape[1:])[top, cols].flatten(0, 1),
                        norm, bounds, gen)
        for _ in range(PROBE_ROUNDS):
            every = _probe(model, xf, yf, every, norm, bounds, gen)
        size = torch.where(_labels(model, xf, every) != yf, _size(every, norm), torch.inf)
        delta = every.view(f, n, *x.shape[1:])[size.view(f, n).argmin(0), cols]
    with torch.no_grad():
        final = model(x + delta).argmax(1) != y  # the forward pass that verifies the result
    return _size(delta, norm), verified & final, delta


def _check_logits(model: nn.Module, out: Any, n: int) -> None:
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != n or out.shape[1] < 2:
        got = (f"a tensor of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor)
               else f"a {type(out).__name__}")
        raise v.invalid("adversarial_distance", "model", "a classifier whose output is [N, C] "
                      "logits (C >= 2) for a batch of N inputs", model,
                      f"for {n} inputs it returned {got}")


@v.validate_params({
    "model": v.MODEL,
    "data": v.DATA,
    "norm": [v.Options(*NORMS)],
    "bounds": [v.Instance(tuple, list)],
    "steps": v.POSITIVE_INT,
    "check": [v.Interval(int, 0, None)],
    "batch_size": v.POSITIVE_INT,
    "device": v.DEVICE,
    "seed": v.SEED,
    "progress": [v.Boolean()],
})
def adversarial_distance(
    model: nn.Module,
    data: Any,
    norm: str = "l2",
    *,
    bounds: tuple[float, float] = (0.0, 1.0),
    steps: int = 100,
    check: int = 100,
    batch_size: int = 256,
    device: str | torch.device = "auto",
    seed: int = 0,
    progress: bool = True,
) -> AdversarialDistance:
    """Smallest perturbation (``norm``) within ``bounds`` that changes each sample's prediction.

    Parameters
    ----------
    model : nn.Module
        A classifier returning ``[N, C]`` logits; not changed (mode restored).
    data : tensor, (inputs, labels), ImageData, Dataset or DataLoader
        Without labels the model's own predictions are the labels (every sample counts as
        correct). Inputs must lie within ``bounds``.
    norm : {"l2", "linf"}
    bounds : (float, float)
        The valid input range; perturbed inputs are clipped to it.
    steps : int
        Iterations of the first attack (the second runs ``min(steps, 50)``).
    check : int
        Correctly classified samples (chosen at random with ``seed``) the second attack runs
        on (a multi-start search, about 40x the first attack's forward passes per sample);
        0 skips it. At least the number of samples gives the tightest
        distances (the smaller of both attacks on each; the first alone lands above it on
        some samples).
    batch_size : int
        Samples attacked together.
    device, seed, progress
        Where to run; the seed of the subsample and of the second attack's random rays (the
        distances also depend on ``batch_size``, within the refinement's precision); a
        progress bar over batches.

    Returns
    -------
    AdversarialDistance

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    >>> x = torch.rand(5, 4)
    >>> adversarial_distance(model, x, progress=False).distance.shape  # doctest: +SKIP
    torch.Size([5])
    """
    lo, hi = _check_bounds(bounds)
    fb = _foolbox("adversarial_distance")
    dev = resolve_device(device)
    first, second = _make_attacks(fb, norm, steps)
    gen = torch.Generator(device=dev).manual_seed(seed)
    n = count_samples(data)
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("d1", "v1", "correct", "y", "delta")}
    inputs: list[torch.Tensor] = []
    keep_inputs = check > 0
    with evaluating(model):
        fmodel = fb.PyTorchModel(model, bounds=(lo, hi), device=dev)
        total = None if n is None else -(-n // batch_size)
        for xb, yb in progress_bar(iter_batches(data, batch_size, dev), total=total,
                                   desc="adversarial", disable=not progress):
            xb = xb.float()
            _check_range(xb, lo, hi, sum(len(t) for t in parts["y"]))
            with torch.no_grad():
                out = model(xb)
            _check_logits(model, out, len(xb))
            pred = out.argmax(dim=1)
            y = pred if yb is None else yb.to(torch.long)
            correct = pred == y
            d = torch.zeros(len(xb), device=dev)
            found = torch.ones(len(xb), dtype=torch.bool, device=dev)
            delta = torch.zeros_like(xb)
            d[correct], found[correct], delta[correct] = _attack(
                fmodel, first, model, xb[correct], y[correct], norm, (lo, hi), gen)
            for key, value in (("d1", d), ("v1", found), ("correct", correct), ("y", y)):
                parts[key].append(value.detach().cpu())
            if keep_inputs:  # the second attack's inputs, and the first's result as a start
                inputs.append(xb.detach().cpu())
                parts["delta"].append(delta.detach().cpu())
        d1, v1 = torch.cat(parts["d1"]), torch.cat(parts["v1"])
        correct, y = torch.cat(parts["correct"]), torch.cat(parts["y"])
        second_d = torch.full_like(d1, torch.nan)
        checked = torch.zeros_like(correct)
        if keep_inputs and bool(correct.any()):
            pool = torch.nonzero(correct).flatten().numpy()
            rng = np.random.default_rng(seed)
            pick = torch.from_numpy(np.sort(rng.choice(pool, min(check, len(pool)),
                                                       replace=False)))
            x_all, delta_all = torch.cat(inputs), torch.cat(parts["delta"])
            for a in range(0, len(pick), batch_size):  # batched, like the first attack
                idx = pick[a: a + batch_size]
                d2, v2, _ = _attack(fmodel, second, model, x_all[idx].to(dev), y[idx].to(dev),
                                    norm, (lo, hi), gen, thorough=True,
                                    start=delta_all[idx].to(dev))
                second_d[idx] = torch.where(v2.cpu(), d2.cpu(), torch.nan)
            checked[pick] = True
    best = torch.where(v1, d1, torch.inf)
    best = torch.fmin(best, torch.nan_to_num(second_d, nan=torch.inf))
    success = torch.isfinite(best)
    distance = torch.where(success, best, torch.nan).float()
    beaten = checked & (second_d < torch.where(v1, d1, torch.inf) * (1 - TIE))
    share = float(beaten.sum() / checked.sum()) if bool(checked.any()) else float("nan")
    return AdversarialDistance(
        distance=distance, success=success, verified=v1, correct=correct,
        second=second_d.float(), checked=checked, first_not_smallest=share, norm=norm,
        attacks=ATTACKS[norm],
    )


def _check_bounds(bounds: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        lo = hi = float("nan")
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise v.invalid("adversarial_distance", "bounds", "a (low, high) pair of finite numbers "
                      "with low < high", bounds)
    return lo, hi


def _check_range(x: torch.Tensor, lo: float, hi: float, start: int) -> None:
    if x.numel() == 0:
        return
    xmin, xmax = float(x.min()), float(x.max())
    if xmin < lo or xmax > hi:
        raise v.invalid("adversarial_distance", "data", f"inputs within bounds=({lo:g}, {hi:g}), "
                      "the valid pixel range the attack keeps to", x,
                      f"samples {start}.. span [{xmin:g}, {xmax:g}]; pass the range "
                      "as bounds=(low, high)")
