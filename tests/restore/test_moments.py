"""Restoring the moments of a blurry face: whole photos, the shipped CFMD-GAN model."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from facedeblur import load_moments_model
from facedeblur.cli import main
from facedeblur.errors import FaceDeblurError
from facedeblur.io import read_image
from facedeblur.restore import moments
from facedeblur.restore.moments import moments_model_path


def test_moments_on_a_photo_leaves_the_background(lfw_people, tiny_weights):
    photo = read_image(sorted(lfw_people[0].glob("*.jpg"))[0])
    canvas = np.zeros((400, 500, 3), dtype=np.float32) + 0.3
    canvas[100:350, 150:400] = photo
    restorer = load_moments_model(tiny_weights)
    frames = moments(canvas, n=3, model=restorer, faces=True)
    assert len(frames) == 3
    for frame in frames:
        assert np.array_equal(frame[:40], canvas[:40]) and np.array_equal(
            frame[:, :60], canvas[:, :60]
        )
    with pytest.raises(FaceDeblurError, match="no face"):
        moments(np.full((120, 120, 3), 0.5, np.float32), n=3, model=restorer, faces=True)


@pytest.mark.slow
def test_shipped_moments_model_turns_a_blurry_face_into_a_clip(moments_root, tmp_path):
    path = moments_model_path()
    assert path.stat().st_size < 20 * 2**20
    restorer = load_moments_model()
    assert restorer.header["architecture"] == "cfmd" and restorer.header["steps"] > 0
    blurry = sorted((moments_root / "val" / "blur").glob("*.png"))[0]
    assert main(["moments", str(blurry), "-o", str(tmp_path / "clip"), "--quiet"]) == 0
    frames = [read_image(p) for p in sorted((tmp_path / "clip").glob("moment_*.png"))]
    assert len(frames) == 7
    assert all(np.isfinite(f).all() and f.shape == read_image(blurry).shape for f in frames)
    assert Image.open(tmp_path / "clip" / "moments.gif").n_frames == 12
