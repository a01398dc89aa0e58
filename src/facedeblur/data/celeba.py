"""CelebA's 40 face attributes and identity labels, landmarks, and a torch dataset.

The torch dataset is of aligned, attribute-labelled faces.

The annotation files keep CelebA's official formats, so the same code reads the full dataset:
``list_attr_celeba.txt`` (a count line, a header line of attribute names, then one line per
image: ``file v1 ... vK`` with 1 or -1) and ``identity_CelebA.txt`` (``file id`` per line).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..errors import InputError, UsageError
from ..faces.align import align_face
from ..faces.detect import DlibHOGDetector, largest_face
from ..faces.dlib_faces import landmarks68
from ..faces.mask import face_mask
from ..io import atomic_write_bytes, image_to_tensor, read_image
from ..splits import assign_splits, spread_indices
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
        raise InputError(
            path, "too short: expected a count line and a header line of attribute names"
        )
    try:
        count = int(lines[0].strip())
    except ValueError:
        raise InputError(
            path, f"line 1: expected the number of images, got {lines[0].strip()[:40]!r}"
        ) from None
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
            raise InputError(
                path, f"line {number}: expected a file name and {len(names)} values of 1 or -1"
            )
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


def celeba_landmarks(
    root: str | Path, files: Sequence[str], cache: str | Path | None = None, progress: bool = True
) -> dict[str, np.ndarray]:
    """dlib's 68 landmarks of each CelebA image, {file name: (68, 2) float32}.

    Files without a face are absent.

    The HOG detector runs once upsampled (CelebA's half-resolution faces are about 45 px wide;
    it finds about 94% of them). With ``cache``, landmarks already stored there are reused and
    the file (``.npz``: ``files``, ``points``, ``missing``) is rewritten atomically with any new
    ones, so later runs cost nothing; images with no face are remembered as missing.
    """
    root = Path(root)
    known: dict[str, np.ndarray] = {}
    missing: set[str] = set()
    cache = Path(cache) if cache else None
    if cache is not None and cache.is_file():
        try:
            with np.load(cache) as stored:
                known = dict(zip(stored["files"].tolist(), stored["points"].astype(np.float32)))
                missing = set(stored["missing"].tolist())
        except (OSError, KeyError, ValueError) as exc:
            raise InputError(cache, f"not a landmark cache ({exc}); delete it to rebuild") from None
    todo = [f for f in files if f not in known and f not in missing]
    if todo:
        detector = DlibHOGDetector(upsample=1)
        for name in tqdm(todo, desc="CelebA landmarks", unit="img", disable=not progress):
            img = read_image(root / "images" / name)
            face = largest_face(detector(img))
            if face is None:
                missing.add(name)
            else:
                known[name] = landmarks68(img, face.box)
        if cache is not None:
            names = sorted(known)
            buffer = io.BytesIO()
            np.savez(
                buffer,
                files=np.array(names),
                missing=np.array(sorted(missing), dtype=str),
                points=np.stack([known[n] for n in names])
                if names
                else np.zeros((0, 68, 2), np.float32),
            )
            atomic_write_bytes(cache, buffer.getvalue())
    return {f: known[f] for f in files if f in known}


class CelebAFaces(SeededDataset):
    """CelebA faces aligned by their landmarks, with their 40 binary attributes.

    Items are dicts: ``image`` (3, size, size) float tensor in [0, 1], the face aligned to
    ``privacy.align.TEMPLATE``; ``mask`` (1, size, size), its face ellipse (``face_mask``);
    ``points`` (68, 2) float32, the landmarks in crop pixels; ``attributes`` (K,) float32 of 0/1;
    ``id``, the file name. Augmentations change ``image`` and ``mask`` only, never ``points``:
    use geometric ones (flips) only where the landmarks are not used.

    Args:
        root: folder holding ``images/`` and ``list_attr_celeba.txt``.
        landmarks: {file name: (68, 2) landmarks in the image} (``celeba_landmarks``); files
            without landmarks are left out (see ``dropped``).
        files: the image files to use (e.g. one side of ``identity_split``); default all listed.
        size: side of the aligned crop in pixels.
        attributes_file: the attribute file, when not ``root/list_attr_celeba.txt``.
        augment: augmentation pipeline or config list.
        seed: base seed of the augmentation draws.
    """

    def __init__(
        self,
        root: str | Path,
        landmarks: dict[str, np.ndarray],
        files: Sequence[str] | None = None,
        size: int = 64,
        attributes_file: str | Path | None = None,
        augment: Compose | list | None = None,
        seed: int = 0,
    ):
        super().__init__(augment, seed)
        self.root = Path(root)
        self.size = int(size)
        attributes_path = (
            Path(attributes_file) if attributes_file is not None else self.root / ATTRIBUTES_FILE
        )
        self.names, self.attributes = read_attributes(attributes_path)
        requested = list(self.attributes) if files is None else list(files)
        unknown = [f for f in requested if f not in self.attributes]
        if unknown:
            raise InputError(
                attributes_path,
                f"no attributes for {len(unknown)} requested files, e.g. {unknown[0]}",
            )
        self.files = [f for f in requested if f in landmarks]
        self.dropped = len(requested) - len(self.files)
        self.landmarks = landmarks

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict:
        name = self.files[index]
        crop, _, points = align_face(
            read_image(self.root / "images" / name), self.landmarks[name], self.size
        )
        _, gen = self.draw(index)
        sample = {
            "image": image_to_tensor(crop),
            "mask": torch.from_numpy(face_mask((self.size, self.size), points))[None],
            "points": torch.from_numpy(points),
            "attributes": torch.from_numpy(self.attributes[name].astype(np.float32)),
            "id": name,
        }
        return self.finish(sample, gen)


def celeba_split(
    root: str | Path,
    val_fraction: float,
    seed: int = 0,
    size: int = 64,
    landmarks: str | Path | None = None,
    augment: Compose | list | None = None,
    limit: int = 0,
) -> tuple[CelebAFaces, CelebAFaces]:
    """Aligned CelebA faces split by identity: (training set with ``augment``, held-out set).

    Args:
        root: CelebA folder (``images/``, ``list_attr_celeba.txt``, ``identity_CelebA.txt``).
        val_fraction: share of the identities held out (``identity_split`` with ``seed``).
        seed: split seed, and the training set's augmentation seed.
        size: aligned crop side.
        landmarks: landmark cache file (``celeba_landmarks``); None computes them without caching.
        augment: the training set's augmentations.
        limit: use only this many images, evenly spread over the file list (0: all).

    Raises:
        InputError: missing annotation files, or no face with landmarks on one side.
    """
    root = Path(root)
    _, table = read_attributes(root / ATTRIBUTES_FILE)
    identities = read_identities(root / IDENTITIES_FILE)
    files = sorted(table)
    if limit:
        files = [files[i] for i in spread_indices(len(files), limit)]
    train_files, val_files = identity_split(files, identities, val_fraction, seed)
    points = celeba_landmarks(root, files, cache=landmarks)
    train = CelebAFaces(root, points, train_files, size=size, augment=augment, seed=seed)
    val = CelebAFaces(root, points, val_files, size=size)
    if not len(train) or not len(val):
        raise InputError(root, "no faces with landmarks on one side of the identity split")
    return train, val
