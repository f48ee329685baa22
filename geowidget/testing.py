"""Cubes for tests and examples: :func:`random_cube`, plausible and self-consistent.

No engine and no model: the arrays are drawn from one latent score per (model, condition,
sample), so they agree with each other the way a Study's do:

- ``correct`` is ``pred == labels``, and ``logit_margin > 0`` exactly where it holds;
- at every layer the sign of ``margin`` says whether the layer's own prediction is right
  (``layer_pred`` with ``probe=True``, else the model's ``pred``);
- angles lie in ``[0, pi]``, ``angle_pred <= angle`` (equal where the prediction is right),
  ``angle_gap < 0`` exactly where it is right, ``avh`` in ``(0, 1)``, ``norm > 0``;
- accuracy falls with sparsity and severity, and a pruned model mostly keeps its dense
  predictions, so robustness and vulnerability are spread over ``[0, 1]``;
- ``adversarial`` (with ``adversarial=True``) is 0 where the prediction is wrong, positive
  where it is right, at the clean conditions, and NaN at the corrupted ones (not measured);
- ``probe_accuracy`` (with ``probe=True``) is each probe layer's accuracy on these samples,
  NaN at the default layer, which uses the model's head.

Use :meth:`GeometryCube.from_arrays` where a test needs particular values.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from geowidget.coords import Condition, Coords
from geowidget.cube import GeometryCube

__all__ = ["random_cube"]

GRIDS = ("full", "dense-corrupted")


def random_cube(
    models: int | Sequence[str] = 2,
    layers: int | Sequence[str] = 3,
    sparsities: Sequence[float] = (0.0, 0.5),
    corruptions: Sequence[str] = (),
    n: int = 50,
    classes: int | Sequence[str] = 3,
    seed: int = 0,
    *,
    severities: Sequence[int] = (3,),
    grid: str = "full",
    conditions: Sequence[Condition] | None = None,
    probe: bool = False,
    adversarial: bool = False,
    projections: Sequence[str] = (),
    images: bool = False,
    sample_ids: Sequence[int] | None = None,
) -> GeometryCube:
    """A cube of plausible, self-consistent random arrays (see the module doc).

    Parameters
    ----------
    models, layers : int or list of str
        How many (named ``model0``, ...; layers ``layer0``, ..., the last ``penultimate``),
        or the names.
    sparsities : sequence of float
        Sparsity levels, each with a clean condition; 0 is added when missing.
    corruptions : sequence of str
        Benchmarks, each at every severity of ``severities``.
    n : int
        Samples; their labels are ``0, 1, ..., C - 1`` in turn.
    classes : int or list of str
        How many classes (at least 2; named ``class0``, ...), or their names.
    seed : int
    severities : sequence of int
        Severities of each corruption, in 1..5.
    grid : str
        ``"full"``: the corruptions at every sparsity (a Study's default);
        ``"dense-corrupted"``: at sparsity 0 only.
    conditions : sequence of Condition, optional
        The conditions, in this order, instead of those of ``sparsities``, ``corruptions``,
        ``severities`` and ``grid``.
    probe : bool
        Add ``layer_pred`` and ``probe_accuracy``: probes at every layer but the default one.
    adversarial : bool
        Add ``adversarial["l2"]``.
    projections : sequence of str
        Methods of random 2-D ``projections``.
    images : bool
        Add uint8 8x8 thumbnails.
    sample_ids : sequence of int, optional
        Defaults to ``0..n-1``.

    Returns
    -------
    GeometryCube

    Examples
    --------
    >>> cube = random_cube(corruptions=("fog",), n=20)
    >>> cube.shape
    {'model': 2, 'layer': 3, 'condition': 4, 'sample': 20}
    >>> bool(((cube.logit_margin > 0) == cube.correct).all())
    True
    """
    if grid not in GRIDS:
        raise ValueError(f"random_cube: grid must be one of {list(GRIDS)}, got {grid!r}")
    class_names = ([f"class{c}" for c in range(classes)] if isinstance(classes, int)
                   else list(classes))
    classes = len(class_names)
    if classes < 2 or n < 1:
        raise ValueError(f"random_cube: needs 2 classes or more and n >= 1, got {classes} "
                         f"classes and n={n}")
    rng = np.random.default_rng(seed)
    model_names = [f"model{i}" for i in range(models)] if isinstance(models, int) else models
    layer_names = ([*(f"layer{i}" for i in range(layers - 1)), "penultimate"]
                   if isinstance(layers, int) else layers)
    if conditions is None:
        if off := [s for s in sparsities if not 0.0 <= float(s) < 1.0]:
            raise ValueError(f"random_cube: sparsities must lie in [0, 1) as a Study's do, "
                             f"got {off}")
        levels = sorted({0.0, *(float(s) for s in sparsities)})
        corrupted = levels if grid == "full" else [0.0]
        conditions = [Condition(s) for s in levels] + [
            Condition(s, b, v) for b in corruptions for v in severities for s in corrupted]
    coords = Coords(model_names, layer_names, conditions)
    (m, ly, k), default = coords.shape, coords.default_layer
    labels = np.arange(n) % classes

    def wrong(shape: tuple[int, ...]) -> np.ndarray:  # a class other than the label
        return (labels + rng.integers(1, classes, shape)) % classes

    # one latent score per (model, condition, sample): > 0 where the model is right. A
    # sample's difficulty is shared by the conditions, so pruning mostly keeps predictions.
    penalty = np.array([1.5 * c.sparsity ** 2 + 0.25 * c.severity for c in conditions])
    difficulty = rng.normal(0, 1, (m, 1, n))
    score = 1.0 - penalty[None, :, None] - difficulty + rng.normal(0, 0.3, (m, k, n))
    pred = np.where(score > 0, labels, wrong((m, k, n)))
    # per layer: deeper layers separate the classes more; a probe layer has its own errors
    depth = (np.arange(ly) + 1.0) / ly
    layer_score = score[:, None] * depth[None, :, None, None] * np.exp(
        rng.normal(0, 0.2, (m, ly, k, n)))
    layer_pred = None
    if probe:
        layer_score = layer_score + rng.normal(0, 0.3, layer_score.shape)
        layer_score[:, default] = score * depth[default]
        layer_pred = np.where(layer_score > 0, labels, wrong((m, ly, k, n)))
        layer_pred[:, default] = pred
    right = layer_score > 0
    norm = rng.lognormal(1.0, 0.3, (m, ly, k, n))
    margin = np.tanh(layer_score) * norm * 0.5
    angle = np.clip(np.pi / 2 * (1 - 0.8 * np.tanh(layer_score)), 0, np.pi)
    closer = rng.uniform(0.05, 0.5, angle.shape)  # the nearest other class, or the predicted
    angle_pred = np.where(right, angle, np.maximum(angle - closer, 0))
    angle_gap = np.where(right, -closer, angle - angle_pred)
    avh = angle / (angle + np.pi / 2 + closer)
    arrays = dict(angle=angle, angle_pred=angle_pred, avh=avh, angle_gap=angle_gap,
                  norm=norm, margin=margin, pred=pred, logit_margin=2 * np.tanh(score))
    if probe:
        accuracy = (layer_pred == labels).mean(axis=-1)
        accuracy[:, default] = np.nan  # the default layer uses the model's head
        arrays.update(layer_pred=layer_pred, probe_accuracy=accuracy)
    if adversarial:
        clean = np.array([c.benchmark == "clean" for c in conditions])
        distance = np.where(pred == labels, rng.lognormal(-1.0, 0.5, (m, k, n)) *
                            np.maximum(score, 0.05), 0.0)
        arrays["adversarial"] = {"l2": np.where(clean[None, :, None], distance, np.nan)}
    if projections:
        arrays["projections"] = {method: rng.normal(0, 1, (m, ly, n, 2))
                                 for method in projections}
    if images:
        arrays["images"] = rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)
    return GeometryCube.from_arrays(
        coords, labels, class_names, sample_ids=sample_ids,
        **arrays)
