"""AttributionView: which input regions move θ or m, by occlusion, as a heatmap on the image."""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets as t

from geowidget.widgets.base import GeoView
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


class AttributionView(GeoView):
    """Occlusion maps of Δθ (degrees) and Δm for one sample, drawn over its image.

    With a model, maps are computed by :func:`geowidget.engine.attribution.occlusion` (one
    batched pass) whenever ``sample``, ``patch`` or ``stride`` changes; or pass precomputed
    maps. Setting ``selected`` (e.g. linked from another view) shows its first sample.

    Parameters
    ----------
    model : torch.nn.Module, optional
        The classifier.
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
        Precomputed maps instead of a model (Δθ in radians).
    class_names : list of str, optional
    sample_ids : array-like of int [N], optional
        Ids that ``selected`` refers to (default ``0..N-1``).
    """

    sample = t.Int(0).tag(sync=True)
    patch = t.Int(4).tag(sync=True)
    stride = t.Int(2).tag(sync=True)
    field = t.Unicode("angle").tag(sync=True)
    opacity = t.Float(0.6).tag(sync=True)
    scale = t.Int(10).tag(sync=True)

    def __init__(self, model: Any = None, images: Any = None, labels: Any = None, *,
                 sample: int = 0, patch: int = 4, stride: int = 2, layer: str | None = None,
                 image: Any = None, delta_angle: Any = None, delta_margin: Any = None,
                 class_names: list[str] | None = None, sample_ids: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._kind = "attribution"
        self._model, self._layer = model, layer
        self._class_names = class_names
        if model is not None:
            if images is None or labels is None:
                raise ValueError("with a model, pass images [N, C, H, W] and labels [N]")
            self._images, self._labels = images, np.asarray(as_numpy(labels), np.int64)
            if len(self._labels) != len(images):
                raise ValueError(f"labels has {len(self._labels)} values for {len(images)} "
                                 "images; lengths must match")
            self._ids = (np.arange(len(self._labels)) if sample_ids is None
                         else np.asarray(as_numpy(sample_ids), np.int64))
            with self.hold_sync():
                self.patch, self.stride, self.sample = patch, stride, sample
            self._compute()
            self.observe(lambda _: self._compute(), ["sample", "patch", "stride"])
        else:
            if image is None or delta_angle is None or delta_margin is None:
                raise ValueError("pass a model with images and labels, or image=, delta_angle= "
                                 "and delta_margin= maps")
            self._show(display_image(as_numpy(image)), as_numpy(delta_angle),
                       as_numpy(delta_margin), {"sample_id": sample})

    @t.validate("sample")
    def _valid_sample(self, proposal: Any) -> int:
        n = len(getattr(self, "_labels", [])) or 1
        return self._check_index("sample", proposal["value"], n)

    @t.validate("patch", "stride")
    def _valid_size(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise ValueError(f"{proposal['trait'].name} must be >= 1 pixel, got {proposal['value']}")
        return proposal["value"]

    @t.validate("field")
    def _valid_field(self, proposal: Any) -> str:
        if proposal["value"] not in FIELDS:
            raise ValueError(f"field must be one of {list(FIELDS)}, got {proposal['value']!r}")
        return proposal["value"]

    @t.observe("selected")
    def _follow_selection(self, change: dict[str, Any]) -> None:
        if getattr(self, "_model", None) is not None and len(change["new"]):
            hits = np.flatnonzero(self._ids == int(change["new"][0]))
            if hits.size:
                self.sample = int(hits[0])

    def _compute(self) -> None:
        from geowidget.engine.attribution import occlusion

        i = self.sample
        image = self._images[i]
        occ = occlusion(self._model, image, int(self._labels[i]), patch=self.patch,
                        stride=self.stride, layer=self._layer)
        meta = {"sample_id": int(self._ids[i]), "label": int(self._labels[i]), "base_pred": int(occ.base_pred),
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
            self._meta = {**meta, "patch": self.patch, "stride": self.stride,
                          "class_names": self._class_names or [], "models": [], "layers": [],
                          "conditions": []}
            self._arrays = {"image": img, "delta": np.stack([self.maps["angle"],
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
