"""Where the zoo's weights and manifest live, and how its MNIST split is drawn.

Plain constants, no torch: reading the manifest (:func:`geowidget.zoo.names`,
:func:`geowidget.zoo.info`) and fingerprinting the weights (the demo cube's cache key) work
in an install without the engine.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["MANIFEST", "SPLIT", "WEIGHTS_DIR"]

WEIGHTS_DIR = Path(__file__).with_name("weights")
MANIFEST = "manifest.json"
SPLIT = {"dataset": "mnist", "test_fraction": 0.3, "seed": 0}
