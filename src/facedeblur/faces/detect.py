"""Face detection: a common result type, dlib's HOG detector, and square face crops."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..io import to_uint8
from .dlib_models import load_dlib


@dataclass(frozen=True)
class Detection:
    """One face: box (x0, y0, x1, y1) in pixels, detector score, optional five landmarks (5, 2)."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray | None = None

    @property
    def width(self) -> float:
        """Box width in pixels."""
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        """Box height in pixels."""
        return self.box[3] - self.box[1]


@functools.cache
def _hog_detector():
    return load_dlib().get_frontal_face_detector()


class DlibHOGDetector:
    """dlib's HOG + linear SVM frontal face detector.

    Args:
        upsample: times the image is doubled before detection (finds faces down to ~40 px at 1).
        threshold: score threshold passed to dlib (0 is dlib's default operating point).
    """

    name = "dlib-hog"

    def __init__(self, upsample: int = 1, threshold: float = 0.0):
        self.upsample = upsample
        self.threshold = threshold

    def __call__(self, img: np.ndarray) -> list[Detection]:
        """Detect faces in an RGB (H, W, 3) image (float in [0, 1] or uint8), best first."""
        rects, scores, _ = _hog_detector().run(to_uint8(img), self.upsample, self.threshold)
        found = [
            Detection(
                (float(r.left()), float(r.top()), float(r.right()), float(r.bottom())), float(s)
            )
            for r, s in zip(rects, scores)
        ]
        return sorted(found, key=lambda d: -d.score)


def largest_face(detections: list[Detection]) -> Detection | None:
    """The detection with the largest box area, or None."""
    if not detections:
        return None
    return max(detections, key=lambda d: d.width * d.height)


def square_face_box(
    detection: Detection, margin: float, height: int, width: int
) -> tuple[int, int, int]:
    """A square crop (x0, y0, side) around a face, grown by ``margin`` on every side.

    The side is (1 + 2 * margin) times the larger box side. The square is moved, and if
    needed shrunk, so that it lies inside the (height, width) image.
    """
    x0, y0, x1, y1 = detection.box
    side = (1.0 + 2.0 * margin) * max(x1 - x0, y1 - y0)
    side = int(min(round(side), height, width))
    cx = (x0 + x1) / 2.0
    cy = (y0 + y1) / 2.0
    left = int(math.floor(cx - side / 2.0))
    top = int(math.floor(cy - side / 2.0))
    left = min(max(left, 0), width - side)
    top = min(max(top, 0), height - side)
    return left, top, side
