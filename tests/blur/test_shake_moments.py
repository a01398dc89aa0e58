"""Camera-shake moments of still faces: shifted sharp frames, their average, their motion order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facedeblur.blur.frames import average_frames
from facedeblur.blur.pipeline import KernelBlurSettings
from facedeblur.blur.shake_moments import OVERSAMPLE, moment_offsets, shake_moments, shifted_frames

CLEAN = KernelBlurSettings(noise_scale=0.0, jpeg_quality=None)


def _blob(side: int = 64, x: float = 30.0, y: float = 34.0) -> torch.Tensor:
    """A (3, side, side) image of one bright Gaussian spot at (x, y) on black."""
    yy, xx = torch.meshgrid(
        torch.arange(side, dtype=torch.float64),
        torch.arange(side, dtype=torch.float64),
        indexing="ij",
    )
    spot = torch.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 3.0**2))
    return spot.expand(3, side, side).float()


def _centroid(img: torch.Tensor) -> tuple[float, float]:
    w = img[0].double()
    yy, xx = torch.meshgrid(torch.arange(w.shape[0]), torch.arange(w.shape[1]), indexing="ij")
    return float((xx * w).sum() / w.sum()), float((yy * w).sum() / w.sum())


def test_frames_are_the_face_moved_by_each_offset_and_the_blur_is_their_average():
    drawn = shake_moments(
        _blob(), 9, np.random.default_rng(3), KernelBlurSettings(max_length=120, noise_scale=0.0)
    )
    assert drawn.frames.shape == (9, 3, 32, 32) and drawn.blur.shape == (3, 32, 32)
    assert np.abs(drawn.offsets).max() > 1.0, "the trajectory moves the face"
    x0, y0 = _centroid(shifted_frames(_blob(), np.zeros((1, 2)))[0])
    for frame, (dx, dy) in zip(drawn.frames, drawn.offsets):
        x, y = _centroid(frame)
        assert x == pytest.approx(x0 + dx, abs=0.02) and y == pytest.approx(y0 + dy, abs=0.02)
    assert np.allclose(drawn.offsets * OVERSAMPLE, np.rint(drawn.offsets * OVERSAMPLE)), (
        "whole pixels at 2x"
    )
    torch.testing.assert_close(drawn.blur, average_frames(drawn.frames, CLEAN.gamma))


def test_moments_are_ordered_by_position_like_fmr():
    drawn = shake_moments(
        _blob(), 13, np.random.default_rng(5), KernelBlurSettings(max_length=120, noise_scale=0.0)
    )
    xs = [_centroid(drawn.frames[k])[0] for k in drawn.order]
    assert sorted(drawn.order) == list(range(13))
    assert all(a <= b + 1e-6 for a, b in zip(xs, xs[1:])), (
        "the eye (every pixel) moves left to right along u"
    )


def test_offsets_are_centred_reproducible_and_scale_with_the_trajectory_length():
    short, _ = moment_offsets(np.random.default_rng(1), 7, 128, KernelBlurSettings(max_length=10))
    again, record = moment_offsets(
        np.random.default_rng(1), 7, 128, KernelBlurSettings(max_length=10)
    )
    long, _ = moment_offsets(np.random.default_rng(1), 7, 128, KernelBlurSettings(max_length=100))
    np.testing.assert_array_equal(short, again)
    np.testing.assert_allclose(short.mean(axis=0), 0.0, atol=1e-9)
    assert np.ptp(long, axis=0) / np.ptp(short, axis=0) == pytest.approx([10.0, 10.0], rel=0.05)
    assert record["length"] == pytest.approx(10 * 128 / 512) and 0.25 <= record["exposure"] <= 1.0
    with pytest.raises(ValueError, match="at least one"):
        moment_offsets(np.random.default_rng(1), 0, 128, CLEAN)
    with pytest.raises(ValueError, match="square"):
        shifted_frames(torch.zeros(3, 31, 31), short)
