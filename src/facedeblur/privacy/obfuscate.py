"""Photo-level identity obfuscation: find every face, mask it, and hide it inside its mask.

Each face found by the detector gets dlib's 68 landmarks and the face ellipse of ``mask.face_mask``.
The face is then hidden by a classical method (``classical.METHODS``) or rebuilt by the attribute
obfuscator with some CelebA attributes flipped, and blended in with ``mask.feathered_inside``: the
soft edge lies inside the ellipse, so every pixel outside all face masks comes back
bit-identical, whatever the method. Faces are hidden one after the other, left to right, each on
the result of the ones before, so overlapping faces are both hidden.

Faces smaller than ``min_face`` pixels are too small for reliable landmarks: they are hidden by a
classical method (``small_faces``) inside their detection box, grown by ``SMALL_FACE_MARGIN``, or
left as they are with ``small_faces="leave"``. After hiding, each face is checked: unless its
mask's core changed by at least ``HIDDEN_MIN_CHANGE`` of the face's own contrast, it counts as
left visible, and the result says so (``ObfuscationResult.visible``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..errors import NoFaceError, UsageError
from ..faces.dlib_faces import landmarks68
from ..faces.mask import face_ellipse, face_mask, feathered_inside
from ..faces.registry import build_detector
from ..io import to_float32
from ..io.kinds import from_array, to_array
from ..restore.faces import detect_faces
from .attribute_model import AttributeObfuscator, load_attribute_obfuscator
from .attribute_names import CELEBA_ATTRIBUTES, resolve_flips
from .classical import METHODS, blend_inside, check_strength, obfuscate_classical

ATTRIBUTES = "attributes"
OBFUSCATION_METHODS = (ATTRIBUTES,) + METHODS
"""The attribute rebuild first (the default), then the classical methods."""

FEATHER_FRACTION = 0.05
"""Default feather radius as a fraction of the face ellipse's longer axis.

7 px for a 140 px face.
"""

MAX_FEATHER_FRACTION = 0.5
"""Largest feather radius as a fraction of the face ellipse's shorter semi-axis.

A larger ``feather`` is cut to it, so the inner part of every face is fully hidden.
"""

MIN_FACE = 40
"""Default ``min_face`` (pixels, the detection box's longer side).

dlib's HOG detector is reliable from about 40 px (its 80 px window on the photo doubled once),
and so are the 68 landmarks that draw the face ellipse.
"""

DETECT_UPSAMPLE = 2
"""Times the default ``dlib-hog`` detector doubles the photo: twice finds faces down to ~20 px,
so faces below ``MIN_FACE`` are found and hidden or reported instead of silently missed."""

LEAVE = "leave"
SMALL_FACE_METHODS = ("blur", "pixelate", "blackout", LEAVE)
"""How faces below ``min_face`` are treated: a classical method inside their box, or left."""

DEFAULT_SMALL_FACES = "pixelate"
"""Small faces are hidden by default: leaving them visible must be asked for."""

SMALL_FACE_STRENGTH = 2.0
"""Classical strength for small faces: the few pixels of a small face carry its identity."""

SMALL_FACE_MARGIN = 0.2
"""The box hidden around a small face: its detection box grown by this fraction per side."""

HIDDEN_MIN_CHANGE = 0.1
"""A face counts as hidden when the mean absolute change of its mask's core (weight >= 0.5) is at
least this fraction of the face's contrast there (mean absolute deviation from its mean colour).

Strength 0.5 gives at least 0.15 on real faces, a face left unchanged 0.
"""


class FacesLeftVisibleWarning(UserWarning):
    """``obfuscate`` returned a photo in which some found faces are not hidden."""


@dataclass
class ObfuscatedFace:
    """One hidden face.

    ``mask`` is the binary face ellipse cut to its bounding box ``mask_box`` (x0, y0, x1, y1), to
    keep large photos light; ``full_mask`` gives it at the photo's size. Only pixels inside it
    may have changed. ``feather`` is the radius (pixels) of the soft edge inside the mask.
    For the attribute method, ``flipped`` names the flipped attributes and ``before`` / ``after``
    are the 40 attribute values (``CELEBA_ATTRIBUTES`` order) predicted for the face and fed to
    the rebuild network; for the classical methods they are empty and None.

    ``treatment`` is what was done to the face: the method, or for a face below ``min_face``
    (``too_small``, no landmarks: ``points68`` is None, the mask is its grown box) the small-face
    method or ``leave``. ``hidden`` is False when the face was left as it is or changed too
    little to count as hidden (``HIDDEN_MIN_CHANGE``).
    """

    box: tuple[float, float, float, float]
    score: float
    points68: np.ndarray | None
    mask_box: tuple[int, int, int, int]
    mask: np.ndarray
    feather: float
    treatment: str = ""
    too_small: bool = False
    hidden: bool = False
    flipped: tuple[str, ...] = ()
    before: np.ndarray | None = None
    after: np.ndarray | None = None

    def full_mask(self, shape_hw: tuple[int, int]) -> np.ndarray:
        """The binary face mask as a bool (H, W) array for a photo of ``shape_hw``."""
        full = np.zeros(shape_hw[:2], dtype=bool)
        x0, y0, x1, y1 = self.mask_box
        full[y0:y1, x0:x1] = self.mask
        return full


@dataclass
class ObfuscationResult:
    """The obfuscated photo, the method, and one record per face found, left to right.

    The photo is float32 RGB in [0, 1], the input's size. ``found``, ``hidden`` and
    ``too_small`` count the faces; ``visible`` lists those left visible (too small and left, or
    not changed enough), which a caller must not publish as hidden.
    """

    image: np.ndarray
    method: str
    faces: list[ObfuscatedFace] = field(default_factory=list)
    min_face: int = MIN_FACE
    small_faces: str = DEFAULT_SMALL_FACES

    @property
    def found(self) -> int:
        """Number of faces the detector found."""
        return len(self.faces)

    @property
    def hidden(self) -> int:
        """Number of faces hidden (changed enough to count as hidden)."""
        return sum(face.hidden for face in self.faces)

    @property
    def too_small(self) -> int:
        """Number of faces smaller than ``min_face`` (hidden by ``small_faces`` or left)."""
        return sum(face.too_small for face in self.faces)

    @property
    def visible(self) -> list[ObfuscatedFace]:
        """The faces left visible."""
        return [face for face in self.faces if not face.hidden]

    @property
    def mask(self) -> np.ndarray:
        """Bool (H, W): the union of the face masks; every pixel outside it equals the input's."""
        union = np.zeros(self.image.shape[:2], dtype=bool)
        for face in self.faces:
            x0, y0, x1, y1 = face.mask_box
            union[y0:y1, x0:x1] |= face.mask
        return union


def resolve_options(
    method: str,
    attributes: Iterable[str] | None = None,
    allow_protected: bool = False,
    strength: float = 1.0,
    feather: float | None = None,
    min_face: int = MIN_FACE,
    small_faces: str = DEFAULT_SMALL_FACES,
) -> tuple[int, ...]:
    """Check obfuscation options before any work; the attribute columns to flip.

    The columns are empty for a classical method.

    Raises:
        UsageError: an unknown method or attribute, a protected attribute without
            ``allow_protected``, attributes given to a classical method, a strength outside
            [``MIN_STRENGTH``, ``MAX_STRENGTH``], a feather radius that is negative or not
            finite, a ``min_face`` below 1 or an unknown ``small_faces`` method.
    """
    if method not in OBFUSCATION_METHODS:
        raise UsageError(
            f"unknown obfuscation method {method!r}; valid methods: "
            f"{', '.join(OBFUSCATION_METHODS)}"
        )
    check_strength(strength)
    if feather is not None and not 0 <= feather < math.inf:
        raise UsageError(f"feather radius must be >= 0 pixels and finite, got {feather}")
    if not (isinstance(min_face, int) and min_face >= 1):
        raise UsageError(f"min_face must be a whole number of pixels >= 1, got {min_face}")
    if small_faces not in SMALL_FACE_METHODS:
        raise UsageError(
            f"unknown small-face method {small_faces!r}; choose from "
            f"{', '.join(SMALL_FACE_METHODS)}"
        )
    if method != ATTRIBUTES:
        if attributes is not None:
            raise UsageError(
                f"attributes are flipped by the {ATTRIBUTES} method only, not by {method}"
            )
        return ()
    return resolve_flips(attributes, allow_protected)


def default_feather(points68: np.ndarray) -> float:
    """Feather radius (pixels) for a face.

    ``FEATHER_FRACTION`` of its face ellipse's longer axis, at least 1.
    """
    _, axes, _ = face_ellipse(points68)
    return max(1.0, FEATHER_FRACTION * 2.0 * max(axes))


def face_feather(points68: np.ndarray, feather: float | None) -> float:
    """The feather radius (pixels) used for a face with (68, 2) landmarks ``points68``.

    ``default_feather`` for None, else ``feather`` cut to ``MAX_FEATHER_FRACTION`` of the face
    ellipse's shorter semi-axis.
    """
    if feather is None:
        return default_feather(points68)
    _, axes, _ = face_ellipse(points68)
    return min(float(feather), MAX_FEATHER_FRACTION * min(axes))


def is_hidden(before: np.ndarray, after: np.ndarray, weight: np.ndarray) -> bool:
    """Whether a face changed enough to count as hidden (``HIDDEN_MIN_CHANGE``).

    Args:
        before, after: (H, W, 3) float32 photos in [0, 1], before and after hiding the face.
        weight: (H, W) blend weights in [0, 1] of the face; its core is where it is >= 0.5.
    """
    core = weight >= 0.5
    if not core.any():
        return False
    was = before[core]
    change = np.abs(after[core] - was).mean()
    contrast = np.abs(was - was.mean(axis=0)).mean()
    return bool(change >= HIDDEN_MIN_CHANGE * max(contrast, 1.0 / 255.0))


def _detector(detector: str | Callable) -> Callable:
    if not isinstance(detector, str):
        return detector
    if detector == "dlib-hog":
        return build_detector(detector, upsample=DETECT_UPSAMPLE)
    return build_detector(detector)


def _small_face(
    image: np.ndarray, det, k: int, small_faces: str, seed: int
) -> tuple[np.ndarray, ObfuscatedFace]:
    """Hide (or leave) a face too small for landmarks inside its grown detection box."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = det.box
    pad = SMALL_FACE_MARGIN * max(x1 - x0, y1 - y0)
    box = (
        max(int(math.floor(x0 - pad)), 0),
        max(int(math.floor(y0 - pad)), 0),
        min(int(math.ceil(x1 + pad)), width),
        min(int(math.ceil(y1 + pad)), height),
    )
    weight = np.zeros((height, width), np.float32)
    weight[box[1] : box[3], box[0] : box[2]] = 1.0
    out = image
    if small_faces != LEAVE:
        out = obfuscate_classical(image, weight, small_faces, SMALL_FACE_STRENGTH, seed + k)
    face = ObfuscatedFace(
        det.box,
        float(det.score),
        None,
        box,
        np.ones((box[3] - box[1], box[2] - box[0]), dtype=bool),
        0.0,
        treatment=small_faces,
        too_small=True,
        hidden=small_faces != LEAVE and is_hidden(image, out, weight),
    )
    return out, face


def obfuscate_photo(
    image,
    method: str = ATTRIBUTES,
    attributes: Iterable[str] | None = None,
    allow_protected: bool = False,
    strength: float = 1.0,
    feather: float | None = None,
    seed: int = 0,
    obfuscator: AttributeObfuscator | None = None,
    detector: str | Callable = "dlib-hog",
    label: str = "image",
    device: str = "auto",
    min_face: int = MIN_FACE,
    small_faces: str = DEFAULT_SMALL_FACES,
) -> ObfuscationResult:
    """Hide every face of a photo; everything outside the face masks is left bit-identical.

    Args:
        image: a path, a PIL image, an RGB (H, W, 3) array (float in [0, 1] or uint8) or a
            CHW / 1CHW tensor; ``result.image`` is the same kind (``io.kinds``: an array for a
            path), float in [0, 1].
        method: one of ``OBFUSCATION_METHODS``: ``attributes`` rebuilds each face with CelebA
            attributes flipped; the others are ``classical.obfuscate_classical``.
        attributes: attribute names to flip (case-insensitive, or ``["all"]``); None flips
            ``attribute_names.DEFAULT_FLIPS``. Only for the attribute method.
        allow_protected: allow flipping the gender-linked attributes (``PROTECTED``).
        strength: scale of a classical method's effect, in [``classical.MIN_STRENGTH``,
            ``classical.MAX_STRENGTH``]; ignored by ``attributes`` and ``blackout``.
        feather: radius (pixels) of the soft edge inside each mask, finite and >= 0, cut per face
            to ``MAX_FEATHER_FRACTION`` of its ellipse (``face_feather``); None uses
            ``default_feather``.
        seed: draws the motion-blur direction; face k (left to right) uses ``seed + k``.
        obfuscator: a loaded ``AttributeObfuscator``; None loads the shipped one (pass one
            when calling many times).
        detector: a detector name (``faces.DETECTORS``) or a callable image -> list of
            ``Detection``; the default, dlib HOG upsampled ``DETECT_UPSAMPLE`` times, finds
            faces down to ~20 px and gives the boxes dlib's landmark model was trained on. A
            photo larger than ``restore.faces.DETECT_MAX_SIDE`` is searched on a smaller copy, so
            its smallest findable face grows with it; landmarks and masks are at full resolution.
        label: names the photo in error messages.
        device: where the shipped obfuscator runs when ``obfuscator`` is None: ``auto``,
            ``cpu`` or ``cuda``.
        min_face: faces whose detection box's longer side is below this (pixels) are too small
            for landmarks and get ``small_faces`` inside their box.
        small_faces: ``blur``, ``pixelate`` or ``blackout`` (at ``SMALL_FACE_STRENGTH``) for
            the faces below ``min_face``, or ``leave`` to keep them as they are (they then count
            as visible).

    The attribute method pastes only where the aligned crop fully covers the face mask; a
    part of the mask beyond the crop (rare: the crop leaves context all round) keeps its pixels.
    Every face is checked after hiding (``is_hidden``); the result counts the faces found,
    hidden and too small, and lists those left visible.

    Raises:
        UsageError: bad options (``resolve_options``) or an image that is not RGB.
        NoFaceError: the detector finds no face.
        FaceDeblurError: the shipped obfuscator's weights are missing.
    """
    flips = resolve_options(
        method, attributes, allow_protected, strength, feather, min_face, small_faces
    )
    image, kind = to_array(image)
    image = np.asarray(image)
    if (
        image.ndim != 3
        or image.shape[2] != 3
        or not (image.dtype == np.uint8 or np.issubdtype(image.dtype, np.floating))
    ):
        raise UsageError(
            "expected an RGB (H, W, 3) image, float in [0, 1] or uint8, "
            f"got {image.dtype} {image.shape}"
        )
    image = to_float32(image)
    detections = sorted(detect_faces(image, _detector(detector)), key=lambda d: d.box[0])
    if not detections:
        raise NoFaceError(label, "no face found")
    small = [max(d.width, d.height) < min_face for d in detections]
    if method == ATTRIBUTES and obfuscator is None and not all(small):
        obfuscator = load_attribute_obfuscator(device=device)

    shape = image.shape[:2]
    out, faces = image, []
    for k, det in enumerate(detections):
        if small[k]:
            out, face = _small_face(out, det, k, small_faces, seed)
            faces.append(face)
            continue
        points = landmarks68(image, det.box)
        binary = face_mask(shape, points) > 0
        x, y, w, h = cv2.boundingRect(binary.astype(np.uint8))
        box = (x, y, x + w, y + h)
        radius = face_feather(points, feather)
        face = ObfuscatedFace(
            det.box,
            float(det.score),
            points,
            box,
            binary[y : y + h, x : x + w].copy(),
            radius,
            treatment=method,
        )
        before = out
        if method == ATTRIBUTES:
            rebuilt = obfuscator.rebuild(out, points, flips)
            weight = feathered_inside(binary & rebuilt.covered, radius)
            out = blend_inside(out, rebuilt.layer[y : y + h, x : x + w], weight, box)
            face.flipped = tuple(CELEBA_ATTRIBUTES[c] for c in flips)
            face.before, face.after = np.asarray(rebuilt.before), np.asarray(rebuilt.after)
        else:
            weight = feathered_inside(binary, radius)
            out = obfuscate_classical(out, weight, method, strength, seed + k)
        face.hidden = is_hidden(before, out, weight)
        faces.append(face)
    return ObfuscationResult(from_array(out, kind), method, faces, min_face, small_faces)


def obfuscate(
    image,
    method: str = ATTRIBUTES,
    attributes: Iterable[str] | None = None,
    allow_protected: bool = False,
    strength: float = 1.0,
    feather: float | None = None,
    seed: int = 0,
    obfuscator: AttributeObfuscator | None = None,
    detector: str | Callable = "dlib-hog",
    device: str = "auto",
    min_face: int = MIN_FACE,
    small_faces: str = DEFAULT_SMALL_FACES,
):
    """Hide the identity of every face of a photo.

    A path, a PIL image, an RGB (H, W, 3) array or a tensor in; the same kind out
    (``io.kinds``: an array for a path), at the same size.

    The arguments are ``obfuscate_photo``'s; use that for the face masks, the flipped
    attributes and the counts of faces found, hidden and too small. Faces left visible are
    named in a ``FacesLeftVisibleWarning``. Raises ``NoFaceError`` when the photo has no face.
    """
    result = obfuscate_photo(
        image,
        method,
        attributes,
        allow_protected,
        strength,
        feather,
        seed,
        obfuscator,
        detector,
        device=device,
        min_face=min_face,
        small_faces=small_faces,
    )
    if result.visible:
        warnings.warn(
            f"{len(result.visible)} of {result.found} face(s) left visible",
            FacesLeftVisibleWarning,
            stacklevel=2,
        )
    return result.image
