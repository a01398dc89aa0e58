"""Building blocks of CFMD-GAN (Lee, Han and Heo, continuous facial motion deblurring).

A moment control factor u in [0, 1] picks which sharp moment of a blurry face's exposure the
generator restores. :class:`MappingNetwork` turns u into a *feature control map*, and each
:class:`ContAdaBlock` of the deblurring network injects that map into its features and processes
them with a control-adaptive deformable convolution (CADC) scaled by control-adaptive channel
attention (CACA). The full generator and the discriminator are built from these elsewhere.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .deform import ModulatedDeformConv2d


class MappingNetwork(nn.Module):
    """Map the moment control factor u to a feature control map.

    ``forward(u, size)`` takes u of shape (N,) with values in [0, 1] and an output size (H, W),
    broadcasts u to an (N, 1, H, W) plane and applies ``layers`` 1x1 convolutions, each followed
    by LeakyReLU(0.2) (the first 1 -> ``channels``, the rest ``channels`` -> ``channels``).
    Returns the (N, channels, H, W) feature control map. Every pixel of the map is the same
    function of u, so the map is spatially constant.
    """

    def __init__(self, channels: int = 64, layers: int = 8):
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be at least 1, got {layers}")
        blocks: list[nn.Module] = []
        for i in range(layers):
            blocks += [nn.Conv2d(1 if i == 0 else channels, channels, 1), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*blocks)

    def forward(self, u: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if u.dim() != 1:
            raise ValueError(f"u must have shape (N,), got {tuple(u.shape)}")
        h, w = size
        plane = u.view(-1, 1, 1, 1).expand(-1, 1, h, w)
        return self.body(plane)


class ChannelAttention(nn.Module):
    """Channel attention (the CACA branch): a per-channel scale in (0, 1).

    Global average pooling, a 1x1 conv C -> C/r, ReLU, a 1x1 conv C/r -> C and a sigmoid.
    ``forward(x)`` takes (N, C, H, W) and returns the (N, C, 1, 1) scale. The reduction r
    defaults to 4; the hidden width is ``max(1, C // r)``.
    """

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.body = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class ContAdaBlock(nn.Module):
    """Control-adaptive residual block (ContAda block) of the CFMD-GAN generator.

    ``forward(x, control_map)`` takes features x (N, channels, H, W) and a feature control map
    (N, control_channels, h, w) of any spatial size (from :class:`MappingNetwork`), and returns
    (N, channels, H, W):

    * F0 = LeakyReLU(0.2)(conv3x3(x));
    * the control map is resized bilinearly to (H, W), projected by a 1x1 conv
      (control_channels -> channels), concatenated with F0 and fused by a 1x1 conv
      (2 * channels -> channels) into Fu;
    * CADC: a modulated deformable 3x3 conv of Fu whose 18 offsets (pixels, layout of
      :mod:`facedeblur.models.deform`) come from ``offset_conv`` and whose 9 masks in (0, 1) come
      from ``mask_conv`` followed by a sigmoid; both convs are zero-initialised, so offsets start
      at 0 and masks at 0.5;
    * CACA: :class:`ChannelAttention` of Fu scales the CADC output;
    * output = x + CADC(Fu) * CACA(Fu).
    """

    def __init__(self, channels: int, control_channels: int = 64, reduction: int = 4):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.LeakyReLU(0.2)
        self.control_proj = nn.Conv2d(control_channels, channels, 1)
        self.fuse = nn.Conv2d(2 * channels, channels, 1)
        self.offset_conv = nn.Conv2d(channels, 2 * 9, 3, padding=1)
        self.mask_conv = nn.Conv2d(channels, 9, 3, padding=1)
        for conv in (self.offset_conv, self.mask_conv):
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)
        self.deform = ModulatedDeformConv2d(channels, channels, kernel_size=3)
        self.attention = ChannelAttention(channels, reduction)

    def forward(self, x: torch.Tensor, control_map: torch.Tensor) -> torch.Tensor:
        f0 = self.act(self.conv(x))
        control = F.interpolate(control_map, size=x.shape[-2:], mode="bilinear", align_corners=False)
        fu = self.fuse(torch.cat((f0, self.control_proj(control)), dim=1))
        offset = self.offset_conv(fu)
        mask = torch.sigmoid(self.mask_conv(fu))
        return x + self.deform(fu, offset, mask) * self.attention(fu)
