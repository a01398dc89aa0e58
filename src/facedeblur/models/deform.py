"""Modulated deformable convolution (DCNv2) in plain PyTorch, built on ``F.grid_sample``.

It runs wherever ``grid_sample`` runs (CPU and CUDA) and needs no compiled extension.

Offset layout: ``offset`` has ``2 * k * k`` channels; channel ``2 * t`` is the vertical shift
``dy`` and channel ``2 * t + 1`` the horizontal shift ``dx`` of kernel tap ``t``, in pixels, with
the taps numbered in row-major order of the ``k x k`` grid (``t = ky * k + kx``). ``mask`` has
``k * k`` channels, one modulation factor per tap in the same order.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _check_shapes(
    x: torch.Tensor,
    offset: torch.Tensor,
    mask: torch.Tensor,
    weight: torch.Tensor,
    padding: int,
    dilation: int,
) -> int:
    """Raise ``ValueError`` unless the shapes fit together; return the kernel size ``k``."""
    if x.dim() != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    if weight.dim() != 4 or weight.shape[2] != weight.shape[3] or weight.shape[2] % 2 == 0:
        raise ValueError(f"weight must be (O, C, k, k) with odd k, got shape {tuple(weight.shape)}")
    if weight.shape[1] != c:
        raise ValueError(f"weight has {weight.shape[1]} input channels, x has {c}")
    k = weight.shape[2]
    if padding != dilation * (k // 2):
        raise ValueError(
            f"padding must be dilation * (k // 2) = {dilation * (k // 2)} for a same-size "
            f"output, got {padding}"
        )
    if tuple(offset.shape) != (n, 2 * k * k, h, w):
        raise ValueError(
            f"offset must be (N, 2*k*k, H, W) = {(n, 2 * k * k, h, w)}, got {tuple(offset.shape)}"
        )
    if tuple(mask.shape) != (n, k * k, h, w):
        raise ValueError(
            f"mask must be (N, k*k, H, W) = {(n, k * k, h, w)}, got {tuple(mask.shape)}"
        )
    return k


def modulated_deform_conv2d(
    x: torch.Tensor,
    offset: torch.Tensor,
    mask: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    padding: int = 1,
    dilation: int = 1,
) -> torch.Tensor:
    """Modulated deformable convolution with stride 1 and a same-size output.

    x: (N, C, H, W). offset: (N, 2*k*k, H, W), per-tap (dy, dx) pairs in pixels, layout as in the
    module docstring. mask: (N, k*k, H, W), modulation factors, normally in [0, 1].
    weight: (O, C, k, k), k odd. bias: (O,) or None. padding must equal ``dilation * (k // 2)``.

    Tap ``t = ky * k + kx`` of output pixel (y, x) reads the input at
    ``(y + (ky - k // 2) * dilation + dy, x + (kx - k // 2) * dilation + dx)`` by bilinear
    interpolation, positions outside the image reading zero; the read values are scaled by
    ``mask[:, t]``. With zero offsets and a mask of one this is ``F.conv2d(x, weight, bias,
    padding=padding, dilation=dilation)``. Returns (N, O, H, W).
    """
    k = _check_shapes(x, offset, mask, weight, padding, dilation)
    n, c, h, w = x.shape
    taps = k * k
    steps = (torch.arange(k, device=x.device, dtype=x.dtype) - k // 2) * dilation
    tap_dy = steps.repeat_interleave(k).view(1, taps, 1, 1)
    tap_dx = steps.repeat(k).view(1, taps, 1, 1)
    rows = torch.arange(h, device=x.device, dtype=x.dtype).view(1, 1, h, 1)
    cols = torch.arange(w, device=x.device, dtype=x.dtype).view(1, 1, 1, w)
    py = rows + tap_dy + offset[:, 0::2]
    px = cols + tap_dx + offset[:, 1::2]
    # Pixel centres to normalised coordinates for align_corners=False, which, unlike
    # align_corners=True, stays well defined for an image one pixel high or wide.
    grid = torch.stack(((2 * px + 1) / w - 1, (2 * py + 1) / h - 1), dim=-1)
    sampled = F.grid_sample(
        x, grid.view(n, taps * h, w, 2), mode="bilinear", padding_mode="zeros", align_corners=False
    )
    columns = (sampled.view(n, c, taps, h, w) * mask.unsqueeze(1)).view(n, c * taps, h * w)
    # One matrix product over (channel, tap) pairs; an einsum here permutes the columns first.
    out = torch.matmul(weight.flatten(1), columns).view(n, -1, h, w)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


class ModulatedDeformConv2d(nn.Module):
    """A k x k modulated deformable convolution layer (stride 1, same-size output).

    The offsets and mask come from the caller, usually predicted by a plain convolution:
    ``forward(x, offset, mask)`` with x (N, in_channels, H, W), offset (N, 2*k*k, H, W) and
    mask (N, k*k, H, W) in [0, 1] returns (N, out_channels, H, W). Weight and bias are
    initialised like ``nn.Conv2d``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        dilation: int = 1,
        bias: bool = True,
    ):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-uniform weight and uniform bias, as ``nn.Conv2d`` does."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.weight[0].numel())
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return modulated_deform_conv2d(
            x,
            offset,
            mask,
            self.weight,
            self.bias,
            padding=self.dilation * (self.kernel_size // 2),
            dilation=self.dilation,
        )
