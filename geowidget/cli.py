"""The ``geowidget`` command line.

- ``geowidget demo``: build (or read from the cache) the demo study of the bundled zoo, then
  start JupyterLab on ``quickstart.ipynb`` on 127.0.0.1 and print its URL (no browser opens).
- ``geowidget report --out report.html [--zoo demo | --study CUBE]``: one standalone,
  interactive HTML report (Explorer, correlation tables, model map), no JupyterLab needed.
- ``geowidget study --models ... --data ... --out CUBE [--backend ray [--ray-address
  auto]]``: run a Study from the shell, in this process or on a Ray cluster. ``CUBE`` is a
  ``.parquet`` file, or a folder for a partitioned cube (``GeometryCube.open``). The probes of
  intermediate ``--layers`` are cross-fitted on the data (``--probe-folds N``, 5 by default),
  or fitted on a separate ``--probe-data`` set (the same forms as ``--data``).
- ``geowidget summary [--model NAME]``: per-class angle, norm and margin of one zoo model.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geowidget._validation import (
    DEVICE,
    ExistingFolder,
    Folder,
    InputFile,
    Interval,
    NewFolder,
    Options,
    OutputFile,
    check,
    invalid,
)

if TYPE_CHECKING:
    from geowidget.study import LocalRunner, RayRunner

__all__ = ["DATA_NAMES", "OPTIONS", "build_parser", "check_options", "demo", "load_data",
           "load_model", "main", "report", "runner_of", "study", "summary"]

DATA_NAMES = ("mnist-probe", "mnist", "digits")
POSITIVE = Interval(int, 1, None)


class CubeFolder(NewFolder):
    """A new or empty folder, or one that holds a geowidget cube (``cube.json``): the study
    then resumes into it only when the cube is its own (checked by :func:`study`)."""

    def convert(self, value: Any) -> Any:
        if isinstance(value, str | os.PathLike) and (Path(value) / "cube.json").is_file():
            return Folder.convert(self, value)
        return super().convert(value)

    def __str__(self) -> str:
        return f"{super().__str__()} (or the folder of this study's cube)"


# Each command's options, declared once: checked before the command does any work, and the
# source of tests/test_invalid_params.py's generated cases. Options that need the engine
# (pruning methods, corruption names) are declared by functions, so `--help` stays light.
OPTIONS: dict[str, dict[str, list[Any]]] = {
    "demo": {"port": [Interval(int, 0, 65535)]},
    "report": {
        "out": [OutputFile(".html")],
        "study": [None, InputFile(".parquet"), ExistingFolder()],
        "zoo": [Options("demo")],
        "n_boot": [POSITIVE],
    },
    "study": {
        "out": [OutputFile(".parquet"), CubeFolder()],
        "cache_dir": [None, Folder()],
        "data": [Options(*DATA_NAMES), InputFile(".pt", ".npz")],
        "probe_data": [None, Options(*DATA_NAMES), InputFile(".pt", ".npz")],
        "probe_folds": [None, Interval(int, 2, None)],
        "samples": [None, POSITIVE],
        "batch_size": [POSITIVE],
        "device": DEVICE,
        "severities": [Interval(int, 1, 5)],
        "sparsities": [Interval(float, 0, 1, closed="left")],
        "tokens": [None, Options("cls", "mean", "flatten")],
        "adversarial": [None, Options("l2", "linf")],
        "adversarial_samples": [POSITIVE],
    },
    "summary": {},
}


def _engine_options(command: str) -> dict[str, list[Any]]:
    if command == "study":
        from geowidget.engine.corruptions import CORRUPTIONS, SUITES
        from geowidget.engine.pruning import METHODS

        return {"pruning": [Options(*METHODS)],
                "corruptions": [Options(*SUITES, *CORRUPTIONS)]}
    if command == "summary":
        from geowidget import zoo

        return {"model": [Options(*zoo.names())]}
    return {}


def check_options(command: str, args: argparse.Namespace) -> None:
    """Check every declared option of ``command`` (each item of a list option), or raise."""
    for dest, constraints in {**OPTIONS[command], **_engine_options(command)}.items():
        value = getattr(args, dest)
        for item in value if isinstance(value, list) else [value]:
            check(f"geowidget {command}", "--" + dest.replace("_", "-"), item, constraints,
                  what="option")


# ---------------------------------------------------------------------- summary
def summary(args: argparse.Namespace) -> int:
    """Per-class summary of angle, norm and margin for one bundled model."""
    import numpy as np

    check_options("summary", args)
    from geowidget import zoo
    from geowidget.engine.head import geometry_from_model

    model = zoo.load(args.model)
    data = zoo.probe_data()
    geo = geometry_from_model(model, data.as_pair(), progress=not args.quiet).to_numpy()
    labels = data.labels.numpy()
    print(f"geowidget summary: {args.model} on {len(labels)} held-out MNIST digits "
          f"(accuracy {geo['correct'].mean():.3f})")
    print("angle: to the true class's weight row, degrees; margin: signed L2 distance to the "
          "decision boundary in feature space")
    header = f"{'class':>5} {'n':>5} {'acc':>6} {'angle':>8} {'norm':>8} {'margin':>8} {'AVH':>7}"
    print(header)
    print("-" * len(header))
    rows = [(name, labels == c) for c, name in enumerate(data.class_names)]
    for name, mask in [*rows, ("all", np.ones_like(labels, dtype=bool))]:
        print(
            f"{name:>5} {mask.sum():>5} {geo['correct'][mask].mean():>6.3f} "
            f"{np.degrees(np.nanmean(geo['angle'][mask])):>8.2f} "
            f"{np.nanmean(geo['norm'][mask]):>8.2f} {np.nanmean(geo['margin'][mask]):>8.3f} "
            f"{np.nanmean(geo['avh'][mask]):>7.4f}"
        )
    r = np.corrcoef(np.degrees(geo["angle"]), geo["margin"])[0, 1]
    print(f"Pearson r(angle, margin) = {r:.3f}")
    return 0


# ---------------------------------------------------------------------- demo
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def lab_command(notebooks: Path, port: int, token: str) -> list[str]:
    """The JupyterLab command line of ``geowidget demo`` (loopback only, no browser)."""
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
        f"--port={port}", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={notebooks}", "--LabApp.default_url=/lab/tree/quickstart.ipynb",
        "--LabServerApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.news_url=",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    return cmd


def demo(args: argparse.Namespace) -> int:
    """Build or load the demo cube, then start JupyterLab on the quickstart notebook."""
    check_options("demo", args)
    from geowidget.demo import cube_path, demo_cube, notebooks_dir

    cached = cube_path().exists()
    print("geowidget demo: " + ("reading the cached demo study" if cached else
                                "building the demo study (about a minute, cached afterwards)"),
          flush=True)
    cube = demo_cube(progress=not args.quiet)
    print(f"{cube!r}\ncached at {cube_path()}", flush=True)
    notebooks = Path(args.notebooks).resolve() if args.notebooks else notebooks_dir()
    if not (notebooks / "quickstart.ipynb").exists():
        raise FileNotFoundError(f"no quickstart.ipynb in {str(notebooks)!r}")
    port = args.port or _free_port()
    token = secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}/lab/tree/quickstart.ipynb?token={token}"
    cmd = lab_command(notebooks, port, token)
    if args.no_lab:
        print(f"JupyterLab command: {' '.join(cmd)}")
        print(f"URL: {url}")
        return 0
    if importlib.util.find_spec("jupyterlab") is None:
        raise FileNotFoundError(
            "JupyterLab is not installed in this environment; `pip install jupyterlab` "
            "(or `pip install geowidget[dev]`), or open the report instead: "
            "`geowidget report --out report.html`"
        )
    proc = subprocess.Popen(cmd, cwd=notebooks)
    print(f"JupyterLab is starting on 127.0.0.1:{port}; open this URL in a browser:\n"
          f"    {url}\n(Ctrl+C stops it)", flush=True)
    previous = None
    if threading.current_thread() is threading.main_thread():
        # a SIGTERM to this process stops JupyterLab too, instead of orphaning it
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


# ---------------------------------------------------------------------- report
def report(args: argparse.Namespace) -> int:
    """Write the standalone HTML report of the demo zoo or of a saved cube."""
    check_options("report", args)
    from geowidget.analysis.scores import check_bootstrap
    from geowidget.report import write_report

    if args.study:
        from geowidget.cube import GeometryCube

        path = Path(args.study)
        cube = (GeometryCube.open(path) if path.is_dir()
                else GeometryCube.from_parquet(str(path)))
        title = args.title or f"geowidget report: {path.name}"
    else:
        from geowidget.demo import demo_cube

        cube = demo_cube(progress=not args.quiet)
        title = args.title or "geowidget report: the demo zoo on held-out MNIST"
    check_bootstrap(len(cube.labels), args.n_boot, "geowidget report", "--n-boot",
                    what="option")
    out = write_report(cube, args.out, title=title, n_boot=args.n_boot)
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MB): {cube!r}")
    return 0


# ---------------------------------------------------------------------- study
def _torch_file(path: Path, option: str, spec: str) -> Any:
    from geowidget.engine.torch_files import read_torch_file

    return read_torch_file(path, f"{option} {spec!r}")


def load_model(spec: str) -> tuple[str, Any]:
    """``(name, model)`` from a ``--models`` entry.

    Forms: a zoo name (``lenet-s0``) or zoo training run (``lenet-run-s2``);
    ``module:factory``, called with no arguments (``torchvision.models:resnet18``), optionally
    followed by ``@weights.pt``, a state dict read with ``torch.load(..., weights_only=True)``,
    or by ``@ckpts/*.pt``, a training run: every matching checkpoint, ordered by the last
    number in its file name, which is its step. Any form may be prefixed with ``name=``.
    """
    import torch

    from geowidget import zoo

    name, _, target = spec.rpartition("=")
    if target in zoo.names():
        return name or target, zoo.load(target)
    if target in zoo.runs():
        return name or target, zoo.load_run(target)
    if ":" in target:
        target, _, weights = target.partition("@")
        if weights and any(c in weights for c in "*?["):
            return name or target.partition(":")[2], _checkpoint_run(spec, target, weights)
        module_name, _, attr = target.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as err:
            raise ValueError(f"--models {spec!r}: cannot import {target!r} ({err})") from err
        try:
            model = factory()
        except Exception as err:  # noqa: BLE001 -- any failure of user code, named
            first = (str(err).strip().splitlines() or [""])[0]
            raise ValueError(f"--models {spec!r}: {target}() raised {type(err).__name__}: "
                             f"{first} (a factory is called with no arguments)") from None
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"--models {spec!r}: {target}() returned {type(model).__name__}, "
                            "not a torch.nn.Module")
        if weights:
            if not Path(weights).is_file():
                raise FileNotFoundError(f"--models {spec!r}: weights {weights!r} do not exist")
            state = _torch_file(Path(weights), "--models", spec)
            if not isinstance(state, dict):
                raise ValueError(f"--models {spec!r}: {weights!r} holds a "
                                 f"{type(state).__name__}, not a state dict")
            try:
                model.load_state_dict(state)
            except RuntimeError as err:
                first = str(err).strip().splitlines()[0]
                raise ValueError(f"--models {spec!r}: {weights!r} does not fit {target}() "
                                 f"({first})") from None
        return name or attr, model.eval()
    raise ValueError(
        f"--models {spec!r} is not a zoo model or module:factory[@weights.pt]; "
        f"zoo models: {zoo.names()}; 'zoo' takes them all"
    )


def _checkpoint_run(spec: str, target: str, pattern: str) -> Any:
    """``module:factory@ckpts/*.pt``: a Checkpoints run of the factory's architecture."""
    import glob
    import re

    from geowidget.engine.checkpoints import Checkpoints

    files = glob.glob(pattern)
    if not files:
        raise FileNotFoundError(f"--models {spec!r}: no checkpoint file matches {pattern!r}")
    numbers = [re.findall(r"\d+", Path(f).stem) for f in files]
    if not all(numbers) or len({int(n[-1]) for n in numbers}) != len(files):
        raise ValueError(f"--models {spec!r}: every checkpoint's file name must end in its step, "
                         f"a number of its own (ckpt_00.pt, ckpt_10.pt, ...); got "
                         f"{sorted(Path(f).name for f in files)}")
    order = sorted(zip((int(n[-1]) for n in numbers), files, strict=True))
    _, model = load_model(target)
    return Checkpoints(model, [f for _, f in order], steps=[s for s, _ in order])


def _read_data_file(spec: str, option: str = "--data") -> Any:
    """An :class:`ImageData` from a ``.pt`` or ``.npz`` file, every entry checked; errors
    name ``option``."""
    import numpy as np
    import torch

    from geowidget._validation import Array
    from geowidget.datasets import DIGIT_NAMES, ImageData

    path = Path(spec)
    if path.suffix == ".pt":
        raw = _torch_file(path, option, spec)
    else:
        import zipfile

        if not zipfile.is_zipfile(path):
            raise ValueError(f"{option} {spec!r} is not an .npz archive written by numpy.savez")
        try:
            with np.load(path, allow_pickle=False) as z:
                raw = {k: torch.from_numpy(z[k]) for k in z.files}
        except Exception as err:  # noqa: BLE001 -- object arrays, truncated or foreign files
            # numpy's own message suggests allow_pickle=True, which would run the file's code
            raise ValueError(f"{option} {spec!r} does not hold plain numeric arrays only "
                             f"({type(err).__name__}); object arrays are not loaded") from None
    if not isinstance(raw, dict) or not {"images", "labels"} <= set(raw):
        got = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
        raise ValueError(f"{option} {spec!r} must hold 'images' and 'labels', got {got}")
    where = f"the {option} file {spec!r}"
    images = raw["images"]
    if isinstance(images, torch.Tensor) and images.dtype == torch.uint8:
        images = images.float() / 255  # 8-bit images: the usual storage, unambiguous
    images = check(where, "images", images, [Array(
        ("N", "C", "H", "W"), ("N", "H", "W"), dtype="floating", low=0, high=1,
        hint="store 8-bit images as uint8, or floats in [0, 1]")], what="entry")
    if images.ndim == 3:
        images = images[:, None]  # [N, H, W]: grey images
    labels = check(where, "labels", raw["labels"], [Array(("N",), dtype="integer", low=0)],
                   what="entry")
    if len(labels) != len(images):
        raise invalid(where, "labels", f"one label per image ({len(images)})", labels,
                      what="entry")
    classes = int(labels.max()) + 1
    names = DIGIT_NAMES if classes == 10 else [str(c) for c in range(classes)]
    return ImageData(images.float(), labels.long(), names, path.stem)


def load_data(spec: str, samples: int | None, option: str = "--data") -> Any:
    """The probe set of ``--data`` (or the data of another ``option``, ``--probe-data``): a
    bundled name, or a ``.pt`` / ``.npz`` file.

    Bundled: ``mnist-probe`` (the 1,500 MNIST digits the zoo never trained on),
    ``mnist`` (all 5,000), ``digits`` (scikit-learn's 1,797 8x8 digits). Files hold images
    ``[N, C, H, W]`` or ``[N, H, W]`` (grey), floats in [0, 1] or uint8, and integer labels
    ``[N]``: a ``.pt`` file with a dict ``{"images", "labels"}`` (read with
    ``weights_only=True``) or an ``.npz`` with arrays ``images`` and ``labels``. ``samples``
    keeps the first ``samples // C`` of each of the C classes.
    """
    import numpy as np

    from geowidget.datasets import load_digits, load_mnist

    if spec == "mnist-probe":
        from geowidget import zoo

        data = zoo.probe_data()
    elif spec == "mnist":
        data = load_mnist()
    elif spec == "digits":
        data = load_digits()
    elif spec.endswith((".pt", ".npz")):
        data = _read_data_file(spec, option)
    else:
        raise ValueError(f"{option} {spec!r} is not one of {list(DATA_NAMES)} or a .pt/.npz "
                         "file")
    if samples is None:
        return data
    labels = data.labels.numpy()
    classes, counts = np.unique(labels, return_counts=True)
    most = len(classes) * int(counts.min())
    if not len(classes) <= samples <= most:
        raise invalid(
            "geowidget study", "--samples", f"an int in [{len(classes)}, {most}] for --data "
            f"{spec!r}", samples,
            f"{len(classes)} classes, the smallest with {counts.min()} samples", what="option",
        )
    per = samples // len(classes)
    index = np.concatenate([np.flatnonzero(labels == c)[:per] for c in classes])
    return data.subset(np.sort(index), f"first{per}perclass")


def _check_models_run(models: dict[str, Any], data: Any, spec: str,
                      option: str = "--data") -> None:
    """Run each model on one input, so that a shape mismatch is named before the study."""
    import torch

    from geowidget.engine.checkpoints import as_run
    from geowidget.engine.model_state import evaluating

    x = data.images[:1]
    for name, value in models.items():
        run = as_run(value)
        model = value if run is None else run.model  # a run: its architecture
        try:
            with evaluating(model), torch.no_grad():
                model(x)
        except Exception as err:  # noqa: BLE001 -- any failure here is a mismatch to report
            first = (str(err).strip().splitlines() or [""])[0]
            raise ValueError(
                f"--models {name!r} cannot run on {option} {spec!r} images of shape "
                f"{list(x.shape[1:])} ({type(err).__name__}: {first})"
            ) from None


def _check_tokens_apply(models: dict[str, Any], data: Any, layers: list[str],
                        tokens: str) -> None:
    """Run each model's --layers on one input with --tokens, so that a flag no layer uses
    (a CNN has no tokens) is an error before the study, not silently ignored."""
    from geowidget.engine.checkpoints import as_run
    from geowidget.engine.features import extract_features
    from geowidget.study.units import PENULTIMATE

    named = [v for v in layers if v != PENULTIMATE]
    for name, value in models.items():
        run = as_run(value)
        try:
            extract_features(value if run is None else run.model,
                             (data.images[:1], data.labels[:1]), named, tokens=tokens,
                             progress=False)
        except ValueError as err:
            raise ValueError(f"--tokens {tokens!r} does not apply to --models {name!r} "
                             f"--layers {named}: {err}") from None


def _check_own_cube(out: Path, identity: str) -> None:
    """Refuse an ``--out`` folder that holds a cube of another study (or a broken one): only
    this study's own cube is rewritten (a rerun resumes from --cache-dir)."""
    from geowidget.cube_format import study_of

    try:
        found = study_of(out)
    except (OSError, ValueError) as err:
        raise ValueError(f"--out {str(out)!r} holds something else than this study's cube "
                         f"({err}); choose a new or empty folder") from None
    if found is not None and found != identity:
        raise ValueError(f"--out {str(out)!r} holds the cube of another study (other models, "
                         "data or settings); choose a new or empty folder, or delete it first")


def _check_probe_options(args: argparse.Namespace) -> None:
    """Refuse probe options that would change nothing: probes measure only intermediate
    --layers, and --probe-folds is the cross-fitting that --probe-data replaces."""
    from geowidget.study.units import PENULTIMATE

    given = [o for o, v in (("--probe-data", args.probe_data), ("--probe-folds",
                                                                 args.probe_folds)) if v is not None]
    if given and all(v == PENULTIMATE for v in args.layers or [PENULTIMATE]):
        raise ValueError(f"{' and '.join(given)} apply to no layer: linear probes measure the "
                         f"intermediate --layers, and the layers are only {PENULTIMATE!r} "
                         "(measured against the model's own head); add --layers or drop them")
    if len(given) == 2:
        raise ValueError("--probe-folds sets the cross-fitting of the probes on --data, and "
                         f"--probe-data {args.probe_data!r} replaces it (one probe fitted on "
                         "that set); pass one of them")


def runner_of(args: argparse.Namespace) -> LocalRunner | RayRunner:
    """The Study's runner from ``--backend``, ``--ray-address`` and ``--ray-num-gpus``."""
    from geowidget.study import LocalRunner, RayRunner

    if args.backend == "local":
        for option, value in (("--ray-address", args.ray_address),
                              ("--ray-num-gpus", args.ray_num_gpus)):
            if value is not None:
                raise ValueError(f"{option} {value!r} applies only with --backend ray")
        return LocalRunner()
    return RayRunner(address=args.ray_address,
                     remote_args=None if args.ray_num_gpus is None
                     else {"num_gpus": args.ray_num_gpus})


def study(args: argparse.Namespace) -> int:
    """Run a Study and write its cube as Parquet."""
    check_options("study", args)  # every option, before any work
    from geowidget import zoo
    from geowidget.study import Study
    from geowidget.study.units import PENULTIMATE

    if args.tokens is not None and all(v == PENULTIMATE for v in args.layers or [PENULTIMATE]):
        raise ValueError(f"--tokens {args.tokens!r} applies to no layer: it reduces the token "
                         f"output of a transformer layer given in --layers, and the layers are "
                         f"only {PENULTIMATE!r} (the head's input, never tokens); add --layers "
                         "or drop --tokens")

    _check_probe_options(args)
    if args.backend == "ray" and args.ray_address is not None:  # fail fast, before the models
        from geowidget.study.runners import check_reachable

        try:
            check_reachable(args.ray_address)
        except (ConnectionError, ValueError) as err:
            raise ValueError(f"--ray-address {args.ray_address!r}: {err}") from None

    specs = [s for item in args.models for s in item.split(",") if s]
    if specs == ["zoo"]:
        specs = zoo.names()
    models = dict(load_model(s) for s in specs)
    if len(models) != len(specs):
        raise ValueError(f"--models gives duplicate names: {specs}")
    data = load_data(args.data, args.samples)
    _check_models_run(models, data, args.data)
    probe_data = None
    if args.probe_data is not None:
        probe_data = load_data(args.probe_data, None, "--probe-data")
        _check_models_run(models, probe_data, args.probe_data, "--probe-data")
    corruptions: Any = args.corruptions
    if corruptions and len(corruptions) == 1 and corruptions[0] in ("mnist-c", "imagenet-c"):
        corruptions = corruptions[0]
    out = Path(args.out)
    st = Study(
        models, data, layers=args.layers, sparsities=args.sparsities, grid=args.grid,
        pruning=args.pruning, probe_data=probe_data,
        **({} if args.probe_folds is None else {"probe_folds": args.probe_folds}),
        corruptions=corruptions or None, severities=args.severities,
        batch_size=args.batch_size, device=args.device, cache_dir=args.cache_dir,
        seed=args.seed, progress=not args.quiet, tokens=args.tokens, runner=runner_of(args),
        adversarial=None if args.adversarial is None else {
            "norm": args.adversarial, "samples": args.adversarial_samples},
    )
    if args.tokens is not None:
        _check_tokens_apply(models, data, st.plan.layers, args.tokens)
    if out.suffix != ".parquet":
        _check_own_cube(out, st.identity)
    if out.suffix == ".parquet":  # one file, assembled in memory
        cube = st.run()
        cube.to_parquet(str(out))
    else:  # a partitioned cube, written partition by partition (GeometryCube.open reads it)
        cube = st.run(out=out)
    parts = [("outputs", st.part_stats["outputs"]), *st.part_stats["layers"].items()]
    print(f"wrote {out}: {cube!r} ({st.stats['computed']} units computed, "
          f"{st.stats['cached']} from the cache; parts computed / from the cache: "
          + ", ".join(f"{name} {c['computed']}/{c['cached']}" for name, c in parts) + ")")
    for target in ("robustness", "vulnerability", "adversarial"):
        try:
            table = cube.correlations(target=target, ci=None)
        except (ValueError, KeyError):
            continue
        cols = ["rc-angle", "rc-l2", "rc-margin"]
        print(f"Pearson r with {target}:")
        print(table[cols].to_string(float_format=lambda v: f"{v:+.3f}"))
    return 0


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``geowidget`` (one sub-command per verb)."""
    parser = argparse.ArgumentParser(
        prog="geowidget",
        description="Compare neural-network classifiers by the geometry of their latent "
                    "features.\n\n" + "\n".join(__doc__.splitlines()[2:]).replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="build the demo study and start JupyterLab on quickstart")
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    p.add_argument("--notebooks", default=None, help="folder with quickstart.ipynb")
    p.add_argument("--no-lab", action="store_true",
                   help="build the study, print the JupyterLab command and URL, do not start")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=demo)

    p = sub.add_parser("report", help="write a standalone interactive HTML report")
    p.add_argument("--out", required=True, help="output .html file")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--zoo", default="demo", help="the bundled demo study (default)")
    group.add_argument("--study", default=None, help="a cube written by `geowidget study` (a .parquet file or a "
                       "cube folder)")
    p.add_argument("--title", default=None, help="page title")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the CIs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=report)

    p = sub.add_parser("study", help="run a Study and write its cube as Parquet")
    p.add_argument("--models", nargs="+", required=True,
                   help="zoo names, 'zoo' (all), or module:factory[@weights.pt]; "
                        "optionally name=...")
    p.add_argument("--data", default="mnist-probe",
                   help=f"one of {', '.join(DATA_NAMES)}, or a .pt/.npz file with images "
                        "and labels")
    p.add_argument("--out", required=True,
                   help="output .parquet file, or a folder for a partitioned cube that is "
                        "never held in memory at once (GeometryCube.open reads it); rerun "
                        "the same command to resume a killed run (with --cache-dir) or to "
                        "rewrite its cube")
    p.add_argument("--samples", type=int, default=None,
                   help="keep this many samples, balanced over classes (rounded down to a "
                        "multiple of the number of classes)")
    p.add_argument("--probe-data", default=None,
                   help="fit the probes of intermediate --layers on this separate set (the "
                        "forms of --data; disjoint from it) instead of cross-fitting them")
    p.add_argument("--probe-folds", type=int, default=None,
                   help="cross-fit the probes of intermediate --layers in this many folds of "
                        "--data (default 5): no sample is measured by a probe that saw it")
    p.add_argument("--layers", nargs="+", default=None, help="layers (default: penultimate)")
    p.add_argument("--sparsities", nargs="*", type=float, default=[0.5, 0.9],
                   help="pruning levels besides 0")
    p.add_argument("--pruning", default="global_magnitude", help="pruning method")
    p.add_argument("--grid", choices=["full", "dense-corrupted"], default="full",
                   help="corrupt every sparsity (full), or the dense model only")
    p.add_argument("--corruptions", nargs="*", default=[],
                   help="corruption names, or mnist-c / imagenet-c")
    p.add_argument("--severities", nargs="+", type=int, default=[1, 3, 5],
                   help="corruption severities (1-5)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--cache-dir", default=None,
                   help="resumable unit store: a directory or a pyarrow.fs URI (s3://...)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tokens", default=None,
                   help="transformer layers: reduce tokens by 'cls', 'mean' or 'flatten'")
    p.add_argument("--adversarial", default=None,
                   help="also measure each sample's adversarial distance: l2 or linf "
                        '(pip install "geowidget[adversarial]")')
    p.add_argument("--adversarial-samples", type=int, default=500,
                   help="with --adversarial: the first N samples are attacked")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="run units in this process, or on Ray actors")
    p.add_argument("--ray-address", default=None,
                   help="with --backend ray: 'auto', host:port or ray://host:10001 (default: "
                        "the running Ray, or a new local cluster)")
    p.add_argument("--ray-num-gpus", type=float, default=None,
                   help="with --backend ray: GPUs per actor (e.g. 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=study)

    p = sub.add_parser("summary", help="per-class geometry of one bundled model, as a table")
    p.add_argument("--model", default="lenet-s0", help="a name from geowidget.zoo.names()")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``geowidget`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    Bad input (unknown models, files, corruptions ...) prints ``geowidget: error: ...`` and
    returns 2.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, KeyError, FileNotFoundError, ConnectionError) as err:
        parser.exit(2, f"geowidget {args.command}: error: {err}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
