"""Common behaviour of facedeblur datasets: per-draw seeding and paired augmentation."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from .augment import Compose, build_augmentations
from .seeding import DrawSeeder


class SeededDataset(Dataset):
    """A dataset whose random choices come from a ``DrawSeeder`` and whose samples are augmented.

    Args:
        augment: a ``Compose`` pipeline, or a config list for ``build_augmentations``.
        seed: base seed of every random draw (blur kernels, augmentations).
    """

    def __init__(self, augment: Compose | list | None = None, seed: int = 0):
        self.augment = augment if isinstance(augment, Compose) else build_augmentations(augment)
        self.seeder = DrawSeeder(seed)

    def set_epoch(self, epoch: int) -> None:
        """Make the draws of this epoch depend only on (seed, epoch, worker)."""
        self.seeder.set_epoch(epoch)

    def draw(self, index: int) -> tuple[np.random.Generator, torch.Generator]:
        """Generators for the next draw of ``index``."""
        return self.seeder.generators(index)

    def finish(self, sample: dict, gen: torch.Generator) -> dict:
        """Apply the augmentation pipeline and make image entries contiguous."""
        sample = self.augment(sample, gen)
        return {k: v.contiguous() if torch.is_tensor(v) else v for k, v in sample.items()}
