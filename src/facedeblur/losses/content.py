"""Pixel-space content losses: L1, MSE, Charbonnier, FFT and the multi-scale loss of Nah et al.

Every loss is an ``nn.Module`` whose ``forward(output, target)`` takes (N, C, H, W) images in
[0, 1] and returns a scalar. A multi-scale model returns a list of outputs, coarsest first; the
single-scale losses then score its last (full-resolution) output, and ``MultiScaleContentLoss``
scores every scale.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import UsageError
from ..models.ops import gaussian_pyramid

Output = torch.Tensor | Sequence[torch.Tensor]


def _final_pair(
    name: str, output: Output, target: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(output, torch.Tensor):
        output = output[-1]
    if output.shape != target.shape:
        raise UsageError(
            f"{name}: output {tuple(output.shape)} and target {tuple(target.shape)} differ in shape"
        )
    # Computed in float32 even when the model ran under bf16 autocast.
    return output.float(), target.float()


def charbonnier(output: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """``mean(sqrt((output - target)^2 + eps^2))`` over all elements of two same-shape tensors."""
    return torch.sqrt((output - target) ** 2 + eps * eps).mean()


class L1Loss(nn.Module):
    """Mean absolute error over all elements.

    ``forward(output, target)``: output (N, C, H, W) or a list of them (last is scored),
    target (N, C, H, W); returns a scalar.
    """

    def forward(self, output: Output, target: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(*_final_pair("l1 loss", output, target))


class MSELoss(nn.Module):
    """Mean squared error over all elements.

    ``forward(output, target)``: output (N, C, H, W) or a list of them (last is scored),
    target (N, C, H, W); returns a scalar.
    """

    def forward(self, output: Output, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(*_final_pair("mse loss", output, target))


class CharbonnierLoss(nn.Module):
    """Charbonnier (smooth L1) loss ``mean(sqrt((output - target)^2 + eps^2))``.

    Equals ``eps`` for identical images. ``forward(output, target)``: output (N, C, H, W) or a
    list of them (last is scored), target (N, C, H, W); returns a scalar.

    Args:
        eps: the smoothing constant, in image units.
    """

    def __init__(self, eps: float = 1e-3):
        super().__init__()
        self.eps = float(eps)

    def forward(self, output: Output, target: torch.Tensor) -> torch.Tensor:
        return charbonnier(*_final_pair("charbonnier loss", output, target), eps=self.eps)

    def extra_repr(self) -> str:
        return f"eps={self.eps}"


class FFTLoss(nn.Module):
    """L1 distance between the 2-D real FFTs of output and target (as in MIMO-UNet).

    The spectra come from ``torch.fft.rfft2`` over (H, W) with the default, unnormalised
    ``"backward"`` scaling, so the loss grows with the image area; their real and imaginary parts
    are stacked and compared with a mean absolute error. ``forward(output, target)``: output
    (N, C, H, W) or a list of them (last is scored), target (N, C, H, W); returns a scalar.
    """

    def forward(self, output: Output, target: torch.Tensor) -> torch.Tensor:
        output, target = _final_pair("fft loss", output, target)
        a = torch.view_as_real(torch.fft.rfft2(output))
        b = torch.view_as_real(torch.fft.rfft2(target))
        return F.l1_loss(a, b)


_BASES = {"l1": F.l1_loss, "mse": F.mse_loss, "charbonnier": charbonnier}


class MultiScaleContentLoss(nn.Module):
    """Multi-scale content loss of Nah et al. (DeepDeblur).

    ``forward(outputs, target)``: ``outputs`` is a list of K images, coarsest first, each of the
    shape of the matching level of ``gaussian_pyramid(target, K)`` (the full-resolution target
    halved K-1, ..., 1, 0 times); a single tensor counts as K = 1. Returns the mean over scales
    of the per-scale loss, each itself a mean over elements. With ``base="mse"`` this is twice
    Nah et al.'s ``1/(2K) sum_k ||L_k - S_k||^2 / (c_k w_k h_k)``.

    Args:
        base: the per-scale loss, ``"mse"`` (the paper), ``"l1"`` or ``"charbonnier"``.
    """

    def __init__(self, base: str = "mse"):
        super().__init__()
        if base not in _BASES:
            raise UsageError(
                f"multiscale loss: unknown base {base!r}; choose one of {', '.join(_BASES)}"
            )
        self.base = base

    def forward(self, outputs: Output, target: torch.Tensor) -> torch.Tensor:
        outputs = [outputs] if isinstance(outputs, torch.Tensor) else list(outputs)
        targets = gaussian_pyramid(target.float(), len(outputs))
        per_scale = []
        for k, (out, tgt) in enumerate(zip(outputs, targets)):
            if out.shape != tgt.shape:
                raise UsageError(
                    f"multiscale loss: output {k} of {len(outputs)} (coarsest first) has shape "
                    f"{tuple(out.shape)} but the target pyramid level has {tuple(tgt.shape)}"
                )
            per_scale.append(_BASES[self.base](out.float(), tgt))
        return torch.stack(per_scale).mean()

    def extra_repr(self) -> str:
        return f"base={self.base!r}"
