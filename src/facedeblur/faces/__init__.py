"""Face tools: detectors behind one interface, crops and paste-back, dlib's model files and its
face-recognition network in PyTorch."""

from .detect import Detection, DlibHOGDetector, largest_face, square_face_box
from .dlib_facenet import DlibFaceNet
from .dlib_models import model_path
from .motion_order import (
    LEFT_EYE_POINTS,
    FrameOrder,
    control_factors,
    eye_centroid,
    motion_order,
    order_frames,
)
from .pasteback import face_crop_box, paste_corrections
from .registry import DETECTORS, build_detector

__all__ = [
    "DETECTORS",
    "LEFT_EYE_POINTS",
    "Detection",
    "DlibFaceNet",
    "DlibHOGDetector",
    "FrameOrder",
    "build_detector",
    "control_factors",
    "eye_centroid",
    "face_crop_box",
    "largest_face",
    "model_path",
    "motion_order",
    "order_frames",
    "paste_corrections",
    "square_face_box",
]
