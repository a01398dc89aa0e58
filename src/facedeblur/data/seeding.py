"""Per-draw random generators for datasets: reproducible per seed and worker, fresh every draw."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import get_worker_info


class DrawSeeder:
    """Hands out a generator for every draw of a dataset item.

    The generator of a draw is seeded from (seed, epoch, worker id, index, k), where k counts
    earlier draws of the same index in this process and epoch. Within an epoch that a trainer
    announces with ``set_epoch``, each index is drawn once (k = 0), so the stream depends only
    on the seed, the epoch and the worker; repeated draws without ``set_epoch`` still differ.
    """

    def __init__(self, seed: int = 0):
        if seed < 0:
            raise ValueError("seed must be non-negative")
        self.seed = seed
        self.epoch = 0
        self._draws: dict[int, int] = {}

    def set_epoch(self, epoch: int) -> None:
        """Start a new epoch: its draws are reproducible from (seed, epoch)."""
        self.epoch = int(epoch)
        self._draws.clear()

    def entropy(self, index: int) -> list[int]:
        """The seed words of the next draw of ``index``."""
        info = get_worker_info()
        worker = info.id if info is not None else 0
        k = self._draws.get(index, 0)
        self._draws[index] = k + 1
        return [self.seed, self.epoch, worker, int(index), k]

    def generators(self, index: int) -> tuple[np.random.Generator, torch.Generator]:
        """A numpy and a torch generator for the next draw of ``index`` (both from the same words)."""
        sequence = np.random.SeedSequence(self.entropy(index))
        torch_gen = torch.Generator().manual_seed(int(sequence.generate_state(1, dtype=np.uint64)[0] >> 1))
        return np.random.default_rng(sequence), torch_gen
