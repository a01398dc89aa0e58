"""Training losses: adversarial, pixel content, SSIM, VGG perceptual, identity and face features.

Content losses are ``nn.Module``s called as ``loss(output, target)`` on [0, 1] NCHW images,
where ``output`` may be a model's list of outputs (coarsest first); ``build_content_loss``
makes one from its configuration name.
"""

from __future__ import annotations

import inspect

import torch.nn as nn

from ..errors import UsageError
from .adversarial import ADVERSARIAL_KINDS, AdversarialLoss, gradient_penalty
from .content import CharbonnierLoss, FFTLoss, L1Loss, MSELoss, MultiScaleContentLoss
from .face_perceptual import PERCEPTUAL_TERMS, LPIPSLoss, OnetFeatureLoss, build_perceptual_term
from .identity import FACE_TERMS, FaceLosses, build_face_losses
from .perceptual import PerceptualLoss
from .ssim_loss import SSIMLoss

CONTENT_LOSSES: dict[str, type[nn.Module]] = {
    "l1": L1Loss,
    "mse": MSELoss,
    "charbonnier": CharbonnierLoss,
    "fft": FFTLoss,
    "multiscale": MultiScaleContentLoss,
    "perceptual": PerceptualLoss,
    "ssim": SSIMLoss,
}


def build_content_loss(name: str, **kwargs) -> nn.Module:
    """The content loss called ``name`` in ``CONTENT_LOSSES``, built with ``kwargs``.

    Raises:
        UsageError: unknown name, or keyword arguments the loss does not take.
    """
    if name not in CONTENT_LOSSES:
        raise UsageError(
            f"unknown content loss {name!r}; choose one of {', '.join(CONTENT_LOSSES)}"
        )
    cls = CONTENT_LOSSES[name]
    keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    accepted = [p.name for p in inspect.signature(cls).parameters.values() if p.kind in keyword]
    unknown = [k for k in kwargs if k not in accepted]
    if unknown:
        takes = f"takes {', '.join(accepted)}" if accepted else "takes no arguments"
        raise UsageError(f"content loss {name!r} {takes}; got {', '.join(unknown)}")
    return cls(**kwargs)


__all__ = [
    "ADVERSARIAL_KINDS",
    "CONTENT_LOSSES",
    "FACE_TERMS",
    "AdversarialLoss",
    "FaceLosses",
    "build_face_losses",
    "CharbonnierLoss",
    "FFTLoss",
    "L1Loss",
    "MSELoss",
    "MultiScaleContentLoss",
    "LPIPSLoss",
    "OnetFeatureLoss",
    "PERCEPTUAL_TERMS",
    "build_perceptual_term",
    "PerceptualLoss",
    "SSIMLoss",
    "build_content_loss",
    "gradient_penalty",
]
