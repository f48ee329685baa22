"""AttributionView: which input regions move θ or m, by occlusion, as a heatmap on the image."""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets as t

from geowidget.widgets.codec import as_numpy
from geowidget.widgets.deprecation import renamed
from geowidget.widgets.traits import Enum, Float, Int, invalid
from geowidget.widgets.view import SampleView

__all__ = ["AttributionView", "display_image"]

FIELDS = ("angle", "margin")


def display_image(image: np.ndarray) -> np.ndarray:
    """uint8 ``[H, W]`` grey image from ``[C, H, W]`` or ``[H, W]`` (mean over channels,
    min-max scaled)."""
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 3:
        img = img.mean(axis=0)
    if img.ndim != 2:
        raise ValueError(f"image must be [H, W] or [C, H, W], got shape {image.shape}")
    lo, hi = np.nanmin(img), np.nanmax(img)
    scaled = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    return np.round(scaled * 255).astype(np.uint8)


class AttributionView(SampleView):
    """Occlusion maps of Δθ (degrees) and Δm for one sample, drawn over its image.

    With a classifier, maps are computed by :func:`geowidget.engine.attribution.occlusion`
    (one batched pass) whenever ``sample``, ``patch`` or ``stride`` changes; or pass
    precomputed maps. Setting ``selected`` (e.g. linked from another view) shows its first
    sample.

    ``model`` here is the network (the engine's meaning of the word), not the ``model``
    position other views pick: this view has no ``model`` trait, so linking views on
    ``"model"`` passes it by, and it follows the linked selection (``selected``) instead.

    Parameters
    ----------
    model : torch.nn.Module, optional
        The classifier (``net=`` is its deprecated spelling).
    data : array-like or Tensor [N, C, H, W], or a pair (x, y), optional
        The samples, in the model's units; a pair carries the labels too (``images=`` is the
        deprecated spelling).
    labels : array-like of int [N], optional
        True classes, when ``data`` holds inputs only.
    sample : int
        Position of the sample shown.
    patch, stride : int
        Occlusion patch side and step, in pixels.
    layer : str, optional
        Feature layer passed to ``occlusion`` (a module name of the network).
    image, delta_angle, delta_margin : array-like [H, W], optional
        Precomputed maps instead of a classifier (Δθ in radians).
    class_names : list of str, optional
    sample_ids : array-like of int [N], optional
        Ids that ``selected`` refers to (default ``0..N-1``).

    Examples
    --------
    >>> import geowidget as gw
    >>> from geowidget.zoo import load
    >>> net, digits = load("lenet-s0"), gw.load_digits()                 # doctest: +SKIP
    >>> gw.AttributionView(net, (digits.images[:20], digits.labels[:20]))  # doctest: +SKIP
    """

    _kind = t.Unicode("attribution").tag(sync=True)
    sample = Int(0, min=0).tag(sync=True)
    patch = Int(4, min=1).tag(sync=True)
    stride = Int(2, min=1).tag(sync=True)
    field = Enum(FIELDS, "angle").tag(sync=True)
    opacity = Float(0.6, min=0.0, max=1.0).tag(sync=True)
    scale = Int(10, min=1, max=64).tag(sync=True)

    data_keywords = ("model", "data", "labels", "layer", "image", "delta_angle",
                     "delta_margin", "class_names", "sample_ids")

    def __init__(self, model: Any = None, data: Any = None, labels: Any = None, *,
                 sample: int = 0, patch: int = 4, stride: int = 2, layer: str | None = None,
                 image: Any = None, delta_angle: Any = None, delta_margin: Any = None,
                 class_names: list[str] | None = None, sample_ids: Any = None,
                 **kwargs: Any) -> None:
        model = renamed(kwargs, "net", "model", model, None, "AttributionView")
        data = renamed(kwargs, "images", "data", data, None, "AttributionView")
        if isinstance(data, tuple | list) and len(data) == 2 and labels is None:
            data, labels = data  # the (x, y) pair of the glossary
        self._id_arrays: dict[str, np.ndarray] = {}
        self._id_meta: dict[str, Any] = {}
        self._net, self._layer = model, layer
        self._class_names = class_names
        if model is not None:
            if data is None or labels is None:
                raise ValueError("with a classifier (model), pass data: inputs [N, C, H, W] and "
                                 "labels [N], or an (x, y) pair")
            self._images, self._labels = data, np.asarray(as_numpy(labels), np.int64)
            if len(self._labels) != len(data):
                raise ValueError(f"labels has {len(self._labels)} values for {len(data)} "
                                 "inputs; lengths must match")
            self._id_arrays, self._id_meta = self._wire_ids(
                np.arange(len(self._labels)) if sample_ids is None
                else np.asarray(as_numpy(sample_ids), np.int64))
            for name, value in (("sample", sample), ("patch", patch), ("stride", stride)):
                self.traits()[name]._validate(self, value)  # before the maps depend on them
            meta, arrays = self._compute(sample, patch, stride)
        else:
            if image is None or delta_angle is None or delta_margin is None:
                raise ValueError("pass a classifier (model) with data and labels, or image=, "
                                 "delta_angle= and delta_margin= maps")
            meta, arrays = self._state(display_image(as_numpy(image)), as_numpy(delta_angle),
                                       as_numpy(delta_margin), {"sample_id": sample},
                                       patch, stride)
        if model is not None:  # (with precomputed maps, `sample` is only the id shown)
            kwargs["sample"] = sample
        super().__init__(patch=patch, stride=stride, _meta=meta, _arrays=arrays, **kwargs)
        if model is not None:
            self.observe(self._recompute, ["sample", "patch", "stride"])

    @t.validate("sample")
    def _valid_sample(self, proposal: Any) -> int:
        n = len(getattr(self, "_labels", [])) or 1
        if not proposal["value"] < n:
            raise invalid(self, "sample", f"a position in 0..{n - 1}", proposal["value"])
        return proposal["value"]

    @t.observe("selected")
    def _follow_selection(self, change: dict[str, Any]) -> None:
        if getattr(self, "_net", None) is not None and len(change["new"]):
            hits = np.flatnonzero(self._sample_ids == int(change["new"][0]))
            if hits.size:
                self.sample = int(hits[0])

    def _recompute(self, _change: Any = None) -> None:
        meta, arrays = self._compute(self.sample, self.patch, self.stride)
        with self.hold_sync():
            self._meta, self._arrays = meta, arrays

    def _compute(self, i: int, patch: int, stride: int
                 ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        from geowidget.engine.attribution import occlusion

        image = self._images[i]
        occ = occlusion(self._net, image, int(self._labels[i]), patch=patch, stride=stride,
                        layer=self._layer)
        meta = {"sample_id": int(self._sample_ids[i]), "label": int(self._labels[i]),
                "base_pred": int(occ.base_pred),
                "base_angle_deg": float(np.degrees(occ.base_angle)),
                "base_margin": float(occ.base_margin)}
        return self._state(display_image(as_numpy(image)), as_numpy(occ.delta_angle_map),
                           as_numpy(occ.delta_margin_map), meta, patch, stride)

    def _state(self, img: np.ndarray, d_angle: np.ndarray, d_margin: np.ndarray,
               meta: dict[str, Any], patch: int, stride: int
               ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The metadata and arrays of one sample's maps (kept in :attr:`maps` too)."""
        if d_angle.shape != img.shape or d_margin.shape != img.shape:
            raise ValueError(f"maps {d_angle.shape}, {d_margin.shape} must match the image "
                             f"{img.shape}")
        self.maps = {"angle": np.degrees(d_angle.astype(np.float64)),
                     "margin": d_margin.astype(np.float64)}
        meta = {**meta, **self._id_meta, "patch": patch, "stride": stride,
                "class_names": self._class_names or []}
        return meta, {**self._id_arrays, "image": img,
                      "delta": np.stack([self.maps["angle"], self.maps["margin"]])}

    def to_plotly(self) -> Any:
        """The shown map (``field``) as a plotly heatmap, symmetric about zero."""
        import plotly.graph_objects as go

        z = self.maps[self.field]
        lim = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
        fig = go.Figure(go.Heatmap(z=z, colorscale="RdBu", zmin=-lim, zmax=lim,
                                   colorbar={"title": {"text": "Δθ (deg)" if self.field ==
                                                       "angle" else "Δm"}}))
        fig.update_yaxes(autorange="reversed", scaleanchor="x")
        return fig
