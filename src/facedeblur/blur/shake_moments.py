"""Moments of a still face under camera shake: N shifted sharp frames and their average.

A camera that shakes during the exposure sees the scene translated along its trajectory.
Sampling the trajectory at N evenly spaced times gives N sharp moments (the face shifted by
each position); averaging them in linear light gives the blurred face, as frames mode does
with video frames. Every pixel moves alike, so the left eye moves with the trajectory and the
facial motion-based order of the moments is the order of their positions. This turns any
folder of sharp faces (LFW's thousands of people) into CFMD-GAN training samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..faces.motion_order import motion_order
from .frames import average_frames
from .kernels import REFERENCE_SIZE, draw_exposure
from .pipeline import KernelBlurSettings, add_noise_and_jpeg
from .trajectory import random_trajectory

OVERSAMPLE = 2
"""Moments are cut from the sharp face at this multiple of the output size, at whole pixels there,
then area-averaged down: offsets have 1 / OVERSAMPLE px precision and no interpolation blur."""


@dataclass(frozen=True)
class ShakeMoments:
    """One draw: ``blur`` (C, S, S), ``frames`` (N, C, S, S) in time order, ``order`` their motion
    order (``order[k]`` is the frame at place k), ``offsets`` (N, 2) the (x, y) shift of each
    frame in output pixels, and ``record`` the drawn parameters."""

    blur: torch.Tensor
    frames: torch.Tensor
    order: list[int]
    offsets: np.ndarray
    record: dict


def moment_offsets(
    rng: np.random.Generator, n: int, size: int, settings: KernelBlurSettings
) -> tuple[np.ndarray, dict]:
    """(x, y) shifts in pixels at ``size`` of N evenly spaced moments of one random exposure.

    The trajectory is the one kernel blur draws (length ``settings.max_length`` at a 512 px image,
    scaled to ``size``); the exposure covers a drawn fraction of it. Shifts are centred on their
    mean, so the blurred face stays where the sharp one was.
    """
    if n < 1:
        raise ValueError(f"need at least one moment, got {n}")
    length = settings.max_length * size / REFERENCE_SIZE
    trajectory = random_trajectory(rng, length, settings.trajectory)
    exposure = draw_exposure(rng, settings.exposure, settings.length_distribution)
    last = len(trajectory.points) - 1
    times = np.linspace(0.0, exposure * last, n)
    points = np.interp(times, np.arange(last + 1), trajectory.points.real) + 1j * np.interp(
        times, np.arange(last + 1), trajectory.points.imag
    )
    points = points - points.mean()
    offsets = np.stack([points.real, points.imag], axis=1)
    return offsets, {"length": length, "exposure": exposure, **trajectory.draws()}


def shifted_frames(sharp: torch.Tensor, offsets: np.ndarray) -> torch.Tensor:
    """(N, C, S, S) copies of a (C, S*OVERSAMPLE, S*OVERSAMPLE) face moved by ``offsets`` (px at S).

    Content that moves in from outside repeats the border pixels.
    """
    big = sharp.shape[-1]
    if sharp.dim() != 3 or sharp.shape[-2] != big or big % OVERSAMPLE:
        raise ValueError(
            f"expected a square (C, H, W) image with a side divisible by {OVERSAMPLE}, "
            f"got {tuple(sharp.shape)}"
        )
    steps = np.rint(np.asarray(offsets, dtype=np.float64) * OVERSAMPLE).astype(int)
    pad = int(np.abs(steps).max()) if len(steps) else 0
    padded = F.pad(sharp[None], (pad, pad, pad, pad), mode="replicate")[0]
    frames = [padded[:, pad - dy : pad - dy + big, pad - dx : pad - dx + big] for dx, dy in steps]
    return F.avg_pool2d(torch.stack(frames), OVERSAMPLE)


def shake_moments(
    sharp: torch.Tensor,
    n: int,
    rng: np.random.Generator,
    settings: KernelBlurSettings = KernelBlurSettings(),
) -> ShakeMoments:
    """N sharp moments of a face under random camera shake, their blurred average and motion order.

    Args:
        sharp: (C, S*OVERSAMPLE, S*OVERSAMPLE) float face in [0, 1]; the moments are S px.
        n: the number of moments.
        rng: numpy generator; the same state gives the same draw.
        settings: trajectory length and exposure, camera response, noise and JPEG of the blur.
    """
    size = sharp.shape[-1] // OVERSAMPLE
    offsets, record = moment_offsets(rng, n, size, settings)
    offsets = np.rint(offsets * OVERSAMPLE) / OVERSAMPLE
    frames = shifted_frames(sharp, offsets)
    blurred, degradation = add_noise_and_jpeg(average_frames(frames, settings.gamma), rng, settings)
    return ShakeMoments(
        blurred, frames, motion_order(offsets), offsets, {"trajectory": record, **degradation}
    )
