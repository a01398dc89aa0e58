"""Identity obfuscation: face masks from landmarks and classical obfuscations inside them."""

from .classical import METHODS, obfuscate_classical
from .mask import FOREHEAD_RAISE, face_ellipse, face_mask, feathered, landmarks_of

__all__ = ["FOREHEAD_RAISE", "METHODS", "face_ellipse", "face_mask", "feathered", "landmarks_of", "obfuscate_classical"]
