"""Checkpoints are data, not code: exact RNG round trips, and hostile or old files refused."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from facedeblur.errors import FaceDeblurError
from facedeblur.train.checkpoint import (
    load_checkpoint,
    restore_rng_state,
    rng_state,
    save_checkpoint,
)


class _Payload:
    """Unpickling it creates ``marker``: what a hostile checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _draws() -> tuple:
    return (random.random(), np.random.randn(), np.random.rand(), torch.rand(3).tolist())


def test_rng_state_survives_a_checkpoint_exactly(tmp_path):
    random.seed(1)
    np.random.seed(2)
    np.random.randn()  # leaves a cached gaussian in numpy's state
    torch.manual_seed(3)
    save_checkpoint(tmp_path / "c.pt", {"rng": rng_state(), "step": 7})
    expected = _draws()
    state = load_checkpoint(tmp_path / "c.pt")
    restore_rng_state(state["rng"])
    assert _draws() == expected
    assert state["step"] == 7


def test_a_checkpoint_whose_unpickling_runs_code_is_refused(tmp_path):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "last.pt"
    torch.save({"step": 3, "rng": _Payload(marker)}, path)
    with pytest.raises(FaceDeblurError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "cannot be loaded safely" in message and "\n" not in message
    assert not marker.exists()


def test_an_old_checkpoint_with_pickled_numpy_state_names_the_reason(tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"step": 3, "rng": {"numpy": np.random.get_state()}}, path)
    with pytest.raises(FaceDeblurError, match="older facedeblur"):
        load_checkpoint(path)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all"], ids=["empty", "text"])
def test_a_corrupt_checkpoint_is_one_line(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(FaceDeblurError) as info:
        load_checkpoint(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_a_checkpoint_that_is_not_a_dictionary_is_refused(tmp_path):
    buffer = io.BytesIO()
    torch.save([1, 2], buffer)
    path = tmp_path / "list.pt"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(FaceDeblurError, match="not a facedeblur checkpoint"):
        load_checkpoint(path)
