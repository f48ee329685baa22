"""Small classifier architectures for 1x28x28 inputs (MNIST-sized), used by the demo zoo.

Every model ends in an ``nn.Linear`` named ``fc`` (the classification head, 10 classes by
default), and the layer that feeds it is named by the class attribute
``penultimate_layer``:

================  ===========================================  =====================
builder           layers (in order)                            ``penultimate_layer``
================  ===========================================  =====================
:func:`mlp`       flatten, fc1, relu1, fc2, relu2, fc          ``"relu2"``
:func:`lenet`     conv1, relu1, pool1, conv2, relu2, pool2,    ``"relu4"``
                  flatten, fc1, relu3, fc2, relu4, fc
:func:`wide_cnn`  conv1, relu1, pool1, conv2, relu2, pool2,    ``"relu4"``
                  conv3, relu3, pool3, flatten, fc1, relu4, fc
================  ===========================================  =====================

The penultimate features (the input of ``fc``) are the ReLU outputs, so they are
non-negative. ReLUs are not in-place, so forward hooks see unmodified outputs.

:func:`vit` is the exception: torchvision's ``VisionTransformer`` (the class of
``vit_b_16``) sized for digits, with 7x7 patches (16 patch tokens and a class token), whose
head is ``heads.head`` and whose penultimate features are the class token after the final
LayerNorm (``"heads.head:input"``). Its encoder blocks
(``encoder.layers.encoder_layer_0`` ...) output tokens ``[N, 17, width]``.

Examples
--------
>>> from geowidget.zoo.models import lenet
>>> model = lenet(seed=0)
>>> model.penultimate_layer, model.fc.in_features
('relu4', 84)
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torchvision.models.vision_transformer import VisionTransformer

ARCHITECTURES = ("mlp", "lenet", "wide_cnn", "vit")


def _check_positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


class MLP(nn.Module):
    """Two hidden ReLU layers of ``width`` units, then the linear head ``fc``."""

    penultimate_layer = "relu2"

    def __init__(self, width: int = 128, num_classes: int = 10, in_features: int = 784) -> None:
        super().__init__()
        self.width = width
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(in_features, width)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Linear(width, width)
        self.relu2 = nn.ReLU()
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.fc1(self.flatten(x)))
        x = self.relu2(self.fc2(x))
        return self.fc(x)


class LeNet(nn.Module):
    """LeNet-5-like: two 5x5 conv + max-pool stages, then 120- and 84-unit ReLU layers."""

    penultimate_layer = "relu4"

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)  # 28x28
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)  # 14x14
        self.conv2 = nn.Conv2d(6, 16, 5)  # 10x10
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)  # 5x5
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(120, 84)
        self.relu4 = nn.ReLU()
        self.fc = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.relu3(self.fc1(self.flatten(x)))
        x = self.relu4(self.fc2(x))
        return self.fc(x)


class WideCNN(nn.Module):
    """Three 3x3 conv stages with ``width``, ``2 width``, ``2 width`` channels, then 128 units."""

    penultimate_layer = "relu4"

    def __init__(self, width: int = 32, num_classes: int = 10, hidden: int = 128) -> None:
        super().__init__()
        self.width = width
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)  # 28x28
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)  # 14x14
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)  # 7x7
        self.conv3 = nn.Conv2d(2 * width, 2 * width, 3, padding=1)
        self.relu3 = nn.ReLU()
        self.pool3 = nn.MaxPool2d(2)  # 3x3
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(2 * width * 9, hidden)
        self.relu4 = nn.ReLU()
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.pool3(self.relu3(self.conv3(x)))
        x = self.relu4(self.fc1(self.flatten(x)))
        return self.fc(x)


class DigitViT(VisionTransformer):
    """torchvision's VisionTransformer for 1x28x28 inputs: 7x7 patches, ``depth`` blocks of
    ``width``-dimensional tokens with 4 heads and a ``2 width`` MLP; head ``heads.head``."""

    penultimate_layer = "heads.head:input"

    def __init__(self, width: int = 64, depth: int = 4, num_classes: int = 10) -> None:
        super().__init__(image_size=28, patch_size=7, num_layers=depth, num_heads=4,
                         hidden_dim=width, mlp_dim=2 * width, num_classes=num_classes)
        self.width = width
        # one input channel; initialised as torchvision initialises its 3-channel projection
        self.conv_proj = nn.Conv2d(1, width, kernel_size=7, stride=7)
        nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / (7 * 7)))
        nn.init.zeros_(self.conv_proj.bias)


def _seeded(build, seed: int | None) -> nn.Module:
    if seed is None:
        return build()
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int or None, got {seed!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def mlp(width: int = 128, *, num_classes: int = 10, seed: int | None = None) -> MLP:
    """A 784-``width``-``width``-``num_classes`` ReLU MLP; penultimate layer ``"relu2"``.

    Parameters
    ----------
    width : int
        Units in each of the two hidden layers.
    num_classes : int
        Outputs of the head ``fc``.
    seed : int or None
        Seed for the initial weights (the global RNG is left untouched); ``None`` uses it.

    Examples
    --------
    >>> mlp(64, seed=0).fc.weight.shape
    torch.Size([10, 64])
    """
    _check_positive("width", width)
    _check_positive("num_classes", num_classes)
    return _seeded(lambda: MLP(width, num_classes), seed)


def lenet(*, num_classes: int = 10, seed: int | None = None) -> LeNet:
    """A LeNet-5-like CNN (61k parameters); penultimate layer ``"relu4"`` (84 units).

    Examples
    --------
    >>> lenet(seed=0)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    _check_positive("num_classes", num_classes)
    return _seeded(lambda: LeNet(num_classes), seed)


def wide_cnn(width: int = 32, *, num_classes: int = 10, seed: int | None = None) -> WideCNN:
    """A three-stage CNN with ``width`` base channels; penultimate layer ``"relu4"`` (128 units).

    Examples
    --------
    >>> wide_cnn(8, seed=0)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    _check_positive("width", width)
    _check_positive("num_classes", num_classes)
    return _seeded(lambda: WideCNN(width, num_classes), seed)


def vit(width: int = 64, depth: int = 4, *, num_classes: int = 10, seed: int | None = None
        ) -> DigitViT:
    """A tiny vision transformer for digits (:class:`DigitViT`; 139k parameters at width 64).

    ``width`` must be a multiple of the 4 attention heads.

    Examples
    --------
    >>> vit(16, 2, seed=0)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    _check_positive("width", width)
    _check_positive("depth", depth)
    _check_positive("num_classes", num_classes)
    if width % 4:
        raise ValueError(f"width must be a multiple of 4 (the attention heads), got {width!r}")
    return _seeded(lambda: DigitViT(width, depth, num_classes), seed)


def build_model(arch: str, width: int | None = None, *, seed: int | None = None) -> nn.Module:
    """Build an architecture by name (one of :data:`ARCHITECTURES`).

    Examples
    --------
    >>> type(build_model("mlp", 32)).__name__
    'MLP'
    """
    if arch == "mlp":
        return mlp(128 if width is None else width, seed=seed)
    if arch == "lenet":
        if width is not None:
            raise ValueError(f"lenet has a fixed width; got width={width!r}, pass None")
        return lenet(seed=seed)
    if arch == "wide_cnn":
        return wide_cnn(32 if width is None else width, seed=seed)
    if arch == "vit":
        return vit(64 if width is None else width, seed=seed)
    raise ValueError(f"unknown architecture {arch!r}; valid: {list(ARCHITECTURES)}")


__all__ = [
    "ARCHITECTURES", "DigitViT", "LeNet", "MLP", "WideCNN", "build_model", "lenet", "mlp", "vit",
    "wide_cnn",
]
