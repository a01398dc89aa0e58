"""Classical face obfuscations (blur, pixelate, blackout, swirl, motion blur) inside a soft mask.

Each method scales with the size of the masked region (the longer side of the box around its
pixels at or above 0.5), so ``strength`` 1 hides a small face and a large one alike. The result
is ``mask * obfuscated + (1 - mask) * image`` where the mask is above 0; every pixel where it
is 0 is returned bit-identical. Only a box around the mask is processed, so a large photo with
a small face costs little.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..blur.kernels import linear_kernel
from ..errors import UsageError

METHODS = ("blur", "pixelate", "blackout", "swirl", "motion-blur")

BLUR_SIGMA = 0.08
"""Gaussian sigma at strength 1, as a fraction of the face size."""

PIXELATE_BLOCK = 0.1
"""Pixelation block side at strength 1, as a fraction of the face size (about 10 blocks across)."""

SWIRL_TURNS = 0.75
"""Rotation of the swirl's centre at strength 1, in full turns.

It falls to 0 at the swirl's edge.
"""

MOTION_LENGTH = 0.25
"""Motion-blur length at strength 1, as a fraction of the face size."""

MIN_STRENGTH = 0.5
"""Weakest strength allowed: below it blur, pixelate and motion-blur leave a face recognisable."""

MAX_STRENGTH = 4.0
"""Strongest strength allowed: it keeps the filter kernels within a few face sizes."""


def check_strength(strength: float) -> None:
    """Raise ``UsageError`` unless ``MIN_STRENGTH <= strength <= MAX_STRENGTH`` (NaN fails)."""
    if not MIN_STRENGTH <= strength <= MAX_STRENGTH:
        raise UsageError(
            f"obfuscation strength must be between {MIN_STRENGTH:g} and {MAX_STRENGTH:g} "
            f"(weaker leaves faces recognisable), got {strength}"
        )


def _box(mask: np.ndarray, threshold: float) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask >= threshold if threshold > 0 else mask > 0)
    if len(ys) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _grow(
    box: tuple[int, int, int, int], pad: int, height: int, width: int
) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    return max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, width), min(y1 + pad, height)


def _filtered(image: np.ndarray, box, pad: int, apply) -> np.ndarray:
    """``apply`` run on ``box`` grown by ``pad`` pixels of context, cut back to ``box``."""
    height, width = image.shape[:2]
    gx0, gy0, gx1, gy1 = _grow(box, pad, height, width)
    out = apply(image[gy0:gy1, gx0:gx1])
    x0, y0, x1, y1 = box
    return out[y0 - gy0 : y1 - gy0, x0 - gx0 : x1 - gx0]


def _pixelate(region: np.ndarray, block: int) -> np.ndarray:
    """Each ``block`` x ``block`` cell (smaller at the far edges) replaced by its mean colour."""
    h, w = region.shape[:2]
    rows, cols = np.arange(0, h, block), np.arange(0, w, block)
    sums = np.add.reduceat(np.add.reduceat(region.astype(np.float64), rows, axis=0), cols, axis=1)
    counts = np.outer(np.diff(np.append(rows, h)), np.diff(np.append(cols, w)))[:, :, None]
    means = (sums / counts).astype(np.float32)
    return np.repeat(
        np.repeat(means, np.diff(np.append(rows, h)), axis=0), np.diff(np.append(cols, w)), axis=1
    )


def _swirl(image: np.ndarray, box, turns: float) -> np.ndarray:
    """A swirl warp of the pixels in ``box``, sampled from the whole ``image`` with ``cv2.remap``.

    The swirl is centred on the box and reaches its corners (radius R = half its diagonal); a
    pixel at distance r < R is taken from the point rotated by ``2 pi turns (1 - r/R)^2``
    about the centre, which is continuous and 0 at the edge, so no seam appears.
    """
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1 - 1) / 2.0, (y0 + y1 - 1) / 2.0
    radius = max(math.hypot(x1 - x0, y1 - y0) / 2.0, 1.0)
    xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
    dx, dy = xs - cx, ys - cy
    r = np.hypot(dx, dy)
    theta = 2.0 * math.pi * turns * np.clip(1.0 - r / radius, 0.0, 1.0) ** 2
    cos, sin = np.cos(theta), np.sin(theta)
    map_x = (cx + cos * dx - sin * dy).astype(np.float32)
    map_y = (cy + sin * dx + cos * dy).astype(np.float32)
    return cv2.remap(
        image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )


def obfuscate_classical(
    image: np.ndarray, mask: np.ndarray, method: str, strength: float = 1.0, seed: int = 0
) -> np.ndarray:
    """Obfuscate the masked part of an image with a classical method.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1].
        mask: (H, W) soft mask in [0, 1] (e.g. ``feathered(face_mask(...))``).
        method: one of ``METHODS``.
        strength: scale of the effect (sigma, block side, swirl turns or blur length), in
            [``MIN_STRENGTH``, ``MAX_STRENGTH``]; 1 hides identity from a person at a glance;
            ignored by ``blackout``.
        seed: draws the direction of ``motion-blur``, so an attacker cannot assume one.

    Returns:
        A new (H, W, 3) float32 image; pixels where ``mask`` is 0 equal ``image`` exactly.

    Raises:
        UsageError: unknown method, strength out of range, or image and mask of different sizes.
    """
    if method not in METHODS:
        raise UsageError(
            f"unknown obfuscation method {method!r}; valid methods: {', '.join(METHODS)}"
        )
    check_strength(strength)
    image = np.asarray(image, dtype=np.float32)
    mask = np.asarray(mask, dtype=np.float32)
    if image.ndim != 3 or image.shape[2] != 3:
        raise UsageError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    if mask.shape != image.shape[:2]:
        raise UsageError(f"mask shape {mask.shape} does not match image size {image.shape[:2]}")

    box = _box(mask, 0.0)
    if box is None:
        return image.copy()
    core = _box(mask, 0.5) or box
    size = max(core[2] - core[0], core[3] - core[1])

    if method == "blur":
        sigma = max(BLUR_SIGMA * size * strength, 0.5)
        pad = math.ceil(3 * sigma)
        hidden = _filtered(
            image,
            box,
            pad,
            lambda r: cv2.GaussianBlur(
                r, (2 * pad + 1, 2 * pad + 1), sigma, borderType=cv2.BORDER_REFLECT_101
            ),
        )
    elif method == "pixelate":
        block = max(2, round(PIXELATE_BLOCK * size * strength))
        hidden = _pixelate(image[box[1] : box[3], box[0] : box[2]], block)
    elif method == "blackout":
        hidden = np.zeros((box[3] - box[1], box[2] - box[0], 3), dtype=np.float32)
    elif method == "swirl":
        hidden = _swirl(image, box, SWIRL_TURNS * strength)
    else:
        angle = float(np.random.default_rng(seed).uniform(0.0, 180.0))
        kernel = linear_kernel(max(MOTION_LENGTH * size * strength, 1.0), angle).astype(np.float32)
        pad = kernel.shape[0] // 2
        # filter2D correlates; flipping the kernel makes it a convolution.
        hidden = _filtered(
            image,
            box,
            pad,
            lambda r: cv2.filter2D(
                r, -1, kernel[::-1, ::-1].copy(), borderType=cv2.BORDER_REFLECT_101
            ),
        )

    return blend_inside(image, hidden, mask, box)


def blend_inside(
    image: np.ndarray, hidden: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int]
) -> np.ndarray:
    """A copy of ``image`` with ``hidden`` blended in by ``mask`` inside ``box``.

    Args:
        image: (H, W, 3) float32.
        hidden: (y1 - y0, x1 - x0, 3) replacement pixels for ``box``, clipped to [0, 1].
        mask: (H, W) weights in [0, 1], 0 outside ``box``.
        box: (x0, y0, x1, y1) in pixels.

    Pixels where ``mask`` is 0 are returned bit-identical.
    """
    x0, y0, x1, y1 = box
    out = image.copy()
    weight = mask[y0:y1, x0:x1, None]
    blended = weight * np.clip(hidden, 0.0, 1.0) + (1.0 - weight) * image[y0:y1, x0:x1]
    out[y0:y1, x0:x1] = np.where(weight > 0, blended, image[y0:y1, x0:x1])
    return out
