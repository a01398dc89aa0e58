"""Geometric image operations shared by synthesis, datasets and face crops."""

from __future__ import annotations

import cv2
import numpy as np


def center_square_box(height: int, width: int) -> tuple[int, int, int]:
    """The largest centred square of an image, as (x0, y0, side)."""
    side = min(height, width)
    return (width - side) // 2, (height - side) // 2, side


def crop_square(img: np.ndarray, box: tuple[int, int, int]) -> np.ndarray:
    """Crop an (H, W, C) image to the square ``box`` = (x0, y0, side); the box must lie inside."""
    x0, y0, side = box
    return img[y0 : y0 + side, x0 : x0 + side]


def resize(img: np.ndarray, size: int | tuple[int, int], clip: bool = True) -> np.ndarray:
    """Resize an (H, W, C) float image to ``size`` (square side or (height, width)).

    Uses area averaging when shrinking (no aliasing) and bicubic when enlarging. Float results
    are clipped to [0, 1] unless ``clip`` is false (signed images such as differences).
    """
    height, width = (size, size) if isinstance(size, int) else size
    if (img.shape[0], img.shape[1]) == (height, width):
        return img.copy()
    shrinking = height < img.shape[0] or width < img.shape[1]
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    out = cv2.resize(img, (width, height), interpolation=interp)
    if out.ndim == 2:
        out = out[:, :, None]
    return np.clip(out, 0.0, 1.0) if clip and out.dtype != np.uint8 else out
