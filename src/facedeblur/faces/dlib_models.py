"""Locate and load dlib's face models shipped by the ``face-recognition-models`` package."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from ..errors import FaceDeblurError

MODEL_FILES = {
    "landmarks68": "shape_predictor_68_face_landmarks.dat",
    "landmarks5": "shape_predictor_5_face_landmarks.dat",
    "face_descriptor": "dlib_face_recognition_resnet_model_v1.dat",
    "mmod_detector": "mmod_human_face_detector.dat",
}


def model_path(name: str) -> Path:
    """Path of one of dlib's model files.

    ``name`` is ``landmarks68``, ``landmarks5``, ``face_descriptor`` or ``mmod_detector``. The
    ``face_recognition_models`` package is located without importing it: its ``__init__``
    imports ``pkg_resources``, which setuptools 81 removed, and only its data files are needed.
    """
    if name not in MODEL_FILES:
        raise KeyError(f"unknown dlib model {name!r}; choose from {', '.join(MODEL_FILES)}")
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FaceDeblurError("dlib face models unavailable; install face-recognition-models")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / MODEL_FILES[name]
    if not path.is_file():
        raise FaceDeblurError(f"{path}: dlib model file missing; reinstall face-recognition-models")
    return path


@functools.cache
def load_dlib():
    """Import dlib with a clear error when it is missing."""
    try:
        import dlib
    except ImportError as exc:
        raise FaceDeblurError(f"dlib is not installed ({exc}); install dlib-bin") from None
    return dlib
