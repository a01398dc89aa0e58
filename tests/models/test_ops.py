import numpy as np
import torch

from facedeblur.blur import gaussian_kernel
from facedeblur.metrics.image import ssim
from facedeblur.models.ops import gaussian_downsample, gaussian_taps


def test_gaussian_taps_are_centred_normalised_and_shared():
    taps = gaussian_taps(1.5, 11, torch.float64)
    assert taps.shape == (11,) and torch.isclose(taps.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert torch.equal(taps, taps.flip(0)) and int(taps.argmax()) == 5
    r = np.arange(11) - 5
    reference = np.exp(-0.5 * (r / 1.5) ** 2)
    np.testing.assert_allclose(taps.numpy(), reference / reference.sum(), rtol=1e-12)
    np.testing.assert_allclose(
        gaussian_kernel(1.5, 11), np.outer(taps.numpy(), taps.numpy()), rtol=1e-12
    )


def test_the_gaussian_users_agree_with_the_taps():
    x = torch.rand(1, 1, 16, 16, dtype=torch.float64)
    taps = gaussian_taps(1.0, 7, torch.float64)
    padded = torch.nn.functional.pad(x, (3, 3, 3, 3), mode="reflect")
    expected = torch.nn.functional.conv2d(padded, (taps[:, None] * taps[None, :])[None, None])[
        ..., ::2, ::2
    ]
    torch.testing.assert_close(gaussian_downsample(x, 1.0), expected)
    assert float(ssim(x.expand(1, 3, 16, 16).float(), x.expand(1, 3, 16, 16).float())[0]) > 0.9999
