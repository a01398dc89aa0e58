"""Video moments: a frame-averaged blurred face with the N sharp frames it was made of."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..faces.motion_order import control_factors
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


FRAME_ORDERS = ("fmr", "time")
"""How a sample's frames are tied to control factors: facial motion-based order, or time order."""


def frame_order(record: dict, order: str = "fmr") -> list[int]:
    """Time indices of a frames-mode record's frames in control-factor order (place k gets u_k).

    ``fmr`` reads the facial motion-based order cached in the manifest by ``facedeblur synth``;
    ``time`` is the original temporal order (the paper's "without FMR" ablation).
    """
    if order not in FRAME_ORDERS:
        raise ValueError(f"unknown frame order {order!r}; choose from {', '.join(FRAME_ORDERS)}")
    n = record["num_frames"]
    if order == "time":
        return list(range(n))
    fmr = record.get("fmr")
    if not fmr:
        raise InputError(
            f"sample {record.get('id', '?')}",
            "has no FMR order (a frame without a face, or a "
            "manifest from before FMR: re-run facedeblur synth --mode frames)",
        )
    return list(fmr["order"])


class VideoMoments(SeededDataset):
    """Frames-mode samples of ``facedeblur synth --mode frames``.

    Items are dicts: ``blur`` (3, H, W), ``sharp`` (3, H, W, the middle frame), ``frames``
    (N, 3, H, W) in time order, ``times`` (N,) the exposure time of each frame in [0, 1],
    ``order`` (N,) the time indices of the frames in control-factor order (``frame_order``;
    ``order_by="time"`` gives 0..N-1), ``u`` (N,) the control factors k / (N - 1) of those
    places, and ``id``. ``num_frames`` keeps only samples with that N, so batches stack. With
    ``order_by="fmr"`` samples without an FMR order (a frame without a face) are left out.
    """

    def __init__(
        self,
        root: str | Path,
        num_frames: int | None = None,
        augment: Compose | list | None = None,
        seed: int = 0,
        order_by: str = "fmr",
    ):
        super().__init__(augment, seed)
        self.root = Path(root)
        self.order_by = order_by
        records = _frames_records(self.root, order_by)
        if num_frames is not None:
            records = [r for r in records if r["num_frames"] == num_frames]
        if not records:
            raise InputError(
                self.root,
                "no frames-mode samples" + (f" with N={num_frames}" if num_frames else ""),
            )
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict:
        record = self.records[index]
        files = record["files"]
        frames = torch.stack([image_to_tensor(read_image(self.root / f)) for f in files["frames"]])
        n = frames.shape[0]
        times = (
            torch.from_numpy(np.linspace(0.0, 1.0, n, dtype=np.float32))
            if n > 1
            else torch.zeros(1)
        )
        sample = {
            "blur": image_to_tensor(read_image(self.root / files["blur"])),
            "sharp": image_to_tensor(read_image(self.root / files["sharp"])),
            "frames": frames,
            "times": times,
            "order": torch.tensor(frame_order(record, self.order_by)),
            "u": torch.from_numpy(control_factors(n)),
            "id": record["id"],
        }
        _, gen = self.draw(index)
        return self.finish(sample, gen)


def _frames_records(root: Path, order_by: str) -> list[dict]:
    """Frames-mode and face-motion records (both keep N sharp frames); for the FMR order only
    those that have one (every frame had a face)."""
    if order_by not in FRAME_ORDERS:
        raise ValueError(f"unknown frame order {order_by!r}; choose from {', '.join(FRAME_ORDERS)}")
    records = [
        r
        for r in read_manifest(root / "manifest.jsonl")
        if r.get("mode") in ("frames", "face-motion")
    ]
    return [r for r in records if order_by == "time" or r.get("fmr")]


def draw_place(n: int, gen: torch.Generator, centre_fraction: float = 0.0) -> int | None:
    """A training draw's place among N moments in control-factor order, or None for a centre draw.

    With probability ``centre_fraction`` the draw is a centre draw: u = 0.5 paired with the
    time-middle frame, the target of the single-image protocol (FMR's centre place is another
    frame whenever the eye is not at its median position halfway through the exposure).
    Otherwise a place k uniform over 0..N-1, whose u is k / (N - 1). ``gen`` is only consumed
    for the centre choice when ``centre_fraction`` is set, so draws without it stay as they were.
    """
    if centre_fraction > 0.0 and float(torch.rand((), generator=gen)) < centre_fraction:
        return None
    return int(torch.randint(0, n, (), generator=gen))


def place_factor(n: int, place: int | None) -> torch.Tensor:
    """Control factor u of a place drawn by ``draw_place`` (0.5 for a centre draw), 0-d float."""
    return torch.tensor(0.5 if place is None else float(control_factors(n)[place]))


class MomentPairs(SeededDataset):
    """Training pairs of CFMD-GAN: a blurry face, one of its sharp moments and that moment's u.

    ``root`` is one frames-mode split folder or a list of them, whose samples are pooled. Each
    draw of a sample picks one place k of its N frames (``draw_place``, from the draw's seed,
    so a resumed run replays it) and returns ``blur`` (3, H, W), ``sharp`` (3, H, W), the frame
    at place k of ``frame_order(record, order_by)``, ``u`` (a 0-d float tensor, k / (N - 1)),
    ``num_frames`` and ``id``; a centre draw (``centre_fraction``) returns u = 0.5 and the
    sample's middle frame. Only the chosen frame is read from disk. With ``order_by="fmr"``
    samples without an FMR order are left out.
    """

    def __init__(
        self,
        root: str | Path | list,
        augment: Compose | list | None = None,
        seed: int = 0,
        order_by: str = "fmr",
        centre_fraction: float = 0.0,
    ):
        super().__init__(augment, seed)
        roots = [Path(r) for r in root] if isinstance(root, (list, tuple)) else [Path(root)]
        self.roots, self.records = [], []
        for folder in roots:
            records = _frames_records(folder, order_by)
            if not records:
                raise InputError(
                    folder,
                    "no frames-mode samples"
                    + (" with an FMR order" if order_by == "fmr" else "")
                    + " (make them with facedeblur synth --mode frames)",
                )
            self.roots += [folder] * len(records)
            self.records += records
        self.orders = [frame_order(r, order_by) for r in self.records]
        self.centre_fraction = centre_fraction

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict:
        record, order, folder = self.records[index], self.orders[index], self.roots[index]
        _, gen = self.draw(index)
        n = len(order)
        place = draw_place(n, gen, self.centre_fraction)
        files = record["files"]
        target = files["sharp"] if place is None else files["frames"][order[place]]
        sample = {
            "blur": image_to_tensor(read_image(folder / files["blur"])),
            "sharp": image_to_tensor(read_image(folder / target)),
            "u": place_factor(n, place),
            "num_frames": n,
            "id": record["id"],
        }
        return self.finish(sample, gen)
