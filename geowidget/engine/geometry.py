"""Per-sample geometry of features against a linear head: angles, norms and margins.

For features h and a linear head z = W h + b (C classes):

- ``angle``: the angle (radians, in [0, pi]) between h and the class direction u_y of the
  TRUE class. It is arccos of the GEMM's cosine where that is well conditioned (|cos| <= 0.9)
  and 2 atan2(|h^ - u^|, |h^ + u^|) from the vectors near 0 and pi, where arccos loses digits;
- ``angle_pred``: the same to the predicted class's direction;
- ``avh``: Angular Visual Hardness, angle / sum over all classes c of angle(h, u_c);
- ``angle_gap``: angle - min over c != y of angle(h, u_c) (negative: closer to another class);
- ``norm``: |h|_2 (|[h, 1]|_2 with ``direction="weight_aug"``);
- ``margin``: min over j != y of (z_y - z_j) / |W_y - W_j|_2, the signed L2 distance in
  feature space to the decision boundary. For a correctly classified sample it is exactly the
  smallest change of h that changes the prediction; it is negative for misclassified ones.
  Every competitor counts, not only the runner-up. A competitor whose row equals W_y has no
  boundary with y and is skipped; with none left the margin is NaN;
- ``logit_margin``: z_y - max over j != y of z_j;
- ``pred`` and ``correct``.

The whole computation is one N x D x C GEMM plus the C x C Gram matrix of W, in chunks of
samples small enough that the few [chunk, C] passes after the GEMM (bias, argmax, the gaps
to every competitor and their minimum) stay in the CPU's cache, in reused buffers. The
angle to every class, which ``avh`` and ``angle_gap`` need (an arccos over [N, C]), is
computed only when they are asked for (``extras=True``, the default); ``extras=False`` leaves
them NaN and costs little more than the GEMM.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from geowidget._validation import Array, Boolean, Interval, Options, invalid, validate_params

__all__ = [
    "DIRECTIONS", "Geometry", "angle_between", "class_means", "geometry", "pair_distances",
    "row_norms",
]

DIRECTIONS = ("weight", "weight_aug", "mean", "probe")


@dataclass(frozen=True)
class Geometry:
    """Per-sample geometry, every field a ``[N]`` tensor (see the module doc for units).

    Examples
    --------
    >>> import torch
    >>> from geowidget import geometry
    >>> g = geometry(torch.tensor([[3.0, 4.0]]), torch.tensor([0]), torch.eye(2))
    >>> g.norm.tolist(), type(g).__name__
    ([5.0], 'Geometry')
    """

    angle: torch.Tensor
    angle_pred: torch.Tensor
    avh: torch.Tensor
    angle_gap: torch.Tensor
    norm: torch.Tensor
    margin: torch.Tensor
    logit_margin: torch.Tensor
    pred: torch.Tensor
    correct: torch.Tensor

    def __len__(self) -> int:
        return len(self.angle)

    def to_numpy(self) -> dict[str, np.ndarray]:
        """Every field as a numpy array, on the CPU."""
        return {f.name: getattr(self, f.name).detach().cpu().numpy() for f in fields(self)}

    def to_pandas(self):  # noqa: ANN201 -- pandas is imported lazily
        import pandas as pd

        return pd.DataFrame(self.to_numpy())


def _check_finite(features: torch.Tensor) -> None:
    rows = (~torch.isfinite(features).all(dim=1)).nonzero().flatten()
    if len(rows):
        raise invalid(
            "geometry", "features", "finite", features,
            f"{len(rows)} rows hold NaN or Inf, first: {rows[:5].tolist()}",
        )


def _check_together(
    features: torch.Tensor,
    labels: torch.Tensor,
    weight: torch.Tensor | None,
    bias: torch.Tensor | None,
    class_directions: torch.Tensor | None,
) -> None:
    """Checks that relate parameters: shapes, devices, dtypes and the label range."""
    n, d = features.shape
    if labels.shape != (n,):
        raise invalid("geometry", "labels", f"of shape ({n},) to match features", labels)
    others = {"labels": labels, "weight": weight, "bias": bias,
              "class_directions": class_directions}
    for name, t in others.items():
        if t is not None and t.device != features.device:
            raise invalid("geometry", name, f"on the features' device {features.device}", t,
                          f"it is on {t.device}")
    if weight is None:
        return
    c = weight.shape[0]
    if weight.shape[1] != d:
        raise invalid("geometry", "weight", f"of shape [C, {d}] to match features", weight)
    if c < 2:
        raise invalid("geometry", "weight", "of shape [C, D] with at least 2 classes C", weight)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != features.dtype:
            raise invalid("geometry", name, f"of the features' dtype {features.dtype}", t,
                          "cast one of them")
    if bias is not None and bias.shape != (c,):
        raise invalid("geometry", "bias", f"of shape ({c},) for {c} classes", bias)
    if class_directions is not None and class_directions.shape != (c, d):
        raise invalid("geometry", "class_directions", f"of shape ({c}, {d})", class_directions)
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= c:
        raise invalid("geometry", "labels", f"class indices in [0, {c}) for {c} classes", labels,
                      f"they span [{lo}, {hi}]")


def pair_distances(weight: torch.Tensor) -> torch.Tensor:
    """|W_i - W_j|_2 for all class pairs, float64 ``[C, C]``, exact zeros kept.

    From the Gram matrix in the weight's own precision (a float32 GEMM, a quarter of the cost
    of a float64 one), where it is accurate: |W_i|^2 + |W_j|^2 - 2 W_i.W_j loses relative
    precision only when the rows are close, so pairs closer than 1% of their norms (and
    identical rows, which give exactly 0) are recomputed directly in float64.
    """
    w = weight.detach()
    if w.dtype not in (torch.float32, torch.float64):
        w = w.float()
    # a power of two brings the largest entry near 1, exactly, so the Gram matrix neither
    # underflows nor overflows whatever the weights' scale (1e-25 or 1e19 in float32)
    top = float(w.abs().max())
    power = 0 if top == 0 or not math.isfinite(top) else math.frexp(top)[1]
    w = torch.ldexp(w, torch.tensor(-power, device=w.device)) if power else w
    gram = (w @ w.T).to(torch.float64)
    sq = gram.diagonal()
    scale = sq[:, None] + sq[None, :]
    d2 = (scale - 2 * gram).clamp_min(0)
    suspect = d2 <= 1e-4 * scale.clamp_min(1e-300)
    suspect.fill_diagonal_(False)
    if suspect.any():
        i, j = suspect.nonzero(as_tuple=True)
        w64 = w.to(torch.float64)
        d2[i, j] = (w64[i] - w64[j]).pow(2).sum(dim=1)
    d2.fill_diagonal_(0)
    return torch.ldexp(d2.sqrt(), torch.tensor(power, device=d2.device))


def row_norms(x: torch.Tensor) -> torch.Tensor:
    """|x|_2 along the last axis, in ``x``'s dtype, whatever its scale.

    A plain norm sums squares, which underflow to 0 for entries below ~1e-19 in float32 and
    overflow above ~1e19. Rows whose plain norm may have lost digits that way (below
    sqrt(D tiny / eps), or infinite) are recomputed as m |x / m| with m their largest entry.
    Zero only for rows that are zero; infinite only where the norm does not fit the dtype.
    """
    norm = x.norm(dim=-1)
    fi = torch.finfo(x.dtype)
    lost = ~(norm > math.sqrt(x.shape[-1] * fi.tiny / fi.eps)) | torch.isinf(norm)
    if lost.any():
        rows = x[lost]
        top = rows.abs().amax(dim=-1, keepdim=True)
        scaled = (rows / top).norm(dim=-1) * top.squeeze(-1)
        norm[lost] = torch.where(top.squeeze(-1) == 0, 0.0, scaled)  # NaN stays NaN
    return norm


def _unit(x: torch.Tensor) -> torch.Tensor:
    """``x`` over its norm along the last axis (NaN for a zero row), whatever its scale:
    dividing by the largest entry first keeps the squares in range."""
    x = x / x.abs().amax(dim=-1, keepdim=True)
    return x / x.norm(dim=-1, keepdim=True)


def angle_between(h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Row-wise angle (radians) between ``h`` and ``u`` as 2 atan2(|h^-u^|, |h^+u^|).

    Scale-free (the vectors are normalised after dividing by their largest entry); NaN where
    either vector is zero.
    """
    hn, un = _unit(h), _unit(u)
    return 2 * torch.atan2((hn - un).norm(dim=-1), (hn + un).norm(dim=-1))


# Beyond this |cos|, arccos of a GEMM cosine loses digits (d theta = d cos / sin theta), so
# those angles are recomputed from the vectors with the atan2 form. Below it arccos is the more
# accurate of the two in float32 (measured: 8e-8 vs 6e-7 rad max error at D = 2048) and free,
# since the GEMM already holds every cosine.
_FLAT_COS = 0.9


def _exact_where_flat(
    theta: torch.Tensor, cos: torch.Tensor, h: torch.Tensor, u: torch.Tensor, cls: torch.Tensor
) -> torch.Tensor:
    """``theta`` with entries near 0 or pi (or undefined) recomputed by :func:`angle_between`."""
    redo = (~(cos.abs() <= _FLAT_COS)).nonzero().flatten()  # NaN cosines are redone too
    if len(redo):
        theta = theta.clone()
        theta[redo] = angle_between(h[redo], u[cls[redo]])
    return theta


_MEAN_CHUNK = 1 << 14  # rows summed in float64 at a time (a bounded float64 copy)


def class_means(features: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Class mean minus global mean, ``[C, D]`` (the neural-collapse class directions).

    Summed in float64, and the global mean taken from the class sums, so a class whose mean
    is the global mean (constant features, or the only class present) gets exactly zero, not
    rounding noise: its direction is undefined, and the angles to it NaN.
    """
    sums = torch.zeros(num_classes, features.shape[1], dtype=torch.float64,
                       device=features.device)
    for start in range(0, len(features), _MEAN_CHUNK):
        sums.index_add_(0, labels[start:start + _MEAN_CHUNK],
                        features[start:start + _MEAN_CHUNK].to(torch.float64))
    counts = torch.bincount(labels, minlength=num_classes).to(torch.float64)
    if (counts == 0).any():
        missing = (counts == 0).nonzero().flatten().tolist()
        warnings.warn(
            f"classes {missing} have no samples; their mean directions are NaN",
            RuntimeWarning,
            stacklevel=3,
        )
    means = sums / counts[:, None] - sums.sum(dim=0) / counts.sum()
    return means.to(features.dtype)


@validate_params({
    "features": [Array(("N", "D"), dtype="floating")],
    "labels": [Array(("N",), dtype="integer")],
    "weight": [None, Array(("C", "D"), dtype="floating", finite=True)],
    "bias": [None, Array(("C",), dtype="floating", finite=True)],
    "direction": [Options(*DIRECTIONS)],
    "class_directions": [None, Array(("C", "D"), dtype="floating", finite=True)],
    "normalize_norm": [Boolean()],
    "chunk_size": [None, Interval(int, 1, None)],
    "extras": [Boolean()],
    "probe_folds": [Interval(int, 2, None)],
    "probe_seed": [Interval(int, None, None)],
})
def geometry(
    features: torch.Tensor,
    labels: torch.Tensor,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    *,
    direction: str = "weight",
    class_directions: torch.Tensor | None = None,
    normalize_norm: bool = False,
    chunk_size: int | None = None,
    extras: bool = True,
    probe_folds: int = 5,
    probe_seed: int = 0,
) -> Geometry:
    """Angles, norms and exact margins of ``features`` against a linear head.

    Parameters
    ----------
    features : Tensor[N, D]
        Floating point; dtype and device are kept (float64 stays float64, CUDA works).
    labels : Tensor[N]
        Integer true classes in ``[0, C)``.
    weight, bias : Tensor[C, D], Tensor[C], optional
        The linear head ``z = features @ weight.T + bias``. It defines logits, predictions
        and margins. Not needed with ``direction="probe"``.
    direction : {"weight", "weight_aug", "mean", "probe"}
        Class directions for the angles: rows of ``weight``; ``[W_c, b_c]`` against
        ``[h, 1]`` (so that z_c = |u~_c| |h~| cos(angle) exactly, and ``norm`` is |[h, 1]|);
        class mean minus global mean; or linear probes fitted on these features by
        :func:`geowidget.engine.probe.cross_fit`, which then are also the head: each sample
        is measured by a probe fitted on the other ``probe_folds - 1`` folds, never by one
        that saw it (to fit on other data, use :func:`geowidget.engine.probe.fit_probe` and
        pass its weight and bias).
    class_directions : Tensor[C, D], optional
        Explicit directions; overrides ``direction``'s choice of directions.
    normalize_norm : bool
        Divide ``norm`` by sqrt(trace Cov(h)) over these samples, for comparing models.
    chunk_size : int, optional
        Samples per chunk; the default keeps a [chunk, C] float32 buffer near 8 MB, so the
        passes that follow the GEMM stay in the CPU's cache.
    extras : bool
        Also ``avh`` and ``angle_gap``, which need the angle to every class; without them
        (False) both are NaN and the rest costs about one GEMM.
    probe_folds, probe_seed : int
        With ``direction="probe"``: the number of cross-fitting folds, and the seed of their
        stratified assignment.

    Returns
    -------
    Geometry
        ``[N]`` tensors; angles in radians. Zero-norm features get NaN angles and a warning.

    Examples
    --------
    >>> import torch
    >>> h = torch.tensor([[1.0, 0.0], [0.0, 2.0]]); w = torch.eye(2)
    >>> g = geometry(h, torch.tensor([0, 0]), w)
    >>> g.angle.tolist(), g.margin.tolist()
    ([0.0, 1.5707963705062866], [0.7071067690849304, -1.4142135381698608])
    """
    # Results never carry an autograd graph, even when the head is a model's Parameter.
    features, labels = features.detach(), labels.detach()
    weight, bias = (None if t is None else t.detach() for t in (weight, bias))
    if class_directions is not None:
        class_directions = class_directions.detach()
    if direction == "probe":
        if weight is not None or bias is not None:
            raise invalid(
                "geometry", "weight", "None with direction='probe', which fits its own head",
                weight if weight is not None else bias,
                "or use direction='weight' with your probe's weight",
            )
        _check_together(features, labels, None, None, None)
        _check_finite(features)
        from geowidget.engine.probe import cross_fit

        fit = cross_fit(features, labels, folds=probe_folds, seed=probe_seed)
        g = fit.geometry(features, labels, class_directions=class_directions,
                         chunk_size=chunk_size, extras=extras)
        if normalize_norm:  # over all the samples, not per fold
            h = features.to(torch.float64)
            scale = h.var(dim=0, unbiased=True).sum().sqrt() if len(h) > 1 else 1.0
            g = replace(g, norm=g.norm / torch.as_tensor(scale).to(g.norm))
        return g
    if weight is None:
        raise invalid("geometry", "weight", f"the head's weight [C, D] with direction="
                      f"{direction!r}", weight)
    _check_together(features, labels, weight, bias, class_directions)

    work = features.dtype if features.dtype in (torch.float32, torch.float64) else torch.float32
    h_all = features.to(work)
    w = weight.to(work)
    b = None if bias is None else bias.to(work)
    n, d = h_all.shape
    c = w.shape[0]
    labels = labels.to(torch.long)

    if class_directions is not None:
        u = class_directions.to(device=h_all.device, dtype=work)
    elif direction == "mean":
        u = class_means(h_all, labels, c)
    elif direction == "weight_aug":
        u = torch.cat([w, (b if b is not None else w.new_zeros(c))[:, None]], dim=1)
    else:  # weight, and probe (whose head is the probe)
        u = w
    u_norm = row_norms(u)
    dead = (u_norm == 0).nonzero().flatten()
    if len(dead):
        why = (" (their class mean equals the global mean: constant features, or a single "
               "class present)" if direction == "mean" and class_directions is None else "")
        warnings.warn(
            f"class directions {dead.tolist()} have zero norm{why}; angles to them are NaN",
            RuntimeWarning,
            stacklevel=2,
        )
    if torch.isinf(u_norm).any():
        raise invalid("geometry", "class_directions" if class_directions is not None else
                      "weight", f"small enough for their norms to fit {work}", u,
                      "rescale them or use float64")
    pair_dist = pair_distances(w)  # [C, C], float64
    # 1 / |W_y - W_j|. The diagonal is +inf: there the gap z_y - z_y is set to +inf, and
    # inf * inf stays out of the minimum. Competitors with a row equal to W_y (no boundary)
    # are NaN, turned into +inf after the product; only cubes that have such rows pay for it.
    inv_dist = torch.where(pair_dist > 0, 1.0 / pair_dist, math.nan).to(work)
    inv_dist.fill_diagonal_(math.inf)
    no_boundary = bool(torch.isnan(inv_dist).any())

    # Row norms, computed once: they are also the finiteness check (NaN/Inf rows give
    # non-finite norms), far cheaper than isfinite over every entry.
    h_norm_all = row_norms(h_all)
    if direction == "weight_aug":
        h_norm_all = torch.hypot(h_norm_all, h_norm_all.new_ones(()))
    if not torch.isfinite(h_norm_all).all():
        _check_finite(h_all)
        raise invalid("geometry", "features", f"small enough for their norms to fit {work}",
                      features, "rescale them or use float64")
    if chunk_size is None:
        chunk_size = max(256, min(16384, (1 << 21) // c))
    # A dot product h.u is exact to rounding when |h| |u| is well inside the dtype's range:
    # each product that underflows loses < tiny, so D of them must stay below eps |h| |u|.
    # Rows outside (for some class) get their angles from the scale-free vectors instead.
    fi = torch.finfo(work)
    live = u_norm[u_norm > 0]
    lo = (d + 1) * fi.tiny / fi.eps
    h_lo = lo / float(live.min()) if len(live) else 0.0
    h_hi = fi.max / 2 / float(live.max()) if len(live) else math.inf
    # The logits' feature term |W h| <= |h| max|W_c|: below lo it is lost to rounding, and the
    # logits can overflow only when it nears the dtype's largest value.
    w_max = float(row_norms(w).max())
    b_max = 0.0 if b is None else float(b.abs().max())
    z_lo = lo / w_max if w_max > 0 else 0.0
    z_hi = (fi.max - b_max) / 2 / w_max if w_max > 0 else math.inf
    overflow_rows: list[torch.Tensor] = []
    faint = 0
    fields_out: dict[str, list[torch.Tensor]] = {f.name: [] for f in fields(Geometry)}
    augmented = direction == "weight_aug"
    # Where the GEMM's dot products are the angles' too: the rows of W (before the bias is
    # added), or [W, b] against [h, 1] (after: those dot products are the logits).
    from_gemm = class_directions is None and direction in ("weight", "probe", "weight_aug")
    # [chunk, C] buffers, reused: a fresh one per chunk would cost page faults each time
    k = min(chunk_size, n)
    dots_buf = h_all.new_empty(k, c)
    logits_buf = h_all.new_empty(k, c) if b is not None else dots_buf
    inv_buf = h_all.new_empty(k, c)
    for start in range(0, n, chunk_size):
        h = h_all[start : start + chunk_size]
        y = labels[start : start + chunk_size]
        h_norm = h_norm_all[start : start + len(h)]
        rows = torch.arange(len(h), device=h.device)
        hu = torch.cat([h, h.new_ones(len(h), 1)], dim=1) if augmented else h
        dots = torch.mm(h, w.T, out=dots_buf[: len(h)])  # the one GEMM
        logits = dots if b is None else torch.add(dots, b, out=logits_buf[: len(h)])
        pred = logits.argmax(dim=1)
        if from_gemm:  # the cosines of the true and predicted class, from the GEMM
            gemm_dots = logits if augmented else dots
            cos_y = gemm_dots[rows, y].div_(h_norm).div_(u_norm[y])
            cos_p = gemm_dots[rows, pred].div_(h_norm).div_(u_norm[pred])
        else:
            cos_y = torch.linalg.vecdot(hu, u[y]).div_(h_norm).div_(u_norm[y])
            cos_p = torch.linalg.vecdot(hu, u[pred]).div_(h_norm).div_(u_norm[pred])
        off_scale = ((h_norm < h_lo) | (h_norm >= h_hi)) & (h_norm > 0)
        if off_scale.any():  # NaN cosines are recomputed from the vectors below
            cos_y[off_scale] = math.nan
            cos_p[off_scale] = math.nan
        big = (h_norm >= z_hi).nonzero().flatten()
        if len(big):  # logits that overflowed: no prediction or margin can be trusted
            big = big[~torch.isfinite(logits[big]).all(dim=1)]
            overflow_rows.append(big + start)
        faint += int(((h_norm < z_lo) & (h_norm > 0)).sum())
        theta_y = _exact_where_flat(cos_y.clamp(-1, 1).arccos_(), cos_y, hu, u, y)
        theta_p = _exact_where_flat(cos_p.clamp(-1, 1).arccos_(), cos_p, hu, u, pred)
        fields_out["angle"].append(theta_y)
        fields_out["angle_pred"].append(theta_p)
        fields_out["norm"].append(h_norm)
        if extras:  # the angle to every class: an arccos over [chunk, C]
            all_dots = (logits if augmented else dots) if from_gemm else hu @ u.T
            theta_all = all_dots.div(h_norm[:, None]).div_(u_norm).clamp_(-1, 1).arccos_()
            if off_scale.any():
                theta_all[off_scale] = angle_between(hu[off_scale][:, None], u)
            theta_all[rows, y] = math.inf
            fields_out["angle_gap"].append(theta_y - theta_all.amin(dim=1))
            theta_all[rows, y] = theta_y
            fields_out["avh"].append(theta_y / theta_all.sum(dim=1))
        else:
            fields_out["angle_gap"].append(torch.full_like(theta_y, math.nan))
            fields_out["avh"].append(torch.full_like(theta_y, math.nan))

        z_y = logits[rows, y]  # advanced indexing copies, so the logits can be overwritten
        gap = torch.sub(z_y[:, None], logits, out=logits)  # z_y - z_j, in place
        gap[rows, y] = math.inf
        fields_out["logit_margin"].append(gap.amin(dim=1))
        ratio = gap.mul_(torch.index_select(inv_dist, 0, y, out=inv_buf[: len(h)]))
        if no_boundary:
            ratio.nan_to_num_(nan=math.inf, posinf=math.inf)
        margin = ratio.amin(dim=1)
        margin[torch.isinf(margin)] = math.nan
        fields_out["margin"].append(margin)
        fields_out["pred"].append(pred)
        fields_out["correct"].append(pred == y)

    out = {k: torch.cat(v) for k, v in fields_out.items()}
    overflow = torch.cat(overflow_rows) if overflow_rows else labels.new_zeros(0)
    if len(overflow):
        for name in ("margin", "logit_margin"):
            out[name][overflow] = math.nan
        warnings.warn(
            f"{len(overflow)} of {n} samples have logits beyond {work}'s range (first: "
            f"{overflow[:5].tolist()}); their margins and logit margins are NaN and their "
            "predictions unreliable: compute in float64 or rescale the features or the head",
            RuntimeWarning,
            stacklevel=2,
        )
    if faint:
        warnings.warn(
            f"{faint} of {n} samples have features too small for the head (|h| max|W_c| "
            f"< {lo:.1e}): {work} cannot resolve W h, so their logits, predictions and margins "
            "come from the bias alone (or are 0); compute in float64 or rescale",
            RuntimeWarning,
            stacklevel=2,
        )
    zero = out["norm"] == 0
    if zero.any():
        warnings.warn(
            f"{int(zero.sum())} of {n} feature vectors have zero norm (dead units or heavy "
            "pruning); their angles and AVH are NaN",
            RuntimeWarning,
            stacklevel=2,
        )
    if normalize_norm:
        scale = h_all.var(dim=0, unbiased=True).sum().sqrt() if n > 1 else h_all.new_tensor(1.0)
        lo_h, hi_h = torch.aminmax(h_all, dim=0)
        if n > 1 and bool((lo_h == hi_h).all()):  # no spread: the scale is 0 or rounding noise
            warnings.warn(
                "normalize_norm: the features are the same for every sample (trace Cov(h) = "
                "0), so the normalised norm is undefined; norm is NaN",
                RuntimeWarning,
                stacklevel=2,
            )
            scale = h_all.new_tensor(math.nan)
        out["norm"] = out["norm"] / scale
    if features.dtype not in (torch.float32, torch.float64):
        out = {k: v.to(features.dtype) if v.is_floating_point() else v for k, v in out.items()}
    return Geometry(**out)
