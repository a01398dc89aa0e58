"""Facial motion-based reordering (FMR) of the sharp frames behind one blurry face, as in CFMD-GAN.

A blurry training sample averages N sharp frames. Their time order is ambiguous for the model
(the same blur comes from playing the frames forwards or backwards), so CFMD-GAN reorders them by
where the face is: each frame is keyed by the position of the left eye, frames are sorted by it,
and the k-th frame of that order is tied to the control factor ``u_k`` that the generator is
conditioned on.

"Left eye" here is the eye on the image's left: iBUG 300-W / dlib points 36-41, which are the
subject's right eye in an unmirrored photo. This is the usual reading in 300-W / 300-VW tooling
and the one ``dlib_faces.five_points`` already uses, so the two stay consistent. For the ordering
only the eye's motion matters, and both eyes move alike under the translations FMR is meant for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import NoFaceError
from .detect import Detection, DlibHOGDetector, largest_face
from .dlib_faces import landmarks68

LEFT_EYE_POINTS = tuple(range(36, 42))
"""Indices of the image-left eye (the subject's right eye) among the 68 iBUG 300-W points."""


@dataclass(frozen=True)
class FrameOrder:
    """The motion order of N frames.

    Attributes:
        order: frame indices (into the input, i.e. time order) sorted by left-eye position;
            ``order[k]`` is the frame that takes the k-th place.
        u: (N,) float32 control factors in [0, 1]; ``u[k]`` belongs to frame ``order[k]``.
        eyes: (N, 2) float32 left-eye centroids (x, y) in pixels, in the input's time order.
    """

    order: list[int]
    u: np.ndarray
    eyes: np.ndarray


def eye_centroid(points68: np.ndarray) -> tuple[float, float]:
    """Centroid (x, y) in pixels of ``LEFT_EYE_POINTS`` of a (68, 2) array of (x, y) landmarks."""
    p = np.asarray(points68, dtype=np.float64)
    if p.shape != (68, 2):
        raise ValueError(f"expected (68, 2) landmarks, got {p.shape}")
    x, y = p[list(LEFT_EYE_POINTS)].mean(axis=0)
    return float(x), float(y)


def motion_order(positions: Sequence[Sequence[float]]) -> list[int]:
    """Indices of N positions sorted by x ascending, then y ascending, then index ascending.

    ``positions`` is an (N, 2) array or a sequence of N (x, y) pairs in pixels, in time order.
    Ties are exact equality of the float values: no tolerance is applied, so two eye positions a
    hundredth of a pixel apart are ordered by x. The index is the frame's place in time, so fully
    tied frames keep their time order.
    """
    if len(positions) == 0:
        return []
    p = np.asarray(positions, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"expected (N, 2) positions, got {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError("positions must be finite")
    return sorted(range(len(p)), key=lambda i: (p[i, 0], p[i, 1], i))


def control_factors(n: int) -> np.ndarray:
    """Control factors ``u_i = (i - 1) / (N - 1)`` for i = 1..N: (N,) float32 from 0 to 1.

    The CFMD-GAN paper writes ``u_i = (i - 1) / N`` yet conditions on u = 0.5 for the centre
    frame; with (i - 1) / N the centre of an odd N sits at (N - 1) / (2N), below 0.5, and the last
    frame never reaches 1. Dividing by N - 1 makes the factors symmetric, puts the centre frame of
    an odd N at exactly 0.5 and the ends at 0 and 1. N = 1 has only the centre: [0.5].
    """
    if n < 1:
        raise ValueError(f"need at least one frame, got {n}")
    if n == 1:
        return np.array([0.5], dtype=np.float32)
    return (np.arange(n, dtype=np.float64) / (n - 1)).astype(np.float32)


def order_frames(
    frames: Sequence[np.ndarray],
    landmarks: Callable[[np.ndarray, Sequence[float]], np.ndarray] = landmarks68,
    detector: Callable[[np.ndarray], list[Detection]] | None = None,
    box: Sequence[float] | None = None,
) -> FrameOrder:
    """Order the N sharp frames of one sample by the left-eye position of the face in each.

    Args:
        frames: N >= 1 RGB images (H, W, 3), float in [0, 1] or uint8, in time order.
        landmarks: ``(image, box) -> (68, 2)`` iBUG landmarks (x, y) of the face in box
            (x0, y0, x1, y1); dlib's ``landmarks68`` by default.
        detector: ``image -> detections``; the largest face of each frame is used. None: dlib's
            HOG detector (upsample 1). Ignored when ``box`` is given.
        box: one face box (x0, y0, x1, y1) used for every frame instead of detection.

    Raises:
        NoFaceError: a frame where the detector finds no face; the message names its index.
        ValueError: no frames.
    """
    if not frames:
        raise ValueError("no frames to order")
    if box is None and detector is None:
        detector = DlibHOGDetector(upsample=1)
    eyes = []
    for index, frame in enumerate(frames):
        face_box = box
        if face_box is None:
            face = largest_face(detector(frame))
            if face is None:
                raise NoFaceError(f"frame {index}", "no face found")
            face_box = face.box
        eyes.append(eye_centroid(landmarks(frame, face_box)))
    return FrameOrder(
        motion_order(eyes), control_factors(len(frames)), np.asarray(eyes, dtype=np.float32)
    )
