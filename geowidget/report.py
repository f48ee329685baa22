"""A standalone, interactive HTML report of a GeometryCube: tables plus the linked views.

:func:`write_report` writes one HTML file that opens offline in any browser, with no kernel
and no CDN. It holds

- an accuracy table (per model, per evaluation condition);
- the paper's correlation tables: Pearson and Spearman r between per-sample angle, L2 norm
  and margin and robustness to corruptions (when the cube has corrupted conditions) or
  pruning vulnerability (when it has pruned ones), with bootstrap confidence intervals;
- the :class:`geowidget.Explorer` views (polar plot, margin histogram, parallel coordinates,
  the model map when the cube has two or more models, and the sample panel), linked in the
  page, with their in-page pickers for model, layer and condition.

The views are exported by the widgets' own standalone exporter
(:func:`geowidget.widgets.export.write_html`); this module adds the tables around them.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from geowidget.cube import GeometryCube

_ROOT = '<div id="geowidget-root"></div>'
_STYLE = """<style>
.gw-report h1{font-size:1.5em;margin:0 0 .2em}
.gw-report h2{font-size:1.15em;margin:1.2em 0 .4em}
.gw-report table{border-collapse:collapse;margin:.3em 0 1em;font-size:13px}
.gw-report th,.gw-report td{border:1px solid #ddd;padding:3px 7px}
.gw-report caption{font-size:13px;color:#444;padding-bottom:3px}
.gw-report .gw-note{color:#555;font-size:13px;max-width:60em}
</style>"""


def correlation_tables(
    cube: GeometryCube, *, n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """The correlation tables the cube supports, keyed ``"<target>/<method>"``.

    Parameters
    ----------
    cube : GeometryCube
    n_boot : int
        Bootstrap resamples for the 95 % confidence intervals.
    seed : int
        Bootstrap seed.

    Returns
    -------
    dict of str to CorrelationTable
        ``robustness/pearson`` and ``robustness/spearman`` when the cube has corrupted
        conditions at sparsity 0; ``vulnerability/...`` when it has pruned clean conditions.
        Empty when it has neither.
    """
    targets = []
    if cube.corruptions:
        targets.append("robustness")
    if any(s > 0 for s in cube.sparsities):
        targets.append("vulnerability")
    return {
        f"{target}/{method}": cube.correlations(target=target, method=method, n_boot=n_boot,
                                                seed=seed)
        for target in targets
        for method in ("pearson", "spearman")
    }


def accuracy_table(cube: GeometryCube) -> str:
    """HTML table: accuracy (fraction correct) of each model under each condition."""
    head = "".join(f"<th>{html.escape(c.label)}</th>" for c in cube.conditions)
    rows = []
    for mi, model in enumerate(cube.models):
        acc = cube.correct[mi].mean(axis=1)
        cells = "".join(f"<td>{a:.3f}</td>" for a in acc)
        rows.append(f"<tr><th>{html.escape(model)}</th>{cells}</tr>")
    return (
        '<table class="gw-accuracy"><caption>Accuracy (fraction of samples classified '
        "correctly); condition = benchmark[-severity]@sparsity</caption>"
        f"<thead><tr><th>model</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _header(cube: GeometryCube, title: str) -> str:
    m, ly, k, n = cube.shape.values()
    bench = [b for b in cube.benchmarks if b != "clean"]
    return (
        f"<h1>{html.escape(title)}</h1>"
        f'<p class="gw-note">{m} model(s) × {ly} layer(s) × {k} condition(s) × {n} samples'
        f"{' of ' + html.escape(cube.dataset) if cube.dataset else ''}. "
        f"Sparsities {', '.join(f'{s:g}' for s in cube.sparsities)}; "
        f"benchmarks: {html.escape(', '.join(bench) or 'clean only')}. "
        "Angle: between a sample's features and its true class's direction (radians); "
        "L2: the feature norm; margin: signed distance to the decision boundary.</p>"
    )


def report_html(cube: GeometryCube, *, title: str = "geowidget report",
                n_boot: int = 1000) -> tuple[str, list[Any]]:
    """The report's table section (HTML) and the Explorer views to export after it."""
    from geowidget.widgets import Explorer

    parts = [_header(cube, title), "<h2>Accuracy</h2>", accuracy_table(cube)]
    tables = correlation_tables(cube, n_boot=n_boot)
    if tables:
        parts.append("<h2>Correlation tables</h2>")
        parts.append(
            '<p class="gw-note">Robustness: fraction of (corruption, severity) pairs under '
            "which a sample stays correctly classified. Vulnerability: fraction of sparsity "
            "levels at which the pruned model's prediction differs from the dense one. "
            "Per (model, sparsity), r over the samples, 95% bootstrap CI in brackets.</p>"
        )
        parts.extend(t._repr_html_() for t in tables.values())
    parts.append("<h2>Explorer</h2>")
    parts.append(
        '<p class="gw-note">Polar plot (angle, norm), margin histogram, parallel coordinates'
        + (", model map" if len(cube.models) > 1 else "")
        + " and the sample panel, linked: a box or lasso selection in one view selects the "
        "same samples in the others; the pickers switch model, layer and condition.</p>"
    )
    explorer = Explorer(cube)
    return "".join(parts), explorer.views()


def write_report(
    cube: GeometryCube | str | Path,
    path: str | Path,
    *,
    title: str = "geowidget report",
    n_boot: int = 1000,
) -> Path:
    """Write a standalone, interactive HTML report of ``cube`` (see the module doc).

    Parameters
    ----------
    cube : GeometryCube, or str or Path of a Parquet file written by ``cube.to_parquet``
        The data.
    path : str or Path
        Output HTML file.
    title : str
        Page title and heading (escaped).
    n_boot : int
        Bootstrap resamples of the correlation tables' confidence intervals.

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> from geowidget.demo import demo_cube
    >>> write_report(demo_cube(), "report.html")      # doctest: +SKIP
    PosixPath('report.html')
    """
    from geowidget.cube import GeometryCube
    from geowidget.widgets.export import write_html

    out = Path(path)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"report path must end in .html or .htm, got {str(out)!r}")
    if isinstance(cube, str | Path):
        cube = GeometryCube.from_parquet(str(cube))
    if not isinstance(cube, GeometryCube):
        raise TypeError(
            f"cube must be a GeometryCube or the path of its Parquet file, got "
            f"{type(cube).__name__}"
        )
    if not isinstance(n_boot, int | np.integer) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive int, got {n_boot!r}")
    section, views = report_html(cube, title=title, n_boot=int(n_boot))
    write_html(views, out, title, show_controls=True)
    page = out.read_text(encoding="utf-8")
    if page.count(_ROOT) != 1:
        raise RuntimeError("the widgets' HTML template changed: no single geowidget-root div")
    page = page.replace("</head>", _STYLE + "</head>", 1).replace(
        _ROOT, f'<div class="gw-report">{section}</div>{_ROOT}', 1
    )
    out.write_text(page, encoding="utf-8")
    return out


__all__ = ["accuracy_table", "correlation_tables", "report_html", "write_report"]
