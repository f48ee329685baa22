"""Each sample's adversarial distance: the smallest input perturbation that changes the prediction.

The attacks come from foolbox (``pip install "geowidget[adversarial]"``), batched over samples:

- ``norm="l2"``: DDN (Rony et al. 2019) first, L2 DeepFool (Moosavi-Dezfooli et al. 2016)
  as the second attack. foolbox's L2 FMN is not used: its projection onto the L2 ball is a
  no-op in foolbox 3.3 (it scales by ``norms / norms``), so it returns larger perturbations;
- ``norm="linf"``: L-inf FMN (Pintor et al. 2021) first, L-inf DeepFool second.

Both stay within ``bounds`` (the valid pixel range). Each attack's adversarial is then pulled
back to the boundary by a bisection along the segment from the clean input (``REFINE``
forward passes, batched): DDN's norm moves in steps of 5% and DeepFool overshoots by 2%, so
without it every distance would carry that slack. Then ``ROUNDS`` boundary-projection rounds
(``_project``, batched) shorten it: the boundary is linearised at the found point, rays from
the clean input turned toward that plane's nearest point are bisected back to the boundary,
and a ray's point is kept only where it is adversarial and shorter. The attacks stop at a
point of the boundary that is not its local minimum (DDN follows the cross-entropy gradient,
DeepFool's steps are greedy); the rounds walk along the boundary to one. A minimum-norm
attack gives an upper bound on the true distance, and a weak attack misleads silently, so
the result is guarded:

- every returned perturbation is checked with a forward pass (``verified``); one that does
  not change the prediction counts as a failure, not as a distance;
- the second attack runs on a random subsample (``check`` samples) and the smaller verified
  distance is kept; ``first_not_smallest`` says how often the second attack beat the first
  (by more than a relative 1e-3);
- a sample where every attack failed gets NaN and ``success=False``, never 0 or inf.

Samples the model misclassifies (prediction != label) get distance 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

import geowidget._validation as v
from geowidget.engine.batches import count_samples, iter_batches, resolve_device
from geowidget.engine.model_state import evaluating
from geowidget.engine.progress import progress as progress_bar

NORMS = ("l2", "linf")
INSTALL = 'pip install "geowidget[adversarial]"'
REFINE = 16  # bisection steps toward the boundary: 2**-16 of the found distance
ROUNDS = 3  # boundary-projection rounds after each attack (see _project)
TURNS = (1.0, 0.25)  # how far each round turns the ray toward the projected point
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


def _bisect(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
            delta: torch.Tensor) -> torch.Tensor:
    """``delta`` scaled back to the boundary along the segment from ``x`` (batched).

    Where ``x + delta`` does not change the prediction, ``delta`` is returned unchanged.
    """
    flips = lambda t: model(_along(x, delta, t)).argmax(1) != y  # noqa: E731
    # bisection on t in [0, 1]: hi stays adversarial, lo not (where x + delta is adversarial)
    lo, hi = torch.zeros(len(x), device=x.device), torch.ones(len(x), device=x.device)
    for _ in range(REFINE):
        mid = (lo + hi) / 2
        adv_mid = flips(mid)
        hi, lo = torch.where(adv_mid, mid, hi), torch.where(adv_mid, lo, mid)
    return delta * hi.view(-1, *[1] * (x.ndim - 1))


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
    b = (x + delta).detach().requires_grad_(True)
    with torch.enable_grad():
        z = model(b)
        rival = z.detach().scatter(1, y[:, None], -torch.inf).argmax(1)
        margin = z.gather(1, rival[:, None]) - z.gather(1, y[:, None])
        (grad,) = torch.autograd.grad(margin.sum(), b)
    g = grad.flatten(1)
    # the plane margin(b) + g . (p - b) = 0 lies on the far side of x where r > 0; its
    # nearest point to x is x + r * u, u of unit norm along the dual of g
    r = (g * delta.flatten(1)).sum(1) - margin.detach().flatten()
    useful = (r > 0) & (g.abs().amax(1) > 0)
    u = (g / g.norm(dim=1, keepdim=True).clamp_min(1e-12) if norm == "l2" else g.sign()).view_as(x)
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


def _attack(fmodel: Any, attack: Any, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
            norm: str, bounds: tuple[float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(distance, verified)``: the attack's perturbation size, checked by a forward pass."""
    if len(x) == 0:
        return x.new_zeros(0), torch.zeros(0, dtype=torch.bool, device=x.device)
    _, adv, _ = attack(fmodel, x, y, epsilons=None)
    with torch.no_grad():
        delta = adv.detach() - x
        verified = model(x + delta).argmax(1) != y
        delta = _bisect(model, x, y, delta)
    for _ in range(ROUNDS):
        delta = _project(model, x, y, delta, norm, bounds)
    with torch.no_grad():
        final = model(x + delta).argmax(1) != y  # the forward pass that verifies the result
    return _size(delta, norm), verified & final


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
        on; 0 skips it. At least the number of samples gives the tightest distances (the
        smaller of both attacks on each; the first alone lands above it on some samples).
    batch_size : int
        Samples attacked together.
    device, seed, progress
        Where to run; the subsample's seed; a progress bar over batches.

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
    n = count_samples(data)
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("d1", "v1", "correct", "y")}
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
            d[correct], found[correct] = _attack(fmodel, first, model, xb[correct], y[correct],
                                                 norm, (lo, hi))
            for key, value in (("d1", d), ("v1", found), ("correct", correct), ("y", y)):
                parts[key].append(value.detach().cpu())
            if keep_inputs:
                inputs.append(xb.detach().cpu())
        d1, v1 = torch.cat(parts["d1"]), torch.cat(parts["v1"])
        correct, y = torch.cat(parts["correct"]), torch.cat(parts["y"])
        second_d = torch.full_like(d1, torch.nan)
        checked = torch.zeros_like(correct)
        if keep_inputs and bool(correct.any()):
            pool = torch.nonzero(correct).flatten().numpy()
            rng = np.random.default_rng(seed)
            pick = torch.from_numpy(np.sort(rng.choice(pool, min(check, len(pool)),
                                                       replace=False)))
            x_all = torch.cat(inputs)
            for a in range(0, len(pick), batch_size):  # batched, like the first attack
                idx = pick[a: a + batch_size]
                d2, v2 = _attack(fmodel, second, model, x_all[idx].to(dev), y[idx].to(dev), norm,
                                (lo, hi))
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
