"""Per-draw random generators for datasets: reproducible per seed and worker, fresh every draw."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import get_worker_info


class DrawSeeder:
    """Hands out a generator for every draw of a dataset item.

    Once a trainer announces epochs with ``set_epoch``, the generator of a draw is seeded
    from (seed, epoch, index, k), where k counts earlier draws of the same index in this
    process and epoch (0 when each index is drawn once per epoch). Draws then do not depend
    on which worker makes them, so an epoch replays exactly, even when resumed half-way.

    Without ``set_epoch``, draws are seeded from (seed, worker seed, index, k): in the main
    process k makes every draw fresh; DataLoader workers get a new worker seed per epoch
    from the main process's torch generator, so they are reproducible under
    ``torch.manual_seed`` and still differ from epoch to epoch.
    """

    def __init__(self, seed: int = 0):
        if seed < 0:
            raise ValueError("seed must be non-negative")
        self.seed = seed
        self.epoch: int | None = None
        self._draws: dict[int, int] = {}

    def set_epoch(self, epoch: int) -> None:
        """Make the draws of this epoch depend only on (seed, epoch)."""
        self.epoch = int(epoch)
        self._draws.clear()

    def entropy(self, index: int) -> list[int]:
        """The seed words of the next draw of ``index``."""
        k = self._draws.get(index, 0)
        self._draws[index] = k + 1
        if self.epoch is not None:
            return [self.seed, 0, self.epoch, int(index), k]
        info = get_worker_info()
        worker_seed = info.seed % (2**63) if info is not None else 0
        return [self.seed, 1, worker_seed, int(index), k]

    def generators(self, index: int) -> tuple[np.random.Generator, torch.Generator]:
        """A numpy and a torch generator for the next draw of ``index``.

        Both from the same words.
        """
        sequence = np.random.SeedSequence(self.entropy(index))
        torch_gen = torch.Generator().manual_seed(
            int(sequence.generate_state(1, dtype=np.uint64)[0] >> 1)
        )
        return np.random.default_rng(sequence), torch_gen
