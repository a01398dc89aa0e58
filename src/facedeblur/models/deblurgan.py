"""DeblurGAN (Kupyn et al. 2018): the ResNet generator with a global skip, and its PatchGAN critic.

The module layout (``model.<index>``, ``conv_block.<index>``) follows DeblurGAN's and pix2pix's
``nn.Sequential`` layout, so their state dicts keep the same keys (generator with
``upsample="transpose"``).
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import UsageError
from .ops import to_signed

UPSAMPLE_MODES = ("transpose", "resize", "pixelshuffle")
NORMS = ("instance", "batch", "none")


def _instance_norm(channels: int) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    """Two reflection-padded 3x3 convolutions with instance norm, dropout between, plus the input.

    Shapes: (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, channels: int, dropout: float = 0.5):
        super().__init__()
        # Dropout stays in the block even at p=0 so the state-dict keys do not depend on it.
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            _instance_norm(channels),
            nn.ReLU(True),
            nn.Dropout(dropout),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            _instance_norm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


def _upsample_block(in_channels: int, out_channels: int, mode: str) -> list[nn.Module]:
    if mode == "transpose":
        layers = [
            nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1)
        ]
    elif mode == "resize":
        layers = [
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
        ]
    else:
        layers = [nn.Conv2d(in_channels, out_channels * 4, 3, padding=1), nn.PixelShuffle(2)]
    return layers + [_instance_norm(out_channels), nn.ReLU(True)]


class DeblurGANGenerator(nn.Module):
    """DeblurGAN's ResNet generator with the global skip ("ResOut").

    7x7 stem, two stride-2 downsamplings, ``n_blocks`` residual blocks at ``4 * ngf`` channels,
    two upsamplings, 7x7 conv to RGB and tanh. The tanh output is a residual r added in [-1, 1]
    space: ``clamp(to_signed(x) + r, -1, 1)``, returned in [0, 1] (computed as the identical
    ``clamp(x + r / 2, 0, 1)``, so a zero residual returns the input bit for bit).

    Args:
        n_blocks: residual blocks (9 in DeblurGAN: 11.38 M parameters with ``ngf=64``).
        ngf: channels after the stem.
        dropout: dropout probability inside each residual block (active in train mode only).
        upsample: ``"transpose"`` (ConvTranspose2d, DeblurGAN), ``"resize"`` (nearest x2 then 3x3
            conv) or ``"pixelshuffle"`` (3x3 conv to 4x channels then PixelShuffle(2)); the last two
            avoid the checkerboard artefacts of transposed convolutions.

    Input: (N, 3, H, W) float in [0, 1], H and W multiples of ``pad_multiple`` (4).
    Output: (N, 3, H, W) float in [0, 1].
    """

    pad_multiple = 4
    multiscale = False

    def __init__(
        self, n_blocks: int = 9, ngf: int = 64, dropout: float = 0.5, upsample: str = "transpose"
    ):
        super().__init__()
        if upsample not in UPSAMPLE_MODES:
            raise UsageError(
                f"upsample must be one of {', '.join(UPSAMPLE_MODES)}, not {upsample!r}"
            )
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(3, ngf, 7),
            _instance_norm(ngf),
            nn.ReLU(True),
        ]
        for mult in (1, 2):
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1),
                _instance_norm(ngf * mult * 2),
                nn.ReLU(True),
            ]
        layers += [ResnetBlock(ngf * 4, dropout) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += _upsample_block(ngf * mult, ngf * mult // 2, upsample)
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.model(to_signed(x))
        return torch.clamp(x + 0.5 * residual, 0.0, 1.0)


def _patchgan_strides(n_layers: int) -> list[int]:
    return [2] * n_layers + [1, 1]


PATCHGAN_KERNEL = 4


def receptive_field(n_layers: int = 3) -> int:
    """Receptive field in input pixels of one PatchGAN logit, from its 4x4 kernels and strides.

    ``n_layers=3`` (pix2pix and DeblurGAN) gives 70: each logit judges a 70x70 patch.
    """
    field = 1
    for stride in reversed(_patchgan_strides(n_layers)):
        field = (field - 1) * stride + PATCHGAN_KERNEL
    return field


class PatchGANDiscriminator(nn.Module):
    """pix2pix's N-layer PatchGAN discriminator: a map of logits, one per overlapping patch.

    4x4 convolutions, padding 1: one stride-2 conv with no norm, ``n_layers - 1`` stride-2 convs
    with ``ndf * min(2**n, 8)`` channels, a stride-1 conv, then a stride-1 conv to one channel.
    LeakyReLU(0.2) after every conv but the last. The receptive field is
    ``receptive_field(n_layers)`` (70 for 3 layers).

    Args:
        in_channels: input channels (3 for RGB).
        ndf: channels of the first conv.
        n_layers: stride-2 convolutions.
        norm: ``"instance"`` (no affine, as pix2pix), ``"batch"`` or ``"none"``. Batch norm mixes
            the samples of a batch, which WGAN-GP's per-sample gradient penalty does not allow;
            instance norm mixes the whole image, so only ``"none"`` (or batch norm in eval mode)
            keeps each logit's dependence inside its receptive field.
        sigmoid: end with a sigmoid (off for the losses here, which take logits).

    Input: (N, in_channels, H, W) float in [0, 1] (converted to [-1, 1] inside).
    Output: (N, 1, H', W') logits (probabilities with ``sigmoid=True``); for 256x256 input and
    ``n_layers=3``, H' = W' = 30.
    """

    def __init__(
        self,
        in_channels: int = 3,
        ndf: int = 64,
        n_layers: int = 3,
        norm: str = "instance",
        sigmoid: bool = False,
    ):
        super().__init__()
        if norm not in NORMS:
            raise UsageError(f"norm must be one of {', '.join(NORMS)}, not {norm!r}")
        # pix2pix drops the conv bias only where a batch norm's own shift makes it redundant.
        bias = norm != "batch"

        def norm_layer(channels: int) -> nn.Module:
            if norm == "instance":
                return _instance_norm(channels)
            return nn.BatchNorm2d(channels) if norm == "batch" else nn.Identity()

        strides = _patchgan_strides(n_layers)
        k = PATCHGAN_KERNEL
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, ndf, k, stride=strides[0], padding=1),
            nn.LeakyReLU(0.2, True),
        ]
        channels = ndf
        for n, stride in enumerate(strides[1:-1], start=1):
            out = ndf * min(2**n, 8)
            layers += [
                nn.Conv2d(channels, out, k, stride=stride, padding=1, bias=bias),
                norm_layer(out),
                nn.LeakyReLU(0.2, True),
            ]
            channels = out
        layers += [nn.Conv2d(channels, 1, k, stride=strides[-1], padding=1)]
        if sigmoid:
            layers += [nn.Sigmoid()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(to_signed(x))
