"""The corruption kernels, one module per kind (as torchvision's ``transforms.v2.functional``).

Every kernel is ``kernel(x, c, s)``: a float32 batch ``x`` ``[N, C, H, W]``, the parameter
``c`` of one severity (the tables are in :data:`geowidget.engine.corruptions.CORRUPTIONS`)
and the per-image random stream ``s``; it returns the corrupted batch, not yet clipped to
[0, 1]. :func:`geowidget.engine.corruptions.corrupt` draws the stream, looks the parameter
up and clips; call it rather than a kernel unless you bring your own parameter.

=============  ==============================================================
module         kernels
=============  ==============================================================
``_noise``     gaussian_noise, shot_noise, impulse_noise
``_blur``      defocus_blur, gaussian_blur, motion_blur, zoom_blur, glass_blur
``_color``     contrast, brightness, saturate
``_digital``   jpeg_compression, pixelate, elastic_transform, canny_edges
``_weather``   fog, snow, spatter
``_geometry``  rotate, shear, scale, translate
``_occlusion`` stripe, dotted_line, zigzag
=============  ==============================================================

``_random`` holds the counter-based random numbers and ``_filters`` the separable filters
and the resampling the kernels share.
"""

from __future__ import annotations

from geowidget.engine.corruptions.functional._blur import (
    defocus_blur,
    gaussian_blur,
    glass_blur,
    motion_blur,
    zoom_blur,
)
from geowidget.engine.corruptions.functional._color import brightness, contrast, saturate
from geowidget.engine.corruptions.functional._digital import (
    canny_edges,
    elastic_transform,
    jpeg_compression,
    pixelate,
)
from geowidget.engine.corruptions.functional._geometry import rotate, scale, shear, translate
from geowidget.engine.corruptions.functional._noise import (
    gaussian_noise,
    impulse_noise,
    shot_noise,
)
from geowidget.engine.corruptions.functional._occlusion import dotted_line, stripe, zigzag
from geowidget.engine.corruptions.functional._weather import fog, snow, spatter

__all__ = [
    "brightness", "canny_edges", "contrast", "defocus_blur", "dotted_line",
    "elastic_transform", "fog", "gaussian_blur", "gaussian_noise", "glass_blur",
    "impulse_noise", "jpeg_compression", "motion_blur", "pixelate", "rotate", "saturate",
    "scale", "shear", "shot_noise", "snow", "spatter", "stripe", "translate", "zigzag",
    "zoom_blur",
]
