"""Face tools: detectors behind one interface, crops, and dlib's model files."""

from .detect import Detection, DlibHOGDetector, largest_face, square_face_box
from .dlib_models import model_path
from .registry import DETECTORS, build_detector

__all__ = ["DETECTORS", "Detection", "DlibHOGDetector", "build_detector", "largest_face", "model_path", "square_face_box"]
