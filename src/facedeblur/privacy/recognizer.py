"""A machine recognizer for the privacy audit: who is this face, given a gallery of other photos?

Two protocols, both on face descriptors (dlib's 128-d ResNet descriptors by default):

- nearest neighbour (closed set): a probe is given the person of the nearest gallery descriptor
  (Euclidean distance). A probe counts only when its person has at least one gallery photo
  other than the probe's own file; that file is never its own neighbour, so a gallery and a
  probe set in the same folder give leave-one-out identification.
- the seed's classifier protocol: a linear softmax classifier trained on the gallery
  descriptors of the ``CLASSIFIER_PEOPLE`` (20) people with the most gallery photos, asked to
  name the probes of those people. A probe whose own file is in the gallery is classified by a
  classifier trained without it.

Photos are organised as LFW is: ``DIR/<Person>/<image>``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import InputError, NoFaceError
from ..faces.detect import Detection, largest_face
from ..faces.dlib_faces import FaceDescriptor
from ..faces.registry import build_detector
from ..io import list_images, read_image
from ..metrics.identity import identity_distances

CLASSIFIER_PEOPLE = 20
"""Identities of the classifier protocol: the gallery people with the most photos."""


@dataclass(frozen=True)
class Photo:
    """One labelled photo: its file and the person it shows (the name of its folder)."""

    path: Path
    person: str

    @property
    def key(self) -> str:
        """The file's real path: two names for one file (a symlink and its target) share it."""
        return os.path.realpath(self.path)


def list_people(folder: str | Path) -> list[Photo]:
    """The photos of a folder in LFW layout (``DIR/<Person>/*.jpg``), sorted by path.

    Raises ``InputError`` when the folder is missing, holds no image, or holds an image outside
    a person folder (it could not be labelled).
    """
    folder = Path(folder)
    if not folder.exists():
        raise InputError(folder, "no such folder")
    if not folder.is_dir():
        raise InputError(folder, "not a folder (expected DIR/<Person>/<image>, as LFW)")
    photos = []
    for path in list_images(folder):
        parts = path.relative_to(folder).parts
        if len(parts) < 2:
            raise InputError(
                path,
                "images must sit in a folder named after the person "
                f"({folder}/<Person>/{path.name})",
            )
        photos.append(Photo(path, parts[0]))
    if not photos:
        raise InputError(folder, "no images found (expected DIR/<Person>/<image>, as LFW)")
    return photos


class FaceReader:
    """Finds the face of a photo and computes its identity descriptor.

    Args:
        detector: a detector name (``faces.DETECTORS``) or a callable image -> list of
            ``Detection``; the largest face is the photo's face.
        describe: a callable (image, box) -> descriptor (default: dlib's ``FaceDescriptor``).

    ``name`` names the detector in reports.
    """

    def __init__(self, detector: str | Callable = "mtcnn", describe: Callable | None = None):
        self.name = (
            detector if isinstance(detector, str) else getattr(detector, "name", "custom detector")
        )
        self.detect = build_detector(detector) if isinstance(detector, str) else detector
        self.describe = FaceDescriptor() if describe is None else describe

    def locate(self, image: np.ndarray) -> Detection | None:
        """The largest face of an RGB image, or None."""
        return largest_face(self.detect(image))


def read_face(reader: FaceReader, path: Path) -> tuple[np.ndarray, Detection]:
    """A photo and its face (``reader.locate``).

    ``InputError`` when unreadable, ``NoFaceError`` when faceless.
    """
    image = read_image(path)
    face = reader.locate(image)
    if face is None:
        raise NoFaceError(path, "no face found")
    return image, face


@dataclass
class Gallery:
    """Descriptors (N, D) of labelled photos, one row per ``photos`` entry.

    ``people`` and ``keys`` hold each row's person and real file path (``Photo.key``).
    """

    photos: list[Photo]
    descriptors: np.ndarray

    def __post_init__(self):
        self.descriptors = np.asarray(self.descriptors, dtype=np.float64)
        if self.descriptors.ndim != 2 or len(self.descriptors) != len(self.photos):
            raise ValueError(
                f"a gallery needs one descriptor row per photo: {len(self.photos)} photos, "
                f"descriptors of shape {self.descriptors.shape}"
            )
        self.people = np.array([p.person for p in self.photos], dtype=object)
        self.keys = np.array([p.key for p in self.photos], dtype=object)

    @classmethod
    def build(
        cls,
        photos: Sequence[Photo],
        reader: FaceReader,
        label: str | Path = "gallery",
        progress: bool = True,
    ) -> tuple[Gallery, list[str]]:
        """Describe every photo's largest face; returns the gallery and one line per photo left out.

        Photos that cannot be read or show no face are left out. Raises ``InputError`` naming
        ``label`` (the gallery folder) when none is left.
        """
        kept, rows, skipped = [], [], []
        for photo in tqdm(photos, desc="gallery", unit="photo", disable=not progress):
            try:
                image, face = read_face(reader, photo.path)
            except InputError as exc:
                skipped.append(f"gallery {exc}")
                continue
            kept.append(photo)
            rows.append(reader.describe(image, face.box))
        if not kept:
            raise InputError(label, "no gallery photo with a face; nobody could be identified")
        return cls(kept, np.stack(rows)), skipped

    def others(self, probe: Photo) -> np.ndarray:
        """Boolean mask of the gallery rows usable for ``probe``.

        Every photo but the probe's own file.
        """
        return self.keys != probe.key

    def knows(self, probe: Photo) -> bool:
        """Whether the gallery holds a photo of the probe's person other than the probe itself."""
        return bool(np.any((self.people == probe.person) & self.others(probe)))

    def nearest(self, descriptor: np.ndarray, probe: Photo) -> tuple[str | None, float]:
        """(person, distance) of the nearest gallery descriptor, the probe's own file excluded.

        (None, inf) when the gallery holds no other photo.
        """
        usable = self.others(probe)
        if not usable.any():
            return None, float("inf")
        distances = identity_distances(self.descriptors, descriptor)
        distances[~usable] = np.inf
        best = int(np.argmin(distances))
        return str(self.people[best]), float(distances[best])


class SoftmaxClassifier:
    """A linear softmax classifier over descriptors, trained by full-batch gradient descent.

    Features are standardised with the training set's mean and standard deviation; weights
    start from small seeded normal values; the loss is cross-entropy plus ``l2`` times the
    squared weights.
    """

    def __init__(
        self,
        classes: list[str],
        weights: np.ndarray,
        bias: np.ndarray,
        mean: np.ndarray,
        scale: np.ndarray,
    ):
        self.classes, self.weights, self.bias, self.mean, self.scale = (
            classes,
            weights,
            bias,
            mean,
            scale,
        )

    @classmethod
    def fit(
        cls,
        descriptors,
        labels: Sequence[str],
        seed: int = 0,
        steps: int = 300,
        lr: float = 0.5,
        l2: float = 1e-3,
    ) -> SoftmaxClassifier:
        """Train on (N, D) descriptors with one label each (at least two distinct labels)."""
        x = np.asarray(descriptors, dtype=np.float64)
        classes = sorted(set(labels))
        if len(classes) < 2 or len(x) != len(labels):
            raise ValueError(
                "a classifier needs two or more classes and one label per row, "
                f"got {len(classes)} classes, "
                f"{len(labels)} labels for {len(x)} rows"
            )
        index = {c: i for i, c in enumerate(classes)}
        target = np.zeros((len(x), len(classes)))
        target[np.arange(len(x)), [index[label] for label in labels]] = 1.0
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        z = (x - mean) / scale
        weights = np.random.default_rng(seed).normal(0.0, 0.01, size=(x.shape[1], len(classes)))
        bias = np.zeros(len(classes))
        for _ in range(steps):
            grad = (_softmax(z @ weights + bias) - target) / len(x)
            weights -= lr * (z.T @ grad + l2 * weights)
            bias -= lr * grad.sum(axis=0)
        return cls(classes, weights, bias, mean, scale)

    def predict(self, descriptors) -> list[str]:
        """The most probable class of each (N, D) descriptor row."""
        z = (np.atleast_2d(np.asarray(descriptors, dtype=np.float64)) - self.mean) / self.scale
        return [self.classes[i] for i in np.argmax(z @ self.weights + self.bias, axis=1)]


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def classifier_people(gallery: Gallery, count: int = CLASSIFIER_PEOPLE) -> list[str]:
    """The ``count`` gallery people with the most photos (ties by name), sorted by name."""
    ranked = sorted(Counter(gallery.people.tolist()).items(), key=lambda item: (-item[1], item[0]))
    return sorted(person for person, _ in ranked[:count])


class ClassifierProtocol:
    """The seed's classifier protocol on a gallery: a ``SoftmaxClassifier`` over its top people.

    ``people`` is None when the gallery has fewer than two people (no classifier can be trained).
    """

    def __init__(self, gallery: Gallery, count: int = CLASSIFIER_PEOPLE, seed: int = 0):
        self.gallery, self.seed = gallery, seed
        chosen = classifier_people(gallery, count)
        self.people = chosen if len(chosen) >= 2 else None
        self._rows = (
            np.isin(gallery.people, chosen)
            if self.people
            else np.zeros(len(gallery.photos), dtype=bool)
        )
        self._shared: SoftmaxClassifier | None = None
        self._last: tuple[str, SoftmaxClassifier | None] | None = None

    def covers(self, probe: Photo) -> bool:
        """Whether the classifier knows the probe's person from a gallery photo.

        The photo must be other than the probe itself.
        """
        return bool(
            np.any(self._rows & self.gallery.others(probe) & (self.gallery.people == probe.person))
        )

    def _fit(self, rows: np.ndarray) -> SoftmaxClassifier | None:
        labels = self.gallery.people[rows].tolist()
        return (
            SoftmaxClassifier.fit(self.gallery.descriptors[rows], labels, seed=self.seed)
            if len(set(labels)) >= 2
            else None
        )

    def _classifier(self, probe: Photo) -> SoftmaxClassifier | None:
        """The classifier trained without the probe's own file.

        One shared fit for probes outside the gallery, a fit without the probe (kept for its next
        variants) for one inside it.
        """
        rows = self._rows & self.gallery.others(probe)
        if rows.sum() == self._rows.sum():
            if self._shared is None:
                self._shared = self._fit(rows)
            return self._shared
        if self._last is None or self._last[0] != probe.key:
            self._last = (probe.key, self._fit(rows))
        return self._last[1]

    def classify(self, descriptor: np.ndarray, probe: Photo) -> str | None:
        """The person the classifier names for a descriptor of ``probe``.

        None when it covers nobody.
        """
        classifier = self._classifier(probe) if self.covers(probe) else None
        return classifier.predict(descriptor)[0] if classifier is not None else None
