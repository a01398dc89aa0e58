"""Face tools: detection, crops, and dlib's model files."""

from .detect import Detection, DlibHOGDetector, largest_face, square_face_box
from .dlib_models import model_path

__all__ = ["Detection", "DlibHOGDetector", "largest_face", "model_path", "square_face_box"]
