"""The restoring entry points take a path, a PIL image, a numpy array or a tensor and give the
same kind back: ``load_model(...).deblur``, ``deblur``, ``restore_faces`` and ``moments``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from facedeblur import deblur, load_model, moments, restore_faces
from facedeblur.faces.registry import build_detector
from facedeblur.io import read_image, to_uint8, write_image
from tests.helpers import PEOPLE

RETURNED = {"path": np.ndarray, "PIL": Image.Image, "array": np.ndarray, "tensor": torch.Tensor}


@pytest.fixture(scope="module")
def photo_path(data_dir):
    """A real 250 x 250 LFW photo with one face."""
    return data_dir / "lfw" / "images" / PEOPLE[0]


@pytest.fixture(scope="module")
def fixed_faces(photo_path):
    """A detector that returns, without running, the faces MTCNN finds in the photo."""
    faces = build_detector("mtcnn")(read_image(photo_path))
    assert len(faces) == 1
    return lambda _image: faces


def _kinds(path) -> dict:
    array = read_image(path)
    return {
        "path": path,
        "PIL": Image.fromarray(to_uint8(array)),
        "array": array,
        "tensor": torch.from_numpy(array.transpose(2, 0, 1).copy()),
    }


def _as_array(result) -> np.ndarray:
    if isinstance(result, Image.Image):
        return np.asarray(result).astype(np.float32) / 255.0
    if isinstance(result, torch.Tensor):
        return result.numpy().transpose(1, 2, 0)
    return result


def _same_result(results: dict, side: int = 250) -> None:
    for name, result in results.items():
        assert isinstance(result, RETURNED[name]), name
    reference = _as_array(results["array"])
    assert reference.shape == (side, side, 3)
    for name, result in results.items():
        # A PIL image comes back as uint8: half a level of rounding.
        np.testing.assert_allclose(
            _as_array(result), reference, atol=0.5 / 255 + 1e-6, err_msg=name
        )


def test_the_deblurrer_gives_back_the_kind_it_was_given(photo_path, tiny_model):
    deblurrer = load_model(tiny_model)
    _same_result({name: deblurrer.deblur(x) for name, x in _kinds(photo_path).items()})
    batch = torch.rand(2, 3, 16, 16)
    assert deblurrer.deblur(batch).shape == (2, 3, 16, 16), "a tensor batch stays a batch"


def test_deblur_with_faces_and_restore_faces_give_back_the_kind(
    photo_path, tiny_model, fixed_faces
):
    deblurrer = load_model(tiny_model)
    kinds = _kinds(photo_path)
    restored = {
        name: deblur(x, deblurrer, faces=True, detector=fixed_faces) for name, x in kinds.items()
    }
    _same_result(restored)
    results = {name: restore_faces(x, deblurrer, fixed_faces) for name, x in kinds.items()}
    assert all(len(r.restored) == 1 for r in results.values())
    _same_result({name: r.image for name, r in results.items()})


def test_moments_give_back_a_list_of_the_kind(photo_path, tiny_weights, tmp_path):
    crop = write_image(tmp_path / "crop.png", read_image(photo_path)[90:154, 93:157])
    results = {
        name: moments(x, u=[0.0, 1.0], model=tiny_weights) for name, x in _kinds(crop).items()
    }
    for index in range(2):
        _same_result({name: frames[index] for name, frames in results.items()}, side=64)
