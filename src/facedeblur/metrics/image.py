"""Full-reference image quality: PSNR and SSIM on RGB tensors in [0, 1].

SSIM follows Wang et al. (2004): Gaussian window of side 11 and sigma 1.5, K1 = 0.01,
K2 = 0.03, population covariances, computed on each RGB channel over the valid region (no
padding) and averaged over channels. This equals scikit-image's ``structural_similarity``
with ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False, channel_axis`` .
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..models.ops import gaussian_taps


def psnr(output: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-image PSNR in dB of (N, C, H, W) (or (C, H, W)) tensors; returns shape (N,)."""
    if output.dim() == 3:
        output, target = output.unsqueeze(0), target.unsqueeze(0)
    mse = ((output.double() - target.double()) ** 2).flatten(1).mean(dim=1)
    return (10.0 * torch.log10(data_range**2 / mse.clamp(min=1e-20))).float()


def ssim_and_contrast_structure_maps(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, window: int = 11, sigma: float = 1.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """SSIM and contrast-structure maps of (N, C, H, W) tensors, per channel.

    Valid region only (no padding): both maps are (N, C, H - window + 1, W - window + 1), and
    map pixel (i, j) is the window whose top-left corner is image pixel (i, j).
    """
    c = x.shape[1]
    g = gaussian_taps(sigma, window, x.dtype, x.device)
    kh = g.view(1, 1, 1, -1).expand(c, 1, 1, -1)
    kv = g.view(1, 1, -1, 1).expand(c, 1, -1, 1)

    def blur(t):
        return F.conv2d(F.conv2d(t, kh, groups=c), kv, groups=c)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    cs = (2 * cov + c2) / (var_x + var_y + c2)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    return luminance * cs, cs


def ssim_and_contrast_structure(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, window: int = 11, sigma: float = 1.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean SSIM and mean contrast-structure term per (image, channel) of (N, C, H, W) tensors.

    Valid region only (no padding); both results are shaped (N, C).
    """
    value, cs = ssim_and_contrast_structure_maps(x, y, data_range, window, sigma)
    return value.flatten(2).mean(dim=2), cs.flatten(2).mean(dim=2)


def ssim(
    output: torch.Tensor,
    target: torch.Tensor,
    data_range: float = 1.0,
    window: int = 11,
    sigma: float = 1.5,
) -> torch.Tensor:
    """Per-image SSIM of (N, C, H, W) (or (C, H, W)) tensors, averaged over channels; shape (N,)."""
    if output.dim() == 3:
        output, target = output.unsqueeze(0), target.unsqueeze(0)
    if min(output.shape[-2:]) < window:
        raise ValueError(f"SSIM needs images of at least {window}x{window} pixels")
    value, _ = ssim_and_contrast_structure(
        output.double(), target.double(), data_range, window, sigma
    )
    return value.mean(dim=1).float()


def region_ssim(
    output: torch.Tensor,
    target: torch.Tensor,
    region: np.ndarray,
    data_range: float = 1.0,
    window: int = 11,
    sigma: float = 1.5,
) -> float | None:
    """SSIM of two (C, H, W) images over the windows lying wholly inside ``region``.

    Averaged over channels.

    ``region`` is a bool (H, W) array. A window that touches a pixel outside it is left out, so
    a change outside the region cannot lower the score (e.g. the context around an obfuscated
    face, with ``region`` the complement of the face mask). None when no window fits.
    """
    region = np.asarray(region, dtype=bool)
    if (
        region.shape != tuple(output.shape[-2:])
        or output.shape != target.shape
        or output.dim() != 3
    ):
        raise ValueError(
            "region SSIM needs two (C, H, W) images and an (H, W) region, "
            f"got {tuple(output.shape)}, {tuple(target.shape)} and {region.shape}"
        )
    if min(output.shape[-2:]) < window:
        return None
    value, _ = ssim_and_contrast_structure_maps(
        output[None].double(), target[None].double(), data_range, window, sigma
    )
    inside = (
        cv2.erode(
            region.astype(np.uint8),
            np.ones((window, window), np.uint8),
            anchor=(0, 0),
            borderType=cv2.BORDER_CONSTANT,
            borderValue=0,
        )[: value.shape[-2], : value.shape[-1]]
        > 0
    )
    if not inside.any():
        return None
    return float(value[0].mean(dim=0)[torch.from_numpy(inside)].mean())
