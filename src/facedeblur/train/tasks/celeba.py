"""Shared parts of the two CelebA tasks of identity obfuscation (attributes, rebuild).

Both train on aligned CelebA faces split by identity (``data.kind`` attributes or rebuild).
"""

from __future__ import annotations

import numpy as np
import torch

from .base import Task

VAL_BATCH = 64


def stack_batches(items: list[dict], size: int = VAL_BATCH):
    """Validation items stacked into batches of tensors (non-tensor entries are dropped)."""
    for start in range(0, len(items), size):
        chunk = items[start : start + size]
        yield {
            k: torch.stack([it[k] for it in chunk])
            for k, v in chunk[0].items()
            if torch.is_tensor(v)
        }


def flip_attributes(attributes: torch.Tensor, columns) -> torch.Tensor:
    """0/1 attributes (N, K) with the given columns flipped (1 - value)."""
    flipped = attributes.clone()
    flipped[:, list(columns)] = 1.0 - flipped[:, list(columns)]
    return flipped


def majority_answers(faces) -> torch.Tensor:
    """(K,) 0/1: each attribute's more frequent value over a ``CelebAFaces`` set."""
    labels = np.stack([faces.attributes[f] for f in faces.files]).astype(np.float32)
    return torch.from_numpy((labels.mean(0) >= 0.5).astype(np.float32))


class CelebATask(Task):
    """What the CelebA tasks share.

    The weights header that names the faces and the identity split.
    """

    def data_header(self, train_set, val: list[dict]) -> dict:
        """CelebA root, crop size, alignment and the identity split, for the weights header."""
        d = self.cfg.data
        return {
            "kind": d.kind,
            "train": d.train,
            "size": d.size,
            "alignment": "facedeblur.faces.align.TEMPLATE",
            "faces": len(train_set),
            "dropped_without_landmarks": train_set.dropped,
            "validation": {
                "split": "identity",
                "val_fraction": d.val_fraction,
                "split_seed": self.cfg.train.seed,
                "faces": len(val),
            },
        }
