"""Checkpoints: a run as one architecture's weights at several steps; bad checkpoints."""

from __future__ import annotations

import pytest
import torch

from geowidget.engine.checkpoints import Checkpoints
from geowidget.zoo.models import lenet, mlp


@pytest.fixture(scope="module")
def states():
    return [mlp(8, seed=s).state_dict() for s in range(3)]


def test_lists_dicts_and_files(tmp_path, states):
    paths = []
    for i, st in enumerate(states):
        paths.append(tmp_path / f"ckpt_{i:02d}.pt")
        # a training-loop checkpoint: the weights under "model", next to other state
        torch.save({"model": st, "epoch": i} if i == 1 else st, paths[-1])
    for run in (Checkpoints(mlp(8), paths), Checkpoints(mlp(8), states),
                Checkpoints(mlp(8), [str(p) for p in paths], steps=[0, 5, 9])):
        models = run.models()
        assert len(run) == 3 and len(models) == 3
        for m, st in zip(models, states, strict=True):
            for k, v in m.state_dict().items():
                assert torch.equal(v, st[k])
    assert Checkpoints(mlp(8), dict(zip([3, 7, 8], states, strict=True))).steps == [3, 7, 8]
    arch = mlp(8, seed=9)
    before = {k: v.clone() for k, v in arch.state_dict().items()}
    Checkpoints(arch, states).models()
    assert all(torch.equal(v, before[k]) for k, v in arch.state_dict().items())


def test_a_checkpoint_that_does_not_fit_names_the_keys(states):
    bad = dict(states[1])
    del bad["fc1.weight"]
    bad["extra.weight"] = torch.zeros(3)
    with pytest.raises(ValueError, match=r"checkpoint 1 at step 1 does not fit MLP: missing "
                       r"keys \['fc1.weight'\]; unexpected keys \['extra.weight'\]\. Pass the "
                       r"architecture the run was trained with"):
        Checkpoints(mlp(8), [states[0], bad]).models()
    with pytest.raises(ValueError, match=r"does not fit MLP: unexpected keys \['conv1.weight', "
                       r"'conv1.bias', 'conv2.weight', 'conv2.bias'\]; other shapes "
                       r"\['fc1.weight: \(120, 400\) instead of \(8, 784\)'"):
        Checkpoints(mlp(8), [lenet().state_dict()]).models()
    with pytest.raises(ValueError, match=r"other shapes \['fc1.weight: \(16, 784\) instead of "
                       r"\(8, 784\)'"):
        Checkpoints(mlp(8), [mlp(16).state_dict()]).load(0)


def test_checkpoints_that_disagree_in_classes(tmp_path, states):
    five = mlp(8, num_classes=5).state_dict()
    torch.save(five, tmp_path / "late.pt")
    with pytest.raises(ValueError, match=r"the run's checkpoints disagree in their number of "
                       r"classes \(fc.weight rows\): checkpoint 0 at step 0 has 10, checkpoint 2 "
                       r"at step 2 \('.*late.pt'\) has 5 \(all: \[10, 10, 5\]\)"):
        Checkpoints(mlp(8), [states[0], states[1], tmp_path / "late.pt"]).models()


def test_argument_errors(states, tmp_path):
    with pytest.raises(ValueError, match=r"'steps' parameter of Checkpoints must be strictly "
                                         r"increasing\. Got \[0, 2, 2\] instead"):
        Checkpoints(mlp(8), states, steps=[0, 2, 2])
    with pytest.raises(ValueError, match=r"'steps' .* one step per checkpoint \(3\)\. Got \[0, 1\]"):
        Checkpoints(mlp(8), states, steps=[0, 1])
    with pytest.raises(ValueError, match=r"'checkpoints' .* Got \[\] instead"):
        Checkpoints(mlp(8), [])
    with pytest.raises(ValueError, match="'steps' .* None when checkpoints is a dict"):
        Checkpoints(mlp(8), {0: states[0]}, steps=[0])
    with pytest.raises(TypeError, match=r"'checkpoints' .*item 1 \(3\) is not a "
                                        r"collections.abc.Mapping, a str or an os.PathLike"):
        Checkpoints(mlp(8), [states[0], 3])
    with pytest.raises(TypeError, match="'checkpoints' parameter of Checkpoints must be a "
                                        "non-empty list"):
        Checkpoints(mlp(8), "ckpt.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(TypeError, match=r"checkpoint file '.*list.pt' holds a list, not a state "
                       "dict"):
        Checkpoints(mlp(8), [tmp_path / "list.pt"]).load(0)
