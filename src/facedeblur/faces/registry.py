"""Detectors by name, for ``--detector mtcnn|dlib-hog|dlib-cnn|centerface``.

Each detector is called on an RGB (H, W, 3) image (float in [0, 1] or uint8) and returns
``Detection`` objects (box, score, optional five landmarks), best first. Imports are lazy so
one missing optional backend does not break the others.
"""

from __future__ import annotations

import importlib

from ..errors import UsageError

DETECTORS = {
    "mtcnn": ("facedeblur.faces.mtcnn", "MTCNN"),
    "dlib-hog": ("facedeblur.faces.detect", "DlibHOGDetector"),
    "dlib-cnn": ("facedeblur.faces.dlib_faces", "DlibCNNDetector"),
    "centerface": ("facedeblur.faces.centerface", "CenterFace"),
}


def build_detector(name: str, **kwargs):
    """A face detector by name (see ``DETECTORS``)."""
    if name not in DETECTORS:
        raise UsageError(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}")
    module, cls = DETECTORS[name]
    return getattr(importlib.import_module(module), cls)(**kwargs)
