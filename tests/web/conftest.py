"""Fixtures of the web page's tests: a real blurred face as an upload, Gradio or a skip."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import PEOPLE


@pytest.fixture(scope="module")
def blurry_face(data_dir, tmp_path_factory):
    """A real LFW face (250 x 250) blurred by a camera-shake kernel, saved as a PNG upload."""
    from facedeblur.blur import blur_image, camera_shake_kernel
    from facedeblur.io import image_to_tensor, read_image, tensor_to_image, write_image

    face = read_image(data_dir / "lfw" / "images" / PEOPLE[0])
    kernel, _ = camera_shake_kernel(np.random.default_rng(1), max_length=30.0, output_size=250)
    blurred = tensor_to_image(blur_image(image_to_tensor(face), kernel))
    return write_image(tmp_path_factory.mktemp("upload") / "blurry.png", blurred)
