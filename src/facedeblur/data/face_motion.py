"""Still faces blurred on the fly by a drawn facial motion (``synth --mode face-motion``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..blur.samples import SampleSettings, locate_face, render_face_motion_sample
from ..errors import InputError, NoFaceError
from ..io import image_to_tensor, list_images, read_image
from .augment import Compose
from .base import SeededDataset
from .moments import draw_place, place_factor


def _tensor(img: np.ndarray) -> torch.Tensor:
    return image_to_tensor(img.astype(np.float32) / 255.0)


class FaceMotionBlur(SeededDataset):
    """Sharp faces moved by a fresh head and expression motion at every draw.

    Each draw renders N sub-frames of the face as ``facedeblur synth --mode face-motion`` does
    (``settings``, whose ``mode`` must be ``face-motion``) and returns ``blur`` (3, size, size),
    ``sharp`` and ``id``. For single-image restoration (``moments=False``) ``sharp`` is the middle
    sub-frame. For CFMD-GAN (``moments=True``) it is the sub-frame at a random place k of their
    facial motion order, with ``u`` = k / (N - 1) and ``num_frames``, as ``MomentPairs`` gives;
    a centre draw (``centre_fraction``, see ``draw_place``) returns u = 0.5 and the middle one.

    A face's crop and landmarks are found once and kept. An image where dlib finds no face is
    passed over: the draw takes the next image that has one (``skipped`` lists those passed over),
    so a batch never fails on one picture.
    """

    def __init__(
        self,
        root: str | Path | list[Path],
        settings: SampleSettings,
        augment: Compose | list | None = None,
        seed: int = 0,
        moments: bool = False,
        centre_fraction: float = 0.0,
    ):
        super().__init__(augment, seed)
        if settings.mode != "face-motion":
            raise ValueError(f"settings.mode must be face-motion, got {settings.mode!r}")
        self.files = list(root) if isinstance(root, list) else list_images(root)
        if not self.files:
            raise InputError(root, "no images found")
        self.settings, self.moments, self.centre_fraction = settings, moments, centre_fraction
        self._faces: dict[int, tuple[dict, list] | None] = {}
        self.skipped: list[str] = []

    def __len__(self) -> int:
        return len(self.files)

    def _face(self, index: int):
        """(image, crop, landmarks) of the first image from ``index`` on that has a face."""
        for step in range(len(self.files)):
            at = (index + step) % len(self.files)
            path = self.files[at]
            img = read_image(path)
            if at not in self._faces:
                try:
                    self._faces[at] = locate_face(img, self.settings, path)
                except (NoFaceError, InputError) as exc:
                    self._faces[at] = None
                    self.skipped.append(str(exc))
            if self._faces[at] is not None:
                return path, img, *self._faces[at]
        raise InputError(self.files[0], "no image of this dataset has a face dlib can find")

    def __getitem__(self, index: int) -> dict:
        path, img, crop, landmarks = self._face(index)
        rng, gen = self.draw(index)
        drawn = render_face_motion_sample(img, crop, landmarks, rng, self.settings)
        sample = {"blur": _tensor(drawn.blur), "id": path.stem}
        if not self.moments:
            sample["sharp"] = _tensor(drawn.sharp)
            return self.finish(sample, gen)
        n = len(drawn.frames)
        place = draw_place(n, gen, self.centre_fraction)
        frame = n // 2 if place is None else drawn.record["fmr"]["order"][place]
        sample.update(sharp=_tensor(drawn.frames[frame]), u=place_factor(n, place), num_frames=n)
        return self.finish(sample, gen)
