"""Paired augmentations: one random draw applied alike to the blurred input and its targets.

A sample is a dict whose image entries are float tensors in [0, 1] shaped (C, H, W) or
(N, C, H, W) (a stack of frames); other entries pass through untouched. Geometric and colour
transforms change every image entry the same way; noise touches only the blurred input.
Build a pipeline from a config list with ``build_augmentations``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..blur.degrade import NAH_NOISE_SCALE


def _image_keys(sample: dict) -> list[str]:
    return [k for k, v in sample.items() if torch.is_tensor(v) and v.dim() >= 3]


def _uniform(gen: torch.Generator, low: float = 0.0, high: float = 1.0) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen))


class RandomFlip:
    """Mirror left-right with probability ``horizontal``, up-down with probability ``vertical``."""

    def __init__(self, horizontal: float = 0.5, vertical: float = 0.0):
        self.horizontal, self.vertical = horizontal, vertical

    def __call__(self, sample: dict, gen: torch.Generator) -> dict:
        dims = []
        if _uniform(gen) < self.horizontal:
            dims.append(-1)
        if _uniform(gen) < self.vertical:
            dims.append(-2)
        if dims:
            for k in _image_keys(sample):
                sample[k] = sample[k].flip(dims)
        return sample


class RandomRot90:
    """Rotate by a random multiple of 90 degrees (0, 90, 180 or 270, equally likely)."""

    def __call__(self, sample: dict, gen: torch.Generator) -> dict:
        turns = int(torch.randint(0, 4, (), generator=gen))
        if turns:
            for k in _image_keys(sample):
                sample[k] = torch.rot90(sample[k], turns, dims=(-2, -1))
        return sample


class ChannelPermute:
    """Shuffle the RGB channels with probability ``p`` (Nah et al.)."""

    def __init__(self, p: float = 1.0):
        self.p = p

    def __call__(self, sample: dict, gen: torch.Generator) -> dict:
        if _uniform(gen) < self.p:
            order = torch.randperm(3, generator=gen)
            for k in _image_keys(sample):
                sample[k] = sample[k].index_select(-3, order)
        return sample


def scale_saturation(img: torch.Tensor, factor: float) -> torch.Tensor:
    """Multiply HSV saturation by ``factor`` keeping hue and value (saturation is capped at 1).

    In HSV, with V the channel maximum, every channel c maps to V - f * (V - c): hue ratios
    and V stay, S becomes f * S. The per-pixel cap f <= 1 / S keeps channels non-negative.
    """
    value = img.max(dim=-3, keepdim=True).values
    low = img.min(dim=-3, keepdim=True).values
    sat = torch.where(value > 0, (value - low) / value.clamp(min=1e-12), torch.zeros_like(value))
    f = torch.full_like(sat, factor)
    f = torch.where(sat * factor > 1.0, 1.0 / sat.clamp(min=1e-12), f)
    return (value - f * (value - img)).clamp(0.0, 1.0)


class SaturationJitter:
    """Scale saturation in HSV by a factor drawn from U(low, high) (Nah et al.: 0.5 to 1.5)."""

    def __init__(self, low: float = 0.5, high: float = 1.5):
        self.low, self.high = low, high

    def __call__(self, sample: dict, gen: torch.Generator) -> dict:
        factor = _uniform(gen, self.low, self.high)
        for k in _image_keys(sample):
            sample[k] = scale_saturation(sample[k], factor)
        return sample


class GaussianNoise:
    """Add noise of sigma ~ |N(0, scale^2)| to the blurred input only (Nah et al.)."""

    def __init__(self, scale: float = NAH_NOISE_SCALE, keys: tuple[str, ...] = ("blur",)):
        self.scale, self.keys = scale, tuple(keys)

    def __call__(self, sample: dict, gen: torch.Generator) -> dict:
        sigma = abs(float(torch.randn((), generator=gen))) * self.scale
        for k in self.keys:
            if k in sample:
                noise = torch.randn(sample[k].shape, generator=gen, dtype=sample[k].dtype)
                sample[k] = (sample[k] + sigma * noise).clamp(0.0, 1.0)
        return sample


class RandomCrop:
    """Crop a random ``size`` x ``size`` window, the same for every image entry."""

    def __init__(self, size: int):
        self.size = int(size)

    def __call__(self, sample: dict, gen: torch.Generator) -> dict:
        keys = _image_keys(sample)
        height, width = sample[keys[0]].shape[-2:]
        if height < self.size or width < self.size:
            raise ValueError(f"image of {width}x{height} is smaller than the {self.size} px crop")
        top = int(torch.randint(0, height - self.size + 1, (), generator=gen))
        left = int(torch.randint(0, width - self.size + 1, (), generator=gen))
        for k in keys:
            sample[k] = sample[k][..., top : top + self.size, left : left + self.size]
        return sample


class RandomRescale:
    """Enlarge by a factor drawn from U(low, high) (Lee et al.: 1.0 to 1.5); follow with a crop."""

    def __init__(self, low: float = 1.0, high: float = 1.5):
        self.low, self.high = low, high

    def __call__(self, sample: dict, gen: torch.Generator) -> dict:
        factor = _uniform(gen, self.low, self.high)
        for k in _image_keys(sample):
            img = sample[k]
            height, width = img.shape[-2:]
            size = (max(1, math.floor(height * factor)), max(1, math.floor(width * factor)))
            batch = img if img.dim() == 4 else img.unsqueeze(0)
            out = F.interpolate(
                batch, size=size, mode="bilinear", align_corners=False, antialias=True
            )
            sample[k] = (out if img.dim() == 4 else out.squeeze(0)).clamp(0.0, 1.0)
        return sample


class Compose:
    """Apply transforms in order with one generator."""

    def __init__(self, transforms: list):
        self.transforms = list(transforms)

    def __call__(self, sample: dict, gen: torch.Generator) -> dict:
        for t in self.transforms:
            sample = t(sample, gen)
        return sample


AUGMENTATIONS = {
    "flip": RandomFlip,
    "rot90": RandomRot90,
    "channel_permute": ChannelPermute,
    "saturation": SaturationJitter,
    "noise": GaussianNoise,
    "crop": RandomCrop,
    "rescale": RandomRescale,
}


def build_augmentations(spec: list[str | dict] | None) -> Compose:
    """Build a pipeline from names or dicts, e.g. ``["flip", {"name": "crop", "size": 128}]``."""
    transforms = []
    for item in spec or []:
        params = {"name": item} if isinstance(item, str) else dict(item)
        name = params.pop("name", None)
        if name not in AUGMENTATIONS:
            raise ValueError(
                f"unknown augmentation {name!r}; choose from {', '.join(AUGMENTATIONS)}"
            )
        try:
            transforms.append(AUGMENTATIONS[name](**params))
        except TypeError as exc:
            raise ValueError(f"augmentation {name!r}: {exc}") from None
    return Compose(transforms)
