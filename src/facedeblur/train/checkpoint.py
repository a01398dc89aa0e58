"""Resumable training state: networks, optimisers, schedules, every RNG, step and data position."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import torch

from ..errors import FaceDeblurError
from ..io import atomic_write_bytes


def rng_state() -> dict:
    """Snapshot of Python's, numpy's and torch's (CPU and CUDA) global generators."""
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    """Put the global generators back where ``rng_state`` found them."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, state: dict) -> Path:
    """Write a checkpoint atomically (a killed run never leaves a half-written file)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint written by ``save_checkpoint``."""
    path = Path(path)
    if not path.is_file():
        raise FaceDeblurError(f"{path}: no checkpoint to resume from")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a corrupt file can fail in many ways inside the unpickler
        raise FaceDeblurError(
            f"{path}: unreadable checkpoint ({exc.__class__.__name__}: {exc})"
        ) from None
