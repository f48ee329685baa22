"""The Explorer's pickers of the shown model and condition, as ipywidgets that read as the
views' own pickers (``js/src/views/pickers.ts``).

- A condition is picked as (sparsity, benchmark, severity), each on its own control, and
  found through the view's :class:`~geowidget.coords.Coords`: sparsity is a slider over the
  grid when it has :data:`SLIDER_AT` levels or more (else a dropdown); benchmark a dropdown
  of names (a corruption at one severity is named with it, ``"fog-3"``); severity a slider
  over the shown benchmark's severities, shown while it has two or more (severities are
  ordinal and at most five, so a length threshold would never make them a slider).
- The models of a checkpoint run (``run`` and ``step`` in their ``model_info``, see
  :func:`geowidget.analysis.training.runs`) are picked as a run and a step slider; other
  models from a dropdown.

The controls set the view's ``model`` and ``condition`` traits and follow them when they
change elsewhere (a linked view, a click in the evaluation table, Python).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import ipywidgets as ipw
import traitlets as t

from geowidget.analysis.training import runs
from geowidget.coords import sparsity_text
from geowidget.widgets.view import PickerView

__all__ = ["SLIDER_AT", "CellPickers", "Controls"]

SLIDER_AT = 8  # at this many sparsity levels or more, a slider (as js/src/live.ts)


def _nearest(levels: list[Any], value: float) -> Any:
    """The level nearest ``value`` (the first of a tie)."""
    return min(levels, key=lambda x: abs(x - value))


class CellPickers:
    """Controls that pick ``view``'s model (or run and step) and condition.

    Parameters
    ----------
    view : PickerView
        The view whose ``model`` and ``condition`` the controls set and follow.
    cube : GeometryCube
        The view's cube: a checkpoint run's models carry ``run`` and ``step`` in its
        ``model_info``.

    Attributes
    ----------
    models : dict of str to ipywidgets widget
        ``"model"`` (a Dropdown), or for a cube with checkpoint runs ``"run"`` (a Dropdown of
        the runs and the models of no run) and ``"step"`` (a SelectionSlider of the run's
        steps, hidden at a model of no run).
    conditions : dict of str to ipywidgets widget
        ``"sparsity"`` (a SelectionSlider from :data:`SLIDER_AT` levels, else a Dropdown),
        ``"benchmark"`` (a Dropdown) and, when some benchmark has two or more severities,
        ``"severity"`` (a SelectionSlider, hidden at a benchmark of one severity).
    """

    def __init__(self, view: PickerView, cube: Any) -> None:
        self.view = view
        self.coords = coords = view.coords
        self._syncing = False
        # ------------------------------------------------------------ models
        try:
            found = runs(cube)
        except ValueError:  # no run, or a run with two models at one step: a list of models
            found = {}
        in_run = {m for members in found.values() for m in members}
        groups = [(name, members) for name, members in found.items()]
        groups += [(name, [m]) for m, name in enumerate(coords.models) if m not in in_run]
        self._groups = sorted(groups, key=lambda g: min(g[1]))  # first-seen order
        self._steps = {m: int(cube.model_info[m]["step"]) for m in in_run}
        if found:
            self.models: dict[str, ipw.Widget] = {
                "run": ipw.Dropdown(options=[(name, g) for g, (name, _) in enumerate(self._groups)],
                                    description="run"),
                "step": ipw.SelectionSlider(options=[("0", 0)], description="step",
                                            continuous_update=True),
            }
            self.models["run"].observe(self._pick_run, "value")
            self.models["step"].observe(self._pick_step, "value")
            view.observe(self._follow_model, "model")
            self._follow_model()
        else:
            self.models = {"model": ipw.Dropdown(options=[(m, i) for i, m in enumerate(coords.models)],
                                                 value=view.model, description="model")}
            self._model_tie = t.link((self.models["model"], "value"), (view, "model"))
        # ------------------------------------------------------------ conditions
        conds = coords.conditions
        self._sparsities = sorted({c.sparsity for c in conds})
        self._severities = {b: sorted({conds[i].severity for i in coords.find(benchmark=b)})
                            for b in coords.benchmarks}
        # a percent with the decimals the grid needs, as the browser's pickers write it
        sparsity_options = [(sparsity_text(s, self._sparsities), s) for s in self._sparsities]
        kind = ipw.SelectionSlider if len(self._sparsities) >= SLIDER_AT else ipw.Dropdown
        self.conditions: dict[str, ipw.Widget] = {
            "sparsity": kind(options=sparsity_options, description="sparsity"),
            "benchmark": ipw.Dropdown(options=[(self._bench_text(b), b) for b in coords.benchmarks],
                                      description="benchmark"),
        }
        if any(len(s) > 1 for s in self._severities.values()):
            self.conditions["severity"] = ipw.SelectionSlider(options=[("0", 0)],
                                                              description="severity")
        for control in self.conditions.values():
            control.observe(self._pick_condition, "value")
        view.observe(self._follow_condition, "condition")
        self._follow_condition()

    # ---------------------------------------------------------------- conditions
    def _bench_text(self, benchmark: str) -> str:
        sevs = self._severities[benchmark]
        return f"{benchmark}-{sevs[0]}" if benchmark != "clean" and len(sevs) == 1 else benchmark

    def condition_at(self, sparsity: float, benchmark: str, severity: int) -> int:
        """The condition shown for these picks: the benchmark's severity nearest ``severity``
        (a benchmark picked keeps the severity when it has it), at ``sparsity``, or at the
        nearest sparsity that has that (benchmark, severity) where the grid is not full."""
        severity = _nearest(self._severities[benchmark], severity)
        try:
            return self.coords.condition(sparsity, benchmark, severity)
        except KeyError:
            hits = self.coords.find(benchmark=benchmark, severity=severity)
            return min(hits, key=lambda i: abs(self.coords.conditions[i].sparsity - sparsity))

    def _pick_condition(self, _change: Any = None) -> None:
        if self._syncing:
            return
        shown = self.coords.conditions[self.view.condition]
        severity = self.conditions.get("severity")
        self.view.condition = self.condition_at(
            self.conditions["sparsity"].value, self.conditions["benchmark"].value,
            shown.severity if severity is None or severity.value is None else severity.value)

    def _follow_condition(self, _change: Any = None) -> None:
        c = self.coords.conditions[self.view.condition]
        with self._sync():
            self.conditions["sparsity"].value = c.sparsity
            self.conditions["benchmark"].value = c.benchmark
            if (severity := self.conditions.get("severity")) is not None:
                sevs = self._severities[c.benchmark]
                severity.options = [(str(s), s) for s in sevs]
                severity.value = c.severity
                severity.layout.display = None if len(sevs) > 1 else "none"

    # ---------------------------------------------------------------- runs
    def _group(self, model: int) -> int:
        return next(g for g, (_, members) in enumerate(self._groups) if model in members)

    def _pick_run(self, change: Any) -> None:
        if self._syncing:
            return
        members = self._groups[change["new"]][1]
        step = self._steps.get(self.view.model)
        in_run = [m for m in members if m in self._steps]
        self.view.model = members[0] if step is None or not in_run else min(
            in_run, key=lambda m: abs(self._steps[m] - step))

    def _pick_step(self, change: Any) -> None:
        if not self._syncing and change["new"] is not None:
            self.view.model = change["new"]

    def _follow_model(self, _change: Any = None) -> None:
        model, step = self.view.model, self.models["step"]
        members = self._groups[self._group(model)][1]
        with self._sync():
            self.models["run"].value = self._group(model)
            if model in self._steps:
                step.options = [(str(self._steps[m]), m) for m in members]
                step.value = model
            step.layout.display = None if model in self._steps else "none"

    @contextlib.contextmanager
    def _sync(self) -> Iterator[None]:
        """Set the controls from the view without picking again."""
        self._syncing = True
        try:
            yield
        finally:
            self._syncing = False


class Controls(dict):
    """The Explorer's controls by name. ``controls["condition"]``, the one condition dropdown
    the Explorer had, still answers for one release (deprecated: a dropdown linked to the
    view's ``condition``, not shown)."""

    def __init__(self, view: PickerView, controls: dict[str, ipw.Widget]) -> None:
        super().__init__(controls)
        self._view = view
        self._condition: tuple[ipw.Dropdown, t.link] | None = None

    def __missing__(self, key: str) -> ipw.Widget:
        if key != "condition":
            raise KeyError(f"no control {key!r}; the controls are {list(self)}")
        warnings.warn('explorer.controls["condition"] is deprecated: pick the condition with '
                      'controls["sparsity"], ["benchmark"] and ["severity"], or set '
                      "explorer.polar.condition", DeprecationWarning, stacklevel=2)
        if self._condition is None:
            names = self._view.coords.names("condition")
            dropdown = ipw.Dropdown(options=[(n, i) for i, n in enumerate(names)],
                                    value=self._view.condition, description="condition")
            self._condition = dropdown, t.link((dropdown, "value"), (self._view, "condition"))
        return self._condition[0]
