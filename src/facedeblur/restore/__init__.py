"""Applying trained models: the padded, tiled ``Deblurrer``, whole-photo faces, moments, ONNX."""

from .deblurrer import Deblurrer
from .faces import FaceRestoreResult, deblur, restore_faces
from .loading import load_model
from .moments import MomentRestorer, load_moments_model, moments

__all__ = [
    "Deblurrer",
    "FaceRestoreResult",
    "MomentRestorer",
    "deblur",
    "load_model",
    "load_moments_model",
    "moments",
    "restore_faces",
]
