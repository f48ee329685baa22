"""The demo study: bundled zoo models on real held-out MNIST digits, built once and cached.

:func:`demo_cube` runs a :class:`geowidget.Study` of a few zoo models (:mod:`geowidget.zoo`)
on a class-balanced subset of the 1,500 MNIST digits the zoo never trained on, over a few
pruning levels (computed live) and MNIST-C-style corruptions. The first call takes about a
minute on two CPU cores; the cube is then cached as Parquet, and later calls read it in well
under a second.

The cache lives in ``$GEOWIDGET_CACHE`` when that is set, else in the user's cache folder
(``$XDG_CACHE_HOME/geowidget`` or ``~/.cache/geowidget``; ``~/Library/Caches/geowidget`` on
macOS, ``%LOCALAPPDATA%\\geowidget`` on Windows). Cache file names carry a fingerprint of the
configuration and of the zoo weights, so a change to either never reuses a stale cube.

Examples
--------
>>> from geowidget.demo import demo_cube
>>> cube = demo_cube(progress=False)                       # doctest: +SKIP
>>> cube.shape                                             # doctest: +SKIP
{'model': 4, 'layer': 1, 'condition': 7, 'sample': 500}
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geowidget._validation import Boolean, Instance, validate_params

if TYPE_CHECKING:
    from geowidget.cube import GeometryCube
    from geowidget.datasets import ImageData

CACHE_ENV = "GEOWIDGET_CACHE"
_DEMO_VERSION = 3  # 2: motion blur along the rows; 3: the full grid (pruned models corrupted)


@dataclass(frozen=True)
class DemoConfig:
    """What the demo study computes.

    Attributes
    ----------
    models : tuple of str
        Zoo model names (:func:`geowidget.zoo.names`).
    samples : int
        Probe samples, a multiple of the number of classes (10): the first ``samples // 10``
        held-out digits of each class.
    sparsities : tuple of float
        Pruning levels in [0, 1) besides the dense model (fraction of weights removed).
    pruning : str
        Pruning method (:data:`geowidget.engine.pruning.METHODS`).
    corruptions : tuple of str
        Corruption names (:data:`geowidget.CORRUPTIONS`).
    severities : tuple of int
        Corruption severities, 1 to 5.
    seed : int
        Seed of corruptions and pruning.
    """

    models: tuple[str, ...] = ("mlp-s0", "lenet-s0", "wide_cnn-s0", "wide_cnn-mpt-s0")
    samples: int = 500
    sparsities: tuple[float, ...] = (0.5, 0.9)
    pruning: str = "global_magnitude"
    corruptions: tuple[str, ...] = ("gaussian_noise", "rotate", "fog", "brightness")
    severities: tuple[int, ...] = (3,)
    seed: int = 0

    def fingerprint(self) -> str:
        """SHA-256 (hex, 16 characters) of the configuration and the zoo weights it uses."""
        from geowidget import zoo

        h = hashlib.sha256()
        h.update(json.dumps([_DEMO_VERSION, asdict(self)], sort_keys=True).encode())
        for name in self.models:
            h.update(json.dumps(zoo.info(name), sort_keys=True, default=str).encode())
            h.update(_file_digest(_weights_path(name)).encode())
        return h.hexdigest()[:16]


DEFAULT = DemoConfig()


def _weights_path(name: str) -> Path:
    from geowidget.zoo.files import WEIGHTS_DIR

    return WEIGHTS_DIR / f"{name}.pt"


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_root() -> Path:
    """The folder geowidget caches into: ``$GEOWIDGET_CACHE`` or the user's cache folder."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "geowidget"


def check_config(config: DemoConfig) -> DemoConfig:
    """Validate a :class:`DemoConfig` (models exist, ``samples`` fits the probe set)."""
    from geowidget import zoo

    if not isinstance(config, DemoConfig):
        raise TypeError(f"config must be a DemoConfig, got {type(config).__name__}")
    valid = zoo.names()
    unknown = [m for m in config.models if m not in valid]
    if unknown or not config.models:
        raise ValueError(f"unknown zoo model(s) {unknown or 'none given'}; valid: {valid}")
    per_class = len(zoo.probe_data()) // 10
    if (not isinstance(config.samples, int) or isinstance(config.samples, bool)
            or config.samples < 10 or config.samples % 10 or config.samples > 10 * per_class):
        raise ValueError(
            f"samples must be a multiple of 10 from 10 to {10 * per_class} (the held-out MNIST "
            f"digits, {per_class} per class), got {config.samples!r}"
        )
    return config


def probe_subset(samples: int = DEFAULT.samples) -> ImageData:
    """The first ``samples // 10`` held-out MNIST digits of each class (class-balanced).

    Parameters
    ----------
    samples : int
        Number of digits, a multiple of 10 up to 1,500.

    Returns
    -------
    ImageData
        Images ``[samples, 1, 28, 28]`` in [0, 1], labels sorted by class.
    """
    import numpy as np

    from geowidget import zoo

    check_config(replace(DEFAULT, samples=samples))
    data = zoo.probe_data()
    labels = data.labels.numpy()
    index = np.concatenate([np.flatnonzero(labels == c)[: samples // 10] for c in range(10)])
    return data.subset(np.sort(index), f"probe{samples}")


def cube_path(config: DemoConfig = DEFAULT) -> Path:
    """Where the cube of ``config`` is (or will be) cached."""
    return cache_root() / "demo" / f"cube-{config.fingerprint()}.parquet"


def demo_study(config: DemoConfig = DEFAULT, *, progress: bool = True) -> Any:
    """The :class:`geowidget.Study` of ``config``, with its unit cache under :func:`cache_root`.

    Parameters
    ----------
    config : DemoConfig
        What to compute.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    Study
        Not yet run; call ``.run()``.
    """
    from geowidget import zoo
    from geowidget.study import Study

    check_config(config)
    return Study(
        zoo.load_all(list(config.models)),
        probe_subset(config.samples),
        sparsities=config.sparsities,
        pruning=config.pruning,
        corruptions=list(config.corruptions) or None,
        severities=config.severities,
        cache_dir=cache_root() / "units",
        seed=config.seed,
        progress=progress,
    )


@validate_params({"config": [Instance(DemoConfig)], "progress": [Boolean()],
                  "refresh": [Boolean()]})
def demo_cube(
    config: DemoConfig = DEFAULT, *, progress: bool = True, refresh: bool = False
) -> GeometryCube:
    """The demo study's GeometryCube, computed on first use and then read from the cache.

    Parameters
    ----------
    config : DemoConfig
        What to compute; the default is the cube the notebooks, ``geowidget demo`` and
        ``geowidget report --zoo demo`` use.
    progress : bool
        Show a tqdm progress bar while computing.
    refresh : bool
        Recompute even when a cached cube exists.

    Returns
    -------
    GeometryCube
        Models ``config.models``; layer ``"penultimate"``; conditions: clean at sparsity 0
        and each of ``config.sparsities``, then each corruption at each severity at every
        sparsity (the Study's full grid);
        ``config.samples`` held-out MNIST digits with thumbnails.

    Examples
    --------
    >>> import geowidget as gw
    >>> cube = gw.demo_cube(progress=False)                    # doctest: +SKIP
    >>> cube.coords.layers                                     # doctest: +SKIP
    ('penultimate',)
    >>> gw.PolarPlot(cube, model="lenet-s0")                   # doctest: +SKIP
    """
    from geowidget.cube import GeometryCube

    path = cube_path(config)
    if path.exists() and not refresh:
        try:
            return GeometryCube.from_parquet(str(path))
        except (OSError, ValueError):  # a partial or foreign file: rebuild it
            path.unlink(missing_ok=True)
    cube = demo_study(config, progress=progress).run()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    cube.to_parquet(str(tmp))
    os.replace(tmp, path)
    return cube


def notebooks_dir() -> Path:
    """The folder holding the example notebooks (``quickstart.ipynb`` ...).

    Looks in the installed package (``geowidget/notebooks``) and then in the source checkout
    (``notebooks/`` beside the package).
    """
    here = Path(__file__).resolve().parent
    for cand in (here / "notebooks", here.parent / "notebooks"):
        if (cand / "quickstart.ipynb").exists():
            return cand
    raise FileNotFoundError(
        "the example notebooks were not found beside the package; clone the repository "
        "(they are in notebooks/) or pass --notebooks DIR"
    )


__all__ = [
    "CACHE_ENV",
    "DEFAULT",
    "DemoConfig",
    "cache_root",
    "check_config",
    "cube_path",
    "demo_cube",
    "demo_study",
    "notebooks_dir",
    "probe_subset",
]

