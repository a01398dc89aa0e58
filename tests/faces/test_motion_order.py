"""Facial motion-based reordering: eye centroid, ordering rule, control factors, real-face
ordering.
"""

from __future__ import annotations

import numpy as np
import pytest

from facedeblur.errors import NoFaceError
from facedeblur.faces.motion_order import (
    LEFT_EYE_POINTS,
    FrameOrder,
    control_factors,
    eye_centroid,
    motion_order,
    order_frames,
)
from facedeblur.io import read_image


def test_left_eye_points_are_image_left_eye():
    assert LEFT_EYE_POINTS == (36, 37, 38, 39, 40, 41)


def test_eye_centroid_of_synthetic_landmarks():
    points = np.full((68, 2), 1000.0, dtype=np.float32)
    points[36:42] = [(10, 20), (12, 18), (14, 18), (16, 20), (14, 22), (12, 22)]
    assert eye_centroid(points) == pytest.approx((13.0, 20.0))


def test_eye_centroid_rejects_wrong_shape():
    with pytest.raises(ValueError, match="68, 2"):
        eye_centroid(np.zeros((5, 2)))


def test_motion_order_distinct_x():
    assert motion_order([(30.0, 5.0), (10.0, 9.0), (20.0, 1.0)]) == [1, 2, 0]


def test_motion_order_ties_on_x_broken_by_y():
    assert motion_order([(10.0, 7.0), (10.0, 3.0), (5.0, 9.0), (10.0, 5.0)]) == [2, 1, 3, 0]


def test_motion_order_full_ties_keep_time_order():
    assert motion_order([(4.0, 4.0), (2.0, 2.0), (4.0, 4.0), (2.0, 2.0)]) == [1, 3, 0, 2]


def test_motion_order_ties_are_exact():
    assert motion_order([(10.0 + 1e-9, 0.0), (10.0, 5.0)]) == [1, 0]


def test_motion_order_rejects_bad_positions():
    assert motion_order([]) == []
    with pytest.raises(ValueError):
        motion_order([(1.0, 2.0, 3.0)])
    with pytest.raises(ValueError):
        motion_order([(float("nan"), 2.0)])


@pytest.mark.parametrize("n", [5, 7])
def test_control_factors_odd_n(n):
    u = control_factors(n)
    assert u.dtype == np.float32 and u.shape == (n,)
    assert u[0] == 0.0 and u[-1] == 1.0 and u[n // 2] == 0.5
    assert np.all(np.diff(u) > 0)


def test_control_factors_single_frame_and_invalid():
    np.testing.assert_array_equal(control_factors(1), np.array([0.5], dtype=np.float32))
    with pytest.raises(ValueError):
        control_factors(0)


@pytest.fixture(scope="module")
def face(data_dir) -> np.ndarray:
    return read_image(data_dir / "lfw" / "images" / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg")


def test_order_frames_follows_horizontal_shifts(face):
    shifts = [12, -8, 0, 20, -16]
    frames = [np.roll(face, s, axis=1) for s in shifts]
    result = order_frames(frames)
    assert isinstance(result, FrameOrder)
    assert result.order == sorted(range(len(shifts)), key=lambda i: shifts[i])
    np.testing.assert_array_equal(result.u, control_factors(len(shifts)))
    assert result.eyes.shape == (len(shifts), 2)
    moved = result.eyes[:, 0] - result.eyes[2, 0]
    np.testing.assert_allclose(moved, shifts, atol=3.0)


def test_order_frames_with_fixed_box_and_custom_landmarks():
    frames = [np.zeros((8, 8, 3), np.float32) for _ in range(3)]
    xs = iter([5.0, 1.0, 3.0])

    def fake_landmarks(img, box):
        assert box == (0, 0, 7, 7)
        return np.full((68, 2), next(xs))

    assert order_frames(frames, landmarks=fake_landmarks, box=(0, 0, 7, 7)).order == [1, 2, 0]


def test_order_frames_blank_frame_names_its_index(face):
    frames = [face, np.roll(face, 6, axis=1), np.zeros_like(face)]
    with pytest.raises(NoFaceError, match="frame 2"):
        order_frames(frames)


def test_order_frames_rejects_no_frames():
    with pytest.raises(ValueError):
        order_frames([])
