"""Vision transformers in the engine: token reduction, heads and blocks, against hand-written
forward passes (torchvision's VisionTransformer, the class of vit_b_16, and timm ViTs)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torchvision.models.vision_transformer import VisionTransformer

from geowidget.engine.features import extract_features, get_layer_names
from geowidget.engine.head import find_head, geometry_from_model

timm = pytest.importorskip("timm")  # the geowidget[timm] extra; the dev extra installs it

BLOCKS = [f"encoder.layers.encoder_layer_{i}" for i in range(3)]


@pytest.fixture(scope="module")
def vit():
    torch.manual_seed(0)
    model = VisionTransformer(image_size=32, patch_size=8, num_layers=3, num_heads=4,
                              hidden_dim=32, mlp_dim=64, num_classes=5)
    with torch.no_grad():  # torchvision starts the head at zero: give it random weights
        model.heads.head.weight.normal_(0, 0.5)
        model.heads.head.bias.normal_(0, 0.1)
    model.train()  # must come back in train mode after extraction
    return model


@pytest.fixture(scope="module")
def images():
    return torch.randn(12, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def hand_forward(model: VisionTransformer, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Tokens after each encoder block and the logits, from the weights alone (eval mode)."""
    n, d = len(x), model.hidden_dim
    p = model.patch_size
    patches = x.unfold(2, p, p).unfold(3, p, p)  # [N, C, h, w, p, p]
    patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(n, -1, 3 * p * p)
    t = patches @ model.conv_proj.weight.reshape(d, -1).T + model.conv_proj.bias
    t = torch.cat([model.class_token.expand(n, -1, -1), t], dim=1)
    t = t + model.encoder.pos_embedding
    outs = []
    for blk in model.encoder.layers:
        y = F.layer_norm(t, (d,), blk.ln_1.weight, blk.ln_1.bias, blk.ln_1.eps)
        attn = blk.self_attention
        q, k, v = (y @ attn.in_proj_weight.T + attn.in_proj_bias).chunk(3, dim=-1)
        heads = attn.num_heads
        split = [a.reshape(n, -1, heads, d // heads).transpose(1, 2) for a in (q, k, v)]
        weights = torch.softmax(split[0] @ split[1].transpose(-1, -2) / math.sqrt(d // heads), -1)
        a = (weights @ split[2]).transpose(1, 2).reshape(n, -1, d)
        t = t + a @ attn.out_proj.weight.T + attn.out_proj.bias
        y = F.layer_norm(t, (d,), blk.ln_2.weight, blk.ln_2.bias, blk.ln_2.eps)
        hidden = F.gelu(y @ blk.mlp[0].weight.T + blk.mlp[0].bias)
        t = t + hidden @ blk.mlp[3].weight.T + blk.mlp[3].bias
        outs.append(t)
    ln = model.encoder.ln
    final = F.layer_norm(t, (d,), ln.weight, ln.bias, ln.eps)
    logits = final[:, 0] @ model.heads.head.weight.T + model.heads.head.bias
    return outs, logits


def test_cls_and_mean_tokens_equal_a_hand_written_forward(vit, images):
    flags = [m.training for m in vit.modules()]
    feats = extract_features(
        vit, images, [*BLOCKS, "heads.head:input"], batch_size=5, progress=False,
        tokens={BLOCKS[0]: "mean", BLOCKS[1]: "cls", BLOCKS[2]: "cls"},
    )
    logits = feats.logits
    assert [m.training for m in vit.modules()] == flags
    with torch.no_grad():
        outs, hand_logits = hand_forward(vit, images)
    torch.testing.assert_close(feats[BLOCKS[0]], outs[0][:, 1:].mean(1), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(feats[BLOCKS[1]], outs[1][:, 0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(feats[BLOCKS[2]], outs[2][:, 0], atol=1e-5, rtol=1e-5)
    assert feats[BLOCKS[2]].shape == (12, 32)
    torch.testing.assert_close(logits, hand_logits, atol=1e-5, rtol=1e-5)


def test_a_string_reduces_every_token_layer_and_graph_nodes_work(vit, images):
    # "encoder.layers.encoder_layer_1.add" is a graph node (the attention residual): torch.fx
    node = "encoder.layers.encoder_layer_1.add"
    assert node in get_layer_names(vit)
    feats = extract_features(vit, images, [node, BLOCKS[1], "heads.head:input"], tokens="cls",
                             progress=False)
    with torch.no_grad():
        outs, _ = hand_forward(vit, images)
        blk = vit.eval().encoder.layers[1]
        y = blk.ln_1(outs[0])
        residual = outs[0] + blk.self_attention(y, y, y, need_weights=False)[0]
    vit.train()
    torch.testing.assert_close(feats[node], residual[:, 0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(feats[BLOCKS[1]], outs[1][:, 0], atol=1e-5, rtol=1e-5)


def test_geometry_at_the_head_input_agrees_with_the_logits(vit, images):
    labels = torch.arange(12) % 5
    name, head, pen = find_head(vit)
    assert (name, pen) == ("heads.head", "heads.head:input")
    geo = geometry_from_model(vit, (images, labels), progress=False, dtype=torch.float64)
    with torch.no_grad():
        _, z = hand_forward(vit, images)
    z = z.double()
    correct = z.argmax(1) == labels
    assert 0 < int(correct.sum()) < 12  # random weights: some right, some wrong
    assert torch.equal(geo.margin > 0, correct)
    # the exact margin, brute force over every competitor class
    w = head.weight.detach().double()
    for i in range(12):
        y = int(labels[i])
        m = min((z[i, y] - z[i, j]) / torch.linalg.norm(w[y] - w[j]) for j in range(5) if j != y)
        assert float(geo.margin[i]) == pytest.approx(float(m), rel=1e-5)  # float32 logits


def test_vit_b_16_blocks_head_and_cls_features():
    torch.manual_seed(0)
    model = torchvision.models.vit_b_16(weights=None, num_classes=7)
    torch.nn.init.normal_(model.heads.head.weight, std=0.1)
    assert get_layer_names(model, blocks=True) == [
        f"encoder.layers.encoder_layer_{i}" for i in range(12)
    ]
    assert find_head(model)[0] == "heads.head"
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    feats = extract_features(
        model, x, ["encoder", "encoder.layers.encoder_layer_11", "heads.head:input"],
        tokens={"encoder": "cls", "encoder.layers.encoder_layer_11": "mean"},
        progress=False,
    )
    logits = feats.logits
    assert feats["encoder.layers.encoder_layer_11"].shape == (2, 768)
    # the class token after the final LayerNorm is what the head classifies
    torch.testing.assert_close(feats["encoder"], feats["heads.head:input"])
    torch.testing.assert_close(logits, model.heads.head(feats["heads.head:input"]))


def test_timm_prefix_tokens_cls_and_mean():
    torch.manual_seed(0)
    kw = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4, num_classes=5)
    token = timm.models.vision_transformer.VisionTransformer(**kw)
    assert find_head(token)[0] == "head"
    assert get_layer_names(token, blocks=True) == ["blocks.0", "blocks.1"]
    x = torch.randn(6, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    feats = extract_features(token, x, ["norm", "blocks.0", "head:input"], tokens="cls",
                             progress=False)
    torch.testing.assert_close(feats["norm"], feats["head:input"])
    with torch.no_grad():
        t = token.norm_pre(token._pos_embed(token.patch_embed(x)))
        t = token.blocks[0](t)
    torch.testing.assert_close(feats["blocks.0"], t[:, 0])
    # 2 register tokens, average pooling of the patch tokens after the final norm
    avg = timm.models.vision_transformer.VisionTransformer(
        **kw, reg_tokens=2, global_pool="avg", fc_norm=False
    )
    assert avg.num_prefix_tokens == 3
    feats = extract_features(avg, x, ["norm", "head:input"], tokens={"norm": "mean"},
                             progress=False)
    torch.testing.assert_close(feats["norm"], feats["head:input"])
    with torch.no_grad():
        tokens = avg.forward_features(x)
    torch.testing.assert_close(feats["norm"], tokens[:, 3:].mean(1))


def test_geometry_from_model_passes_tokens_on(vit, images):
    labels = torch.arange(12) % 5
    with pytest.raises(ValueError, match="layer 'encoder.layers.encoder_layer_1' outputs tokens"):
        geometry_from_model(vit, (images, labels), layer=BLOCKS[1], progress=False)
    with pytest.raises(ValueError, match=r"tokens='cls' was given, but none of the layers "
                       r"\['heads.head:input'\]"):
        geometry_from_model(vit, (images, labels), progress=False, tokens="cls")


# ------------------------------------------------------------------ bad input
def test_token_output_without_tokens_lists_the_options(vit, images):
    with pytest.raises(ValueError, match=r"layer 'encoder.layers.encoder_layer_0' outputs tokens "
                       r"of shape \(4, 17, 32\).*\['cls', 'mean', 'flatten'\]"):
        extract_features(vit, images, [BLOCKS[0]], batch_size=4, progress=False)


def test_tokens_for_a_layer_without_tokens_is_an_error(vit, images):
    with pytest.raises(ValueError, match=r"tokens\['heads.head:input'\]='cls' was given, but "
                       r"layer 'heads.head:input' outputs shape \(12, 32\), not tokens"):
        extract_features(vit, images, ["heads.head:input"], tokens={"heads.head:input": "cls"},
                         progress=False)
    with pytest.raises(ValueError, match=r"tokens='mean' was given, but none of the layers "
                       r"\['heads.head:input'\] outputs tokens"):
        extract_features(vit, images, ["heads.head:input"], tokens="mean", progress=False)


def test_tokens_argument_errors(vit, images):
    expected = (r"The 'tokens' parameter of extract_features must be None, one of \['cls', "
                r"'mean', 'flatten'\] or a dict mapping a str to one of \['cls', 'mean', "
                r"'flatten'\]\. Got {} instead")
    with pytest.raises(ValueError, match=expected.format("'first'")):
        extract_features(vit, images, BLOCKS[:1], tokens="first", progress=False)
    with pytest.raises(ValueError, match=expected.format(r"\{'encoder': 'max'\}")):
        extract_features(vit, images, ["encoder"], tokens={"encoder": "max"}, progress=False)
    with pytest.raises(TypeError, match=expected.format(r"\['cls'\]")):
        extract_features(vit, images, ["encoder"], tokens=["cls"], progress=False)
    with pytest.raises(ValueError, match=r"The 'tokens' parameter of extract_features must be a "
                       r"dict over the requested layers \['encoder.ln'\]\. Got \{'encoder': "
                       r"'cls'\} instead \(\['encoder'\] are not among them\)"):
        extract_features(vit, images, ["encoder.ln"], tokens={"encoder": "cls"}, progress=False)
    with pytest.raises(ValueError, match="The 'tokens' parameter of geometry_from_model"):
        geometry_from_model(vit, (images, torch.zeros(12, dtype=torch.long)), tokens="max")


def test_timm_without_class_token_or_head():
    kw = dict(img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=4)
    no_cls = timm.models.vision_transformer.VisionTransformer(
        **kw, num_classes=3, class_token=False, global_pool="avg"
    )
    x = torch.randn(2, 3, 32, 32)
    with pytest.raises(ValueError, match="tokens='cls' but the model has no class token"):
        extract_features(no_cls, x, ["blocks.0"], tokens="cls", progress=False)
    feats = extract_features(no_cls, x, ["blocks.0"], tokens="mean", progress=False)
    assert feats["blocks.0"].shape == (2, 32)
    headless = timm.models.vision_transformer.VisionTransformer(**kw, num_classes=0)
    with pytest.raises(ValueError, match=r"VisionTransformer.head is nn.Identity: the model has "
                       r"no classification head"):
        find_head(headless)


class SequenceFirst(torch.nn.Module):
    """Batch-first input, but the encoder inside runs sequence-first ([T, N, D])."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=False)
        self.head = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.encoder(x.transpose(0, 1))[0])


def test_sequence_first_outputs_are_rejected():
    x = torch.randn(5, 4, 8)  # 5 samples of 4 tokens
    with pytest.raises(ValueError, match=r"layer 'encoder' output has shape \(4, 5, 8\), whose "
                       r"first axis is not the batch of 5 samples"):
        extract_features(SequenceFirst(), x, ["encoder"], tokens="cls", progress=False)


# ------------------------------------------------------------------ in a Study
def test_a_study_of_vits_matches_the_engine(vit, images):
    from geowidget.engine.geometry import geometry
    from geowidget.engine.probe import cross_fit
    from geowidget.study import Study

    labels = torch.arange(12) % 5
    cube = Study({"vit": vit}, (images, labels), layers=[BLOCKS[1], "penultimate"],
                 tokens="cls", sparsities=(0,), progress=False).run()
    feats = extract_features(vit, (images, labels), [BLOCKS[1], "heads.head:input"],
                             tokens={BLOCKS[1]: "cls"}, progress=False)
    logits = feats.logits
    # the study cross-fits the probe (5 folds, seed 0): each sample meets a probe that left it out
    fit = cross_fit(feats[BLOCKS[1]], labels, folds=5, seed=0, num_classes=5)
    block = fit.geometry(feats[BLOCKS[1]], labels)
    head = vit.heads.head
    pen = geometry(feats["heads.head:input"], labels, head.weight.detach(), head.bias.detach())
    np.testing.assert_allclose(cube.angle[0, 0, 0], block.angle.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cube.margin[0, 1, 0], pen.margin.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(cube.correct[0, 0], (logits.argmax(1) == labels).numpy())
    assert np.array_equal(cube.margin[0, 1, 0] > 0, cube.correct[0, 0])
    with pytest.raises(ValueError, match=r"tokens\['heads.head:input'\]='cls' was given, but "
                       r"layer 'heads.head:input' outputs shape"):
        Study({"vit": vit}, (images, labels), tokens={"penultimate": "cls"}, sparsities=(0,),
              progress=False).run()
    with pytest.raises(ValueError, match=r"The 'tokens' parameter of Study must be a dict over "
                       r"the requested layers \['penultimate'\]"):
        Study({"vit": vit}, (images, labels), tokens={BLOCKS[0]: "cls"}, progress=False)


def test_a_study_of_a_timm_vit():
    from geowidget.study import Study

    torch.manual_seed(0)
    model = timm.models.vision_transformer.VisionTransformer(
        img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4, num_classes=5)
    x = torch.randn(10, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    y = torch.arange(10) % 5
    cube = Study([model], (x, y), sparsities=(0,), progress=False).run()
    with torch.no_grad():
        correct = (model.eval()(x).argmax(1) == y).numpy()
    assert cube.model_info[0]["penultimate"] == "head:input"
    np.testing.assert_array_equal(cube.correct[0, 0], correct)
    assert np.array_equal(cube.margin[0, 0, 0] > 0, correct)
