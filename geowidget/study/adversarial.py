"""The adversarial unit of a Study: each model's adversarial distances, per sparsity, on clean data.

``Study(..., adversarial={"norm": "l2", "samples": 500})`` attacks the first ``samples``
samples of the data with :func:`geowidget.adversarial_distance`, once per model and clean
sparsity level (the pruned model, masked as the study's units mask it). The result is the
cube's ``adversarial[norm]`` array ``[M, K, N]``, NaN at corrupted conditions and for the
samples not attacked. Each (model, sparsity) is kept in the unit store, like a unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from geowidget._validation import invalid

if TYPE_CHECKING:
    from geowidget.study.runners import WorkerSpec
    from geowidget.study.study import Study

__all__ = ["DEFAULTS", "check_settings", "measure"]

DEFAULTS = {"norm": "l2", "samples": 500, "steps": 100, "check": 100}


def check_settings(settings: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The settings with defaults filled in, every entry checked; None stays None."""
    if settings is None:
        return None
    from geowidget.engine.adversarial import NORMS

    expected = ('a dict such as {"norm": "l2", "samples": 500} (keys: '
                f"{', '.join(DEFAULTS)})")
    # a dict of str keys: the Study's declaration checks that; here, its entries
    if unknown := sorted(set(map(str, settings)) - set(DEFAULTS)):
        raise invalid("Study", "adversarial", expected, settings, f"unknown keys {unknown}")
    out = {**DEFAULTS, **settings}
    if out["norm"] not in NORMS:
        raise invalid("Study", "adversarial", expected, settings,
                      f"norm must be one of {list(NORMS)}, got {out['norm']!r}")
    for key, low in (("samples", 1), ("steps", 1), ("check", 0)):
        value = out[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise invalid("Study", "adversarial", expected, settings,
                          f"{key} must be an integer >= {low}, got {value!r}")
    return out


def measure(study: Study, spec: WorkerSpec) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``({norm: float32 [M, K, N]}, {model: report})`` for the study's settings."""
    settings = check_settings(study.adversarial)
    if settings is None:
        return {}, {}
    from geowidget.engine import adversarial as attack
    from geowidget.engine.pruning import pruned
    from geowidget.study.runners import Worker
    from geowidget.study.units import KEY_VERSION, fingerprint

    plan = study.plan
    conds = plan.conditions
    n = min(settings["samples"], plan.n)
    x, y = plan.reader.head(n)
    data_fp = fingerprint(x, y)
    out = np.full((len(plan.models), len(conds), plan.n), np.nan, np.float32)
    reports: dict[str, Any] = {}
    worker = Worker(spec, None)  # the models on the study's device, and their pruning plans
    for mi, name in enumerate(plan.models):
        per_level = []
        for ki, cond in enumerate(conds):
            if cond.benchmark != "clean":
                continue
            key = fingerprint("adversarial", KEY_VERSION, attack.VERSION, plan.model_fp[name],
                              data_fp, *sorted(settings.items()), cond.sparsity, study.pruning,
                              study.seed, study.batch_size, plan.device.type)
            found = None if plan.store is None else plan.store.load(key)
            if found is None:
                model = worker.models[name]
                masks = worker.plan(name).masks(cond.sparsity) if cond.sparsity > 0 else {}
                with pruned(model, masks):
                    r = attack.adversarial_distance(
                        model, (x, y), settings["norm"], steps=settings["steps"],
                        check=settings["check"], batch_size=study.batch_size,
                        device=plan.device, seed=study.seed, progress=False)
                found = {"distance": r.distance.numpy(),
                         "stats": np.array([r.failed, r.first_not_smallest, int(r.checked.sum())],
                                           np.float64)}
                if plan.store is not None:
                    plan.store.save(key, found)
            out[mi, ki, :n] = found["distance"]
            failed, beaten, checked = found["stats"]
            per_level.append({"sparsity": cond.sparsity, "failed": int(failed),
                              "checked": int(checked),
                              "first_not_smallest": None if np.isnan(beaten) else float(beaten)})
        reports[name] = {"norm": settings["norm"], "samples": n, "levels": per_level}
    return {settings["norm"]: out}, reports
