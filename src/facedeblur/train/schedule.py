"""Learning-rate schedules as multipliers of the base rate."""

from __future__ import annotations

import torch

from .config import OptimConfig


def lr_factor(step: int, total: int, optim: OptimConfig) -> float:
    """Multiplier of the base learning rate at ``step`` of ``total``.

    ``linear``: 1 until ``decay_start * total``, then linearly to 0 at ``total`` (Fan & Luo,
    DeblurGAN). ``step``: ``gamma`` from ``step_at`` on (Nah et al.: / 10 after 3e5).
    ``exponential``: ``gamma ** (step // epoch_steps)``, a decay per epoch (CFMD-GAN: 0.99).
    """
    if optim.schedule == "linear":
        start = optim.decay_start * total
        if step < start:
            return 1.0
        return max(0.0, 1.0 - (step - start) / max(1.0, total - start))
    if optim.schedule == "step":
        return optim.gamma if optim.step_at and step >= optim.step_at else 1.0
    if optim.schedule == "exponential":
        return optim.gamma ** (step // max(1, optim.epoch_steps))
    return 1.0


def build_scheduler(
    optimizer: torch.optim.Optimizer, total: int, optim: OptimConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR stepping once per generator step."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, total, optim))
