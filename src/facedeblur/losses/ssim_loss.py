"""SSIM loss, ``1 - SSIM``, for networks trained to rebuild structure rather than exact pixels."""

from __future__ import annotations

import torch
import torch.nn as nn

from ..metrics.image import ssim
from .content import Output, _final_pair


class SSIMLoss(nn.Module):
    """``1 - mean SSIM`` over the batch.

    With the Gaussian-window SSIM of ``facedeblur.metrics.ssim``.

    0 for identical images. ``forward(output, target)``: output (N, C, H, W) in [0, 1] or a list
    of them (last is scored), target (N, C, H, W), sides of at least ``window`` pixels; returns
    a scalar. Gradients flow through the metric (it is computed in float64 for accuracy).

    Args:
        window: Gaussian window side.
        sigma: Gaussian window standard deviation.
    """

    def __init__(self, window: int = 11, sigma: float = 1.5):
        super().__init__()
        self.window, self.sigma = int(window), float(sigma)

    def forward(self, output: Output, target: torch.Tensor) -> torch.Tensor:
        output, target = _final_pair("ssim loss", output, target)
        return 1.0 - ssim(output, target, window=self.window, sigma=self.sigma).mean()

    def extra_repr(self) -> str:
        return f"window={self.window}, sigma={self.sigma}"
