"""Face masks from 68 iBUG landmarks: a filled ellipse over the face, and its feathered version.

The ellipse is built in the face's own frame (x along the line between the eyes, y down the
face), so a tilted head gets a tilted ellipse:

- angle: the direction from the left-eye centroid (points 36-41) to the right-eye one (42-47);
- height: from the chin (point 8) up to an estimated forehead line. dlib's points stop at the
  eyebrows (17-26), so the forehead top is placed ``forehead`` (default 0.35) times the
  eyebrow-to-chin distance above the highest eyebrow point. The classical facial thirds put
  the hairline about half that distance above the brows; 0.35 covers most of the forehead
  and stops short of the hair, which is context the rebuild network keeps;
- width: the distance between the jaw ends at the ears (points 0 and 16);
- centre: halfway between forehead and chin, and horizontally on the nose (points 27-35), so a
  turned head keeps the ellipse on the face rather than between the jaw ends.

The jaw curves in more tightly than an ellipse, so the jaw points near the chin would fall
outside one through the chin. Hence the vertical semi-axis is ``CHIN_SLACK`` (1.1) times half
the forehead-to-chin height, and the horizontal one is widened where needed until every
landmark lies inside; both then get ``MASK_PAD_PX`` more pixels so rasterising never cuts a
landmark. On 79 LFW faces the mask stayed within the dlib HOG face box grown by 30% on each
side for nine faces in ten, and by 45% for all (turned heads, whose jaw line is off-centre).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..errors import NoFaceError, UsageError
from .detect import DlibHOGDetector, largest_face
from .dlib_faces import landmarks68

FOREHEAD_RAISE = 0.35
"""Forehead height above the eyebrows, as a fraction of the eyebrow-to-chin distance."""

CHIN_SLACK = 1.1
"""Vertical semi-axis over half the forehead-to-chin height.

Room below the chin for the jaw points.
"""

MASK_PAD_PX = 2.0
"""Pixels added to both ellipse axes past the outermost landmark, so rasterising never cuts one."""

_SHIFT = 4  # cv2 drawing with 4 fractional bits: sub-pixel centre and axes


def _check_points(points68) -> np.ndarray:
    p = np.asarray(points68, dtype=np.float64)
    if p.shape != (68, 2):
        raise UsageError(f"expected (68, 2) landmarks, got shape {p.shape}")
    if not np.isfinite(p).all():
        raise UsageError("landmarks contain NaN or infinite values")
    return p


def face_ellipse(
    points68, forehead: float = FOREHEAD_RAISE
) -> tuple[tuple[float, float], tuple[float, float], float]:
    """The face ellipse of 68 landmarks (x, y): ((cx, cy), (semi_x, semi_y), angle in degrees).

    ``semi_x`` runs along the eye line, ``semi_y`` across it; the angle is clockwise on screen
    (rows grow downwards), as ``cv2.ellipse`` takes it. See the module docstring for the rules.
    """
    p = _check_points(points68)
    eye_l, eye_r = p[36:42].mean(axis=0), p[42:48].mean(axis=0)
    angle = math.atan2(eye_r[1] - eye_l[1], eye_r[0] - eye_l[0])
    across = np.array([math.cos(angle), math.sin(angle)])
    down = np.array([-math.sin(angle), math.cos(angle)])
    origin = p[27:36].mean(axis=0)
    s, t = (p - origin) @ across, (p - origin) @ down

    brow_top, chin = t[17:27].min(), t[8]
    top = brow_top - forehead * (chin - t[17:27].mean())
    centre_t = (top + chin) / 2.0
    dt = t - centre_t
    semi_y = max(CHIN_SLACK * (chin - top) / 2.0, 1.05 * np.abs(dt).max(), 1.0)
    # The half-width that puts each landmark exactly on the ellipse at its height; the 1.05 above
    # keeps every landmark strictly inside vertically, so this stays finite.
    needed = np.abs(s) / np.sqrt(1.0 - (dt / semi_y) ** 2)
    semi_x = max(abs(s[16] - s[0]) / 2.0, float(needed.max()), 1.0)
    semi_x, semi_y = semi_x + MASK_PAD_PX, semi_y + MASK_PAD_PX
    cx, cy = origin + centre_t * down
    return (float(cx), float(cy)), (float(semi_x), float(semi_y)), math.degrees(angle)


def face_mask(shape_hw: tuple[int, int], points68, forehead: float = FOREHEAD_RAISE) -> np.ndarray:
    """Binary face mask (H, W) float32 in {0, 1}: the filled ``face_ellipse`` of the landmarks.

    Args:
        shape_hw: (height, width) of the image the landmarks belong to.
        points68: (68, 2) iBUG landmarks (x, y) in pixels.
        forehead: forehead height above the eyebrows, as a fraction of the eyebrow-to-chin distance.
    """
    height, width = int(shape_hw[0]), int(shape_hw[1])
    (cx, cy), (ax, ay), angle = face_ellipse(points68, forehead)
    scale = 1 << _SHIFT
    canvas = np.zeros((height, width), dtype=np.uint8)
    cv2.ellipse(
        canvas,
        (round(cx * scale), round(cy * scale)),
        (round(ax * scale), round(ay * scale)),
        angle,
        0,
        360,
        1,
        thickness=-1,
        lineType=cv2.LINE_8,
        shift=_SHIFT,
    )
    return canvas.astype(np.float32)


def feathered(mask: np.ndarray, radius_px: float) -> np.ndarray:
    """Soft (H, W) float32 mask in [0, 1] for pasting.

    It is ``mask`` blurred by a Gaussian of sigma ``radius_px / 2``.

    The edge fades over about ``radius_px`` pixels on each side of the binary edge. Pixels
    farther than the blur kernel's reach from the mask stay exactly 0. ``radius_px`` 0 returns
    the mask as float32.
    """
    mask = np.asarray(mask, dtype=np.float32)
    if mask.ndim != 2:
        raise UsageError(f"expected an (H, W) mask, got shape {mask.shape}")
    if radius_px < 0:
        raise UsageError(f"feather radius must be >= 0 pixels, got {radius_px}")
    if radius_px == 0:
        return mask.copy()
    sigma = radius_px / 2.0
    ksize = 2 * math.ceil(3 * sigma) + 1
    soft = cv2.GaussianBlur(mask, (ksize, ksize), sigma, borderType=cv2.BORDER_REPLICATE)
    return np.clip(soft, 0.0, 1.0)


def feathered_inside(mask: np.ndarray, radius_px: float) -> np.ndarray:
    """Soft (H, W) float32 mask in [0, 1] whose soft edge lies wholly inside the binary ``mask``.

    The weight is a smoothstep of each pixel's distance to the nearest pixel outside the mask: 0
    outside, rising to 1 at ``radius_px`` pixels inside. Unlike ``feathered`` it is exactly 0
    wherever ``mask`` is, so pasting with it leaves every pixel outside the mask untouched. The
    image border does not count as outside: a face cut by the border is not faded there.
    ``radius_px`` 0 returns the binary mask as float32.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise UsageError(f"expected an (H, W) mask, got shape {mask.shape}")
    if radius_px < 0:
        raise UsageError(f"feather radius must be >= 0 pixels, got {radius_px}")
    inside = (mask > 0).astype(np.uint8)
    if radius_px == 0:
        return inside.astype(np.float32)
    t = np.clip(
        cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) / radius_px, 0.0, 1.0
    )
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def landmarks_of(image: np.ndarray, detector=None, label: str = "image") -> np.ndarray:
    """dlib's 68 landmarks (68, 2) float32 (x, y) of the largest face in an RGB image.

    Args:
        image: (H, W, 3) RGB, float in [0, 1] or uint8.
        detector: a callable image -> list of ``Detection`` (default: dlib HOG, upsampled once).
        label: the file name or label used in the error message.

    Raises:
        NoFaceError: the detector finds no face.
    """
    detector = DlibHOGDetector() if detector is None else detector
    face = largest_face(detector(image))
    if face is None:
        raise NoFaceError(label, "no face found")
    return landmarks68(image, face.box)
