"""Networks of the attribute-based identity obfuscation: a ResNet attribute classifier and the
U-Net that rebuilds a face from landmarks, the masked image and attributes.

``ResNet`` follows torchvision's layout (``conv1``, ``bn1``, ``layer1``-``layer4``, ``fc``, and
the same names inside the blocks; stride on the 3x3 convolution of a bottleneck, "ResNet v1.5"),
so torchvision's ImageNet files load into the backbone: load them with ``strict=False`` after
dropping their 1000-way ``fc`` when the head has another size.

The rebuild network's input is ``rebuild_input``: 68 landmark heatmaps, the masked RGB image and
the attributes as constant planes, in that channel order (68 + 3 + 40 = 111 channels).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UsageError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (ResNet-18/34)."""

    expansion = 1

    def __init__(
        self, in_channels: int, channels: int, stride: int = 1, downsample: nn.Module | None = None
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand by 4, with a residual connection (ResNet-50 and up)."""

    expansion = 4

    def __init__(
        self, in_channels: int, channels: int, stride: int = 1, downsample: nn.Module | None = None
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = nn.Conv2d(channels, channels * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """A ResNet with torchvision's state-dict names, returning logits (N, num_classes).

    Input: (N, 3, H, W) RGB in [0, 1]; the ImageNet normalisation the official weights expect
    happens inside ``forward`` (its constants are not part of the state dict).

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: number of blocks in each of the four stages, e.g. (3, 4, 6, 3) for ResNet-50.
        num_classes: outputs of the final linear layer ``fc``.
        width: channels of the stem and first stage (stages double it); torchvision's is 64,
            and only then do its files load.
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: Sequence[int],
        num_classes: int = 1000,
        width: int = 64,
    ):
        super().__init__()
        if len(layers) != 4:
            raise UsageError(f"a ResNet has 4 stages, got {len(layers)} block counts")
        if width < 1:
            raise UsageError(f"ResNet width must be at least 1, got {width}")
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.in_channels = width
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._stage(block, width, layers[0], 1)
        self.layer2 = self._stage(block, 2 * width, layers[1], 2)
        self.layer3 = self._stage(block, 4 * width, layers[2], 2)
        self.layer4 = self._stage(block, 8 * width, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8 * width * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _stage(self, block, channels: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.in_channels != channels * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.in_channels, channels * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(channels * block.expansion),
            )
        layers = [block(self.in_channels, channels, stride, downsample)]
        self.in_channels = channels * block.expansion
        layers += [block(self.in_channels, channels) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features (N, 8 * width * expansion) of [0, 1] RGB images."""
        x = (x - self.mean) / self.std
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


RESNET_DEPTHS: dict[int, tuple[type[nn.Module], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


class ResNetAttributes(ResNet):
    """A ResNet of the given depth with a ``num_attributes``-unit head: attribute logits (N, K).

    The sigmoid belongs to the loss (``BCEWithLogitsLoss``) and to whoever reads probabilities,
    not to the model. Input: (N, 3, H, W) RGB in [0, 1], 64 px and up.

    Args:
        depth: 18, 34, 50, 101 or 152.
        num_attributes: size of the head (CelebA: 40).
        width: channels of the first stage (64 is torchvision's; 32 has a quarter of the weights).
    """

    def __init__(self, depth: int = 50, num_attributes: int = 40, width: int = 64):
        if depth not in RESNET_DEPTHS:
            raise UsageError(
                f"unknown ResNet depth {depth}; valid depths: {', '.join(map(str, RESNET_DEPTHS))}"
            )
        block, layers = RESNET_DEPTHS[depth]
        super().__init__(block, layers, num_attributes, width)
        self.depth = depth


def resnet50_attributes(num_attributes: int = 40) -> ResNetAttributes:
    """ResNet-50 attribute classifier (the seed paper's backbone).

    23.6 M parameters with 40 attributes.
    """
    return ResNetAttributes(50, num_attributes)


def resnet18_attributes(num_attributes: int = 40) -> ResNetAttributes:
    """ResNet-18 attribute classifier: the lighter preset, 11.2 M parameters with 40 attributes."""
    return ResNetAttributes(18, num_attributes)


def _conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class RebuildUNet(nn.Module):
    """U-Net auto-encoder that rebuilds a face from ``rebuild_input`` planes.

    (N, C, H, W) -> (N, 3, H, W) in [0, 1].

    Encoder stages are two conv-BN-ReLU blocks, each followed by 2x2 max-pooling except the
    deepest; decoder stages upsample (bilinear) to the size of the matching encoder stage,
    concatenate its output (skip connection) and apply three conv-BN-ReLU blocks. A 1x1
    convolution and a sigmoid give the RGB output. Any H and W work; multiples of
    ``2 ** (levels - 1)`` avoid uneven pooling.

    Args:
        in_channels: input planes (111 = 68 heatmaps + 3 image + 40 attributes).
        base: channels of the first stage; stage k has ``base * 2**k``.
        levels: resolution levels (encoder stages).
    """

    def __init__(self, in_channels: int = 111, base: int = 32, levels: int = 4):
        super().__init__()
        if levels < 1 or base < 1 or in_channels < 1:
            raise UsageError(
                "RebuildUNet needs levels, base and in_channels >= 1, "
                f"got {levels}, {base}, {in_channels}"
            )
        widths = [base * 2**k for k in range(levels)]
        self.encoders = nn.ModuleList()
        channels = in_channels
        for width in widths:
            self.encoders.append(
                nn.Sequential(*_conv_bn_relu(channels, width), *_conv_bn_relu(width, width))
            )
            channels = width
        self.decoders = nn.ModuleList()
        for width in reversed(widths[:-1]):
            self.decoders.append(
                nn.Sequential(
                    *_conv_bn_relu(channels + width, width),
                    *_conv_bn_relu(width, width),
                    *_conv_bn_relu(width, width),
                )
            )
            channels = width
        self.head = nn.Conv2d(channels, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for k, encoder in enumerate(self.encoders):
            if k:
                x = F.max_pool2d(x, 2)
            x = encoder(x)
            skips.append(x)
        for decoder, skip in zip(self.decoders, reversed(skips[:-1])):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = decoder(torch.cat([x, skip], dim=1))
        return torch.sigmoid(self.head(x))


def rebuild_input(
    heatmaps: torch.Tensor, masked_image: torch.Tensor, attributes: torch.Tensor
) -> torch.Tensor:
    """The rebuild network's input: channels [heatmaps, masked image, attribute planes].

    Args:
        heatmaps: (N, 68, H, W) landmark heatmaps (``landmark_heatmaps``).
        masked_image: (N, 3, H, W) RGB in [0, 1] with the face masked out.
        attributes: (N, 40) attribute values (0/1 or probabilities); attribute k becomes the
            constant plane at channel 68 + 3 + k.

    Returns:
        (N, 68 + 3 + 40, H, W) float tensor.
    """
    if heatmaps.dim() != 4 or masked_image.dim() != 4 or attributes.dim() != 2:
        raise UsageError(
            f"expected heatmaps (N, K, H, W), image (N, 3, H, W) and attributes (N, A); got "
            f"{tuple(heatmaps.shape)}, {tuple(masked_image.shape)}, {tuple(attributes.shape)}"
        )
    n, _, h, w = masked_image.shape
    if (
        masked_image.shape[1] != 3
        or heatmaps.shape[0] != n
        or heatmaps.shape[-2:] != (h, w)
        or attributes.shape[0] != n
    ):
        raise UsageError(
            f"heatmaps {tuple(heatmaps.shape)}, image {tuple(masked_image.shape)} and attributes "
            f"{tuple(attributes.shape)} do not share batch size and image size"
        )
    planes = attributes.to(masked_image.dtype)[:, :, None, None].expand(-1, -1, h, w)
    return torch.cat([heatmaps.to(masked_image.dtype), masked_image, planes], dim=1)


def landmark_heatmaps(points, size: int | tuple[int, int], sigma: float = 1.5) -> torch.Tensor:
    """Gaussian heatmaps of landmarks: one plane per point, peak 1 at the point.

    Args:
        points: (K, 2) or (N, K, 2) landmarks (x, y) in pixels of the heatmap grid (tensor or
            array).
        size: heatmap side, or (height, width).
        sigma: Gaussian standard deviation in pixels.

    Returns:
        float32 (K, H, W) or (N, K, H, W).
    """
    if sigma <= 0:
        raise UsageError(f"heatmap sigma must be positive, got {sigma}")
    pts = (
        points.float()
        if torch.is_tensor(points)
        else torch.as_tensor(np.asarray(points, dtype=np.float32))
    )
    if pts.dim() not in (2, 3) or pts.shape[-1] != 2:
        raise UsageError(f"expected landmarks (K, 2) or (N, K, 2), got {tuple(pts.shape)}")
    height, width = (size, size) if isinstance(size, int) else size
    ys = torch.arange(height, dtype=torch.float32, device=pts.device).view(height, 1)
    xs = torch.arange(width, dtype=torch.float32, device=pts.device).view(1, width)
    dx = xs - pts[..., 0, None, None]
    dy = ys - pts[..., 1, None, None]
    return torch.exp(-(dx * dx + dy * dy) / (2.0 * sigma * sigma))
