"""CelebA's 40 face attributes and identity labels, and a torch dataset of attribute-labelled faces.

The annotation files keep CelebA's official formats, so the same code reads the full dataset:
``list_attr_celeba.txt`` (a count line, a header line of attribute names, then one line per
image: ``file v1 ... vK`` with 1 or -1) and ``identity_CelebA.txt`` (``file id`` per line).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..blur.synth import assign_splits
from ..errors import InputError, UsageError
from ..imageops import center_square_box, crop_square, resize
from ..io import image_to_tensor, read_image
from .augment import Compose
from .base import SeededDataset

ATTRIBUTES_FILE = "list_attr_celeba.txt"
IDENTITIES_FILE = "identity_CelebA.txt"


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise InputError(path, "no such file")
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read ({exc})") from None


def read_attributes(path: str | Path) -> tuple[list[str], dict[str, np.ndarray]]:
    """Parse a CelebA attribute file into (attribute names, {file name: int8 array of 0/1}).

    CelebA's -1 becomes 0. Raises ``InputError`` naming the file and line for a malformed
    count, header or row, a repeated file name, or a count that does not match the rows.
    """
    path = Path(path)
    lines = _read_lines(path)
    if len(lines) < 2:
        raise InputError(path, "too short: expected a count line and a header line of attribute names")
    try:
        count = int(lines[0].strip())
    except ValueError:
        raise InputError(path, f"line 1: expected the number of images, got {lines[0].strip()[:40]!r}") from None
    names = lines[1].split()
    if not names:
        raise InputError(path, "line 2: expected the attribute names")
    values = {"1": 1, "-1": 0}
    table: dict[str, np.ndarray] = {}
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(names) + 1 or any(v not in values for v in fields[1:]):
            raise InputError(path, f"line {number}: expected a file name and {len(names)} values of 1 or -1")
        if fields[0] in table:
            raise InputError(path, f"line {number}: {fields[0]} appears twice")
        table[fields[0]] = np.array([values[v] for v in fields[1:]], dtype=np.int8)
    if count != len(table):
        raise InputError(path, f"line 1 announces {count} images but {len(table)} rows follow")
    return names, table


def read_identities(path: str | Path) -> dict[str, int]:
    """Parse CelebA's identity file (``file id`` per line) into {file name: identity}.

    Raises ``InputError`` naming the file and line for a malformed line or a repeated file name.
    """
    path = Path(path)
    identities: dict[str, int] = {}
    for number, line in enumerate(_read_lines(path), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or not fields[1].isdigit():
            raise InputError(path, f"line {number}: expected a file name and an integer identity")
        if fields[0] in identities:
            raise InputError(path, f"line {number}: {fields[0]} appears twice")
        identities[fields[0]] = int(fields[1])
    if not identities:
        raise InputError(path, "no identity lines")
    return identities


def identity_split(
    files: Sequence[str], identities: dict[str, int], val_fraction: float, seed: int = 0
) -> tuple[list[str], list[str]]:
    """Split image files into (train, val) by identity: no person appears in both.

    About ``val_fraction`` of the identities (not of the images) go to validation; the split
    depends only on the set of identities and ``seed``. File order is kept within each split.

    Raises:
        UsageError: a fraction outside [0, 1], or a file without an identity label.
    """
    if not 0.0 <= val_fraction <= 1.0:
        raise UsageError(f"validation fraction must be in [0, 1], got {val_fraction}")
    missing = [f for f in files if f not in identities]
    if missing:
        raise UsageError(f"{len(missing)} files have no identity label, e.g. {missing[0]}")
    groups = [str(identities[f]) for f in files]
    assignment = assign_splits(groups, {"train": 1.0 - val_fraction, "val": val_fraction}, seed)
    train = [f for f, g in zip(files, groups) if assignment[g] == "train"]
    val = [f for f, g in zip(files, groups) if assignment[g] == "val"]
    return train, val


class CelebAAttributes(SeededDataset):
    """CelebA faces with their 40 binary attributes.

    Items are dicts: ``image`` (3, size, size) float tensor in [0, 1] (the centred square of the
    aligned face, resized), ``attributes`` (K,) float32 of 0/1, and ``id`` (the file name).

    Args:
        root: folder holding ``images/`` and ``list_attr_celeba.txt``.
        files: the image files to use (e.g. one side of ``identity_split``); default all listed.
        size: output side in pixels.
        attributes_file: the attribute file, when not ``root/list_attr_celeba.txt``.
        augment: augmentation pipeline or config list (applied to ``image`` only).
        seed: base seed of the augmentation draws.
    """

    def __init__(
        self,
        root: str | Path,
        files: Sequence[str] | None = None,
        size: int = 64,
        attributes_file: str | Path | None = None,
        augment: Compose | list | None = None,
        seed: int = 0,
    ):
        super().__init__(augment, seed)
        self.root = Path(root)
        self.size = int(size)
        attributes_path = Path(attributes_file) if attributes_file is not None else self.root / ATTRIBUTES_FILE
        self.names, self.attributes = read_attributes(attributes_path)
        self.files = list(self.attributes) if files is None else list(files)
        unknown = [f for f in self.files if f not in self.attributes]
        if unknown:
            raise InputError(attributes_path, f"no attributes for {len(unknown)} requested files, e.g. {unknown[0]}")

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict:
        name = self.files[index]
        img = read_image(self.root / "images" / name)
        img = resize(crop_square(img, center_square_box(*img.shape[:2])), self.size)
        _, gen = self.draw(index)
        sample = {
            "image": image_to_tensor(img),
            "attributes": torch.from_numpy(self.attributes[name].astype(np.float32)),
            "id": name,
        }
        return self.finish(sample, gen)
