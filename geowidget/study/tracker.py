"""GeometryTracker: record the geometry of fixed data from inside any training loop.

>>> tracker = gw.GeometryTracker(model, data)                    # doctest: +SKIP
>>> for epoch in range(10):                                       # doctest: +SKIP
...     train_one_epoch(model)
...     tracker.step(epoch)
>>> cube = tracker.cube()                                         # doctest: +SKIP

Design notes
------------
Representation: one cube model per recorded (run, step), named ``"<run>/<step>"``, with
``run`` and ``step`` in its ``model_info``; the condition axis holds the clean data
only. A new cube axis for steps was the alternative; it was rejected because every part of
the stack already works per model: the ModelMap embeds checkpoints like any models (a run is
a path through them), the PolarPlot and MarginHistogram show one checkpoint like one model,
``GeometryCube.concat_models`` joins runs, Parquet files and the widgets' data model carry
it unchanged, and a :class:`~geowidget.study.Study` can sweep the very same checkpoints over
pruning levels and corruptions, because a checkpoint *is* a model. The price is that steps
are read from ``model_info`` (:mod:`geowidget.analysis.training` groups models into runs),
which costs nothing at these sizes (tens to hundreds of checkpoints).

Recording a step is exactly a Study of the model as it is at that moment, on the clean
data (the same units, the same class directions: the model's own head for the
penultimate layer, a linear probe fitted on that checkpoint for other layers). The tracker
holds one Study for the run and re-evaluates it at each step through the Study's public
:meth:`~geowidget.study.Study.record_checkpoint`, so a tracker's cube and a Study over the
saved checkpoints agree number for number.

Recording leaves the model as it was: it runs in eval mode under ``torch.no_grad()`` and
every module's own train/eval flag is restored; parameters, buffers and ``.grad`` are not
touched (eval mode keeps BatchNorm statistics); and the random number generators of torch
(CPU and every CUDA device), numpy's global generator and Python's ``random`` are restored,
so a training run with the tracker draws the same random numbers as one without it. The
data is evaluated where the model is, each step, so a model moved between devices
during training is followed.
"""

from __future__ import annotations

import contextlib
import random
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from geowidget._validation import (
    DATA,
    MODEL,
    POSITIVE_INT,
    Interval,
    ListOf,
    Matches,
    invalid,
    validate_params,
)
from geowidget.cube import LAYER_METRICS, OUTPUTS, Condition, GeometryCube
from geowidget.engine.checkpoints import step_model_name
from geowidget.engine.tokens import TOKENS
from geowidget.study.study import Study, probe_accuracy, thumbnails

__all__ = ["GeometryTracker", "preserved_rng"]


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Restore torch (CPU and CUDA), numpy and Python random states after the block."""
    # numpy's legacy global generator is the one a user's training loop may draw from
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)


class GeometryTracker:
    """Record the geometry of fixed data while a model trains.

    Parameters
    ----------
    model : nn.Module
        The model being trained. It is read at each :meth:`step`, never changed (see the
        module's design notes).
    data : (inputs, labels), ImageData, Dataset or DataLoader
        The labelled samples measured, evaluated once per recorded step; read once, up front.
    layers : list of str, optional
        As in :class:`geowidget.Study`: ``None`` records the penultimate layer (with the
        model's own head); other layers get a linear probe fitted at each recorded step,
        which costs a probe fit per layer on top of the forward pass.
    every : int
        Record a call only when at least ``every`` steps have passed since the last recorded
        one (the first call always records). With ``every=1`` every call records.
    run : str, optional
        The run's name in the cube (default: the model's class name).
    batch_size : int
        Forward-pass batch size.
    tokens : {"cls", "mean", "flatten"} or dict of str to str, optional
        As in :class:`geowidget.Study`: how a transformer layer's tokens become one vector
        per sample (needed to track a ViT block).
    probe_data : (inputs, labels), ImageData, Dataset or DataLoader
        Deprecated: ``data``.

    Examples
    --------
    >>> import torch
    >>> from geowidget.zoo.models import mlp
    >>> net = mlp(16, seed=0)
    >>> x, y = torch.rand(40, 1, 28, 28), torch.arange(40) % 10
    >>> tracker = GeometryTracker(net, (x, y), run="mlp")
    >>> for step in range(3):
    ...     recorded = tracker.step(step)
    >>> tracker.steps, tracker.cube().models
    ([0, 1, 2], ['mlp/0', 'mlp/1', 'mlp/2'])
    """

    @validate_params({
        "model": MODEL,
        "data": DATA,
        "layers": [None, ListOf(str)],
        "every": POSITIVE_INT,
        "run": [None, Matches(r"[^/]+", "a non-empty name without '/'")],
        "batch_size": POSITIVE_INT,
        "tokens": TOKENS,
        "probe_data": DATA,
    })
    def __init__(
        self,
        model: nn.Module,
        data: Any = None,
        layers: Sequence[str] | None = None,
        every: int = 1,
        *,
        run: str | None = None,
        batch_size: int = 256,
        tokens: str | Mapping[str, str] | None = None,
        probe_data: Any = None,
    ) -> None:
        from geowidget.engine.model_state import evaluating

        data = _data(data, probe_data)
        self.every = every
        self.run = type(model).__name__ if run is None else run
        self.model = model
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        with evaluating(model), preserved_rng():
            self._study = Study(
                {self.run: model}, data, layers=layers, sparsities=(0,), corruptions=None,
                batch_size=batch_size, device=device, progress=False,
                shard_size=_count(data), tokens=tokens,
            )
            plan = self._study.plan  # the data is read (and the model run once) up front
        x, y = plan.reader.head(plan.n)
        c = plan.num_classes
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= c):  # found now, not at step()
            raise ValueError(f"The 'data' parameter of GeometryTracker must hold labels "
                             f"in [0, {c}) for the model's {c} classes. Got labels in "
                             f"[{int(y.min())}, {int(y.max())}] instead.")
        self._labels, self._images = y.numpy(), thumbnails(x)
        self._records: list[tuple[int, dict[str, np.ndarray], dict[str, Any]]] = []
        self._last: int | None = None

    @property
    def steps(self) -> list[int]:
        """The recorded steps, ascending."""
        return [s for s, _, _ in self._records]

    @property
    def layers(self) -> list[str]:
        return list(self._study.plan.layers)

    @validate_params({"step": [Interval(int, None, None)]})
    def step(self, step: int) -> bool:
        """Record the data's geometry at training step (or epoch) ``step``.

        Parameters
        ----------
        step : int
            Larger than at the previous call. Steps need not be consecutive.

        Returns
        -------
        bool
            Whether this call recorded (see ``every``).
        """
        if self._last is not None and step <= self._last:
            raise invalid("GeometryTracker.step", "step",
                          f"larger than at the previous call ({self._last})", step,
                          "steps must increase from call to call")
        self._last = step
        if self._records and step - self._records[-1][0] < self.every:
            return False
        self._records.append((step, *self._record(step)))
        return True

    def _record(self, step: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        with preserved_rng():
            self._check_classes()
            # the model as it is now (its weights and its device), described as a Study
            # describes a run's checkpoint
            return self._study.record_checkpoint(self.run, run=self.run, step=step)

    def _check_classes(self) -> None:
        """The model still has the classes it had when the tracker was made (a head swapped
        mid-training would otherwise surface as labels out of range in geometry)."""
        now, then = self._study.count_classes(self.run), self._study.plan.num_classes
        if now != then:
            raise ValueError(
                f"GeometryTracker.step: the model now outputs {now} classes, but the tracker "
                f"was made for {then} (its head changed since); record the new head with a "
                "new GeometryTracker"
            )

    def cube(self) -> GeometryCube:
        """The recorded steps as a GeometryCube: one model ``"<run>/<step>"`` per step.

        Layer metrics are ``[S, L, 1, N]`` and outputs ``[S, 1, N]`` for S recorded steps;
        ``model_info[i]`` holds ``run`` and ``step`` besides what a Study records.
        """
        if not self._records:
            raise ValueError("nothing recorded yet; call tracker.step(step) during training")
        plan = self._study.plan
        arrays = {
            k: np.stack([rec[k] for _, rec, _ in self._records])[:, :, None]
            for k in LAYER_METRICS
        }
        arrays.update({
            k: np.stack([rec[k] for _, rec, _ in self._records])[:, None] for k in OUTPUTS
        })
        probed = plan.probed  # probe layers: each layer's prediction and probe accuracy
        if probed is not None:
            arrays["layer_pred"] = np.stack([rec["layer_pred"] for _, rec, _ in self._records]
                                            )[:, :, None]
            arrays["probe_accuracy"] = probe_accuracy(
                arrays["layer_pred"], self._labels, np.repeat(probed, len(self._records), 0))
        return GeometryCube(
            models=[step_model_name(self.run, s) for s in self.steps],
            layers=plan.layers,
            conditions=[Condition()],
            labels=self._labels,
            class_names=plan.class_names,
            model_info=[dict(info) for _, _, info in self._records],
            dataset=plan.dataset,
            images=self._images,
            **arrays,
        )

    def __repr__(self) -> str:
        return (f"GeometryTracker(run={self.run!r}, layers={self.layers}, every={self.every}, "
                f"recorded steps={self.steps})")


def _count(data: Any) -> int:
    from geowidget.engine.batches import count_samples

    n = count_samples(data)
    return 4096 if not n else n


def _data(data: Any, probe_data: Any) -> Any:
    """``data``, or the deprecated ``probe_data`` with a DeprecationWarning."""
    if probe_data is None:
        if data is None:
            raise TypeError("GeometryTracker() missing 1 required argument: 'data'")
        return data
    if data is not None:
        raise TypeError("GeometryTracker() got both data= and its deprecated alias "
                        "probe_data=; pass data= only")
    warnings.warn("GeometryTracker(probe_data=...) is deprecated and will be removed in the "
                  "next release; pass data=... (the samples measured: `probe_data` names only "
                  "the data linear probes are fitted on, Study(probe_data=))",
                  DeprecationWarning, stacklevel=4)
    return probe_data
