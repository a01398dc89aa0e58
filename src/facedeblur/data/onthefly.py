"""Sharp faces blurred on the fly: a fresh random kernel every time an item is drawn."""

from __future__ import annotations

from pathlib import Path

from ..blur.pipeline import KernelBlurSettings, random_kernel_blur
from ..errors import InputError
from ..imageops import center_square_box, crop_square, resize
from ..io import image_to_tensor, list_images, read_image
from .augment import Compose
from .base import SeededDataset

MAX_UPSCALE = 1.1
"""Sharp images may be enlarged this much (LFW's 250 px faces serve 256 px presets), no more."""


class OnTheFlyBlur(SeededDataset):
    """Blur sharp face images as they are drawn, with the same degradations as ``facedeblur synth``.

    Each image is cropped to its largest centred square and resized to ``size`` (pass faces
    already cropped, e.g. a ``synth --crop face`` sharp folder or aligned LFW/CelebA). Items
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
    ):
        super().__init__(augment, seed)
        self.files = list(root) if isinstance(root, list) else list_images(root)
        if not self.files:
            raise InputError(root, "no images found")
        self.size = size
        self.settings = settings

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict:
        path = self.files[index]
        img = read_image(path)
        box = center_square_box(img.shape[0], img.shape[1])
        if box[2] * MAX_UPSCALE < self.size:
            raise InputError(path, f"image is {img.shape[1]}x{img.shape[0]}, too small for {self.size} px samples")
        sharp = image_to_tensor(resize(crop_square(img, box), self.size))
        rng, gen = self.draw(index)
        blurred, _, _ = random_kernel_blur(sharp, rng, self.settings)
        return self.finish({"blur": blurred, "sharp": sharp, "id": path.stem}, gen)
