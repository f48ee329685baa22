"""The demo zoo: architectures, seeded training, MPT-like subnetworks, shipped weights."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from geowidget import zoo
from geowidget.zoo.build import WEIGHTS_DIR, spec, train_one
from geowidget.zoo.models import build_model, lenet, mlp, wide_cnn
from geowidget.zoo.mpt import find_subnetwork, topk_mask, weight_density
from geowidget.zoo.training import accuracy, train_classifier


@pytest.fixture(scope="module")
def probe():
    return zoo.probe_data()


@pytest.fixture(scope="module")
def small_train():
    data = zoo.train_data()  # sorted by class: take every 6th digit for a balanced subset
    return data.images[::6], data.labels[::6]


# ------------------------------------------------------------------ architectures
@pytest.mark.parametrize("build", [lambda: mlp(32, seed=0), lambda: lenet(seed=0),
                                   lambda: wide_cnn(8, seed=0)])
def test_penultimate_layer_feeds_the_head(build):
    model = build()
    seen = {}
    pen = model.get_submodule(model.penultimate_layer)
    h1 = pen.register_forward_hook(lambda m, i, o: seen.__setitem__("pen", o.clone()))
    h2 = model.fc.register_forward_pre_hook(lambda m, i: seen.__setitem__("fc_in", i[0].clone()))
    out = model(torch.rand(3, 1, 28, 28))
    h1.remove()
    h2.remove()
    assert out.shape == (3, 10)
    assert torch.equal(seen["pen"].flatten(1), seen["fc_in"])
    assert seen["pen"].shape == (3, model.fc.in_features)


def test_seeded_construction_is_reproducible_and_leaves_global_rng():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b = wide_cnn(8, seed=4), wide_cnn(8, seed=4)
    assert torch.equal(torch.rand(1), before)  # global RNG untouched
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not torch.equal(mlp(16, seed=0).fc.weight, mlp(16, seed=1).fc.weight)


def test_architecture_errors_name_the_bad_value():
    with pytest.raises(ValueError, match=r"width must be a positive int, got 0"):
        mlp(0)
    with pytest.raises(ValueError, match=r"unknown architecture 'resnet'.*'lenet'"):
        build_model("resnet")
    with pytest.raises(ValueError, match="lenet has a fixed width"):
        build_model("lenet", 64)


# ------------------------------------------------------------------ training
def test_training_is_deterministic(small_train):
    x, y = small_train[0][:128], small_train[1][:128]
    a = train_classifier(mlp(16, seed=0), x, y, epochs=1, batch_size=32, seed=5)
    b = train_classifier(mlp(16, seed=0), x, y, epochs=1, batch_size=32, seed=5)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not a.training and len(a.train_history) == 1


def test_training_learns(small_train, probe):
    x, y = small_train
    a = train_classifier(mlp(32, seed=0), x, y, epochs=4, batch_size=64, seed=5)
    assert len(a.train_history) == 4 and a.train_history[3] < a.train_history[0]
    # accuracy() against a direct count
    with torch.no_grad():
        pred = a(probe.images).argmax(1)
    direct = float((pred == probe.labels).float().mean())
    assert accuracy(a, *probe.as_pair()) == pytest.approx(direct)
    assert direct > 0.5  # chance is 0.1


def batches_seen(images, labels, **kw) -> list[torch.Tensor]:
    """The batches train_classifier feeds the model, recorded by a forward pre-hook."""
    model = mlp(8, seed=0)
    seen: list[torch.Tensor] = []
    model.register_forward_pre_hook(lambda m, i: seen.append(i[0].detach().clone()))
    train_classifier(model, images, labels, **kw)
    return seen


def clipped_normal_std(sigma: float, a: float) -> float:
    """Standard deviation of clip(sigma * z, -a, a), z standard normal (closed form)."""
    c = a / sigma
    phi = math.exp(-c * c / 2) / math.sqrt(2 * math.pi)
    inside = math.erf(c / math.sqrt(2))  # P(|z| < c)
    return math.sqrt(sigma**2 * (inside - 2 * c * phi) + a**2 * (1 - inside))


def test_noise_and_seed_change_the_result():
    # The data pipeline is checked directly, not through the weights: one Adam step is nearly
    # lr * sign(g), so another order or noise need not change any weight.
    n, size = 96, 32
    ids = torch.arange(n, dtype=torch.float32) / n  # image i is the constant i / n
    images = ids[:, None, None, None].expand(n, 1, 28, 28).contiguous()
    labels = torch.arange(n) % 10
    orders = {}
    for seed in (0, 1):
        seen = batches_seen(images, labels, epochs=2, batch_size=size, seed=seed)
        assert [len(b) for b in seen] == [size] * (2 * n // size)
        order = torch.cat([b[:, 0, 0, 0] for b in seen]) * n
        epochs = order.round().long().view(2, n)
        assert torch.allclose(order, epochs.flatten().float(), atol=1e-4)  # clean images
        for epoch in epochs:  # each epoch a permutation of all samples, in its own order
            assert sorted(epoch.tolist()) == list(range(n))
        assert not torch.equal(epochs[0], epochs[1])
        orders[seed] = epochs
    # two seeds, two orders (equal with probability 1 / 96!); each seed's order is its own
    assert (orders[0] != orders[1]).float().mean() > 0.5
    again = batches_seen(images, labels, epochs=2, batch_size=size, seed=0)
    again_order = (torch.cat([b[:, 0, 0, 0] for b in again]) * n).round().long()
    assert torch.equal(again_order, orders[0].flatten())
    # noise: on images of constant 0.5 the model sees 0.5 + clip(0.3 z, -0.5, 0.5)
    flat = torch.full((n, 1, 28, 28), 0.5)
    diff = torch.cat(batches_seen(flat, labels, epochs=1, batch_size=size, seed=0,
                                  noise_std=0.3)) - 0.5
    assert diff.numel() == n * 784 and diff.abs().max() <= 0.5
    # 75,264 values: the sample std has a standard error of 0.3 %; 3 % is far beyond chance
    assert float(diff.std()) == pytest.approx(clipped_normal_std(0.3, 0.5), rel=0.03)
    assert abs(float(diff.mean())) < 0.01  # symmetric noise, SE 0.001
    other = torch.cat(batches_seen(flat, labels, epochs=1, batch_size=size, seed=1,
                                   noise_std=0.3)) - 0.5
    assert (other != diff).float().mean() > 0.99  # another seed, other noise
    clean = torch.cat(batches_seen(flat, labels, epochs=1, batch_size=size, seed=0))
    assert torch.equal(clean, flat)  # noise_std=0: the images untouched


def test_training_errors():
    x = torch.rand(4, 1, 28, 28)
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\).*got \(3,\)"):
        train_classifier(mlp(8), x, torch.zeros(3, dtype=torch.long))
    with pytest.raises(TypeError, match="labels must be an integer tensor, got dtype torch.float32"):
        train_classifier(mlp(8), x, torch.zeros(4))
    with pytest.raises(ValueError, match="noise_std must be >= 0, got -1"):
        train_classifier(mlp(8), x, torch.zeros(4, dtype=torch.long), noise_std=-1)
    with pytest.raises(ValueError, match="epochs must be a positive int, got 0"):
        train_classifier(mlp(8), x, torch.zeros(4, dtype=torch.long), epochs=0)


# ------------------------------------------------------------------ MPT-like subnetworks
def test_topk_mask_matches_a_brute_force_ranking():
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(7, 11, generator=gen)
    for keep in (0.1, 0.5, 0.93):
        mask = topk_mask(scores, keep).numpy()
        k = int(np.ceil(keep * scores.numel()))
        mags = np.abs(scores.numpy()).ravel()
        threshold = np.sort(mags)[::-1][k - 1]
        assert mask.sum() == k
        np.testing.assert_array_equal(mask.ravel() == 1, mags >= threshold)


def test_subnetwork_keeps_random_binary_weights_and_learns(small_train, probe):
    x, y = small_train
    net = find_subnetwork(mlp(64, seed=0), x, y, keep=0.3, epochs=5, seed=0)
    assert weight_density(net) == pytest.approx(0.3, abs=1e-3)
    for layer in (net.fc1, net.fc2, net.fc):
        w = layer.weight.detach()
        k = int(np.ceil(0.3 * w.numel()))
        assert int((w != 0).sum()) == k  # exactly keep per layer
        magnitudes = w[w != 0].abs()
        # biprop: one alpha per layer; signed-constant init: alpha = sqrt(2 / fan_in)
        assert torch.allclose(magnitudes, torch.full_like(magnitudes, (2 / w.shape[1]) ** 0.5))
        assert torch.count_nonzero(layer.bias) == 0
    # the random weights were never trained, yet the subnetwork classifies well above chance
    assert accuracy(net, *probe.as_pair()) > 0.5
    # same seed, same subnetwork
    one = find_subnetwork(mlp(16, seed=0), x[:64], y[:64], keep=0.3, epochs=1, seed=0)
    two = find_subnetwork(mlp(16, seed=0), x[:64], y[:64], keep=0.3, epochs=1, seed=0)
    assert torch.equal(one.fc1.weight, two.fc1.weight)


def test_subnetwork_non_binary_keeps_original_weights(small_train):
    x, y = small_train
    base = lenet(seed=0)
    net = find_subnetwork(base, x[:128], y[:128], keep=0.5, binary=False, init="model", epochs=1)
    for name in ("conv1", "conv2", "fc1", "fc2", "fc"):
        w, w0 = net.get_submodule(name).weight, base.get_submodule(name).weight
        kept = w != 0
        assert torch.equal(w[kept], w0[kept])  # kept weights are the model's own, untouched
        assert int(kept.sum()) == int(np.ceil(0.5 * w.numel()))


def test_subnetwork_errors():
    x, y = torch.rand(4, 1, 28, 28), torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match=r"keep must be in \(0, 1\], got 0"):
        find_subnetwork(mlp(8), x, y, keep=0)
    with pytest.raises(ValueError, match="unknown init 'xavier'"):
        find_subnetwork(mlp(8), x, y, init="xavier")
    with pytest.raises(ValueError, match="no nn.Linear or nn.Conv2d"):
        find_subnetwork(torch.nn.Flatten(), x, y)


# ------------------------------------------------------------------ shipped zoo
def test_shipped_zoo_is_complete_small_and_loads_safely():
    names = zoo.names()
    archs = {zoo.info(n)["arch"] for n in names}
    assert archs == {"mlp", "lenet", "wide_cnn", "vit"}
    for arch in archs - {"vit"}:  # two seeds each (one tiny ViT)
        seeds = {zoo.info(n)["seed"] for n in names if zoo.info(n)["arch"] == arch
                 and zoo.info(n)["training"] == "standard"}
        assert len(seeds) >= 2
    trainings = [zoo.info(n)["training"] for n in names]
    assert trainings.count("noise") >= 1 and trainings.count("mpt") == 1
    total = sum((WEIGHTS_DIR / f"{n}.pt").stat().st_size for n in names + zoo.runs())
    assert total <= 10 * 2**20
    for n in names:
        state = torch.load(WEIGHTS_DIR / f"{n}.pt", weights_only=True)
        assert all(isinstance(v, torch.Tensor) for v in state.values())
    for n in zoo.runs():  # {step: state dict}
        states = torch.load(WEIGHTS_DIR / f"{n}.pt", weights_only=True)
        assert list(states) == zoo.info(n)["checkpoints"]
        assert all(isinstance(v, torch.Tensor) for st in states.values() for v in st.values())
    with pytest.raises(KeyError, match=r"unknown zoo model 'vgg'; models: \[.*'lenet-s0'.*\] \(zoo.load\), "
                                      r"training runs: \['lenet-run-s2'\] \(zoo.load_run\)"):
        zoo.load("vgg")


def test_shipped_models_match_their_manifest(probe):
    manifest = json.loads((WEIGHTS_DIR / "manifest.json").read_text())
    for name, model in zoo.load_all().items():
        assert not model.training
        assert model.zoo_info["arch"] == manifest[name]["arch"]
        assert accuracy(model, *probe.as_pair()) == pytest.approx(
            manifest[name]["test_accuracy"], abs=1e-4
        )
        assert manifest[name]["test_accuracy"] > 0.85
        assert weight_density(model) == pytest.approx(manifest[name]["density"], abs=1e-4)
    mpt = zoo.load("wide_cnn-mpt-s0")
    assert weight_density(mpt) == pytest.approx(0.5, abs=1e-3)


def test_noise_trained_model_resists_heavy_gaussian_noise(probe):
    from geowidget.engine.corruptions import corrupt

    noisy = corrupt(probe.images[::3], "gaussian_noise", 5, preset="imagenet")  # sigma 0.38
    labels = probe.labels[::3]
    acc = {n: accuracy(zoo.load(n), noisy, labels)
           for n in ("wide_cnn-s0", "wide_cnn-s1", "wide_cnn-noise-s0")}
    assert zoo.info("wide_cnn-noise-s0")["noise_std"] == 0.3
    assert acc["wide_cnn-noise-s0"] > max(acc["wide_cnn-s0"], acc["wide_cnn-s1"]) + 0.15


def test_rebuilding_a_recipe_reproduces_the_shipped_weights():
    recipe = spec("mlp-s0")
    data = zoo.train_data()
    model = train_one(recipe, *data.as_pair())
    shipped = zoo.load("mlp-s0")
    for (k, a), b in zip(model.state_dict().items(), shipped.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-4, msg=k)


def test_cli_lists_the_zoo(capsys):
    from geowidget.zoo.__main__ import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(zoo.names())
    assert out[0].startswith("mlp-s0") and "acc=0." in out[0]


# ------------------------------------------------------------------ the tiny ViT and the run
def test_vit_is_torchvisions_vision_transformer_on_digits(probe):
    from torchvision.models.vision_transformer import VisionTransformer

    from geowidget.engine.features import extract_features
    from geowidget.engine.head import find_head
    from geowidget.zoo.models import vit

    model = zoo.load("vit-s0")
    assert isinstance(model, VisionTransformer) and zoo.info("vit-s0")["width"] <= 64
    assert len(model.encoder.layers) <= 4 and model.patch_size == 7
    assert find_head(model)[2] == model.penultimate_layer == "heads.head:input"
    x = probe.images[:8]
    feats = extract_features(model, x, ["encoder", "heads.head:input"],
                             tokens={"encoder": "cls"}, progress=False)
    torch.testing.assert_close(feats["encoder"], feats["heads.head:input"])
    with pytest.raises(ValueError, match="width must be a multiple of 4"):
        vit(30)


def test_on_step_sees_every_step_and_changes_nothing(small_train):
    x, y = small_train[0][:100], small_train[1][:100]
    seen = []
    a = train_classifier(mlp(8, seed=0), x, y, epochs=2, batch_size=32, seed=1,
                         on_step=lambda step, m: seen.append((step, m.training)))
    b = train_classifier(mlp(8, seed=0), x, y, epochs=2, batch_size=32, seed=1)
    assert seen == [(s, True) for s in range(9)]  # step 0, then 2 epochs of 4 batches
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_shipped_run_checkpoints_and_their_rebuild(probe):
    from geowidget.zoo.build import train_run

    assert zoo.runs() == ["lenet-run-s2"]
    desc = zoo.info("lenet-run-s2")
    run = zoo.load_run("lenet-run-s2")
    assert run.steps == desc["checkpoints"] == list(range(0, 141, 14)) and len(run) >= 10
    models = run.models()
    # step 0 is the seeded initial network; the last checkpoint is the trained one
    for a, b in zip(models[0].parameters(), build_model("lenet", seed=2).parameters(),
                    strict=True):
        assert torch.equal(a, b)
    accs = [accuracy(m, *probe.as_pair()) for m in models]
    assert accs[-1] == pytest.approx(desc["test_accuracy"], abs=1e-4) and accs[-1] > 0.85
    assert accs[0] < 0.15 < accs[1] < accs[4] < accs[-1]  # chance at step 0, then it learns
    # one epoch of the recipe reproduces the run's first checkpoints (same seed, same order)
    data = zoo.train_data()
    _, kept = train_run({**spec("lenet-run-s2"), "epochs": 1}, *data.as_pair())
    assert list(kept) == [0, 14, 28]
    for step, state in kept.items():
        shipped = run.state_dict(run.steps.index(step))
        for k, v in state.items():
            torch.testing.assert_close(v, shipped[k], rtol=0, atol=1e-4, msg=f"{step} {k}")
    with pytest.raises(KeyError, match="'lenet-run-s2' is a training run, not a model"):
        zoo.load("lenet-run-s2")
    with pytest.raises(KeyError, match="'lenet-s0' is a model, not a training run"):
        zoo.load_run("lenet-s0")
