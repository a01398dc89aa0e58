"""Identity obfuscation: face masks from landmarks, classical obfuscations inside them, and the
photo-level pipeline (``obfuscate``) that also rebuilds faces with flipped attributes, and the
audit (``privacy_audit``) of how much identity each method leaks to a machine recognizer."""

from ..faces.mask import FOREHEAD_RAISE, face_ellipse, face_mask, feathered, landmarks_of
from .audit import ATTACKED_METHODS, privacy_audit
from .audit_report import AuditReport
from .classical import METHODS, obfuscate_classical
from .obfuscate import (
    OBFUSCATION_METHODS,
    SMALL_FACE_METHODS,
    FacesLeftVisibleWarning,
    ObfuscatedFace,
    ObfuscationResult,
    obfuscate,
    obfuscate_photo,
)

__all__ = [
    "FOREHEAD_RAISE",
    "METHODS",
    "face_ellipse",
    "face_mask",
    "feathered",
    "landmarks_of",
    "obfuscate_classical",
    "OBFUSCATION_METHODS",
    "SMALL_FACE_METHODS",
    "FacesLeftVisibleWarning",
    "ObfuscatedFace",
    "ObfuscationResult",
    "obfuscate",
    "obfuscate_photo",
    "ATTACKED_METHODS",
    "AuditReport",
    "privacy_audit",
]
