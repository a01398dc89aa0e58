"""Image degradations in a physically sensible order.

Blur in linear light, then noise, JPEG, clipping.

Images are float32 RGB tensors in [0, 1], shaped (C, H, W) or (N, C, H, W).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

DEFAULT_GAMMA = 2.2
NAH_NOISE_SCALE = 2.0 / 255.0
"""Nah et al. draw the noise sigma per image from |N(0, (2/255)^2)|."""


def srgb_to_linear(img: torch.Tensor, gamma: float = DEFAULT_GAMMA) -> torch.Tensor:
    """Undo a power-law camera response: linear = img ** gamma."""
    return img.clamp(min=0.0) ** gamma


def linear_to_srgb(img: torch.Tensor, gamma: float = DEFAULT_GAMMA) -> torch.Tensor:
    """Apply a power-law camera response: img = linear ** (1 / gamma)."""
    return img.clamp(min=0.0) ** (1.0 / gamma)


def kernel_spectrum(kernel: np.ndarray | torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """rfft2 (float64) of a centred kernel zero-padded to ``shape``, centre moved to the origin."""
    k = torch.as_tensor(
        np.asarray(kernel) if not torch.is_tensor(kernel) else kernel, dtype=torch.float64
    )
    r = k.shape[0] // 2
    padded = torch.zeros(shape, dtype=torch.float64)
    padded[: k.shape[0], : k.shape[1]] = k
    return torch.fft.rfft2(torch.roll(padded, shifts=(-r, -r), dims=(0, 1)))


def convolve(img: torch.Tensor, kernel: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Convolve every channel with a centred kernel; same size, reflect padding.

    A kernel weight at offset (dy, dx) from the kernel centre moves light by (dy, dx):
    a dot at p becomes the kernel pattern with the kernel's centre at p. Computed with
    FFTs of the reflect-padded image, which is exact (not circular) inside the crop.
    """
    squeeze = img.dim() == 3
    x = img.unsqueeze(0) if squeeze else img
    k = torch.as_tensor(
        np.asarray(kernel) if not torch.is_tensor(kernel) else kernel, dtype=torch.float64
    )
    if k.dim() != 2 or k.shape[0] != k.shape[1] or k.shape[0] % 2 == 0:
        raise ValueError(f"kernel must be square with an odd side, got shape {tuple(k.shape)}")
    r = k.shape[0] // 2
    height, width = x.shape[-2:]
    if r >= min(height, width):
        raise ValueError(f"kernel of side {k.shape[0]} is too large for a {height}x{width} image")
    if r == 0:
        out = x * k[0, 0].to(x.dtype)
        return out.squeeze(0) if squeeze else out
    padded = F.pad(x.to(torch.float64), (r, r, r, r), mode="reflect")
    ph, pw = padded.shape[-2:]
    full = torch.fft.irfft2(torch.fft.rfft2(padded) * kernel_spectrum(k, (ph, pw)), s=(ph, pw))
    out = full[..., r : r + height, r : r + width].to(img.dtype)
    return out.squeeze(0) if squeeze else out


def blur_image(
    img: torch.Tensor, kernel: np.ndarray | torch.Tensor, gamma: float = DEFAULT_GAMMA
) -> torch.Tensor:
    """Blur as a camera would: undo the gamma curve, convolve the light, re-apply the curve.

    ``gamma = 1`` blurs the pixel values directly (GoPro's non-gamma ``blur`` variant).
    """
    linear = srgb_to_linear(img, gamma)
    return linear_to_srgb(convolve(linear, kernel), gamma).clamp(0.0, 1.0)


def sample_noise_sigma(rng: np.random.Generator, scale: float = NAH_NOISE_SCALE) -> float:
    """Per-image noise level sigma ~ |N(0, scale^2)| (Nah et al.)."""
    return float(abs(rng.standard_normal()) * scale)


def add_gaussian_noise(img: torch.Tensor, sigma: float, rng: np.random.Generator) -> torch.Tensor:
    """Add white Gaussian noise of standard deviation ``sigma`` and clip to [0, 1]."""
    if sigma <= 0:
        return img.clamp(0.0, 1.0)
    noise = torch.from_numpy(rng.standard_normal(size=tuple(img.shape)).astype(np.float32))
    return (img + sigma * noise.to(img.dtype)).clamp(0.0, 1.0)


def jpeg_compress(img: torch.Tensor, quality: int) -> torch.Tensor:
    """Round-trip a (C, H, W) RGB image through JPEG at ``quality`` (1-100)."""
    if not 1 <= quality <= 100:
        raise ValueError("JPEG quality must be in 1..100")
    arr = np.clip(np.rint(img.detach().cpu().numpy().transpose(1, 2, 0) * 255.0), 0, 255).astype(
        np.uint8
    )
    ok, buf = cv2.imencode(
        ".jpg", np.ascontiguousarray(arr[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    dec = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
    return torch.from_numpy(np.ascontiguousarray(dec.transpose(2, 0, 1))).to(img.dtype) / 255.0
