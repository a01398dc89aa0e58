"""Whole-photo face restoration.

Detect every face, restore the crops in one batch, paste them back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import FaceDeblurError, NoFaceError
from ..faces.detect import Detection
from ..faces.pasteback import (
    DEFAULT_MARGIN,
    crop_with_padding,
    face_correction,
    face_crop_box,
    paste_corrections,
)
from ..faces.registry import build_detector
from ..io import to_float32
from ..io.geometry import resize
from ..io.kinds import ARRAY, from_array, to_array
from .deblurrer import Deblurrer
from .loading import load_model
from .memory import check_memory, faces_peak

# Faces are searched on a copy whose longer side is at most this (detectors find faces of 20+ px).
DETECT_MAX_SIDE = 1600
# Faces whose box is smaller than this (larger side, pixels) are skipped: too little to restore.
DEFAULT_MIN_FACE = 32
# Crop side given to a model whose weights do not say the image size it was trained on.
DEFAULT_FACE_SIZE = 128
# Crops restored per network call.
FACE_BATCH = 16

RESTORED = "restored"
TOO_SMALL = "too small"


@dataclass
class FaceRecord:
    """One detected face: its box (x0, y0, x1, y1), detector score, crop box (x0, y0, side), status.

    ``before`` and ``after`` are the (side, side, 3) crops of the input and of the restored
    face alone (before other faces are blended in); None when the face was skipped or
    ``restore_faces`` was told not to keep crops.
    """

    box: tuple[float, float, float, float]
    score: float
    crop_box: tuple[int, int, int]
    status: str
    before: np.ndarray | None = None
    after: np.ndarray | None = None


@dataclass
class FaceRestoreResult:
    """The restored photo and one record per detected face, left to right.

    The photo is float32 RGB in [0, 1], the input's size.
    """

    image: np.ndarray
    faces: list[FaceRecord] = field(default_factory=list)
    min_face: int = DEFAULT_MIN_FACE

    @property
    def restored(self) -> list[FaceRecord]:
        """The faces that were restored."""
        return [f for f in self.faces if f.status == RESTORED]

    @property
    def skipped(self) -> list[FaceRecord]:
        """The faces that were found but not restored."""
        return [f for f in self.faces if f.status != RESTORED]

    @property
    def problem(self) -> str | None:
        """Why nothing was restored (no face, or only faces too small), or None when a face was."""
        if self.restored:
            return None
        if not self.faces:
            return "no face found"
        largest = max(max(f.box[2] - f.box[0], f.box[3] - f.box[1]) for f in self.faces)
        return (
            f"{len(self.faces)} face(s) found, all smaller than {self.min_face} px "
            f"(largest {largest:.0f} px)"
        )


def model_face_size(deblurrer: Deblurrer) -> int:
    """Crop side for a model: the image size its weights header says it trained on, else 128."""
    data = deblurrer.header.get("data")
    size = data.get("size") if isinstance(data, dict) else None
    return int(size) if size else DEFAULT_FACE_SIZE


def detect_faces(
    image: np.ndarray,
    detector: Callable[[np.ndarray], list[Detection]],
    max_side: int = DETECT_MAX_SIDE,
) -> list[Detection]:
    """Faces of an RGB float image, searched on a copy shrunk to ``max_side``.

    Boxes are in the image's pixels.
    """
    scale = min(1.0, max_side / max(image.shape[:2]))
    if scale == 1.0:
        return list(detector(image))
    small = resize(image, (round(image.shape[0] * scale), round(image.shape[1] * scale)))
    sy, sx = image.shape[0] / small.shape[0], image.shape[1] / small.shape[1]
    return [
        replace(
            d,
            box=(d.box[0] * sx, d.box[1] * sy, d.box[2] * sx, d.box[3] * sy),
            landmarks=None
            if d.landmarks is None
            else d.landmarks * np.array([sx, sy], dtype=np.float32),
        )
        for d in detector(small)
    ]


def restore_faces(
    image,
    deblurrer: Deblurrer,
    detector: str | Callable = "mtcnn",
    margin: float = DEFAULT_MARGIN,
    min_face: int = DEFAULT_MIN_FACE,
    face_size: int | None = None,
    keep_crops: bool = True,
    in_place: bool = False,
    memory_budget: float | None = None,
) -> FaceRestoreResult:
    """Restore every face of a photo and paste it back; the rest of the photo is left untouched.

    Args:
        image: a path, a PIL image, an RGB (H, W, 3) array (float in [0, 1] or uint8) or a
            CHW / 1CHW tensor; ``result.image`` is the same kind (``io.kinds``), float in
            [0, 1]. The face crops of the records are float32 arrays.
        deblurrer: the model (``load_model``).
        detector: a detector name (``faces.DETECTORS``) or a callable image -> list of
            ``Detection``.
        margin: space around each face box on every side, as a fraction of its larger side.
        min_face: faces whose box's larger side is smaller (pixels) are skipped, status "too small".
        face_size: crop side the model sees; default ``model_face_size(deblurrer)``.
        keep_crops: give each record its crops before and after; False leaves them None and
            saves their memory (for a face that fills the photo, twice the photo's).
        in_place: paste into ``image`` itself when it is a writable float32 array, instead of
            into a copy; the caller's array then holds the result. A photo that this function
            made itself (from a path, a PIL image, a tensor or a uint8 array) is always pasted
            in place.
        memory_budget: refuse (``FaceDeblurError``, one line) a photo whose estimated peak
            memory (``memory.faces_peak``, writing the result included) is over this many GB,
            once its faces are found and before any is restored; None: no limit.

    Each crop (``face_crop_box``) is resized to ``face_size``; all crops go through the network
    in batches; each restoration is turned into a colour-consistent change at the crop's own
    resolution (``face_correction``) and blended in with a feathered mask (``paste_corrections``).
    With no face found the result has no records and the image equals the input.
    """
    image, kind = to_array(image)
    if (
        image.ndim != 3
        or image.shape[2] != 3
        or not (image.dtype == np.uint8 or np.issubdtype(image.dtype, np.floating))
    ):
        raise FaceDeblurError(
            "expected an RGB (H, W, 3) image, float in [0, 1] or uint8, "
            f"got {image.dtype} {image.shape}"
        )
    given = image
    image = to_float32(image)
    owned = image.flags.writeable and (in_place or kind.kind != ARRAY or image is not given)
    if margin < 0:
        raise FaceDeblurError(f"margin must be non-negative, got {margin}")
    detect = build_detector(detector) if isinstance(detector, str) else detector
    size = face_size or model_face_size(deblurrer)
    records = []
    for det in sorted(detect_faces(image, detect), key=lambda d: d.box[0]):
        big_enough = max(det.width, det.height) >= min_face
        records.append(
            FaceRecord(
                det.box,
                float(det.score),
                face_crop_box(det, margin),
                RESTORED if big_enough else TOO_SMALL,
            )
        )
    todo = [r for r in records if r.status == RESTORED]
    height, width = image.shape[:2]
    check_memory(
        faces_peak(
            height,
            width,
            [r.crop_box[2] for r in todo],
            min(len(todo), FACE_BATCH) * size * size,
            copy_image=not owned,
            keep_crops=keep_crops,
        ),
        memory_budget,
        f"a {width}x{height} photo with {len(todo)} face(s) to restore",
    )
    # Crops are made one at a time and, unless kept, made again for their change: only one
    # native-size crop is alive at once.
    small = []
    for record in todo:
        crop = crop_with_padding(image, record.crop_box)
        small.append(resize(crop, size))
        record.before = crop if keep_crops else None
    restored = []
    for start in range(0, len(small), FACE_BATCH):
        restored += deblurrer.deblur_batch(small[start : start + FACE_BATCH])
    corrections = []
    for record, crop_small, out_small in zip(todo, small, restored):
        crop = record.before if keep_crops else crop_with_padding(image, record.crop_box)
        change = face_correction(crop, out_small, crop_small)
        if keep_crops:
            record.after = np.clip(crop + change, 0.0, 1.0)
        corrections.append((record.crop_box, change))
        del crop
    pasted = paste_corrections(image, corrections, margin, in_place=owned)
    restored_image = from_array(pasted, kind)
    return FaceRestoreResult(restored_image, records, min_face)


def deblur(
    image,
    model: str | Path | Deblurrer | None = None,
    faces: bool = False,
    detector: str | Callable = "mtcnn",
    margin: float = DEFAULT_MARGIN,
    device: str = "auto",
    flip_ensemble: bool = False,
) -> np.ndarray:
    """Restore an image at its own size: a path, a PIL image, an RGB (H, W, 3) array (float
    in [0, 1] or uint8) or a tensor in [0, 1]; the result is the same kind (``io.kinds``: an
    array for a path), float in [0, 1].

    Args:
        model: weights path, a loaded ``Deblurrer`` (faster when called many times), or None
            for the shipped default model.
        faces: False (default, as the ``facedeblur deblur`` command): restore the whole image,
            the right call for a face crop. True: restore each detected face of a photo and
            leave everything else untouched (``restore_faces``); raises ``NoFaceError`` when
            the photo has no face big enough.
        detector, margin: see ``restore_faces``.
        device: ``auto``, ``cpu`` or ``cuda`` when ``model`` is not already loaded.
        flip_ensemble: average the result with the mirror image's (``Deblurrer``) when
            ``model`` is not already loaded; twice the time.
    """
    deblurrer = (
        model
        if isinstance(model, Deblurrer)
        else load_model(model, device=device, tile=512, flip_ensemble=flip_ensemble)
    )
    if not faces:
        return deblurrer.deblur(image)
    result = restore_faces(image, deblurrer, detector=detector, margin=margin)
    if result.problem:
        raise NoFaceError("<image>", f"{result.problem}; faces=False restores the whole image")
    return result.image
