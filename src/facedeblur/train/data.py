"""Training and validation data from a ``DataConfig``, and a resumable stream of batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..blur.checks import SettingError
from ..blur.face_motion import FaceMotionSettings
from ..blur.pipeline import KernelBlurSettings
from ..blur.samples import SampleSettings
from ..data import (
    FaceMotionBlur,
    MixedDataset,
    MomentPairs,
    OnTheFlyBlur,
    PairedFolder,
    ShakeMomentPairs,
    VideoMoments,
    celeba_split,
)
from ..errors import InputError, UsageError
from ..io import list_images
from ..splits import person_split, spread_indices
from .config import (
    CelebAData,
    DataConfig,
    FaceMotionFields,
    KernelBlurFields,
    MixFields,
    MomentsData,
)


def _augment(cfg: DataConfig) -> list:
    steps = list(cfg.augment)
    if cfg.crop < cfg.size:
        steps.append({"name": "crop", "size": cfg.crop})
    return steps


def build_datasets(cfg: DataConfig, seed: int) -> tuple[Dataset, list[dict]]:
    """The training dataset and a fixed list of validation samples (person-disjoint)."""
    train_root = Path(cfg.train)
    if not train_root.exists():
        raise InputError(train_root, "training data not found (set data.train)")
    if cfg.kind == "moments":
        return _moment_datasets(cfg, seed)
    if cfg.kind in ("attributes", "rebuild"):
        return _celeba_datasets(cfg, seed)
    if cfg.kind == "paired":
        train = PairedFolder(train_root, augment=_augment(cfg), seed=seed)
        if not cfg.val:
            raise UsageError("data.kind paired needs data.val (a held-out blur/sharp folder)")
        val_ds = PairedFolder(cfg.val)
    else:
        settings = kernel_settings(cfg)
        if cfg.val:
            train_files, val_files = list_images(train_root), list_images(cfg.val)
        else:
            train_files, val_files = person_split(train_root, cfg.val_fraction, seed)
        if cfg.limit:
            rng = np.random.default_rng([seed, 7])
            train_files = [
                train_files[i] for i in sorted(rng.permutation(len(train_files))[: cfg.limit])
            ]
        if not train_files or not val_files:
            raise InputError(train_root, "not enough people for a train/validation split")
        if cfg.kind == "facemotion":
            motion = face_motion_settings(cfg)
            train = FaceMotionBlur(train_files, motion, augment=_augment(cfg), seed=seed)
            val_ds = FaceMotionBlur(val_files[: cfg.val_count], motion, seed=seed + 1)
        else:
            train = OnTheFlyBlur(
                train_files,
                cfg.size,
                settings,
                augment=_augment(cfg),
                seed=seed,
                jitter=cfg.jitter,
            )
            val_ds = OnTheFlyBlur(val_files[: cfg.val_count], cfg.size, settings, seed=seed + 1)
    val_ds.set_epoch(0)
    val = [val_ds[i] for i in range(min(cfg.val_count, len(val_ds)))]
    train = _mixed(train, cfg, seed)
    if cfg.mix_val_count:
        for folder in cfg.mix_val_folders():
            val += _evenly_spaced(PairedFolder(folder), cfg.mix_val_count)
    return train, val


def _mixed(train: Dataset, cfg: MixFields, seed: int) -> Dataset:
    """``train`` with each folder of ``cfg.mix_sources()`` making up its share of all draws.

    Nested mixes: the k-th folder's share of (train + folders 1..k) is its share of the whole
    divided by what the folders after it leave over."""
    sources = cfg.mix_sources()
    later = sum(f for _, f in sources)
    for k, (folder, fraction) in enumerate(sources):
        later -= fraction
        train = MixedDataset(
            train,
            PairedFolder(folder, augment=_augment(cfg), seed=seed + 2 + 2 * k),
            fraction / (1.0 - later),
            seed=seed + 3 + 2 * k,
        )
    return train


def kernel_settings(cfg: KernelBlurFields) -> KernelBlurSettings:
    """The kernel-blur settings of a data config (on-the-fly blur, camera-shake moments)."""
    return KernelBlurSettings(
        max_length=cfg.max_length,
        exposure=tuple(cfg.exposure),
        length_distribution=cfg.length_distribution,
        noise_scale=cfg.noise_scale,
        jpeg_quality=tuple(cfg.jpeg_quality) if cfg.jpeg_quality else None,
    )


def face_motion_settings(cfg: FaceMotionFields) -> SampleSettings:
    """The face-motion sample settings of a data config (``FaceMotionBlur``)."""
    try:
        return SampleSettings(
            mode="face-motion",
            size=cfg.size,
            crop="face",
            margin=cfg.margin,
            blur=kernel_settings(cfg),
            frame_counts=tuple(cfg.frame_counts),
            motion=FaceMotionSettings(
                head=cfg.head, mouth=cfg.mouth, eyes=cfg.eyes, shake=cfg.add_shake
            ),
        )
    except SettingError as exc:
        raise UsageError(f"data.{exc.setting} {exc.problem}") from None


def face_motion_header(cfg: FaceMotionFields) -> dict:
    """The face-motion fields of a data config as plain data, for a weights header."""
    return {
        "head": cfg.head,
        "mouth": cfg.mouth,
        "eyes": cfg.eyes,
        "add_shake": cfg.add_shake,
        "frame_counts": list(cfg.frame_counts),
        "margin": cfg.margin,
    }


def blur_header(cfg: KernelBlurFields) -> dict:
    """``kernel_settings(cfg)`` as plain data, for a weights header."""
    s = kernel_settings(cfg)
    return {
        "max_length": s.max_length,
        "exposure": list(s.exposure),
        "length_distribution": s.length_distribution,
        "gamma": s.gamma,
        "noise_scale": s.noise_scale,
        "jpeg_quality": list(s.jpeg_quality) if s.jpeg_quality else None,
    }


def _evenly_spaced(dataset, count: int) -> list[dict]:
    """``count`` items spread over the dataset, so every clip is represented, not only the first."""
    dataset.set_epoch(0)
    return [dataset[i] for i in spread_indices(len(dataset), count)]


def _moment_datasets(cfg: MomentsData, seed: int) -> tuple[Dataset, list[dict]]:
    """CFMD-GAN data: (u, moment) training pairs and whole validation samples with all N frames."""
    if not cfg.val:
        raise UsageError(
            "data.kind moments needs data.val (the val split of a frames-mode synth output)"
        )
    train = MomentPairs(
        [cfg.train, *cfg.extra_train],
        augment=_augment(cfg),
        seed=seed,
        order_by=cfg.frame_order,
        centre_fraction=cfg.centre_fraction,
    )
    if cfg.shake_train:
        people, _ = person_split(Path(cfg.shake_train), cfg.val_fraction, seed)
        if cfg.stills == "face-motion":
            stills = FaceMotionBlur(
                people,
                face_motion_settings(cfg),
                augment=_augment(cfg),
                seed=seed + 2,
                moments=True,
                centre_fraction=cfg.centre_fraction,
            )
        else:
            stills = ShakeMomentPairs(
                people,
                cfg.size,
                kernel_settings(cfg),
                augment=_augment(cfg),
                seed=seed + 2,
                jitter=cfg.jitter,
                centre_fraction=cfg.centre_fraction,
            )
        train = MixedDataset(train, stills, cfg.shake_fraction, seed=seed + 3)
    return train, _evenly_spaced(VideoMoments(cfg.val, order_by=cfg.frame_order), cfg.val_count)


def _celeba_datasets(cfg: CelebAData, seed: int) -> tuple[Dataset, list[dict]]:
    """Aligned CelebA faces, split by identity: the training set and the held-out faces."""
    train, val = celeba_split(
        cfg.train, cfg.val_fraction, seed, cfg.size, cfg.landmarks or None, _augment(cfg), cfg.limit
    )
    return train, _evenly_spaced(val, cfg.val_count)


class BatchStream:
    """Endless batches in a seeded order per epoch, resumable at any (epoch, position).

    Each epoch is a permutation drawn from (seed, epoch); rank r of w processes takes every
    w-th batch. The dataset is told the epoch, so its random draws replay exactly on resume.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        seed: int,
        workers: int = 0,
        rank: int = 0,
        world: int = 1,
    ):
        if len(dataset) < batch_size * world:
            raise UsageError(
                f"{len(dataset)} training samples are fewer than one batch of "
                f"{batch_size} x {world} processes"
            )
        self.dataset, self.batch_size, self.seed = dataset, batch_size, seed
        self.workers, self.rank, self.world = workers, rank, world
        self.epoch, self.position = 0, 0
        self._iter = None

    def _batches(self, epoch: int) -> list[list[int]]:
        gen = torch.Generator().manual_seed(
            int(np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0])
        )
        perm = torch.randperm(len(self.dataset), generator=gen).tolist()
        full = len(perm) // (self.batch_size * self.world) * self.world
        batches = [perm[i * self.batch_size : (i + 1) * self.batch_size] for i in range(full)]
        return batches[self.rank :: self.world]

    def state(self) -> dict:
        """Where the stream is: epoch and batches consumed in it."""
        return {"epoch": self.epoch, "position": self.position}

    def load_state(self, state: dict) -> None:
        """Continue from a saved position."""
        self.epoch, self.position = state["epoch"], state["position"]
        self._iter = None

    def __next__(self) -> dict:
        if self._iter is None:
            batches = self._batches(self.epoch)
            if self.position >= len(batches):
                self.epoch, self.position = self.epoch + 1, 0
                batches = self._batches(self.epoch)
            self.dataset.set_epoch(self.epoch)
            # A private generator: creating a loader must not consume the global RNG, or a
            # resumed run would draw different dropout masks than an uninterrupted one.
            loader = DataLoader(
                self.dataset,
                batch_sampler=batches[self.position :],
                num_workers=self.workers,
                generator=torch.Generator().manual_seed(self.seed + 7919 * self.epoch),
            )
            self._iter = iter(loader)
        try:
            batch = next(self._iter)
        except StopIteration:
            self._iter = None
            self.epoch, self.position = self.epoch + 1, 0
            return next(self)
        self.position += 1
        return batch
