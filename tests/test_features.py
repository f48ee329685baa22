"""extract_features and geometry_from_model against hand-written forward passes."""

from __future__ import annotations

import warnings

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from geowidget.engine.features import Features, extract_features, get_layer_names
from geowidget.engine.geometry import geometry
from geowidget.engine.head import find_head, geometry_from_model


def model_state(model: nn.Module):
    """Everything extraction must leave untouched: weights, flags and hooks."""
    return (
        {k: v.clone() for k, v in model.state_dict().items()},
        [m.training for m in model.modules()],
        [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in model.modules()],
    )


def assert_unchanged(model: nn.Module, before) -> None:
    after = model_state(model)
    assert before[1] == after[1], "train/eval flags changed"
    assert before[2] == after[2], "hooks were left behind"
    for k, v in before[0].items():
        assert torch.equal(v, after[0][k]), f"weight {k} changed"


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10)
    model.train()  # a user's model in train mode must come back in train mode
    model.layer2.eval()  # ... with its per-module flags intact
    return model


def test_resnet18_layers_equal_a_hand_written_forward(resnet):
    x = torch.randn(10, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    before = model_state(resnet)
    feats = extract_features(
        resnet, x, ["layer3", "layer1.0.add", "flatten", "fc:input"], batch_size=4,
        progress=False,
    )
    labels, logits = feats.labels, feats.logits
    assert_unchanged(resnet, before)
    m = resnet
    flags = [mod.training for mod in m.modules()]
    m.eval()
    with torch.no_grad():
        h = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        blk = m.layer1[0]
        add = blk.bn2(blk.conv2(blk.relu(blk.bn1(blk.conv1(h))))) + h  # before the block's last ReLU
        l3 = m.layer3(m.layer2(m.layer1(h)))
        pooled = torch.flatten(m.avgpool(m.layer4(l3)), 1)
        out = m.fc(pooled)
    for mod, flag in zip(m.modules(), flags, strict=True):
        mod.training = flag
    assert labels is None
    torch.testing.assert_close(feats["layer3"], l3.flatten(1))
    torch.testing.assert_close(feats["layer1.0.add"], add.flatten(1))
    torch.testing.assert_close(feats["flatten"], pooled)
    torch.testing.assert_close(feats["fc:input"], pooled)
    torch.testing.assert_close(logits, out)


class InplaceNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def test_inplace_relu_does_not_overwrite_captured_features():
    torch.manual_seed(2)
    model = InplaceNet()
    x = torch.randn(12, 6)
    feats = extract_features(model, x, ["fc1", "act"], progress=False)
    with torch.no_grad():
        pre = x @ model.fc1.weight.T + model.fc1.bias
    assert (pre < 0).any(), "the test needs negative pre-activations to be meaningful"
    torch.testing.assert_close(feats["fc1"], pre)
    torch.testing.assert_close(feats["act"], pre.clamp_min(0))


class Untraceable(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(5, 7)
        self.fc = nn.Linear(7, 4)

    def forward(self, x):
        h = self.body(x)
        if h.sum() > 0:  # fx: symbolically traced variables cannot be used as inputs to control flow
            h = h * 2
        return self.fc(torch.tanh(h))


def test_model_fx_cannot_trace_falls_back_to_hooks():
    torch.manual_seed(3)
    model = Untraceable()
    x = torch.randn(9, 5)
    assert get_layer_names(model) == ["body", "fc"]  # no graph names: tracing fails
    feats = extract_features(model, x, ["body", "fc:input"], batch_size=4, progress=False)
    with torch.no_grad():
        expected_inputs = []
        for start in range(0, 9, 4):  # the branch is decided per batch
            h = model.body(x[start : start + 4])
            expected_inputs.append(torch.tanh(h * 2 if h.sum() > 0 else h))
    torch.testing.assert_close(feats["body"], model.body(x).detach())
    torch.testing.assert_close(feats["fc:input"], torch.cat(expected_inputs))


class Reused(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = nn.Linear(4, 4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.block(torch.relu(self.block(x))))


def test_reused_module_warns_and_graph_names_pick_each_call():
    torch.manual_seed(4)
    model = Reused()
    x = torch.randn(6, 4)
    with torch.no_grad():
        first = model.block(x)
        second = model.block(torch.relu(first))
    with pytest.warns(RuntimeWarning, match="ran 2 times in one forward pass"):
        feats = extract_features(model, x, ["block"], progress=False)
    torch.testing.assert_close(feats["block"], second)
    assert {"block", "block_1"} <= set(get_layer_names(model))
    by_node = extract_features(model, x, ["block", "block_1"], progress=False)
    torch.testing.assert_close(by_node["block"], first)
    torch.testing.assert_close(by_node["block_1"], second)


@pytest.mark.parametrize("form", ["pair", "dataset", "loader", "imagedata"])
def test_every_data_form_gives_the_same_features_and_labels(form):
    torch.manual_seed(5)
    model = InplaceNet()
    x, y = torch.randn(11, 6), torch.randint(0, 3, (11,))
    data = {
        "pair": (x, y),
        "dataset": TensorDataset(x, y),
        "loader": DataLoader(TensorDataset(x, y), batch_size=3),
        "imagedata": type("D", (), {"images": x, "labels": y})(),
    }[form]
    feats = extract_features(model, data, "fc1", batch_size=5, progress=False)
    labels, logits = feats.labels, feats.logits
    torch.testing.assert_close(feats["fc1"], model.fc1(x).detach())
    assert torch.equal(labels, y)
    torch.testing.assert_close(logits, model(x).detach())


def test_one_return_type_and_the_deprecated_return_outputs():
    import pickle

    torch.manual_seed(7)
    model = InplaceNet()
    x, y = torch.randn(9, 6), torch.randint(0, 3, (9,))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no switch given: no warning
        plain = extract_features(model, x, "fc1", progress=False)
        paired = extract_features(model, (x, y), ["fc1"], progress=False)
        early = extract_features(model, (x, y), ["fc1"], progress=False, stop_early=True)
    for out in (plain, paired, early):
        assert type(out) is Features and isinstance(out, dict) and list(out) == ["fc1"]
        torch.testing.assert_close(out["fc1"], model.fc1(x).detach())
    assert plain.labels is None and torch.equal(paired.labels, y)
    torch.testing.assert_close(plain.logits, model(x).detach())
    assert early.logits is None  # the pass stopped after fc1
    back = pickle.loads(pickle.dumps(paired))  # crosses processes (Ray) whole
    assert torch.equal(back["fc1"], paired["fc1"]) and torch.equal(back.logits, paired.logits)
    # the old switch: the old tuple for one release, with a warning naming the new spelling
    with pytest.warns(DeprecationWarning, match=r"out.labels, out.logits") as record:
        feats, labels, logits = extract_features(model, (x, y), "fc1", progress=False,
                                                 return_outputs=True)
    assert record[0].filename == __file__
    assert torch.equal(feats["fc1"], paired["fc1"]) and torch.equal(labels, y)
    torch.testing.assert_close(logits, model(x).detach())
    with pytest.warns(DeprecationWarning, match="return_outputs=...\\) is deprecated"):
        assert type(extract_features(model, x, "fc1", progress=False,
                                     return_outputs=False)) is Features


def test_geometry_from_model_uses_head_input_and_head_weights():
    torch.manual_seed(6)
    model = InplaceNet()
    x, y = torch.randn(20, 6), torch.randint(0, 3, (20,))
    geo = geometry_from_model(model, (x, y), progress=False)
    with torch.no_grad():
        h = model.act(model.fc1(x))
    ref = geometry(h, y, model.fc2.weight.detach(), model.fc2.bias.detach())
    torch.testing.assert_close(geo.margin, ref.margin)
    torch.testing.assert_close(geo.angle, ref.angle)
    assert find_head(model)[0] == "fc2" and find_head(model)[2] == "fc2:input"


def test_find_head_on_torchvision_conventions():
    assert find_head(torchvision.models.resnet18())[0] == "fc"
    assert find_head(torchvision.models.mobilenet_v3_small())[0] == "classifier.3"
    assert find_head(torchvision.models.vit_b_16())[0] == "heads.head"


def test_errors_name_the_bad_value(resnet):
    x = torch.randn(2, 3, 32, 32)
    with pytest.raises(ValueError, match=r"^The 'layers' parameter of extract_features must be a "
                       r"layer name of this ResNet\. Got 'layer33' instead \(closest valid "
                       r"names: \['layer3'"):
        extract_features(resnet, x, ["layer33"], progress=False)
    with pytest.raises(ValueError, match="'layers' .* Got 'fc:output' instead"):
        extract_features(resnet, x, ["fc:output"], progress=False)
    with pytest.raises(ValueError, match="empty"):
        extract_features(resnet, torch.randn(0, 3, 32, 32), ["layer3"], progress=False)
    with pytest.raises(ValueError, match=r"'layers' .* non-empty list.*Got \[\] instead"):
        extract_features(resnet, x, [], progress=False)
    with pytest.raises(TypeError, match=r"'layers' .* must be a str or a non-empty list, each a "
                                        r"str\. Got 3 instead"):
        extract_features(resnet, x, 3, progress=False)
    conv_only = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    with pytest.raises(ValueError, match=r"no final nn.Linear.*top-level: \['0', '1'\]"):
        find_head(conv_only)
    with pytest.raises(ValueError, match="'data' .* must be labelled.*carries no labels"):
        geometry_from_model(InplaceNet(), torch.randn(3, 6), progress=False)
    with pytest.raises(TypeError, match="'model' parameter of extract_features must be a "
                                        "torch.nn.Module. Got 'resnet' instead"):
        extract_features("resnet", x, ["layer3"], progress=False)


def test_model_is_restored_after_an_exception():
    model = InplaceNet().train()
    before = model_state(model)
    bad = torch.randn(4, 5)  # wrong width: the forward pass raises
    with warnings.catch_warnings(), pytest.raises(RuntimeError):
        extract_features(model, bad, ["fc1", "act"], progress=False)
    assert_unchanged(model, before)


def test_traced_graph_is_reused_and_follows_replaced_modules():
    torch.manual_seed(7)
    model = Reused()
    x = torch.randn(3, 4)
    first = extract_features(model, x, ["block_1"], progress=False)["block_1"]
    again = extract_features(model, x, ["block_1"], progress=False)["block_1"]
    torch.testing.assert_close(first, again)
    model.block = nn.Linear(4, 4)  # a new module: the cached graph must not be used
    with torch.no_grad():
        want = model.block(torch.relu(model.block(x)))
    torch.testing.assert_close(extract_features(model, x, ["block_1"], progress=False)["block_1"], want)
