"""GeometryTracker: what it records (against direct computations), that recording leaves the
model and every random generator untouched, ``every``, and bad input."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest
import torch
from torch import nn

from geowidget.engine.features import extract_features
from geowidget.engine.geometry import geometry
from geowidget.study import GeometryTracker


class Net(nn.Module):
    """Dropout and BatchNorm: both behave differently in train mode, and dropout draws."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(),
                                  nn.Dropout(0.3))
        self.fc = nn.Linear(32, 4)

    def forward(self, x):
        return self.fc(self.body(x))


@pytest.fixture(scope="module")
def data():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(96, 1, 8, 8, generator=gen)
    y = (x.flatten(1) @ torch.randn(64, 4, generator=gen)).argmax(1)  # linearly separable
    return x, y


def train(model, x, y, steps, tracker=None, every_batch=None):
    """A plain training loop; the tracker (if any) records after each step."""
    torch.manual_seed(1)  # dropout and shuffling draw from the global generator
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    snapshots = []
    for step in range(steps):
        idx = torch.randperm(len(x))[:32]
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
        if tracker is not None:
            tracker.step(step)
        snapshots.append(copy.deepcopy(model.state_dict()))
    return snapshots


def test_recording_leaves_the_model_and_the_random_generators_untouched(data):
    x, y = data
    torch.manual_seed(0)
    model = Net()
    model.train()
    model.body[2].eval()  # a frozen BatchNorm: its own flag must survive
    nn.functional.cross_entropy(model(x[:16]), y[:16]).backward()  # grads present
    tracker = GeometryTracker(model, (x, y), layers=["penultimate", "body.1"])
    state = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.grad.clone() for p in model.parameters()]
    flags = [m.training for m in model.modules()]
    hooks = [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in model.modules()]
    np.random.seed(3)  # noqa: NPY002 -- the legacy global generator is what must survive
    random.seed(3)
    torch.manual_seed(3)
    rng = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())  # noqa: NPY002
    assert tracker.step(0)
    assert torch.equal(torch.get_rng_state(), rng[0])
    assert np.array_equal(np.random.get_state()[1], rng[1])  # noqa: NPY002
    assert random.getstate() == rng[2]
    assert [m.training for m in model.modules()] == flags
    assert [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in model.modules()] == hooks
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k  # BatchNorm running statistics included
    for p, g in zip(model.parameters(), grads, strict=True):
        assert torch.equal(p.grad, g)


def test_a_run_with_the_tracker_trains_exactly_like_one_without(data):
    x, y = data
    torch.manual_seed(0)
    a = Net()
    b = copy.deepcopy(a)
    plain = train(a, x, y, 6)
    tracked = train(b, x, y, 6, GeometryTracker(b, (x, y)))
    for sa, sb in zip(plain, tracked, strict=True):
        for k in sa:
            assert torch.equal(sa[k], sb[k]), k


def test_recorded_geometry_equals_a_direct_computation_per_checkpoint(data):
    x, y = data
    torch.manual_seed(0)
    model = Net()
    tracker = GeometryTracker(model, (x, y), every=2, run="net")
    snapshots = train(model, x, y, 7, tracker)
    assert tracker.steps == [0, 2, 4, 6]
    cube = tracker.cube()
    assert cube.models == ["net/0", "net/2", "net/4", "net/6"]
    assert [(i["run"], i["step"]) for i in cube.model_info] == [("net", s) for s in (0, 2, 4, 6)]
    assert cube.shape == {"model": 4, "layer": 1, "condition": 1, "sample": 96}
    check = Net()
    for mi, step in enumerate(tracker.steps):
        check.load_state_dict(snapshots[step])
        feats = extract_features(check, (x, y), ["fc:input"], progress=False)
        logits = feats.logits
        g = geometry(feats["fc:input"], y, check.fc.weight.detach(), check.fc.bias.detach())
        np.testing.assert_allclose(cube.angle[mi, 0, 0], g.angle.numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(cube.margin[mi, 0, 0], g.margin.numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(cube.pred[mi, 0], logits.argmax(1).numpy())
        np.testing.assert_array_equal(cube.correct[mi, 0], (logits.argmax(1) == y).numpy())
    assert cube.correct[-1, 0].mean() > cube.correct[0, 0].mean()  # it learned


def test_every_counts_steps_not_calls(data):
    x, y = data
    tracker = GeometryTracker(Net(), (x, y), every=3)
    recorded = [s for s in (0, 2, 5, 6, 7, 8, 20) if tracker.step(s)]
    assert recorded == tracker.steps == [0, 5, 8, 20]


def test_bad_input(data):
    x, y = data
    tracker = GeometryTracker(Net(), (x, y))
    with pytest.raises(ValueError, match="nothing recorded yet"):
        tracker.cube()
    tracker.step(4)
    with pytest.raises(ValueError, match=r"The 'step' parameter of GeometryTracker.step must be "
                       r"larger than at the previous call \(4\). Got 4 instead \(steps must "
                       r"increase from call to call\)"):
        tracker.step(4)
    with pytest.raises(ValueError, match=r"larger than at the previous call \(4\). Got 2"):
        tracker.step(2)
    with pytest.raises(TypeError, match=r"'step' parameter of GeometryTracker.step must be an int\. "
                                        r"Got 5.5"):
        tracker.step(5.5)
    with pytest.raises(ValueError, match=r"'every' .* an int in \[1, inf\)\. Got 0 instead"):
        GeometryTracker(Net(), (x, y), every=0)
    with pytest.raises(ValueError, match="'run' .* a non-empty name without '/'. Got 'a/b'"):
        GeometryTracker(Net(), (x, y), run="a/b")
    with pytest.raises(TypeError, match="'model' .* a torch.nn.Module. Got 'net' instead"):
        GeometryTracker("net", (x, y))
    with pytest.raises(ValueError, match="layer 'body.9' not in model"):
        GeometryTracker(Net(), (x, y), layers=["body.9"])


def test_the_trackers_cube_equals_a_study_over_the_same_checkpoints(data, tmp_path):
    from geowidget.engine.checkpoints import Checkpoints
    from geowidget.study import Study

    x, y = data
    torch.manual_seed(0)
    model = Net()
    layers = ["penultimate", "body.1"]
    tracker = GeometryTracker(model, (x, y), layers=layers, every=3, run="net")
    snapshots = train(model, x, y, 5, tracker)
    assert tracker.steps == [0, 3]
    paths = []
    for step in tracker.steps:  # saved as a training script would save them
        paths.append(tmp_path / f"ckpt_{step:02d}.pt")
        torch.save(snapshots[step], paths[-1])
    study = Study({"net": Checkpoints(Net(), paths, steps=tracker.steps)}, (x, y), layers=layers,
                  sparsities=(0,), progress=False)
    cube = study.run()
    assert cube.models == ["net/0", "net/3"]
    assert cube.equals(tracker.cube())
    # the (model, checkpoints) shorthand, with state dicts, gives the same cube
    pair = Study({"net": (Net(), {s: snapshots[s] for s in tracker.steps})}, (x, y),
                 layers=layers, sparsities=(0,), progress=False).run()
    assert pair.equals(cube)


def test_a_study_refuses_runs_that_do_not_fit(data):
    from geowidget.study import Study

    x, y = data
    good = Net().state_dict()
    bad = dict(good)
    bad["body.9.weight"] = bad.pop("body.1.weight")
    with pytest.raises(ValueError, match=r"checkpoint 1 at step 1 does not fit Net: missing keys "
                       r"\['body.1.weight'\]; unexpected keys \['body.9.weight'\]"):
        Study({"net": (Net(), [good, bad])}, (x, y), progress=False).run()  # checkpoints load in run()
    other = Net()
    other.fc = nn.Linear(32, 6)
    with pytest.raises(ValueError, match=r"the run's checkpoints disagree in their number of "
                       r"classes \(fc.weight rows\): checkpoint 0 at step 0 has 4, checkpoint 1 "
                       r"at step 1 has 6"):
        Study({"net": (Net(), [good, other.state_dict()])}, (x, y), progress=False).run()  # checkpoints load in run()
    with pytest.raises(TypeError, match=r"'models' parameter of Study must be .*a "
                       r"geowidget.engine.checkpoints.Checkpoints .*its value of 'net' "
                       r"\(\['ckpt_00.pt'\]\) is not"):
        Study({"net": ["ckpt_00.pt"]}, (x, y), progress=False)
