"""Multi-scale SSIM (Wang, Simoncelli and Bovik, 2003) on RGB tensors in [0, 1].

At each of ``levels`` scales the per-channel contrast-structure term ``cs`` (the second
factor of SSIM) is averaged over the valid region; at the coarsest scale the full SSIM is used
instead. Between scales the images are downsampled 2x by average pooling (an odd side keeps its
last row or column, averaged on its own). The result per channel is
``prod_j relu(cs_j) ** w_j * relu(ssim_M) ** w_M`` and is averaged over channels.
Window, sigma, K1 and K2 are those of ``metrics.image.ssim``, so ``levels=1`` equals ``ssim``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .image import ssim_and_contrast_structure

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim(
    output: torch.Tensor,
    target: torch.Tensor,
    data_range: float = 1.0,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
    levels: int | None = None,
    window: int = 11,
    sigma: float = 1.5,
) -> torch.Tensor:
    """Per-image MS-SSIM of (N, C, H, W) (or (C, H, W)) tensors; returns shape (N,), float32.

    Args:
        output, target: images of the same shape, values in [0, data_range].
        data_range: value range (1 for images in [0, 1]).
        weights: exponents of the scales, finest first (Wang et al.'s five by default).
        levels: number of scales; ``None`` uses ``len(weights)``. Fewer scales use the first
            ``levels`` weights renormalised to sum to 1 (for images too small for five).
        window, sigma: Gaussian window side and sigma.

    Raises:
        ValueError: shapes differ, ``levels`` is out of range, or the smaller image side is not
            larger than ``(window - 1) * 2 ** (levels - 1)`` (160 px for 5 scales, window 11),
            so the coarsest scale would be smaller than the window.
    """
    if output.dim() == 3:
        output, target = output.unsqueeze(0), target.unsqueeze(0)
    if output.shape != target.shape:
        raise ValueError(
            f"MS-SSIM needs images of the same shape, got {tuple(output.shape)} "
            f"and {tuple(target.shape)}"
        )
    weights = [float(w) for w in weights]
    levels = len(weights) if levels is None else int(levels)
    if not 1 <= levels <= len(weights):
        raise ValueError(
            f"MS-SSIM levels must be between 1 and {len(weights)} (the number of weights), "
            f"got {levels}"
        )
    w = torch.tensor(weights[:levels], dtype=torch.float64, device=output.device)
    w = w / w.sum()
    need = (window - 1) * 2 ** (levels - 1)
    side = min(output.shape[-2:])
    if side <= need:
        raise ValueError(
            f"MS-SSIM with {levels} scales and window {window} needs images larger than {need} px "
            f"on the smaller side, got {side} px; pass levels=... to use fewer scales"
        )
    x, y = output.double(), target.double()
    cs_terms = []
    for level in range(levels):
        s, cs = ssim_and_contrast_structure(x, y, data_range, window, sigma)
        if level < levels - 1:
            cs_terms.append(cs)
            x = F.avg_pool2d(x, 2, ceil_mode=True)
            y = F.avg_pool2d(y, 2, ceil_mode=True)
    terms = torch.stack(cs_terms + [s], dim=0).clamp(min=0.0)  # (levels, N, C)
    value = torch.prod(terms ** w.view(-1, 1, 1), dim=0)
    return value.mean(dim=1).float()
