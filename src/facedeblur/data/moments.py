"""Video moments: a frame-averaged blurred face with the N sharp frames it was made of."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..io import image_to_tensor, read_image
from .augment import Compose
from .base import SeededDataset


def read_manifest(path: str | Path) -> list[dict]:
    """The records of a ``manifest.jsonl``; a malformed line is an ``InputError`` naming it."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no manifest (expected a facedeblur synth output)")
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InputError(path, f"line {number} is not valid JSON ({exc.msg})") from None
    return records


class VideoMoments(SeededDataset):
    """Frames-mode samples of ``facedeblur synth --mode frames``.

    Items are dicts: ``blur`` (3, H, W), ``sharp`` (3, H, W, the middle frame), ``frames``
    (N, 3, H, W) in time order, ``times`` (N,) the exposure time of each frame in [0, 1],
    and ``id``. ``num_frames`` keeps only samples with that N, so batches stack.
    """

    def __init__(
        self, root: str | Path, num_frames: int | None = None, augment: Compose | list | None = None, seed: int = 0
    ):
        super().__init__(augment, seed)
        self.root = Path(root)
        records = [r for r in read_manifest(self.root / "manifest.jsonl") if r.get("mode") == "frames"]
        if num_frames is not None:
            records = [r for r in records if r["num_frames"] == num_frames]
        if not records:
            raise InputError(self.root, "no frames-mode samples" + (f" with N={num_frames}" if num_frames else ""))
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict:
        record = self.records[index]
        files = record["files"]
        frames = torch.stack([image_to_tensor(read_image(self.root / f)) for f in files["frames"]])
        n = frames.shape[0]
        times = torch.from_numpy(np.linspace(0.0, 1.0, n, dtype=np.float32)) if n > 1 else torch.zeros(1)
        sample = {
            "blur": image_to_tensor(read_image(self.root / files["blur"])),
            "sharp": image_to_tensor(read_image(self.root / files["sharp"])),
            "frames": frames,
            "times": times,
            "id": record["id"],
        }
        _, gen = self.draw(index)
        return self.finish(sample, gen)
