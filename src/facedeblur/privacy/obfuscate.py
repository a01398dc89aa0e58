"""Photo-level identity obfuscation: find every face, mask it, and hide it inside its mask.

Each face found by the detector gets dlib's 68 landmarks and the face ellipse of ``mask.face_mask``.
The face is then hidden by a classical method (``classical.METHODS``) or rebuilt by the attribute
obfuscator with some CelebA attributes flipped, and blended in with ``mask.feathered_inside``: the
soft edge lies inside the ellipse, so every pixel outside all face masks comes back
bit-identical, whatever the method. Faces are hidden one after the other, left to right, each on
the result of the ones before, so overlapping faces are both hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..errors import NoFaceError, UsageError
from ..faces.dlib_faces import landmarks68
from ..faces.mask import face_ellipse, face_mask, feathered_inside
from ..faces.registry import build_detector
from ..io import to_float32
from ..restore.faces import detect_faces
from .attribute_model import AttributeObfuscator, load_attribute_obfuscator
from .attribute_names import CELEBA_ATTRIBUTES, resolve_flips
from .classical import METHODS, blend_inside, obfuscate_classical

ATTRIBUTES = "attributes"
OBFUSCATION_METHODS = (ATTRIBUTES,) + METHODS
"""The attribute rebuild first (the default), then the classical methods."""

FEATHER_FRACTION = 0.05
"""Default feather radius as a fraction of the face ellipse's longer axis.

7 px for a 140 px face.
"""


@dataclass
class ObfuscatedFace:
    """One hidden face.

    ``mask`` is the binary face ellipse cut to its bounding box ``mask_box`` (x0, y0, x1, y1), to
    keep large photos light; ``full_mask`` gives it at the photo's size. Only pixels inside it
    may have changed. ``feather`` is the radius (pixels) of the soft edge inside the mask.
    For the attribute method, ``flipped`` names the flipped attributes and ``before`` / ``after``
    are the 40 attribute values (``CELEBA_ATTRIBUTES`` order) predicted for the face and fed to
    the rebuild network; for the classical methods they are empty and None.
    """

    box: tuple[float, float, float, float]
    score: float
    points68: np.ndarray
    mask_box: tuple[int, int, int, int]
    mask: np.ndarray
    feather: float
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
    """The obfuscated photo, the method, and one record per face, left to right.

    The photo is float32 RGB in [0, 1], the input's size.
    """

    image: np.ndarray
    method: str
    faces: list[ObfuscatedFace] = field(default_factory=list)

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
) -> tuple[int, ...]:
    """Check obfuscation options before any work; the attribute columns to flip.

    The columns are empty for a classical method.

    Raises:
        UsageError: an unknown method or attribute, a protected attribute without
            ``allow_protected``, attributes given to a classical method, a non-positive
            strength or a negative feather radius.
    """
    if method not in OBFUSCATION_METHODS:
        raise UsageError(
            f"unknown obfuscation method {method!r}; valid methods: "
            f"{', '.join(OBFUSCATION_METHODS)}"
        )
    if not strength > 0:
        raise UsageError(f"obfuscation strength must be positive, got {strength}")
    if feather is not None and not feather >= 0:
        raise UsageError(f"feather radius must be >= 0 pixels, got {feather}")
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


def obfuscate_photo(
    image: np.ndarray,
    method: str = ATTRIBUTES,
    attributes: Iterable[str] | None = None,
    allow_protected: bool = False,
    strength: float = 1.0,
    feather: float | None = None,
    seed: int = 0,
    obfuscator: AttributeObfuscator | None = None,
    detector: str | Callable = "dlib-hog",
    label: str = "image",
    device: str = "cpu",
) -> ObfuscationResult:
    """Hide every face of a photo; everything outside the face masks is left bit-identical.

    Args:
        image: RGB (H, W, 3), float in [0, 1] or uint8; the result is float32 in [0, 1].
        method: one of ``OBFUSCATION_METHODS``: ``attributes`` rebuilds each face with CelebA
            attributes flipped; the others are ``classical.obfuscate_classical``.
        attributes: attribute names to flip (case-insensitive, or ``["all"]``); None flips
            ``attribute_names.DEFAULT_FLIPS``. Only for the attribute method.
        allow_protected: allow flipping the gender-linked attributes (``PROTECTED``).
        strength: scale of a classical method's effect; ignored by ``attributes`` and ``blackout``.
        feather: radius (pixels) of the soft edge inside each mask; None uses ``default_feather``.
        seed: draws the motion-blur direction; face k (left to right) uses ``seed + k``.
        obfuscator: a loaded ``AttributeObfuscator``; None loads the shipped one (pass one
            when calling many times).
        detector: a detector name (``faces.DETECTORS``) or a callable image -> list of
            ``Detection``; the default, dlib HOG upsampled once, gives the boxes dlib's
            landmark model was trained on. A photo larger than ``photo.DETECT_MAX_SIDE`` is
            searched on a smaller copy; landmarks and masks are at full resolution.
        label: names the photo in error messages.
        device: where the shipped obfuscator runs when ``obfuscator`` is None.

    The attribute method pastes only where the aligned crop fully covers the face mask; a
    part of the mask beyond the crop (rare: the crop leaves context all round) keeps its pixels.

    Raises:
        UsageError: bad options (``resolve_options``) or an image that is not RGB.
        NoFaceError: the detector finds no face.
        FaceDeblurError: the shipped obfuscator's weights are missing.
    """
    flips = resolve_options(method, attributes, allow_protected, strength, feather)
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
    detect = build_detector(detector) if isinstance(detector, str) else detector
    detections = sorted(detect_faces(image, detect), key=lambda d: d.box[0])
    if not detections:
        raise NoFaceError(label, "no face found")
    if method == ATTRIBUTES and obfuscator is None:
        obfuscator = load_attribute_obfuscator(device=device)

    shape = image.shape[:2]
    out, faces = image, []
    for k, det in enumerate(detections):
        points = landmarks68(image, det.box)
        binary = face_mask(shape, points) > 0
        x, y, w, h = cv2.boundingRect(binary.astype(np.uint8))
        box = (x, y, x + w, y + h)
        radius = default_feather(points) if feather is None else float(feather)
        face = ObfuscatedFace(
            det.box, float(det.score), points, box, binary[y : y + h, x : x + w].copy(), radius
        )
        if method == ATTRIBUTES:
            rebuilt = obfuscator.rebuild(out, points, flips)
            weight = feathered_inside(binary & rebuilt.covered, radius)
            out = blend_inside(out, rebuilt.layer[y : y + h, x : x + w], weight, box)
            face.flipped = tuple(CELEBA_ATTRIBUTES[c] for c in flips)
            face.before, face.after = np.asarray(rebuilt.before), np.asarray(rebuilt.after)
        else:
            out = obfuscate_classical(
                out, feathered_inside(binary, radius), method, strength, seed + k
            )
        faces.append(face)
    return ObfuscationResult(out, method, faces)


def obfuscate(
    image: np.ndarray,
    method: str = ATTRIBUTES,
    attributes: Iterable[str] | None = None,
    allow_protected: bool = False,
    strength: float = 1.0,
    feather: float | None = None,
    seed: int = 0,
    obfuscator: AttributeObfuscator | None = None,
    detector: str | Callable = "dlib-hog",
    device: str = "cpu",
) -> np.ndarray:
    """Hide the identity of every face of a photo.

    Float32 RGB (H, W, 3) in [0, 1] in, the same size out.

    The arguments are ``obfuscate_photo``'s; use that for the face masks and the flipped
    attributes. Raises ``NoFaceError`` when the photo has no face.
    """
    return obfuscate_photo(
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
    ).image
