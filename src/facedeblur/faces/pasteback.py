"""Face crops for a restoration model and pasting the restored faces back into the photo.

One crop convention is used for cropping, pasting and saved crops: ``face_crop_box``, a square
centred on the detected face. Parts of the square outside the photo are filled by reflection
(never by shifting the square), so the face always sits in the middle of its crop, as it did in
the training images.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..io.geometry import resize
from .detect import Detection

# MTCNN's box on LFW deep-funneled images (250 px, the training framing) has a median larger
# side of 122 px; (1 + 2 * 0.5) * 122 = 244 px, so margin 0.5 frames faces as training did.
DEFAULT_MARGIN = 0.5
# The feathering ramp is at least this fraction of the crop side, even for small margins.
MIN_FEATHER = 0.1
# Colour low-pass: gaussian sigma as a fraction of the model-size crop side (32 px at 128 px).
# Wide on purpose: motion blur moves light by up to ~15 px at 128 px, so a narrower low-pass
# also takes back part of the deblurring. Measured on the demo photo (seeds 0 and 2, central
# half of the face crop, default model at step 3100): PSNR 22.51 / 21.29 dB with 8 px,
# 22.87 / 21.73 dB with 32 px, 23.36 / 22.21 dB with no colour step; a uniform cast is
# removed by any width.
COLOUR_SIGMA = 1.0 / 4.0
# Rows of a face group blended at a time: the work arrays of a face that fills a 100 MP photo
# stay at a few tens of MB instead of several GB.
PASTE_ROWS = 256


def face_crop_box(detection: Detection, margin: float = DEFAULT_MARGIN) -> tuple[int, int, int]:
    """The square crop (x0, y0, side) of a face, centred on its box.

    Its side is (1 + 2 * margin) x the larger box side.

    The square may stick out of the image; ``crop_with_padding`` fills that part by reflection.
    Unlike ``square_face_box`` (training crops, moved inside the image), it is never shifted.
    """
    x0, y0, x1, y1 = detection.box
    side = max(1, round((1.0 + 2.0 * margin) * max(x1 - x0, y1 - y0)))
    left = math.floor((x0 + x1) / 2.0 - side / 2.0)
    top = math.floor((y0 + y1) / 2.0 - side / 2.0)
    return left, top, side


def _reflect_indices(start: int, length: int, size: int) -> np.ndarray:
    """Indices start..start+length-1 folded into [0, size) by mirror reflection.

    The edge pixel is not repeated.
    """
    idx = np.arange(start, start + length)
    if size == 1:
        return np.zeros(length, dtype=np.int64)
    period = 2 * (size - 1)
    idx = np.abs(idx) % period
    return np.where(idx >= size, period - idx, idx)


def crop_with_padding(image: np.ndarray, box: tuple[int, int, int]) -> np.ndarray:
    """The (side, side, C) square ``box`` = (x0, y0, side) of an (H, W, C) image.

    Reflected where it sticks out.
    """
    x0, y0, side = box
    rows = _reflect_indices(y0, side, image.shape[0])
    cols = _reflect_indices(x0, side, image.shape[1])
    return image[rows[:, None], cols[None, :]]


def feather_mask(side: int, ramp: int) -> np.ndarray:
    """(side, side) float32 weight: 1 inside, falling to 0 at the border along a raised-cosine ramp.

    The ramp is ``ramp`` pixels wide on every side; the mask is the product of two 1-D ramps,
    so it is smooth (no kink where the ramp meets the flat top) and separable.
    """
    profile = _feather_profile(side, ramp)
    return profile[:, None] * profile[None, :]


def _feather_profile(side: int, ramp: int) -> np.ndarray:
    """The 1-D (side,) float32 ramp whose outer product with itself is ``feather_mask``."""
    ramp = max(1, min(ramp, side // 2))
    profile = np.ones(side, dtype=np.float32)
    rise = 0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp, dtype=np.float32) + 0.5) / ramp)
    profile[:ramp] = rise
    profile[side - ramp :] = np.minimum(profile[side - ramp :], rise[::-1])
    return profile


def feather_ramp(side: int, margin: float) -> int:
    """Ramp width in pixels for a crop of ``side``: the margin band around the face.

    At least ``MIN_FEATHER``.
    """
    band = side * margin / (1.0 + 2.0 * margin)
    return max(1, round(max(band, MIN_FEATHER * side)))


def colour_consistent(restored: np.ndarray, original: np.ndarray, sigma: float) -> np.ndarray:
    """The restored image's detail on the original's colour.

    That is, restored - lowpass(restored) + lowpass(original).

    A deblurring network's job is detail (edges, texture: high spatial frequencies); a change of
    overall colour, brightness or slow shading is an error, and it is what shows as a seam or
    halo once the face is pasted into the photo. Swapping the low-pass (gaussian, ``sigma``
    pixels) keeps every detail the network added and removes any cast, even one that varies
    across the face. Per-channel mean/std matching would only fix a uniform cast, and matching
    the standard deviation would undo the contrast that sharpening legitimately adds.
    """

    def lowpass(img: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT_101)

    return restored - lowpass(restored) + lowpass(original)


def face_correction(
    crop: np.ndarray, restored_small: np.ndarray, crop_small: np.ndarray
) -> np.ndarray:
    """The change to add to a native-size crop, from the model's restoration of its resized copy.

    Returns ``resize(colour_consistent(restored_small) - crop_small)`` at the crop's size:
    a face larger than the model keeps its native-resolution detail (only the model's
    correction is enlarged), and pixels the model leaves alone stay exactly as they were.
    """
    sigma = COLOUR_SIGMA * restored_small.shape[0]
    change = colour_consistent(restored_small, crop_small, sigma) - crop_small
    return resize(change, crop.shape[0], clip=False)


def paste_corrections(
    image: np.ndarray,
    corrections: list[tuple[tuple[int, int, int], np.ndarray]],
    margin: float = DEFAULT_MARGIN,
    in_place: bool = False,
) -> np.ndarray:
    """Add each face's correction, at its crop box, to ``image`` through a feathered mask.

    ``corrections`` holds ((x0, y0, side), change of shape (side, side, 3)) pairs, e.g. from
    ``face_correction``. Where the masks of overlapping faces add up to more than 1 their
    changes are averaged, weighted by the masks, so no face is corrected twice. Pixels outside
    every crop are returned unchanged; corrected pixels are clipped to [0, 1].

    The result is a copy, or with ``in_place`` the float32 ``image`` itself, changed (no copy
    of the photo is made). Faces whose crops do not overlap are pasted one group at a time, and
    each group ``PASTE_ROWS`` rows at a time, so the work arrays stay small next to the photo.
    """
    if in_place and image.dtype != np.float32:
        raise ValueError(f"in_place needs a float32 image, got {image.dtype}")
    out = image if in_place else image.copy()
    height, width = image.shape[:2]
    inside = [
        (box, change)
        for box, change in corrections
        if box[0] < width and box[1] < height and box[0] + box[2] > 0 and box[1] + box[2] > 0
    ]
    for group in _overlapping_groups(inside):
        _paste_group(out, group, margin)
    return out


def _overlapping_groups(corrections: list) -> list[list]:
    """``corrections`` split into groups whose crop boxes overlap, directly or through others;
    each group keeps the given order (the order its changes are summed in)."""
    groups: list[list[int]] = []
    for index, ((x0, y0, side), _) in enumerate(corrections):
        joined = [
            g
            for g in groups
            if any(
                x0 < bx + bs and bx < x0 + side and y0 < by + bs and by < y0 + side
                for (bx, by, bs), _ in (corrections[i] for i in g)
            )
        ]
        merged = [index]
        for g in joined:
            merged += g
            groups.remove(g)
        groups.append(merged)
    return [[corrections[i] for i in sorted(g)] for g in groups]


def _paste_group(out: np.ndarray, group: list, margin: float) -> None:
    """Blend one group of overlapping corrections into ``out`` in place, band by band of rows
    over their union box."""
    height, width = out.shape[:2]
    left = max(0, min(b[0] for b, _ in group))
    top = max(0, min(b[1] for b, _ in group))
    right = min(width, max(b[0] + b[2] for b, _ in group))
    bottom = min(height, max(b[1] + b[2] for b, _ in group))
    profiles = [_feather_profile(side, feather_ramp(side, margin)) for (_, _, side), _ in group]
    for band in range(top, bottom, PASTE_ROWS):
        band_end = min(bottom, band + PASTE_ROWS)
        total = np.zeros((band_end - band, right - left, out.shape[2]), dtype=np.float32)
        weight = np.zeros((band_end - band, right - left, 1), dtype=np.float32)
        for ((x0, y0, side), change), profile in zip(group, profiles):
            cy0, cy1 = max(y0, band), min(y0 + side, band_end)
            if cy0 >= cy1:
                continue
            cx0, cx1 = max(x0, left), min(x0 + side, right)
            mask = (profile[cy0 - y0 : cy1 - y0, None] * profile[None, cx0 - x0 : cx1 - x0])[
                :, :, None
            ]
            dst = (slice(cy0 - band, cy1 - band), slice(cx0 - left, cx1 - left))
            total[dst] += mask * change[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
            weight[dst] += mask
        np.maximum(weight, 1.0, out=weight)
        total /= weight
        total += out[band:band_end, left:right]
        out[band:band_end, left:right] = np.clip(total, 0.0, 1.0, out=total)
