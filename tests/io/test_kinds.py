"""The image kinds of the public API: path, PIL image, numpy array, tensor, and back."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from facedeblur.errors import FaceDeblurError
from facedeblur.io import write_image
from facedeblur.io.kinds import from_array, to_array


@pytest.fixture()
def rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (6, 8, 3)).astype(np.uint8)


def test_each_kind_reads_to_the_same_pixels_and_comes_back_as_itself(rgb, tmp_path):
    expected = rgb.astype(np.float32) / 255.0
    path = write_image(tmp_path / "x.png", rgb)
    kinds = {
        "path": (path, np.ndarray),
        "str": (str(path), np.ndarray),
        "PIL": (Image.fromarray(rgb), Image.Image),
        "array": (expected, np.ndarray),
        "CHW": (torch.from_numpy(expected.transpose(2, 0, 1).copy()), torch.Tensor),
        "NCHW": (torch.from_numpy(expected.transpose(2, 0, 1).copy())[None], torch.Tensor),
    }
    for name, (given, returned) in kinds.items():
        array, kind = to_array(given)
        np.testing.assert_allclose(array, expected, atol=1e-6, err_msg=name)
        back = from_array(array, kind)
        assert isinstance(back, returned), name
        if isinstance(given, torch.Tensor):
            assert back.shape == given.shape and back.dtype == torch.float32
        if isinstance(back, Image.Image):
            assert back.mode == "RGB" and np.array_equal(np.asarray(back), rgb)


def test_pil_grey_alpha_and_sixteen_bit_become_rgb(rgb):
    grey, _ = to_array(Image.fromarray(rgb[:, :, 0]))
    assert grey.shape == (6, 8, 3) and np.array_equal(grey[:, :, 0], grey[:, :, 2])
    rgba = np.dstack([rgb, np.zeros((6, 8), np.uint8)])
    clear, _ = to_array(Image.fromarray(rgba))
    assert np.allclose(clear, 1.0), "a fully transparent image is white, as files are"
    wide, _ = to_array(Image.fromarray(np.full((6, 8), 65535, np.uint16)))
    assert np.allclose(wide, 1.0)


def test_other_objects_and_batches_are_one_clear_error():
    with pytest.raises(FaceDeblurError, match="got list"):
        to_array([[0.0]])
    with pytest.raises(FaceDeblurError, match="N = 1"):
        to_array(torch.zeros(2, 3, 4, 4))
    with pytest.raises(FaceDeblurError, match="RGB"):
        to_array(torch.zeros(1, 4, 4))
