"""``obfuscate`` and ``obfuscate_photo`` take a path, a PIL image, a numpy array or a tensor
and give the same kind back."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from facedeblur import obfuscate, obfuscate_photo
from facedeblur.io import read_image, to_uint8
from tests.helpers import PEOPLE


@pytest.mark.slow
def test_obfuscation_gives_back_the_kind_it_was_given(data_dir):
    path = data_dir / "lfw" / "images" / PEOPLE[1]
    array = read_image(path)
    tensor = torch.from_numpy(array.transpose(2, 0, 1).copy())[None]
    reference = obfuscate(array, method="pixelate")
    assert reference.shape == array.shape and not np.allclose(reference, array)

    from_path = obfuscate(path, method="pixelate")
    assert isinstance(from_path, np.ndarray) and np.array_equal(from_path, reference)
    from_pil = obfuscate(Image.fromarray(to_uint8(array)), method="pixelate")
    assert isinstance(from_pil, Image.Image) and from_pil.size == (250, 250)
    assert np.abs(np.asarray(from_pil) / 255.0 - reference).max() <= 0.5 / 255 + 1e-6
    from_tensor = obfuscate_photo(tensor, method="pixelate").image
    assert isinstance(from_tensor, torch.Tensor) and from_tensor.shape == tensor.shape
    np.testing.assert_allclose(from_tensor[0].numpy().transpose(1, 2, 0), reference, atol=1e-6)
