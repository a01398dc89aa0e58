"""Kernel-free motion blur: averaging consecutive video frames through a camera response.

A long exposure integrates light over time. With frames from a camera whose response is a
gamma-2.2 curve, the blurred frame is gamma(mean(inverse_gamma(frames))), as in the GoPro
and 300VW face-deblurring protocols. Clips are videos or folders of frame images.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..io import is_image_file, is_video_file, list_images, read_image, to_float32
from ..io.video import iter_video_frames, video_info
from .degrade import DEFAULT_GAMMA, linear_to_srgb, srgb_to_linear

DEFAULT_FRAME_COUNTS = (5, 7, 9, 11, 13)


def average_frames(frames: torch.Tensor, gamma: float = DEFAULT_GAMMA) -> torch.Tensor:
    """Average (N, C, H, W) frames in linear light and return the (C, H, W) blurred frame."""
    if frames.dim() != 4 or frames.shape[0] < 1:
        raise ValueError("frames must be shaped (N, C, H, W) with N >= 1")
    linear = srgb_to_linear(frames.to(torch.float64), gamma).mean(dim=0)
    return linear_to_srgb(linear, gamma).clamp(0.0, 1.0).to(frames.dtype)


@dataclass(frozen=True)
class Clip:
    """A source of consecutive frames: a video file or a folder of frame images."""

    path: Path
    num_frames: int
    fps: float | None

    @property
    def is_video(self) -> bool:
        """True for a video file, False for a folder of frames."""
        return self.path.is_file()

    def stream(self, indices: set[int] | list[int]) -> Iterator[tuple[int, np.ndarray]]:
        """``(index, frame)`` of the frames at ``indices``, in increasing order, each read once.

        A video is decoded once, front to back, and its frames come as decoded: uint8 RGB
        (H, W, 3). Frame images come as ``read_image`` gives them: float32 RGB in [0, 1].
        Indices past the end of the clip are skipped.
        """
        if self.is_video:
            yield from iter_video_frames(self.path, indices)
            return
        files = list_images(self.path, recursive=False)
        for i in sorted(set(indices)):
            if i < len(files):
                yield i, read_image(files[i])

    def read(self, indices: set[int] | list[int]) -> dict[int, np.ndarray]:
        """Frames at ``indices`` as float32 RGB (H, W, 3) arrays in [0, 1]."""
        return {i: to_float32(f) for i, f in self.stream(indices)}


def open_clip(path: str | Path) -> Clip:
    """Describe a clip without decoding it (videos report their container's frame count)."""
    path = Path(path)
    if path.is_dir():
        files = list_images(path, recursive=False)
        if not files:
            raise InputError(path, "folder holds no frame images")
        return Clip(path, len(files), None)
    if not is_video_file(path):
        raise InputError(path, "not a video file (expected .mp4, .avi, .mov, .mkv, .webm or .m4v)")
    count, fps, _ = video_info(path)
    return Clip(path, count, fps)


def find_clips(src: str | Path) -> list[Path]:
    """Clips under ``src``: the file itself, or every video and every folder that holds frames."""
    src = Path(src)
    if src.is_file():
        return [src]
    found: list[Path] = []
    for p in sorted(src.rglob("*")):
        if any(part.startswith(".") for part in p.relative_to(src).parts):
            continue
        if p.is_file() and is_video_file(p):
            found.append(p)
        elif p.is_dir() and any(is_image_file(c) for c in p.iterdir() if c.is_file()):
            found.append(p)
    if any(is_image_file(c) for c in src.iterdir() if c.is_file()):
        found.insert(0, src)
    return found
