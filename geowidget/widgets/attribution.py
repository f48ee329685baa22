"""AttributionView: which input regions move θ or m, by occlusion, as a heatmap on the image."""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets as t

from geowidget.widgets.base import Enum, Float, Int, SampleView, invalid
from geowidget.widgets.codec import as_numpy

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

    Parameters
    ----------
    net : torch.nn.Module, optional
        The classifier (named ``net`` so it does not clash with the ``model`` index that
        linked views share).
    images : array-like or Tensor [N, C, H, W], optional
        Inputs in the model's units.
    labels : array-like of int [N], optional
        True classes.
    sample : int
        Position of the sample shown.
    patch, stride : int
        Occlusion patch side and step, in pixels.
    layer : str, optional
        Feature layer passed to ``occlusion``.
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
    >>> gw.AttributionView(net, digits.images[:20], digits.labels[:20])  # doctest: +SKIP
    """

    _kind = t.Unicode("attribution").tag(sync=True)
    sample = Int(0, min=0).tag(sync=True)
    patch = Int(4, min=1).tag(sync=True)
    stride = Int(2, min=1).tag(sync=True)
    field = Enum(FIELDS, "angle").tag(sync=True)
    opacity = Float(0.6, min=0.0, max=1.0).tag(sync=True)
    scale = Int(10, min=1, max=64).tag(sync=True)

    def __init__(self, net: Any = None, images: Any = None, labels: Any = None, *,
                 sample: int = 0, patch: int = 4, stride: int = 2, layer: str | None = None,
                 image: Any = None, delta_angle: Any = None, delta_margin: Any = None,
                 class_names: list[str] | None = None, sample_ids: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._id_arrays: dict[str, np.ndarray] = {}
        self._id_meta: dict[str, Any] = {}
        self._net, self._layer = net, layer
        self._class_names = class_names
        if net is not None:
            if images is None or labels is None:
                raise ValueError("with a classifier (net), pass images [N, C, H, W] and "
                                 "labels [N]")
            self._images, self._labels = images, np.asarray(as_numpy(labels), np.int64)
            if len(self._labels) != len(images):
                raise ValueError(f"labels has {len(self._labels)} values for {len(images)} "
                                 "images; lengths must match")
            self._id_arrays, self._id_meta = self._wire_ids(
                np.arange(len(self._labels)) if sample_ids is None
                else np.asarray(as_numpy(sample_ids), np.int64))
            with self.hold_sync():
                self.patch, self.stride, self.sample = patch, stride, sample
            self._compute()
            self.observe(lambda _: self._compute(), ["sample", "patch", "stride"])
        else:
            if image is None or delta_angle is None or delta_margin is None:
                raise ValueError("pass a classifier (net) with images and labels, or image=, "
                                 "delta_angle= and delta_margin= maps")
            self._show(display_image(as_numpy(image)), as_numpy(delta_angle),
                       as_numpy(delta_margin), {"sample_id": sample})

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

    def _compute(self) -> None:
        from geowidget.engine.attribution import occlusion

        i = self.sample
        image = self._images[i]
        occ = occlusion(self._net, image, int(self._labels[i]), patch=self.patch,
                        stride=self.stride, layer=self._layer)
        meta = {"sample_id": int(self._sample_ids[i]), "label": int(self._labels[i]), "base_pred": int(occ.base_pred),
                "base_angle_deg": float(np.degrees(occ.base_angle)),
                "base_margin": float(occ.base_margin)}
        self._show(display_image(as_numpy(image)), as_numpy(occ.delta_angle_map),
                   as_numpy(occ.delta_margin_map), meta)

    def _show(self, img: np.ndarray, d_angle: np.ndarray, d_margin: np.ndarray,
              meta: dict[str, Any]) -> None:
        if d_angle.shape != img.shape or d_margin.shape != img.shape:
            raise ValueError(f"maps {d_angle.shape}, {d_margin.shape} must match the image "
                             f"{img.shape}")
        self.maps = {"angle": np.degrees(d_angle.astype(np.float64)),
                     "margin": d_margin.astype(np.float64)}
        with self.hold_sync():
            self._meta = {**meta, **self._id_meta, "patch": self.patch, "stride": self.stride,
                          "class_names": self._class_names or []}
            self._arrays = {**self._id_arrays, "image": img, "delta": np.stack([self.maps["angle"],
                                                             self.maps["margin"]])}

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
