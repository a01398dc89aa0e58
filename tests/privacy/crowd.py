"""A small crowd photo for the obfuscation tests: real LFW faces pasted at different sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facedeblur.io import read_image
from facedeblur.io.geometry import resize

CROWD = (
    ("Aaron_Eckhart/Aaron_Eckhart_0001.jpg", 250),
    ("AJ_Cook/AJ_Cook_0001.jpg", 110),
    ("Colin_Powell/Colin_Powell_0001.jpg", 64),
    ("George_W_Bush/George_W_Bush_0001.jpg", 64),
)
"""LFW photos and the side they are shrunk to; a 250 px LFW photo shows a face of ~108 px, so
these give faces of about 108, 48, 28 and 28 px: two above the default ``min_face``, two below."""

SMALL_FACES = 2


def crowd_photo(data_dir: Path) -> np.ndarray:
    """(260, 520, 3) float32 RGB in [0, 1]: the ``CROWD`` photos side by side on grey."""
    canvas = np.full((260, 520, 3), 0.45, np.float32)
    x = 0
    for name, side in CROWD:
        photo = read_image(data_dir / "lfw" / "images" / name)
        canvas[5 : 5 + side, x : x + side] = resize(photo, (side, side))
        x += side + 8
    return canvas
