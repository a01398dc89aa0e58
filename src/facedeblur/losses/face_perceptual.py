"""Perceptual terms for CFMD-GAN: the paper's LPIPS, and a face-feature substitute that ships here.

CFMD-GAN weights an LPIPS term by 0.01. LPIPS needs ImageNet AlexNet weights, which users may
have but these machines cannot download, so :class:`LPIPSLoss` loads them from given files and
fails clearly without them. :class:`OnetFeatureLoss` is the substitute our runs use: the same
LPIPS recipe (channel-normalised feature maps, squared differences, spatial mean) on the first
three convolution stages of MTCNN's O-Net, whose trained weights (facenet-pytorch's) ship in
this package. O-Net was trained to find faces and their landmarks, so its early filters
respond to facial edges and parts; it is not an ImageNet network and not a calibrated LPIPS.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import UsageError
from ..faces.mtcnn import ONet, load_net_weights, mtcnn_weights_dir
from ..metrics.lpips import LPIPS

PERCEPTUAL_TERMS = ("none", "lpips", "onet")


class LPIPSLoss(nn.Module):
    """Mean LPIPS (AlexNet-lin) distance between output and target, as a training loss.

    ``forward(output, target)``: (N, 3, H, W) in [0, 1]; returns a scalar. Weights as in
    :class:`facedeblur.metrics.LPIPS` (both paths required; a missing file raises).
    """

    def __init__(
        self, backbone_path: str | Path | None = None, linear_path: str | Path | None = None
    ):
        super().__init__()
        self.lpips = LPIPS(backbone_path, linear_path)

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.lpips(output, target).mean()


class OnetFeatureLoss(nn.Module):
    """LPIPS-style distance on MTCNN O-Net features (the named substitute for LPIPS).

    The images go through O-Net's input normalisation ((x * 255 - 127.5) / 128) and its first
    ``stages`` conv + PReLU stages (32, 64, 64 channels; the max-pools between them are kept);
    each stage's features are normalised to unit length over channels, and the loss is the sum
    over stages of the mean squared difference. Frozen, always in eval mode; gradients reach
    ``output`` only.

    Args:
        weights_dir: folder of an ``onet.safetensors`` (facenet-pytorch's keys); None uses the
            shipped one.
        stages: how many conv stages to compare, 1 to 3.
    """

    def __init__(self, weights_dir: str | Path | None = None, stages: int = 3):
        super().__init__()
        if not 1 <= stages <= 3:
            raise UsageError(f"onet perceptual loss: stages must be 1, 2 or 3, got {stages}")
        folder = Path(weights_dir) if weights_dir is not None else mtcnn_weights_dir()
        onet = load_net_weights(ONet(), folder / "onet.safetensors")
        self.stages = nn.ModuleList(
            [
                nn.Sequential(onet.conv1, onet.prelu1),
                nn.Sequential(onet.pool1, onet.conv2, onet.prelu2),
                nn.Sequential(onet.pool2, onet.conv3, onet.prelu3),
            ][:stages]
        )
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> OnetFeatureLoss:
        """Always stays in eval mode."""
        return super().train(False)

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x.float() * 255.0 - 127.5) / 128.0
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10))
        return feats

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if output.shape != target.shape:
            raise ValueError(
                f"perceptual loss needs one shape, got {tuple(output.shape)} "
                f"and {tuple(target.shape)}"
            )
        with torch.no_grad():
            reference = self._features(target)
        return sum(
            ((a - b) ** 2).sum(dim=1).mean() for a, b in zip(self._features(output), reference)
        )


def build_perceptual_term(name: str, **kwargs) -> nn.Module | None:
    """The perceptual term ``name`` of ``PERCEPTUAL_TERMS``, built with ``kwargs``.

    ``none`` gives None.
    """
    if name not in PERCEPTUAL_TERMS:
        raise UsageError(
            f"unknown perceptual term {name!r}; choose one of {', '.join(PERCEPTUAL_TERMS)}"
        )
    if name == "none":
        return None
    cls = LPIPSLoss if name == "lpips" else OnetFeatureLoss
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise UsageError(f"perceptual term {name!r}: {exc}") from None
