"""Golden outputs: synthesis, restoration and moments give the same pictures as when they were
recorded (``tests/golden``), so a refactoring that changes what users get cannot pass.

Images are compared decoded, to within one 8-bit level (other CPUs and library builds may round
differently); the manifest line is compared exactly. Record again, after a deliberate change,
with ``FACEDEBLUR_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and say why in the commit.
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

import facedeblur
from facedeblur.blur import KernelBlurSettings, SampleSettings, synthesize
from facedeblur.io import read_image, write_image

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
UPDATE = os.environ.get("FACEDEBLUR_UPDATE_GOLDEN") == "1"
FACE = ("George_W_Bush", "George_W_Bush_0001.jpg")


def _check(name: str, image: np.ndarray) -> None:
    path = os.path.join(GOLDEN, name)
    if UPDATE:
        write_image(path, image)
    expected = read_image(path)
    assert image.shape == expected.shape, (
        f"{name}: shape {image.shape} != recorded {expected.shape}"
    )
    diff = np.abs(np.round(image * 255.0) - np.round(expected * 255.0))
    assert diff.max() <= 1.0 and diff.mean() < 0.05, (
        f"{name}: differs from the recording (max {diff.max():.0f} levels)"
    )


@pytest.fixture(scope="module")
def face_crop(data_dir) -> np.ndarray:
    """A 96 x 96 crop around a real LFW face."""
    image = read_image(data_dir / "lfw" / "images" / FACE[0] / FACE[1])
    return image[70:166, 77:173]


def test_synthesis_gives_the_recorded_pair_and_manifest(tmp_path, data_dir):
    src = tmp_path / "src" / FACE[0]
    src.mkdir(parents=True)
    shutil.copy(data_dir / "lfw" / "images" / FACE[0] / FACE[1], src / FACE[1])
    settings = SampleSettings(size=48, blur=KernelBlurSettings(jpeg_quality=(70, 95)))
    synthesize(tmp_path / "src", tmp_path / "out", settings, count=1, seed=5, progress=False)
    blurred = sorted((tmp_path / "out" / "blur").iterdir())[0]
    _check("synth_blur.png", read_image(blurred))
    _check("synth_sharp.png", read_image(tmp_path / "out" / "sharp" / blurred.name))
    record = json.loads((tmp_path / "out" / "manifest.jsonl").read_text().splitlines()[0])
    record.pop("source", None)
    manifest = os.path.join(GOLDEN, "synth_manifest.json")
    if UPDATE:
        with open(manifest, "w", encoding="utf-8") as fh:
            json.dump(record, fh, indent=1, sort_keys=True)
    with open(manifest, encoding="utf-8") as fh:
        assert record == json.load(fh)


def test_frames_synthesis_gives_the_recorded_pairs_and_records(tmp_path, short_video):
    settings = SampleSettings(
        mode="frames",
        size=48,
        crop="face",
        margin=0.7,
        blur=KernelBlurSettings(jpeg_quality=(70, 95)),
    )
    synthesize(short_video, tmp_path / "out", settings, count=3, seed=5, progress=False)
    lines = (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    for k, record in enumerate(records):
        _check(f"frames_blur_{k}.png", read_image(tmp_path / "out" / record["files"]["blur"]))
        _check(f"frames_sharp_{k}.png", read_image(tmp_path / "out" / record["files"]["sharp"]))
        # The settings block is the kernel-mode test's; here the drawn windows, crops and FMR.
        record.pop("source", None)
        record.pop("settings", None)
    manifest = os.path.join(GOLDEN, "frames_manifest.json")
    if UPDATE:
        with open(manifest, "w", encoding="utf-8") as fh:
            json.dump(records, fh, indent=1, sort_keys=True)
    with open(manifest, encoding="utf-8") as fh:
        assert records == json.load(fh)


def test_the_shipped_model_restores_the_recorded_face(face_crop):
    _check("deblur_default.png", facedeblur.deblur(face_crop))


def test_the_shipped_moments_model_gives_the_recorded_moments(face_crop):
    first, last = facedeblur.moments(face_crop, n=2)
    _check("moments_u0.png", first)
    _check("moments_u1.png", last)
