"""Study as scikit-learn's estimators are built: the constructor stores and checks its
parameters and does no work; run() does it. Runners replace backend=/ray_*=, whose old
spelling still works with a DeprecationWarning; the tracker reads a Study's public API only."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from geowidget._validation import InvalidParameterError
from geowidget.cube import Condition
from geowidget.engine.features import extract_features
from geowidget.engine.geometry import geometry
from geowidget.study import GeometryTracker, LocalRunner, RayRunner, Study

ROOT = Path(__file__).resolve().parents[1]
TRACKER = ROOT / "geowidget" / "study" / "tracker.py"


def small_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 3))


def small_data(n: int = 30) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 4, 4, generator=gen)
    return x, torch.arange(n) % 3


class Exploding(nn.Module):
    """A model whose forward raises, counting its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(16, 3)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        raise RuntimeError("forward of the exploding model (value 42)")


class Unreadable(Dataset):
    """Data that raises when it is read, counting every access."""

    def __init__(self) -> None:
        self.reads = 0

    def __len__(self) -> int:
        self.reads += 1
        return 10

    def __getitem__(self, i):
        self.reads += 1
        raise OSError(f"sample {i} of the unreadable data cannot be read")


def test_the_constructor_does_no_work(tmp_path) -> None:
    model, data = Exploding(), Unreadable()
    store = tmp_path / "not" / "yet"
    sparsities, layers = (0.5,), ["fc"]
    study = Study({"boom": model}, data, layers=layers, sparsities=sparsities,
                  corruptions=["fog"], cache_dir=store, progress=False)
    assert model.calls == 0 and data.reads == 0  # no forward pass, no sample, not even len()
    assert not store.exists()  # no file either
    # the parameters are stored under their names, as given (sequences as their declaration
    # converts them: lists)
    assert study.models["boom"] is model and study.data is data
    assert study.sparsities == list(sparsities) and study.layers == layers
    assert study.corruptions == ["fog"] and study.cache_dir == store
    assert isinstance(study.runner, LocalRunner)
    with pytest.raises(OSError, match=r"sample 0 of the unreadable data cannot be read"):
        study.run()
    assert model.calls == 0  # the data is read before any model runs

    x, y = small_data()
    exploding = Study({"boom": model}, (x, y), progress=False)
    assert model.calls == 0
    with pytest.raises(RuntimeError, match=r"forward of the exploding model \(value 42\)"):
        exploding.run()
    assert model.calls == 1


def test_errors_that_need_the_data_or_a_model_come_from_run_naming_the_value() -> None:
    x, y = small_data()
    one = nn.Sequential(nn.Flatten(), nn.Linear(16, 1))
    study = Study({"one": one}, (x, y), progress=False)  # made: nothing is run yet
    with pytest.raises(InvalidParameterError, match=r"'models' parameter of Study must be "
                       r"classifiers whose logits are \[N, C\] with C >= 2 classes\. Got "
                       r"\{'one': 'Sequential'\} instead \(model 'one' returns logits of "
                       r"shape \(1, 1\)\)"):
        study.run()
    bad = Study({"n": small_net()}, (x, y + 5), sparsities=(), progress=False)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\) for 3-class models, "
                       r"got range \[5, 7\]"):
        bad.run()
    # parameters alone are still refused when the study is made
    with pytest.raises(InvalidParameterError, match=r"'grid' parameter of Study .*\[0.0, "
                       r"0.5\]\. Got \[0.0, 0.3\] instead"):
        Study({"n": small_net()}, (x, y), sparsities=(0.5,), grid=[0.3])
    with pytest.raises(InvalidParameterError, match=r"'tokens' parameter of Study must be a "
                       r"dict over the requested layers \['penultimate'\]"):
        Study({"n": small_net()}, (x, y), tokens={"1": "cls"})
    with pytest.raises(InvalidParameterError, match=r"'tokens' parameter of Study .*Got 3"):
        Study({"n": small_net()}, (x, y), tokens=3)


def test_the_plan_is_resolved_once_and_matches_the_data() -> None:
    x, y = small_data()
    study = Study([small_net(0), small_net(1)], (x, y), layers=["penultimate", "1"],
                  sparsities=(0.5,), corruptions=["fog"], severities=(2,), progress=False)
    plan = study.plan
    assert study.plan is plan  # cached
    assert list(plan.models) == ["model0", "model1"] and plan.n == 30
    assert plan.num_classes == 3 and plan.class_names == ["0", "1", "2"]
    assert plan.layers == ["1", "penultimate"]  # by depth, the head's input last
    assert [c.label for c in plan.conditions] == ["clean@0", "clean@0.5", "fog-2@0",
                                                  "fog-2@0.5"]
    assert plan.probed.tolist() == [[True, False], [True, False]]
    assert study.conditions == plan.conditions
    assert study.part_stats == {"outputs": {"computed": 0, "cached": 0},
                                "layers": {"1": {"computed": 0, "cached": 0},
                                           "penultimate": {"computed": 0, "cached": 0}}}


def test_one_cell_is_the_cell_run_computes() -> None:
    """Study._cell computes one (model, layer, condition): the cube's cell, and the
    geometry of the head on the model's own features."""
    x, y = small_data()
    net = small_net()
    study = Study({"n": net}, (x, y), sparsities=(0.5,), corruptions=["fog"], severities=(2,),
                  shard_size=12, progress=False)
    cube = study.run()
    with torch.no_grad():
        feats = extract_features(net, x, "3:input", progress=False)["3:input"]
        direct = geometry(feats, y, net[3].weight, net[3].bias).to_numpy()
        pred = net(x).argmax(1).numpy()
    cell = study._cell("n", "penultimate", Condition())
    np.testing.assert_allclose(cell["angle"], direct["angle"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cell["margin"], direct["margin"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(cell["pred"], pred)
    for cond in cube.conditions:
        cell = study._cell("n", "penultimate", cond)
        k = cube.conditions.index(cond)
        for name in ("angle", "norm", "margin"):
            np.testing.assert_allclose(cell[name], getattr(cube, name)[0, 0, k], rtol=1e-6,
                                       atol=1e-6)
        np.testing.assert_array_equal(cell["pred"], cube.pred[0, k])
        np.testing.assert_array_equal(cell["correct"], cube.correct[0, k])


# ---------------------------------------------------------------------------- runners
def test_backend_aliases_warn_and_give_the_runner_s_cube() -> None:
    x, y = small_data()
    kw = dict(sparsities=(0.5,), corruptions=["fog"], severities=(2,), progress=False)
    new = Study({"n": small_net()}, (x, y), runner=LocalRunner(), **kw).run()
    with pytest.warns(DeprecationWarning, match=r"Study\(backend='local'\) is deprecated .*"
                      r"pass runner=LocalRunner\(\)"):
        old = Study({"n": small_net()}, (x, y), backend="local", **kw)
    assert isinstance(old.runner, LocalRunner)
    assert old.run().equals(new, rtol=1e-6, atol=1e-6)

    with pytest.warns(DeprecationWarning, match=r"Study\(backend='ray', ray_address='auto', "
                      r"ray_remote_args=\{'num_gpus': 1\}\) is deprecated .*pass "
                      r"runner=RayRunner\(address='auto', remote_args=\{'num_gpus': 1\}\)"):
        ray = Study({"n": small_net()}, (x, y), backend="ray", ray_address="auto",
                    ray_remote_args={"num_gpus": 1}, cache_dir="shared/store")
    assert isinstance(ray.runner, RayRunner)
    assert (ray.runner.address, ray.runner.remote_args) == ("auto", {"num_gpus": 1})
    assert repr(ray.runner) == "RayRunner(address='auto', remote_args={'num_gpus': 1})"


def test_runner_mistakes_are_named() -> None:
    x, y = small_data()
    with pytest.raises(InvalidParameterError, match=r"'runner' parameter of Study must be the "
                       r"only way the runner is given \(the deprecated backend= give it too\)"):
        Study({"n": small_net()}, (x, y), runner=RayRunner(), backend="ray")
    with pytest.raises(InvalidParameterError, match=r"'runner' parameter of Study must be None "
                       r"or a geowidget.study.runners.LocalRunner or a geowidget.study.runners.RayRunner\. "
                       r"Got 'ray' instead"):
        Study({"n": small_net()}, (x, y), runner="ray")
    with pytest.raises(InvalidParameterError, match=r"'cache_dir' parameter of Study must be a "
                       r"unit store that every node of the cluster can reach .*address='auto'"):
        Study({"n": small_net()}, (x, y), runner=RayRunner(address="auto"))
    with pytest.raises(InvalidParameterError, match=r"'max_workers' parameter of RayRunner"):
        RayRunner(max_workers=0)


def test_ray_is_imported_by_run_not_by_the_constructor() -> None:
    code = ("import sys, torch; from geowidget.study import Study, RayRunner; "
            "s = Study(torch.nn.Linear(2, 2), (torch.rand(4, 2), torch.arange(4) % 2), "
            "runner=RayRunner()); print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "False", out.stderr


# ---------------------------------------------------------------------------- tracker
def test_tracker_probe_data_alias_warns_and_records_the_same() -> None:
    x, y = small_data()
    new = GeometryTracker(small_net(), data=(x, y), run="r")
    with pytest.warns(DeprecationWarning, match=r"GeometryTracker\(probe_data=\.\.\.\) is "
                      r"deprecated .*pass data=\.\.\."):
        old = GeometryTracker(small_net(), probe_data=(x, y), run="r")
    for tracker in (new, old):
        tracker.step(0)
    assert old.cube().equals(new.cube(), rtol=1e-6, atol=1e-6)
    with pytest.raises(TypeError, match="both data= and its deprecated alias probe_data="):
        GeometryTracker(small_net(), (x, y), probe_data=(x, y))
    with pytest.raises(TypeError, match="missing 1 required argument: 'data'"):
        GeometryTracker(small_net())


def test_the_old_tracker_module_still_imports_with_a_warning() -> None:
    import geowidget.tracker as old

    with pytest.warns(DeprecationWarning, match=r"import it from geowidget.study.tracker"):
        assert old.GeometryTracker is GeometryTracker


def study_misuses(source: str) -> list[str]:
    """What ``source`` (the tracker module) does to a Study beyond its public API: private
    attributes read, and writes into the Study or anything reached through it.

    A Study is ``self._study``; a name bound to an expression that reaches through a Study
    (``plan = self._study.plan``) counts as the Study too."""
    tree = ast.parse(source)
    reached: set[str] = set()

    def through_study(node: ast.AST) -> bool:
        while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
            if isinstance(node, ast.Attribute) and node.attr == "_study" and isinstance(
                    node.value, ast.Name) and node.value.id == "self":
                return True
            node = node.func if isinstance(node, ast.Call) else node.value
        return isinstance(node, ast.Name) and node.id in reached

    def bindings(node: ast.AST) -> list[tuple[ast.AST, ast.AST]]:
        """(target, value) pairs an assignment binds, tuples unpacked element by element."""
        if not isinstance(node, ast.Assign):
            return []
        pairs = []
        for target in node.targets:
            if (isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
                    and len(target.elts) == len(node.value.elts)):
                pairs += zip(target.elts, node.value.elts, strict=True)
            else:
                pairs.append((target, node.value))
        return pairs

    changed = True
    while changed:  # names bound through a Study, to a fixed point
        changed = False
        for node in ast.walk(tree):
            for target, value in bindings(node):
                if (isinstance(target, ast.Name) and through_study(value)
                        and target.id not in reached):
                    reached.add(target.id)
                    changed = True
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and through_study(node.value)):
            found.append(f"line {node.lineno}: reads .{node.attr}")
        targets = (node.targets if isinstance(node, ast.Assign | ast.Delete) else
                   [node.target] if isinstance(node, ast.AugAssign | ast.AnnAssign) else [])
        for target in targets:
            if isinstance(target, ast.Attribute | ast.Subscript) and through_study(target.value):
                found.append(f"line {node.lineno}: writes {ast.unparse(target)}")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"update", "setdefault", "pop", "popitem", "clear",
                                       "append", "extend", "insert", "remove", "__setitem__"}
                and through_study(node.func.value)):
            found.append(f"line {node.lineno}: calls {ast.unparse(node.func)}")
    return sorted(set(found))


def test_the_tracker_uses_the_study_s_public_api_only() -> None:
    assert study_misuses(TRACKER.read_text(encoding="utf-8")) == []
    # the check finds what the tracker did before it moved (written as it was)
    before = textwrap.dedent("""
        def _record(self, step):
            study, name = self._study, self.run
            study.device = next(p.device for p in self.model.parameters())
            study.model_fp[name] = fingerprint(*self.model.state_dict().values())
            study.runs[name] = (self.run, step)
            info = study._info(name)
            probed = self._study._probed()
            self._study.stats.update(x=1)
    """).strip()
    assert study_misuses(before) == [
        "line 3: writes study.device", "line 4: writes study.model_fp[name]",
        "line 5: writes study.runs[name]", "line 6: reads ._info", "line 7: reads ._probed",
        "line 8: calls self._study.stats.update"]


def test_no_deprecation_warning_from_the_new_spellings() -> None:
    x, y = small_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        Study({"n": small_net()}, (x, y), runner=RayRunner(remote_args={"num_cpus": 1}))
        GeometryTracker(small_net(), (x, y)).step(0)
