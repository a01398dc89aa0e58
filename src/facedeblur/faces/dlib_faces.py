"""dlib's CNN face detector, 68-point landmarks and ResNet identity descriptors.

Model files come from the ``face-recognition-models`` package (see ``dlib_models.model_path``).
Images are RGB (H, W, 3), float in [0, 1] or uint8; they are converted to uint8 for dlib.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence

import numpy as np
import torch

from ..errors import UsageError
from ..io import to_uint8
from .detect import Detection, DlibHOGDetector, largest_face
from .dlib_facenet import shipped_facenet
from .dlib_models import load_dlib, model_path

DLIB_MATCH_THRESHOLD = 0.6
"""Descriptor distance below which dlib's model calls two faces the same person (99.38% on LFW)."""


@functools.cache
def _cnn_detector():
    return load_dlib().cnn_face_detection_model_v1(str(model_path("mmod_detector")))


@functools.cache
def _shape_predictor(name: str):
    return load_dlib().shape_predictor(str(model_path(name)))


@functools.cache
def _face_recognizer():
    return load_dlib().face_recognition_model_v1(str(model_path("face_descriptor")))


def _rect(box: Sequence[float]):
    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    return load_dlib().rectangle(x0, y0, x1, y1)


def _detections(mmod_rects) -> list[Detection]:
    found = [
        Detection(
            (
                float(d.rect.left()),
                float(d.rect.top()),
                float(d.rect.right()),
                float(d.rect.bottom()),
            ),
            float(d.confidence),
        )
        for d in mmod_rects
    ]
    return sorted(found, key=lambda d: -d.score)


class DlibCNNDetector:
    """dlib's max-margin object detection CNN (MMOD) face detector.

    More robust to pose and blur than the HOG detector, and slower on a CPU. It finds faces of
    about 80 px and larger at ``upsample=0``; each upsampling step halves that size.

    Args:
        upsample: times the image is doubled before detection.
    """

    name = "dlib-cnn"

    def __init__(self, upsample: int = 0):
        self.upsample = upsample

    def __call__(self, img: np.ndarray) -> list[Detection]:
        """Detect faces in one RGB image; best (highest confidence) first."""
        return _detections(_cnn_detector()(to_uint8(img), self.upsample))

    def detect_batch(
        self, images: Sequence[np.ndarray], batch_size: int = 32
    ) -> list[list[Detection]]:
        """Detect faces in many images.

        Equal-size images run as dlib batches, mixed sizes one by one.
        """
        arrays = [to_uint8(img) for img in images]
        if not arrays:
            return []
        if len({a.shape for a in arrays}) != 1:
            return [self(a) for a in arrays]
        results = _cnn_detector()(arrays, self.upsample, batch_size=batch_size)
        return [_detections(r) for r in results]


def landmarks68(img: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """dlib's 68 iBUG landmarks of the face in ``box`` (x0, y0, x1, y1): (68, 2) float (x, y)."""
    shape = _shape_predictor("landmarks68")(to_uint8(img), _rect(box))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def landmarks5(img: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """dlib's 5-point landmarks of the face in ``box`` (x0, y0, x1, y1): (5, 2) float (x, y).

    The points are the outer and inner corners of the image-right eye, those of the image-left
    eye, and the bottom of the nose (the order ``faces.align.dlib_chip_matrix`` expects).
    """
    shape = _shape_predictor("landmarks5")(to_uint8(img), _rect(box))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def five_points(points68: np.ndarray) -> np.ndarray:
    """Five landmarks (5, 2) from 68 iBUG points, in the order of ``Detection.landmarks``.

    Left eye (centroid of points 36-41), right eye (42-47), nose tip (30), left mouth corner (48),
    right mouth corner (54). "Left" is image left: iBUG's points 36-41 and 48 are the subject's
    right eye and mouth corner, which appear on the image's left in an unmirrored photo.
    """
    p = np.asarray(points68, dtype=np.float32)
    if p.shape != (68, 2):
        raise ValueError(f"expected (68, 2) landmarks, got {p.shape}")
    return np.stack([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]]).astype(np.float32)


IDENTITY_BACKENDS = ("dlib", "torch")


class FaceDescriptor:
    """dlib's ResNet-29 face recognition model: a 128-d identity descriptor per face.

    The face is aligned with dlib's 5-point shape predictor run on ``box``. Without a box, the
    largest face found by the HOG detector is used; when none is found, the whole image is taken
    as the face box (right for tight face crops such as aligned 128-256 px crops, meaningless
    otherwise). Descriptors are not unit vectors (their L2 norm is about 1.35-1.45 on LFW);
    compare them with ``metrics.identity_distances`` and ``DLIB_MATCH_THRESHOLD``.

    Args:
        upsample: HOG detector upsampling for finding the face when no box is given.
        backend: ``torch`` cuts the chips dlib cuts (``get_face_chip``) and runs
            ``faces.dlib_facenet.DlibFaceNet`` on them in batches; ``dlib`` runs dlib's own
            network face by face. Both give the same descriptors (within 1e-5 on LFW faces).
        device: where the ``torch`` backend runs.
        batch_size: chips per forward pass of the ``torch`` backend.
    """

    name = "dlib-resnet"

    def __init__(
        self, upsample: int = 1, backend: str = "torch", device: str = "cpu", batch_size: int = 64
    ):
        if backend not in IDENTITY_BACKENDS:
            raise UsageError(
                f"identity backend must be one of {', '.join(IDENTITY_BACKENDS)}, got {backend!r}"
            )
        self._detector = DlibHOGDetector(upsample=upsample)
        self.backend = backend
        self.device = device
        self.batch_size = batch_size

    def face_box(self, img: np.ndarray) -> tuple[float, float, float, float]:
        """The box used when none is given: largest HOG face, else the whole image."""
        face = largest_face(self._detector(img))
        if face is not None:
            return face.box
        height, width = img.shape[:2]
        return (0.0, 0.0, float(width - 1), float(height - 1))

    def _shape(self, arr: np.ndarray, box: Sequence[float] | None):
        return _shape_predictor("landmarks5")(
            arr, _rect(self.face_box(arr) if box is None else box)
        )

    def __call__(self, img: np.ndarray, box: Sequence[float] | None = None) -> np.ndarray:
        """The (128,) float32 descriptor of the face in ``box`` (x0, y0, x1, y1) of an RGB image."""
        return self.descriptors([img], [box])[0]

    def descriptors(
        self, images: Sequence[np.ndarray], boxes: Sequence[Sequence[float] | None] | None = None
    ) -> np.ndarray:
        """Descriptors (N, 128) of many images; ``boxes`` holds one box or None per image."""
        if boxes is None:
            boxes = [None] * len(images)
        if len(boxes) != len(images):
            raise ValueError(f"{len(images)} images but {len(boxes)} boxes")
        if not images:
            return np.zeros((0, 128), dtype=np.float32)
        arrays = [to_uint8(img) for img in images]
        shapes = [self._shape(arr, box) for arr, box in zip(arrays, boxes)]
        if self.backend == "dlib":
            return np.stack(
                [
                    np.asarray(
                        _face_recognizer().compute_face_descriptor(arr, shape, num_jitters=0),
                        dtype=np.float32,
                    )
                    for arr, shape in zip(arrays, shapes)
                ]
            )
        dlib = load_dlib()
        chips = np.stack(
            [dlib.get_face_chip(arr, shape, 150, 0.25) for arr, shape in zip(arrays, shapes)]
        )
        return _torch_descriptors(chips, self.device, self.batch_size)


@functools.cache
def _facenet_on(device: str):
    return shipped_facenet() if device == "cpu" else copy.deepcopy(shipped_facenet()).to(device)


def _torch_descriptors(chips: np.ndarray, device: str, batch_size: int) -> np.ndarray:
    """(N, 150, 150, 3) uint8 chips -> (N, 128) float32 descriptors from ``DlibFaceNet``."""
    net = _facenet_on(device)
    out = []
    with torch.no_grad():
        for start in range(0, len(chips), batch_size):
            batch = torch.from_numpy(chips[start : start + batch_size]).to(device)
            out.append(net(batch.permute(0, 3, 1, 2).float() / 255.0).cpu().numpy())
    return np.concatenate(out).astype(np.float32)
