"""Two datasets drawn in a fixed proportion.

E.g. kernel-blurred faces plus frame-averaged video faces.
"""

from __future__ import annotations

import math

import numpy as np
from torch.utils.data import Dataset


class MixedDataset(Dataset):
    """``primary`` in full plus draws of ``secondary`` making up ``fraction`` of all items.

    With ``fraction`` f the dataset has len(primary) / (1 - f) items; those past the primary's
    end run through ``secondary`` in a seeded order per epoch (every secondary item before any
    repeats), so a shuffled epoch draws secondary samples at rate f. A repeat of a secondary
    item is told its own epoch key, so its random draws (augmentations) differ from the first
    and still replay exactly on resume, whichever worker makes them.
    """

    def __init__(self, primary: Dataset, secondary: Dataset, fraction: float, seed: int = 0):
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"the secondary fraction must lie in (0, 1), got {fraction}")
        self.primary, self.secondary, self.seed = primary, secondary, seed
        # Rounded first: 9 * 0.1 / 0.9 is 1.0000000000000002 in floating point.
        self.secondary_count = math.ceil(round(len(primary) * fraction / (1.0 - fraction), 9))
        self.rounds = math.ceil(self.secondary_count / len(secondary))
        self.epoch = 0
        self._order = self._secondary_order(0)

    def _secondary_order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.secondary))

    def set_epoch(self, epoch: int) -> None:
        """Tell both parts the epoch, so their random draws replay on resume."""
        self.epoch = int(epoch)
        self._order = self._secondary_order(self.epoch)
        self.primary.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.primary) + self.secondary_count

    def __getitem__(self, index: int) -> dict:
        if index < len(self.primary):
            return self.primary[index]
        repeat, position = divmod(index - len(self.primary), len(self.secondary))
        self.secondary.set_epoch(self.epoch * self.rounds + repeat)
        return self.secondary[int(self._order[position])]
