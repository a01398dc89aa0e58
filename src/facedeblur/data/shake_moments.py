"""CFMD-GAN training pairs from still faces: camera-shake moments drawn on the fly."""

from __future__ import annotations

from pathlib import Path

from ..blur.frames import DEFAULT_FRAME_COUNTS
from ..blur.pipeline import KernelBlurSettings
from ..blur.shake_moments import OVERSAMPLE, shake_moments
from ..errors import InputError
from ..io import image_to_tensor, list_images
from .augment import Compose
from .base import SeededDataset
from .moments import draw_place, place_factor
from .onthefly import read_face_crop


class ShakeMomentPairs(SeededDataset):
    """(u, sharp moment) pairs of still faces blurred by a fresh camera shake at every draw.

    Each draw crops the face as ``OnTheFlyBlur`` does (``jitter``), draws N from
    ``frame_counts`` and N moments along a random trajectory (``blur.shake_moments``), and
    returns, like ``MomentPairs``: ``blur`` (3, size, size), ``sharp`` the moment at a random
    place k of their motion order, ``u`` = k / (N - 1), ``num_frames`` and ``id``; a centre draw
    (``centre_fraction``, see ``draw_place``) returns u = 0.5 and the time-middle moment.
    """

    def __init__(
        self,
        root: str | Path | list[Path],
        size: int = 128,
        settings: KernelBlurSettings = KernelBlurSettings(),
        frame_counts: tuple[int, ...] = DEFAULT_FRAME_COUNTS,
        augment: Compose | list | None = None,
        seed: int = 0,
        jitter: float = 0.0,
        centre_fraction: float = 0.0,
    ):
        super().__init__(augment, seed)
        if not frame_counts or min(frame_counts) < 1:
            raise ValueError(f"frame counts must be positive, got {frame_counts}")
        self.files = list(root) if isinstance(root, list) else list_images(root)
        if not self.files:
            raise InputError(root, "no images found")
        self.size, self.settings, self.frame_counts, self.jitter = (
            size,
            settings,
            tuple(frame_counts),
            jitter,
        )
        self.centre_fraction = centre_fraction

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict:
        path = self.files[index]
        rng, gen = self.draw(index)
        face = image_to_tensor(
            read_face_crop(path, self.size * OVERSAMPLE, self.jitter, rng, min_side=self.size)
        )
        n = int(rng.choice(self.frame_counts))
        drawn = shake_moments(face, n, rng, self.settings)
        place = draw_place(n, gen, self.centre_fraction)
        sample = {
            "blur": drawn.blur,
            "sharp": drawn.frames[n // 2 if place is None else drawn.order[place]],
            "u": place_factor(n, place),
            "num_frames": n,
            "id": path.stem,
        }
        return self.finish(sample, gen)
