"""Paired blurred/sharp images on disk in GoPro layout (``blur/`` and ``sharp/`` side by side)."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..io import image_to_tensor, list_images, read_image
from .augment import Compose
from .base import SeededDataset


def find_pairs(root: str | Path) -> list[tuple[Path, Path]]:
    """(blur, sharp) file pairs under ``root``: same relative path in ``blur/`` and ``sharp/``.

    Works for a ``facedeblur synth`` output and for GoPro (``root/<sequence>/blur`` is found too).
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "no such folder")
    blur_dirs = (
        [root / "blur"]
        if (root / "blur").is_dir()
        else sorted(p for p in root.rglob("blur") if p.is_dir())
    )
    pairs = []
    for blur_dir in blur_dirs:
        sharp_dir = blur_dir.parent / "sharp"
        if not sharp_dir.is_dir():
            raise InputError(blur_dir.parent, "has blur/ but no sharp/ folder")
        for blur_path in list_images(blur_dir):
            sharp_path = sharp_dir / blur_path.relative_to(blur_dir)
            if not sharp_path.is_file():
                raise InputError(blur_path, f"no matching sharp image {sharp_path}")
            pairs.append((blur_path, sharp_path))
    if not pairs:
        raise InputError(
            root, "no blur/sharp image pairs found (expected blur/ and sharp/ folders)"
        )
    return pairs


class PairedFolder(SeededDataset):
    """Blurred/sharp pairs from disk.

    Items are dicts: ``blur`` and ``sharp`` (3, H, W) float tensors in [0, 1], and ``id``
    (the path below ``blur/``).
    """

    def __init__(self, root: str | Path, augment: Compose | list | None = None, seed: int = 0):
        super().__init__(augment, seed)
        self.root = Path(root)
        self.pairs = find_pairs(self.root)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict:
        blur_path, sharp_path = self.pairs[index]
        blur, sharp = read_image(blur_path), read_image(sharp_path)
        if blur.shape != sharp.shape:
            raise InputError(
                blur_path, f"size {blur.shape[1]}x{blur.shape[0]} differs from its sharp image"
            )
        _, gen = self.draw(index)
        sample = {
            "blur": image_to_tensor(blur),
            "sharp": image_to_tensor(sharp),
            "id": blur_path.stem,
        }
        return self.finish(sample, gen)
