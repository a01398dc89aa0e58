"""Small operations shared by the model families and the losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def final_output(output: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
    """Full-resolution result of a model: the tensor itself, or the last of a multi-scale list."""
    return output[-1] if isinstance(output, (list, tuple)) else output


def to_signed(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] images to [-1, 1]."""
    return x * 2.0 - 1.0


def from_signed(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] images to [0, 1]."""
    return (x + 1.0) * 0.5


def gaussian_taps(
    sigma: float,
    size: int,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The one Gaussian builder: ``size`` taps (odd), centred, summing to 1, shape (size,).

    Every Gaussian of the project (pyramids, the SSIM window, blur kernels, unsharp masks)
    is built here, so they agree to the last bit for the same sigma and size.
    """
    r = torch.arange(size, dtype=dtype, device=device) - size // 2
    taps = torch.exp(-0.5 * (r / sigma) ** 2)
    return taps / taps.sum()


def gaussian_downsample(x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Blur (N, C, H, W) with a separable Gaussian, then keep every other pixel.

    Reflect padding.
    """
    taps = gaussian_taps(sigma, 2 * max(1, int(round(3 * sigma))) + 1, x.dtype, x.device)
    r = taps.numel() // 2
    # Each channel as its own single-channel image: the kernels' shapes do not depend on the
    # input, which keeps ONNX export with dynamic sizes possible.
    planes = x.reshape(-1, 1, *x.shape[-2:])
    y = F.conv2d(F.pad(planes, (r, r, 0, 0), mode="reflect"), taps.view(1, 1, 1, -1))
    y = F.conv2d(F.pad(y, (0, 0, r, r), mode="reflect"), taps.view(1, 1, -1, 1))
    return y.reshape(x.shape)[..., ::2, ::2]


def gaussian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Gaussian pyramid with ratio 0.5, coarsest first: [x / 2^(levels-1), ..., x / 2, x]."""
    pyramid = [x]
    for _ in range(levels - 1):
        pyramid.append(gaussian_downsample(pyramid[-1]))
    return pyramid[::-1]
