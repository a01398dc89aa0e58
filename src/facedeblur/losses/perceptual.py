"""Perceptual (VGG feature) content loss of DeblurGAN."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import UsageError
from ..models.vgg import VGG19, find_vgg19_weights, load_vgg19_weights
from .content import Output, _final_pair

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_CRITERIA = {"mse": F.mse_loss, "l1": F.l1_loss}


class PerceptualLoss(nn.Module):
    """Distance between frozen ImageNet VGG-19 feature maps of output and target (Kupyn et al.).

    The default, ``layer="conv3_3"``, is DeblurGAN's: ``VGG19.features[:15]``, i.e. up to and
    including the conv3_3 convolution at index 14, *before* its ReLU (index 15); use
    ``layer="relu3_3"`` for the activation. Images in [0, 1] are normalised with the ImageNet
    mean and std inside. The truncated VGG is frozen (no gradients, always in eval mode) and its
    weights are found and loaded at construction, so a missing or wrong file fails right away.

    ``forward(output, target)``: output (N, 3, H, W) or a list of them (last is scored), target
    (N, 3, H, W), both in [0, 1]; returns the scalar ``criterion`` (mean over feature elements).
    Gradients flow to ``output`` only.

    Args:
        weights_path: torchvision's ``vgg19-dcbb9e9d.pth``; ``None`` looks in the torch hub cache.
        layer: last VGG-19 layer used, a name of ``models.vgg.VGG19_LAYERS``.
        criterion: ``"mse"`` (DeblurGAN) or ``"l1"``.

    Raises:
        FaceDeblurError: the weights cannot be found or do not match VGG-19.
        UsageError: unknown ``layer`` or ``criterion``.
    """

    def __init__(
        self, weights_path: str | Path | None = None, layer: str = "conv3_3", criterion: str = "mse"
    ):
        super().__init__()
        if criterion not in _CRITERIA:
            raise UsageError(
                f"perceptual loss: unknown criterion {criterion!r}; "
                f"choose one of {', '.join(_CRITERIA)}"
            )
        self.layer, self.criterion = layer, criterion
        vgg = VGG19(truncate_at=layer)
        load_vgg19_weights(vgg, find_vgg19_weights(weights_path))
        self.vgg = vgg.features.requires_grad_(False).eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> PerceptualLoss:
        """Set the module's mode; the VGG stays in eval mode whatever ``mode`` is."""
        super().train(mode)
        self.vgg.eval()
        return self

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self.vgg((x - self.mean) / self.std)

    def forward(self, output: Output, target: torch.Tensor) -> torch.Tensor:
        output, target = _final_pair("perceptual loss", output, target)
        with torch.no_grad():
            target_features = self._features(target)
        return _CRITERIA[self.criterion](self._features(output).float(), target_features.float())

    def extra_repr(self) -> str:
        return f"layer={self.layer!r}, criterion={self.criterion!r}"
