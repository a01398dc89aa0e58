"""DeepDeblur and its critic.

Nah et al. 2017, "Deep multi-scale CNN for dynamic scene deblurring".
"""

from __future__ import annotations

import torch
from torch import nn

from .ops import gaussian_pyramid


class ResBlock(nn.Module):
    """conv-ReLU-conv plus the input; no batch norm and no ReLU after the addition.

    Shapes: (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, n_feats: int, kernel_size: int = 5):
        super().__init__()
        pad = kernel_size // 2
        self.body = nn.Sequential(
            nn.Conv2d(n_feats, n_feats, kernel_size, padding=pad),
            nn.ReLU(True),
            nn.Conv2d(n_feats, n_feats, kernel_size, padding=pad),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _scale_network(
    in_channels: int, n_resblocks: int, n_feats: int, kernel_size: int
) -> nn.Sequential:
    pad = kernel_size // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, n_feats, kernel_size, padding=pad),
        *[ResBlock(n_feats, kernel_size) for _ in range(n_resblocks)],
        nn.Conv2d(n_feats, 3, kernel_size, padding=pad),
    )


class DeepDeblur(nn.Module):
    """Nah et al.'s multi-scale network: one ResNet per pyramid level, coarse to fine.

    The input's Gaussian pyramid (ratio 0.5, ``ops.gaussian_pyramid``) is shifted to
    [-0.5, 0.5]. The coarsest level goes through its scale network (conv, ``n_resblocks``
    ResBlocks, conv to RGB); each finer level is concatenated with the coarser output after a
    learned up-convolution (ConvTranspose2d 3->3, kernel 4, stride 2, padding 1, which doubles the
    size exactly), so finer scale networks take 6 channels. The up-convolutions see the unclamped
    coarser output, so gradients from finer scales are never cut by the clamp.

    Each scale network holds ``2 * n_resblocks + 2`` Conv2d layers (up-convolutions are
    ConvTranspose2d and not counted): 40 per scale, 120 for the paper's K=3, 19 blocks.

    Args:
        scales: pyramid levels K.
        n_resblocks: ResBlocks per scale.
        n_feats: feature channels.
        kernel_size: kernel size of every Conv2d (5 in the paper).

    Input: (N, 3, H, W) float in [0, 1], H and W multiples of ``pad_multiple`` (2**(K-1)).
    Output: list of K tensors (N, 3, H / 2**(K-1-k), W / 2**(K-1-k)), coarsest first, finest
    (full size) last, each clamped to [0, 1].
    """

    multiscale = True

    def __init__(
        self, scales: int = 3, n_resblocks: int = 19, n_feats: int = 64, kernel_size: int = 5
    ):
        super().__init__()
        self.scales = scales
        self.pad_multiple = 2 ** (scales - 1)
        self.bodies = nn.ModuleList(
            [
                _scale_network(3 if k == 0 else 6, n_resblocks, n_feats, kernel_size)
                for k in range(scales)
            ]
        )
        self.upconvs = nn.ModuleList(
            [nn.ConvTranspose2d(3, 3, 4, stride=2, padding=1) for _ in range(scales - 1)]
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        pyramid = [level - 0.5 for level in gaussian_pyramid(x, self.scales)]
        out = self.bodies[0](pyramid[0])
        outputs = [out]
        for level, body, upconv in zip(pyramid[1:], self.bodies[1:], self.upconvs):
            out = body(torch.cat([level, upconv(out)], dim=1))
            outputs.append(out)
        return [torch.clamp(o + 0.5, 0.0, 1.0) for o in outputs]


NAH_LAYERS = (  # (output channels, stride) of the 5x5 convolutions in the paper's Table 1
    (32, 2),
    (64, 1),
    (64, 2),
    (128, 1),
    (128, 4),
    (256, 1),
    (256, 4),
    (512, 1),
)


class NahDiscriminator(nn.Module):
    """The adversarial critic of Nah et al. (Table 1): one logit per image.

    Eight 5x5 convolutions (padding 2, strides 2,1,2,1,4,1,4,1, channels 32 ... 512), a 4x4
    stride-4 convolution to 512 channels, LeakyReLU(0.2) after each, then a linear layer to one
    logit (no sigmoid: the losses take logits).

    Departure from the paper, which fixes the input at ``image_size`` = 256 (the 4x4 conv then
    sees a 4x4 map and yields 1x1): the 4x4 conv's input is zero-padded by 3 at the right and
    bottom only (its output is ceil(size / 4), identical to the paper's at 256) and its output is
    average-pooled to 1x1 before the linear layer, so any input size works, e.g. 64 or 128 faces.

    Args:
        in_channels: input channels (3 for RGB).
        image_size: the side the paper trains at; kept as ``self.image_size`` for training
            presets, the network does not depend on it.

    Input: (N, in_channels, H, W) float in [0, 1] (shifted to [-0.5, 0.5] inside).
    Output: (N, 1) logits.
    """

    def __init__(self, in_channels: int = 3, image_size: int = 256):
        super().__init__()
        self.image_size = image_size
        layers: list[nn.Module] = []
        channels = in_channels
        for out, stride in NAH_LAYERS:
            layers += [
                nn.Conv2d(channels, out, 5, stride=stride, padding=2),
                nn.LeakyReLU(0.2, True),
            ]
            channels = out
        layers += [
            nn.ZeroPad2d((0, 3, 0, 3)),
            nn.Conv2d(channels, 512, 4, stride=4),
            nn.LeakyReLU(0.2, True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        ]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(512, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x - 0.5))
