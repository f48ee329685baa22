"""The views' sliders in real Chromium (exported pages, no kernel): sparsity over a long grid,
severity over the picked benchmark's severities, and a checkpoint run's step, picked with
the keyboard, named for screen readers, in light and dark themes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import geowidget as gw
from geowidget.testing import random_cube
from tests.browser.gw_page import open_html

SPARSITIES = [round(i / 12, 4) for i in range(12)]
ROOT = ".gw-root[data-kind=polar]"


def trait(page, name):
    return page.evaluate(f"""() => Object.values(window.geowidget.models)
        .find((m) => m.get('_kind') === 'polar').get('{name}')""")


def shoot(page, name):
    shots = os.environ.get("GEOWIDGET_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.locator(f"{ROOT} .gw-bar").first.screenshot(path=str(Path(shots) / f"{name}.png"))


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_sparsity_and_severity_sliders_pick_with_the_keyboard(page, tmp_path, theme):
    cube = random_cube(models=1, layers=1, sparsities=SPARSITIES, corruptions=("fog",),
                       severities=(1, 2, 3, 4, 5), n=30)
    open_html(page, gw.PolarPlot(cube, theme=theme).to_html(tmp_path / "sliders.html"))
    sparsity = page.locator(f"{ROOT} input[data-picker=sparsity]")
    severity = page.locator(f"{ROOT} input[data-picker=severity]")
    assert sparsity.get_attribute("aria-label") == "sparsity"
    assert sparsity.get_attribute("max") == "11"
    assert not severity.is_visible()  # clean has one severity
    page.select_option(f"{ROOT} select[data-picker=benchmark]", "fog")
    assert severity.is_visible() and severity.get_attribute("max") == "4"
    assert severity.get_attribute("aria-valuetext") == "severity 1"
    assert trait(page, "condition") == cube.coords.condition(0.0, "fog", 1)

    severity.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert trait(page, "condition") == cube.coords.condition(0.0, "fog", 3)
    sparsity.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    assert trait(page, "condition") == cube.coords.condition(SPARSITIES[5], "fog", 3)
    shown = page.locator(f"{ROOT} .gw-slider:has(input[data-picker=sparsity]) .gw-slider-value")
    assert shown.inner_text() == f"{100 * SPARSITIES[5]:.0f}%"  # 41.67 %: whole percents part them
    page.keyboard.press("End")
    assert trait(page, "condition") == cube.coords.condition(SPARSITIES[11], "fog", 3)
    assert sparsity.get_attribute("aria-valuetext") == f"sparsity {100 * SPARSITIES[11]:.0f}%"
    shoot(page, f"sliders-fog-{theme}")
    page.select_option(f"{ROOT} select[data-picker=benchmark]", "clean")
    assert not severity.is_visible()
    assert trait(page, "condition") == cube.coords.condition(SPARSITIES[11], "clean", 0)
    shoot(page, f"sliders-{theme}")
    assert page.evaluate(f"document.querySelector('{ROOT}').dataset.theme") == theme

    # a condition off the grid (the kernel refuses one; a page's model could still hold it):
    # the view says so and the sliders stay where they were
    k = len(cube.coords.conditions)
    page.evaluate(f"""() => Object.values(window.geowidget.models)
        .find((m) => m.get('_kind') === 'polar').set('condition', {k})""")
    page.wait_for_function(f"document.querySelector('{ROOT} .gw-msg').textContent.includes("
                           f"'out of range for shape [1, 1, {k}]')")
    assert sparsity.get_attribute("aria-valuetext") == f"sparsity {100 * SPARSITIES[11]:.0f}%"
    assert page.locator(f"{ROOT} select[data-picker=benchmark]").input_value() == "clean"
    assert not page.errors


def test_a_checkpoint_run_is_picked_as_run_and_step(page, tmp_path):
    base = random_cube(models=4, layers=1, n=20)
    cube = base.replace(models=["r/30", "r/0", "r/20", "r/10"],
                        model_info=[{"run": "r", "step": s} for s in (30, 0, 20, 10)])
    open_html(page, gw.PolarPlot(cube, model=1).to_html(tmp_path / "run.html"))
    assert page.locator(f"{ROOT} select[data-picker=model]").count() == 0
    assert page.locator(f"{ROOT} select[data-picker=run] option").all_inner_texts() == ["r"]
    step = page.locator(f"{ROOT} input[data-picker=step]")
    assert step.get_attribute("aria-valuetext") == "step 0"
    step.focus()
    for want in ("r/10", "r/20", "r/30"):
        page.keyboard.press("ArrowRight")
        assert trait(page, "model") == cube.coords.index("model", want)
    assert step.get_attribute("aria-valuetext") == "step 30"
    shoot(page, "sliders-run")
    assert not page.errors
