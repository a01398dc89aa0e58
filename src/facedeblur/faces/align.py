"""Face alignment: a similarity transform that puts five landmarks on a fixed template.

Every network of the attribute obfuscation sees faces framed the same way: the two eye
centroids, the nose tip and the mouth corners of dlib's 68 points (``five_points``) are mapped by
the least-squares similarity (rotation, uniform scale, translation) onto ``TEMPLATE``, given as
fractions of the crop side. The template leaves room around the face for context: on CelebA
and LFW faces the face mask spans rows 0.14-0.84 and columns 0.20-0.80 of the crop (medians),
leaving a band of context all round; a 64 px crop is CelebA's half-resolution scale times 0.67.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..errors import UsageError
from .dlib_faces import five_points

TEMPLATE = np.array(
    [(0.40, 0.42), (0.60, 0.42), (0.50, 0.535), (0.41, 0.625), (0.59, 0.625)], dtype=np.float64
)
"""Left eye, right eye, nose tip, left and right mouth corner (x, y), fractions of the crop side."""

DLIB_CHIP_POINTS = np.array(
    [
        (0.8595674595992, 0.2134981538014),
        (0.6460604764104, 0.2289674387677),
        (0.1205750620789, 0.2137274526848),
        (0.3340850613712, 0.2290642403242),
        (0.4901123135679, 0.6277975316475),
    ],
    dtype=np.float64,
)
"""Where dlib's ``get_face_chip_details`` puts its 5-point predictor's points (x, y), as fractions
of an unpadded chip: the outer and inner corner of the image-right eye, of the image-left eye,
and the bottom of the nose."""


def similarity_matrix(src, dst) -> np.ndarray:
    """The 2x3 similarity (rotation, uniform scale, translation) from ``src`` to ``dst``.

    It maps ``src`` points nearest to ``dst`` in least squares.

    Args:
        src: (K, 2) points (x, y), K >= 2, not all equal.
        dst: (K, 2) target points.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or src.shape[0] < 2:
        raise UsageError(
            f"similarity needs two (K, 2) point sets with K >= 2, got {src.shape} and {dst.shape}"
        )
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    norm = (s * s).sum()
    if norm <= 1e-12:
        raise UsageError("cannot align: the landmarks coincide")
    # Closed form for x' = a x - b y + tx, y' = b x + a y + ty.
    a = (s * d).sum() / norm
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / norm
    rot = np.array([[a, -b], [b, a]])
    return np.hstack([rot, (mu_d - rot @ mu_s)[:, None]])


def alignment_matrix(points68, size: int) -> np.ndarray:
    """2x3 matrix taking photo coordinates to those of the ``size`` x ``size`` aligned crop."""
    return similarity_matrix(five_points(np.asarray(points68, dtype=np.float32)), TEMPLATE * size)


def transform_points(points, matrix: np.ndarray) -> np.ndarray:
    """(K, 2) points mapped by a 2x3 affine matrix; float32."""
    p = np.asarray(points, dtype=np.float64)
    return (p @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def align_face(image: np.ndarray, points68, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The aligned ``size`` x ``size`` crop of a face, the matrix, and the landmarks.

    The landmarks are in crop coordinates.

    Parts of the crop outside the photo are filled by reflection, as face crops are elsewhere.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1].
        points68: the face's (68, 2) dlib landmarks (x, y) in photo pixels.
        size: crop side in pixels.

    Returns:
        (crop (size, size, 3) float32, matrix (2, 3), points (68, 2) float32 in the crop).
    """
    matrix = alignment_matrix(points68, size)
    crop = cv2.warpAffine(
        np.asarray(image, dtype=np.float32),
        matrix,
        (size, size),
        flags=cv2.INTER_AREA if matrix[0, 0] ** 2 + matrix[1, 0] ** 2 < 1 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT_101,
    )
    return np.clip(crop, 0.0, 1.0), matrix, transform_points(points68, matrix)


def unalign(crop: np.ndarray, matrix: np.ndarray, shape_hw: tuple[int, int]) -> np.ndarray:
    """An aligned crop warped back into photo coordinates.

    (H, W, C) float32 for a photo of ``shape_hw``.

    Photo pixels that the crop does not cover are 0; blend with a mask inside the face.
    """
    height, width = int(shape_hw[0]), int(shape_hw[1])
    back = cv2.warpAffine(
        np.asarray(crop, dtype=np.float32),
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return back.reshape(height, width, -1) if back.ndim == 2 else back


def dlib_chip_matrix(points5, size: int = 150, padding: float = 0.25) -> np.ndarray:
    """The 2x3 matrix taking chip pixels (x, y) to photo pixels, as dlib's face chips are cut.

    It reproduces ``dlib.get_face_chip_details(shape, size, padding)`` followed by
    ``extract_image_chip``: the least-squares similarity from the padded template to the
    landmarks, then dlib's rectangle (its corner pixels land on the similarity's rectangle of
    side ``size * scale - 1``), so chip pixel centres sample the photo where dlib's do.

    Args:
        points5: (5, 2) landmarks (x, y) of dlib's 5-point shape predictor, in photo pixels.
        size: chip side in pixels (150 for the face-recognition network).
        padding: border around the template, as a fraction of its side (dlib's default 0.25).
    """
    template = (padding + DLIB_CHIP_POINTS) / (2.0 * padding + 1.0) * size
    similarity = similarity_matrix(template, points5)
    scale = float(np.hypot(similarity[0, 0], similarity[1, 0]))
    rotation = similarity[:, :2] / scale
    centre = similarity[:, :2] @ np.array([size / 2.0, size / 2.0]) + similarity[:, 2]
    step = (size * scale - 1.0) / (size - 1.0)
    linear = rotation * step
    return np.hstack([linear, (centre - linear @ np.full(2, (size - 1) / 2.0))[:, None]])


def extract_chips(images: torch.Tensor, matrices: torch.Tensor, size: int = 150) -> torch.Tensor:
    """Cut ``size`` x ``size`` chips by bilinear sampling, differentiable in the images.

    Chip pixel (x, y) samples the photo at ``matrix @ (x, y, 1)`` (pixel centres at integer
    coordinates, as dlib's bilinear interpolation); outside the photo the chip is black.

    Args:
        images: (N, C, H, W) float images.
        matrices: (N, 2, 3) chip-to-photo matrices (``dlib_chip_matrix``), any float dtype.
        size: chip side in pixels.

    Returns:
        (N, C, size, size) chips, dtype and device of ``images``.
    """
    n, _, height, width = images.shape
    if matrices.shape != (n, 2, 3):
        raise ValueError(f"need ({n}, 2, 3) matrices for {n} images, got {tuple(matrices.shape)}")
    coords = torch.arange(size, dtype=torch.float64, device=images.device)
    ys, xs = torch.meshgrid(coords, coords, indexing="ij")
    chip = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1).reshape(-1, 3)
    photo = chip @ matrices.to(device=images.device, dtype=torch.float64).transpose(1, 2)
    scale = torch.tensor([width - 1, height - 1], dtype=torch.float64, device=images.device)
    grid = (2.0 * photo / scale.clamp(min=1) - 1.0).reshape(n, size, size, 2)
    return F.grid_sample(
        images, grid.to(images.dtype), mode="bilinear", padding_mode="zeros", align_corners=True
    )
