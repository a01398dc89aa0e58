"""``facedeblur demo``: the synthesis on a face photo that ships with scikit-image."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from .blur import SampleSettings, synthesize
from .errors import FaceDeblurError


def example_face_path() -> Path:
    """Path of scikit-image's astronaut portrait (Eileen Collins, public domain), a bundled example."""
    path = Path(str(importlib.resources.files("skimage.data") / "astronaut.png"))
    if not path.is_file():
        raise FaceDeblurError(f"{path}: scikit-image's example photo is missing; reinstall scikit-image")
    return path


def run_demo(out: str | Path = "demo", count: int = 6, seed: int = 0) -> Path:
    """Blur the example face ``count`` times with camera-shake kernels; return the contact sheet path."""
    out = Path(out)
    sheet = out / "synth_sheet.png"
    report = synthesize(
        example_face_path(),
        out / "astronaut",
        SampleSettings(size=128, crop="face"),
        count=count,
        seed=seed,
        preview=sheet,
        overwrite=True,
        progress=False,
    )
    if report.preview is None:
        raise FaceDeblurError("demo wrote nothing: " + "; ".join(report.skipped))
    return sheet
