"""Sharp faces blurred on the fly: a fresh random kernel every time an item is drawn."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..blur.pipeline import KernelBlurSettings, random_kernel_blur
from ..errors import InputError
from ..io import image_to_tensor, list_images, read_image
from ..io.geometry import center_square_box, crop_square, resize
from .augment import Compose
from .base import SeededDataset

MAX_UPSCALE = 1.1
"""Sharp images may be enlarged this much (LFW's 250 px faces serve 256 px presets), no more."""


class OnTheFlyBlur(SeededDataset):
    """Blur sharp face images as they are drawn, with the same degradations as ``facedeblur synth``.

    Each image is cropped to its largest centred square and resized to ``size`` (pass faces
    already cropped, e.g. a ``synth --crop face`` sharp folder or aligned LFW/CelebA). With
    ``jitter`` j > 0 the square's side is drawn from [1 - j, 1] of that and its place at random
    inside it, so a model learns to tolerate the framing noise of a face detector. Items
    are dicts with ``blur``, ``sharp`` (3, size, size) and ``id``. Draws are reproducible
    per seed, epoch and worker and differ between draws (see ``DrawSeeder``).
    """

    def __init__(
        self,
        root: str | Path | list[Path],
        size: int = 128,
        settings: KernelBlurSettings = KernelBlurSettings(),
        augment: Compose | list | None = None,
        seed: int = 0,
        jitter: float = 0.0,
    ):
        super().__init__(augment, seed)
        if not 0.0 <= jitter < 1.0:
            raise ValueError(f"crop jitter must lie in [0, 1), got {jitter}")
        self.jitter = jitter
        self.files = list(root) if isinstance(root, list) else list_images(root)
        if not self.files:
            raise InputError(root, "no images found")
        self.size = size
        self.settings = settings

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict:
        path = self.files[index]
        rng, gen = self.draw(index)
        sharp = image_to_tensor(read_face_crop(path, self.size, self.jitter, rng))
        blurred, _, _ = random_kernel_blur(sharp, rng, self.settings)
        return self.finish({"blur": blurred, "sharp": sharp, "id": path.stem}, gen)


def read_face_crop(
    path: Path, size: int, jitter: float, rng: np.random.Generator, min_side: int | None = None
) -> np.ndarray:
    """Largest centred square of a face image, jittered (see ``OnTheFlyBlur``), resized to ``size``.

    ``min_side`` (default ``size``) is the output side the source must be able to serve without
    enlarging it more than ``MAX_UPSCALE``; a smaller image is an ``InputError`` naming it.
    """
    img = read_image(path)
    box = center_square_box(img.shape[0], img.shape[1])
    if box[2] * (1.0 - jitter) * MAX_UPSCALE < (min_side or size):
        raise InputError(
            path,
            f"image is {img.shape[1]}x{img.shape[0]}, too small for {min_side or size} px samples",
        )
    if jitter:
        box = _jittered(box, rng.uniform(1.0 - jitter, 1.0), rng.uniform(size=2))
    return resize(crop_square(img, box), size)


def _jittered(box: tuple[int, int, int], scale: float, place) -> tuple[int, int, int]:
    """A square of ``scale`` times the side of ``box``, at relative position ``place`` inside it."""
    left, top, side = box
    inner = max(1, int(round(side * scale)))
    return left + int(place[0] * (side - inner)), top + int(place[1] * (side - inner)), inner
