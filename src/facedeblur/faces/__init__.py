"""Face tools: detectors behind one interface, crops and paste-back, and dlib's model files."""

from .detect import Detection, DlibHOGDetector, largest_face, square_face_box
from .dlib_models import model_path
from .pasteback import face_crop_box, paste_corrections
from .registry import DETECTORS, build_detector

__all__ = [
    "DETECTORS", "Detection", "DlibHOGDetector", "build_detector", "face_crop_box", "largest_face", "model_path",
    "paste_corrections", "square_face_box",
]
