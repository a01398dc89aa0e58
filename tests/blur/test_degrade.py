import numpy as np
import pytest
import torch

from facedeblur.blur import (
    add_gaussian_noise,
    blur_image,
    camera_shake_kernel,
    convolve,
    delta_kernel,
    jpeg_compress,
    kernel_centroid,
    linear_kernel,
    linear_to_srgb,
    sample_noise_sigma,
    srgb_to_linear,
)
from facedeblur.io import image_to_tensor, read_image


@pytest.fixture(scope="module")
def face(data_dir):
    path = sorted((data_dir / "lfw" / "images" / "Aaron_Eckhart").glob("*.jpg"))[0]
    return image_to_tensor(read_image(path))


@pytest.mark.parametrize("support", [1, 5])
def test_delta_kernel_is_identity(face, support):
    out = blur_image(face, delta_kernel(support))
    assert out.shape == face.shape
    assert torch.allclose(out, face, atol=1e-5)


def test_blurred_dot_sits_at_the_kernel_centroid():
    kernel, _ = camera_shake_kernel(np.random.default_rng(7), output_size=256)
    img = torch.zeros(1, 96, 96, dtype=torch.float64)
    img[0, 40, 50] = 1.0
    out = convolve(img, kernel)[0].numpy()
    assert out.sum() == pytest.approx(1.0, abs=1e-9)
    cy, cx = kernel_centroid(out)
    assert cy == pytest.approx(40.0, abs=1e-6) and cx == pytest.approx(50.0, abs=1e-6)
    r = kernel.shape[0] // 2
    assert np.allclose(out[40 - r : 40 + r + 1, 50 - r : 50 + r + 1], kernel, atol=1e-12)


def test_blur_keeps_brightness_of_a_flat_image():
    flat = torch.full((3, 64, 64), 0.37)
    kernel, _ = camera_shake_kernel(np.random.default_rng(1), output_size=64)
    assert torch.allclose(blur_image(flat, kernel), flat, atol=1e-5)


def test_blur_happens_in_linear_light():
    edge = torch.zeros(3, 16, 16)
    edge[..., 8:] = 1.0
    two_tap = np.zeros((3, 3))
    two_tap[1, 1:] = 0.5
    out = blur_image(edge, two_tap, gamma=2.2)
    naive = blur_image(edge, two_tap, gamma=1.0)
    # Pixel 8 mixes itself (1) and its left neighbour (0) half and half: in light, not in pixel
    # values.
    assert float(out[0, 4, 8]) == pytest.approx(0.5 ** (1 / 2.2), abs=1e-5)
    assert float(naive[0, 4, 8]) == pytest.approx(0.5, abs=1e-5)


def test_gamma_round_trip():
    x = torch.linspace(0, 1, 101)
    assert torch.allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-6)
    assert float(srgb_to_linear(torch.tensor(0.5))) == pytest.approx(0.5**2.2)


def test_noise_level_follows_nah_et_al():
    rng = np.random.default_rng(0)
    sigmas = np.array([sample_noise_sigma(rng) for _ in range(20000)])
    assert (sigmas >= 0).all()
    assert sigmas.mean() == pytest.approx(2 / 255 * np.sqrt(2 / np.pi), rel=0.03)
    noisy = add_gaussian_noise(torch.full((3, 128, 128), 0.5), 0.02, np.random.default_rng(1))
    assert float((noisy - 0.5).std()) == pytest.approx(0.02, rel=0.05)


def test_jpeg_recompression_degrades_a_little(face):
    out = jpeg_compress(face, 30)
    err = float((out - face).abs().mean())
    assert out.shape == face.shape and 0.001 < err < 0.05


def test_kernel_larger_than_image_is_an_error():
    with pytest.raises(ValueError, match="too large"):
        convolve(torch.zeros(3, 8, 8), linear_kernel(20.0, 0.0))
