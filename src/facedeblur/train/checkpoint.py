"""Resumable training state: networks, optimisers, schedules, every RNG, step and data position.

A checkpoint holds only tensors and plain data (dicts, lists, numbers, strings), so it loads with
``torch.load(weights_only=True)``: reading a checkpoint never runs code from the file.
"""

from __future__ import annotations

import io
import pickle
import random
from pathlib import Path

import numpy as np
import torch

from ..errors import FaceDeblurError
from ..io import atomic_write_bytes


def rng_state() -> dict:
    """Snapshot of Python's, numpy's and torch's (CPU and CUDA) global generators.

    Every state is a tensor or plain data (Mersenne Twister words as int64 tensors), so the
    snapshot passes ``torch.load(weights_only=True)``.
    """
    version, words, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": {"version": version, "words": torch.tensor(words), "gauss": gauss},
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    """Put the global generators back where ``rng_state`` found them."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["words"].tolist()), py["gauss"]))
    npy = state["numpy"]
    keys = npy["keys"].numpy().astype(np.uint32)
    np.random.set_state((npy["name"], keys, npy["pos"], npy["has_gauss"], npy["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, state: dict) -> Path:
    """Write a checkpoint atomically (a killed run never leaves a half-written file).

    ``state`` must hold only tensors and plain data, or ``load_checkpoint`` will refuse it.
    """
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint written by ``save_checkpoint``, without running code from the file.

    Raises ``FaceDeblurError`` (one line) for a missing, corrupt or unsafe file. A checkpoint
    holding other Python objects (older facedeblur versions pickled numpy's RNG state; a hostile
    file may pickle anything) is refused rather than unpickled.
    """
    path = Path(path)
    if not path.is_file():
        raise FaceDeblurError(f"{path}: no checkpoint to resume from")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise FaceDeblurError(
            f"{path}: the checkpoint holds Python objects beyond tensors and plain data "
            "(written by an older facedeblur, or not by facedeblur) and cannot be loaded safely"
        ) from None
    except Exception as exc:  # a corrupt file can fail in many ways inside the unpickler
        raise FaceDeblurError(
            f"{path}: unreadable checkpoint ({exc.__class__.__name__}: {_first_line(exc)})"
        ) from None
    if not isinstance(state, dict):
        raise FaceDeblurError(f"{path}: not a facedeblur checkpoint (no state dictionary)")
    return state


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
