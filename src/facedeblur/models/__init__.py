"""Networks, and the one name -> class table that configs and weights headers use to build them."""

from __future__ import annotations

import inspect

from torch import nn

from ..errors import UsageError
from . import ops
from .cfmd import CFMDGenerator, UNetDiscriminator, UNetDiscriminatorOutput
from .deblurgan import DeblurGANGenerator, PatchGANDiscriminator, receptive_field
from .deepdeblur import DeepDeblur, NahDiscriminator
from .deform import ModulatedDeformConv2d, modulated_deform_conv2d
from .nafnet import NAFNet
from .privacy import (
    RebuildUNet,
    ResNet,
    ResNetAttributes,
    landmark_heatmaps,
    rebuild_input,
    resnet18_attributes,
    resnet50_attributes,
)

MODELS: dict[str, type[nn.Module]] = {
    "deblurgan": DeblurGANGenerator,
    "patchgan": PatchGANDiscriminator,
    "deepdeblur": DeepDeblur,
    "nah_discriminator": NahDiscriminator,
    "nafnet": NAFNet,
    "cfmd": CFMDGenerator,
    "unet_discriminator": UNetDiscriminator,
    "resnet_attributes": ResNetAttributes,
    "rebuild_unet": RebuildUNet,
}

# What each network is for, so weights given to the wrong command are refused before building.
ROLES: dict[str, str] = {
    "deblurgan": "deblurrer",
    "deepdeblur": "deblurrer",
    "nafnet": "deblurrer",
    "cfmd": "moments model",
    "resnet_attributes": "attribute classifier",
    "rebuild_unet": "face rebuild network",
    "patchgan": "discriminator",
    "nah_discriminator": "discriminator",
    "unet_discriminator": "discriminator",
}


def build_model(name: str, **kwargs) -> nn.Module:
    """Build the network ``MODELS[name]`` with keyword arguments ``kwargs``.

    Raises ``UsageError`` with a one-line message for an unknown name or arguments the
    network does not take or refuses (``TypeError`` or ``ValueError`` from its constructor).
    """
    if name not in MODELS:
        raise UsageError(f"unknown model {name!r}; valid names: {', '.join(sorted(MODELS))}")
    cls = MODELS[name]
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        takes = ", ".join(inspect.signature(cls).parameters)
        raise UsageError(f"bad arguments for model {name!r} ({exc}); it takes: {takes}") from None


__all__ = [
    "MODELS",
    "ROLES",
    "build_model",
    "ops",
    "receptive_field",
    "DeblurGANGenerator",
    "PatchGANDiscriminator",
    "DeepDeblur",
    "NahDiscriminator",
    "NAFNet",
    "ModulatedDeformConv2d",
    "modulated_deform_conv2d",
    "CFMDGenerator",
    "UNetDiscriminator",
    "UNetDiscriminatorOutput",
    "RebuildUNet",
    "ResNet",
    "ResNetAttributes",
    "landmark_heatmaps",
    "rebuild_input",
    "resnet18_attributes",
    "resnet50_attributes",
]
