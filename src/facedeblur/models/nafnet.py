"""A NAFNet-style U-Net, sized for CPUs.

Chen et al., "Simple Baselines for Image Restoration", 2022.

Blocks have no nonlinear activation: a *simple gate* (split the channels in two halves and
multiply them) and *simplified channel attention* (global average pool, one 1x1 conv, scale)
do that work. Depthwise 3x3 convolutions keep the cost per pixel low, which is what makes the
network fast on a CPU at 128x128. The network predicts a residual added to its input.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm2d(nn.Module):
    """Layer normalisation over the channels of each pixel of an NCHW tensor.

    With affine weights, which ``fold_for_inference`` moves into the next convolution
    (``weight`` and ``bias`` are then None).
    """

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.channels = channels
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():
            return self._channels_last(x)
        centred = x - x.mean(1, keepdim=True)
        y = centred / torch.sqrt(centred.pow(2).mean(1, keepdim=True) + self.eps)
        return y if self.weight is None else y * self.weight + self.bias

    def _channels_last(self, x: torch.Tensor) -> torch.Tensor:
        """The same function as torch's ``layer_norm`` on a channels-last view.

        Exported, that is one ``LayerNormalization`` node between two transposes, which
        onnxruntime runs as one kernel and folds the transposes into its layout changes;
        written out, it is seven elementwise and reduction nodes. Eager torch runs the NCHW
        formula instead: mixing the two memory layouts is slower there at batch 1.
        """
        weight = None if self.weight is None else self.weight.view(-1)
        bias = None if self.bias is None else self.bias.view(-1)
        y = F.layer_norm(x.permute(0, 2, 3, 1), (self.channels,), weight, bias, self.eps)
        return y.permute(0, 3, 1, 2)


class SimpleGate(nn.Module):
    """Multiply the first ``channels`` channels by the next ``channels``.

    (N, 2C, H, W) -> (N, C, H, W). The split point is a constant rather than half the input's
    channel count, so an exported graph splits at a constant instead of computing the point
    from the input's shape (seven nodes per gate).
    """

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.split([self.channels, self.channels], dim=1)
        return a * b


class NAFBlock(nn.Module):
    """Two residual branches: depthwise-conv mixing with channel attention, then a gated FFN.

    The branch scales start at zero, so a fresh block is the identity and deep stacks train stably.
    """

    def __init__(self, channels: int, expand: int = 2):
        super().__init__()
        hidden = channels * expand
        self.norm1 = LayerNorm2d(channels)
        self.expand = nn.Conv2d(channels, hidden, 1)
        self.depthwise = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.gate = SimpleGate(hidden // 2)
        self.attention = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(hidden // 2, hidden // 2, 1)
        )
        self.project = nn.Conv2d(hidden // 2, channels, 1)
        self.norm2 = LayerNorm2d(channels)
        self.ffn_in = nn.Conv2d(channels, hidden, 1)
        self.ffn_out = nn.Conv2d(hidden // 2, channels, 1)
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.gate(self.depthwise(self.expand(self.norm1(x))))
        y = self.project(y * self.attention(y))
        x = x + _scaled(y, self.beta)
        y = self.ffn_out(self.gate(self.ffn_in(self.norm2(x))))
        return x + _scaled(y, self.gamma)

    @torch.no_grad()
    def fold_(self) -> None:
        """Fold the norms' affine weights and the branch scales into 1x1 convolutions, in place.

        ``norm1``'s affine goes into ``expand``, ``norm2``'s into ``ffn_in``, ``beta`` into
        ``project`` and ``gamma`` into ``ffn_out``: the same function, fewer operations. The
        block's parameters then no longer match a weights file; folding twice is a no-op.
        """
        for norm, conv in ((self.norm1, self.expand), (self.norm2, self.ffn_in)):
            if norm.weight is not None:
                _fold_affine_into_next(norm, conv)
        for name, conv in (("beta", self.project), ("gamma", self.ffn_out)):
            scale = getattr(self, name)
            if scale is not None:
                conv.weight.mul_(scale.view(-1, 1, 1, 1))
                conv.bias.mul_(scale.view(-1))
                setattr(self, name, None)


def _scaled(y: torch.Tensor, scale: torch.Tensor | None) -> torch.Tensor:
    return y if scale is None else scale * y


def _fold_affine_into_next(norm: LayerNorm2d, conv: nn.Conv2d) -> None:
    """conv(n * w + b) = (W diag(w)) n + (W b + c) for a 1x1 ``conv`` with weight W, bias c."""
    conv.bias.add_(conv.weight.view(conv.out_channels, -1) @ norm.bias.view(-1))
    conv.weight.mul_(norm.weight.view(1, -1, 1, 1))
    norm.weight = norm.bias = None


def fold_for_inference(model: nn.Module) -> nn.Module:
    """An equivalent network for inference with every NAF block's constants folded.

    Each ``NAFBlock`` inside ``model`` (a ``NAFNet``, or any network holding one, such as a CFMD
    generator with a NAFNet base) gets ``NAFBlock.fold_``: two LayerNorm affines and two
    channel scales fewer per block, the same output up to float rounding (about 1e-6 on [0, 1]
    images). The result is a copy in eval mode without gradients; ``model`` is left as it is,
    and returned itself when nothing is left to fold (other families, or a folded network). A
    folded network is for running and exporting, not for training or saving.
    """
    if not any(_foldable(m) for m in model.modules()):
        return model
    folded = copy.deepcopy(model).eval().requires_grad_(False)
    for module in folded.modules():
        if isinstance(module, NAFBlock):
            module.fold_()
    return folded


def _foldable(module: nn.Module) -> bool:
    return isinstance(module, NAFBlock) and any(
        p is not None for p in (module.beta, module.gamma, module.norm1.weight, module.norm2.weight)
    )


class NAFNet(nn.Module):
    """U-Net of NAF blocks: ``len(enc_blocks)`` levels.

    Each level halves the size and doubles the width.

    Args:
        width: channels at full resolution.
        enc_blocks: NAF blocks per encoder level (before each 2x downsampling).
        middle_blocks: NAF blocks at the lowest resolution.
        dec_blocks: NAF blocks per decoder level (after each 2x upsampling), lowest level first.

    Input and output: float RGB in [0, 1], (N, 3, H, W) with H and W multiples of ``pad_multiple``.
    """

    def __init__(
        self,
        width: int = 16,
        enc_blocks: tuple = (1, 1, 2),
        middle_blocks: int = 2,
        dec_blocks: tuple = (1, 1, 1),
    ):
        super().__init__()
        if len(enc_blocks) != len(dec_blocks):
            raise ValueError("enc_blocks and dec_blocks need one entry per level")
        self.intro = nn.Conv2d(3, width, 3, padding=1)
        self.encoders, self.downs, self.ups, self.decoders = (
            nn.ModuleList(),
            nn.ModuleList(),
            nn.ModuleList(),
            nn.ModuleList(),
        )
        channels = width
        for count in enc_blocks:
            self.encoders.append(nn.Sequential(*[NAFBlock(channels) for _ in range(count)]))
            self.downs.append(nn.Conv2d(channels, channels * 2, 2, stride=2))
            channels *= 2
        self.middle = nn.Sequential(*[NAFBlock(channels) for _ in range(middle_blocks)])
        for count in dec_blocks:
            self.ups.append(
                nn.Sequential(nn.Conv2d(channels, channels * 2, 1, bias=False), nn.PixelShuffle(2))
            )
            channels //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(channels) for _ in range(count)]))
        self.ending = nn.Conv2d(width, 3, 3, padding=1)
        self.pad_multiple = 2 ** len(enc_blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.intro(x)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            features = encoder(features)
            skips.append(features)
            features = down(features)
        features = self.middle(features)
        for up, decoder, skip in zip(self.ups, self.decoders, reversed(skips)):
            features = decoder(up(features) + skip)
        return x + self.ending(features)
