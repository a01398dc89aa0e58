"""Identity obfuscation groundwork: face masks on real landmarks, feathering, the classical
obfuscations.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from facedeblur.errors import NoFaceError, UsageError
from facedeblur.faces.detect import DlibHOGDetector, largest_face
from facedeblur.io import read_image
from facedeblur.privacy import (
    METHODS,
    face_ellipse,
    face_mask,
    feathered,
    landmarks_of,
    obfuscate_classical,
)


@pytest.fixture(scope="module")
def eckhart(data_dir):
    """A real LFW face (250x250, frontal), its HOG face box and its dlib landmarks."""
    img = read_image(data_dir / "lfw" / "images" / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg")
    box = largest_face(DlibHOGDetector()(img)).box
    return img, box, landmarks_of(img, label="Aaron_Eckhart_0001.jpg")


def _covers(mask: np.ndarray, points: np.ndarray) -> bool:
    xs, ys = np.rint(points).astype(int).T
    return bool(mask[ys, xs].all())


def test_face_mask_covers_every_landmark_and_stays_on_the_face(eckhart):
    img, (x0, y0, x1, y1), points = eckhart
    mask = face_mask(img.shape[:2], points)
    assert mask.shape == img.shape[:2] and mask.dtype == np.float32
    assert set(np.unique(mask)) == {0.0, 1.0}
    assert _covers(mask, points)
    assert mask.mean() < 0.6
    ys, xs = np.nonzero(mask)
    w, h = x1 - x0, y1 - y0
    assert xs.min() >= x0 - 0.3 * w and xs.max() <= x1 + 0.3 * w
    assert ys.min() >= y0 - 0.3 * h and ys.max() <= y1 + 0.3 * h


def test_face_mask_turns_with_the_head(eckhart):
    img, _, points = eckhart
    centre = points.mean(axis=0)
    turn = math.radians(25.0)
    rot = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    tilted = (points - centre) @ rot.T + centre
    _, axes, angle = face_ellipse(points)
    _, tilted_axes, tilted_angle = face_ellipse(tilted)
    assert tilted_angle == pytest.approx(angle + 25.0, abs=1e-6)
    assert tilted_axes == pytest.approx(axes, rel=1e-6)
    assert _covers(face_mask(img.shape[:2], tilted), tilted)


def test_face_mask_rejects_wrong_landmarks():
    with pytest.raises(UsageError, match=r"\(68, 2\)"):
        face_mask((32, 32), np.zeros((5, 2)))


def test_no_face_is_a_clear_error():
    with pytest.raises(NoFaceError, match="^blank.png: no face found$"):
        landmarks_of(np.full((48, 48, 3), 0.5, np.float32), label="blank.png")


def test_feathered_mask_is_soft_inside_and_zero_far_away():
    mask = np.zeros((64, 64), np.float32)
    mask[20:44, 20:44] = 1.0
    soft = feathered(mask, 4)
    assert soft.dtype == np.float32 and soft.min() >= 0.0 and soft.max() <= 1.0
    assert soft[32, 32] == pytest.approx(1.0, abs=1e-6)
    assert 0.2 < soft[32, 20] < 0.8
    assert (soft[:5] == 0).all() and (soft[:, :5] == 0).all()
    assert np.array_equal(feathered(mask, 0), mask)


def _textured(size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
    img = 0.5 * (ramp[None, :, None] + ramp[:, None, None]) * np.array([1.0, 0.7, 0.4], np.float32)
    return np.clip(img + 0.3 * rng.random((size, size, 3), dtype=np.float32), 0.0, 1.0).astype(
        np.float32
    )


@pytest.mark.parametrize("method", METHODS)
def test_classical_obfuscation_changes_only_the_masked_face(method):
    img = _textured()
    binary = np.zeros((64, 64), np.uint8)
    cv2.ellipse(binary, (32, 30), (14, 18), 10.0, 0, 360, 1, thickness=-1)
    mask = feathered(binary.astype(np.float32), 3)
    out = obfuscate_classical(img, mask, method, seed=3)
    assert out.shape == img.shape and out.dtype == np.float32
    outside = mask == 0
    assert outside.sum() > 2000
    assert np.array_equal(out[outside], img[outside])
    inside = mask > 0.99
    assert np.abs(out[inside] - img[inside]).mean() > 0.03
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_classical_obfuscation_bad_arguments():
    img = _textured(32)
    mask = np.ones((32, 32), np.float32)
    with pytest.raises(UsageError, match="valid methods: " + ", ".join(METHODS)) as info:
        obfuscate_classical(img, mask, "sepia")
    assert "\n" not in str(info.value)
    with pytest.raises(UsageError, match="does not match"):
        obfuscate_classical(img, mask[:16], "blur")
    assert np.array_equal(obfuscate_classical(img, np.zeros_like(mask), "swirl"), img)
