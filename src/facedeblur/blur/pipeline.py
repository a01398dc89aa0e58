"""One random kernel-blur draw: kernel, blur in linear light, noise, optional JPEG.

Shared by the dataset builder (``facedeblur synth``) and the on-the-fly training dataset,
so both produce exactly the same degradations from the same settings and seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .checks import SettingError, check_pair, check_range
from .degrade import (
    DEFAULT_GAMMA,
    NAH_NOISE_SCALE,
    add_gaussian_noise,
    blur_image,
    jpeg_compress,
    sample_noise_sigma,
)
from .kernels import (
    LENGTH_DISTRIBUTIONS,
    MAX_KERNEL_SUPPORT,
    REFERENCE_SIZE,
    camera_shake_kernel,
    draw_exposure,
    gaussian_kernel,
    linear_kernel,
)
from .trajectory import TrajectoryParams

KERNEL_TYPES = ("shake", "linear", "gaussian")
MAX_LENGTH = 256.0
"""Longest trajectory (px at a 512 px image): half the image, so a fitted kernel stays smaller than
the image it blurs."""
GAMMA_RANGE = (0.1, 10.0)
"""Camera response gammas allowed; outside it the power curves underflow to a black image."""


@dataclass(frozen=True)
class KernelBlurSettings:
    """How strong and what kind of blur to draw.

    Attributes:
        kernel: ``shake`` (random camera trajectory), ``linear`` (straight motion of the same
            length distribution, random angle) or ``gaussian`` (sigma = length / 6).
        max_length: trajectory length L_max in px at a 512 px image, in (0, 256]; scaled to the
            image size.
        exposure: range (low, high) of the exposure fraction e of the trajectory that is
            integrated, both in (0, 1]; the blur's path length is e * max_length.
        length_distribution: how e is drawn from ``exposure`` (``kernels.draw_exposure``):
            ``uniform`` or ``log-uniform`` (each doubling of the length equally likely).
        support: odd kernel side up to 2047; None fits the kernel to its trajectory.
        gamma: camera response in [0.1, 10]; blur happens in linear light (1.0 blurs pixel
            values).
        noise_scale: sigma ~ |N(0, noise_scale^2)| per image, in [0, 1]; 0 disables noise.
        jpeg_quality: (low, high) quality range in 1..100 for JPEG re-compression, or None.
        trajectory: constants of the random-trajectory model.

    Every number must be finite and in its range, else ``SettingError`` (a ``ValueError``).
    """

    kernel: str = "shake"
    max_length: float = 60.0
    exposure: tuple[float, float] = (0.25, 1.0)
    length_distribution: str = "uniform"
    support: int | None = None
    gamma: float = DEFAULT_GAMMA
    noise_scale: float = NAH_NOISE_SCALE
    jpeg_quality: tuple[int, int] | None = None
    trajectory: TrajectoryParams = field(default_factory=TrajectoryParams)

    def __post_init__(self):
        if self.kernel not in KERNEL_TYPES:
            raise SettingError(
                "kernel", f"must be one of {', '.join(KERNEL_TYPES)}, got {self.kernel!r}"
            )
        check_range("max_length", self.max_length, 0.0, MAX_LENGTH, low_open=True)
        check_pair("exposure", self.exposure, 0.0, 1.0, low_open=True)
        if self.length_distribution not in LENGTH_DISTRIBUTIONS:
            raise SettingError(
                "length_distribution",
                f"must be one of {', '.join(LENGTH_DISTRIBUTIONS)}, "
                f"got {self.length_distribution!r}",
            )
        if self.support is not None:
            check_range("support", self.support, 1, MAX_KERNEL_SUPPORT, integer=True)
            if self.support % 2 == 0:
                raise SettingError("support", f"must be odd, got {self.support}")
        check_range("gamma", self.gamma, *GAMMA_RANGE)
        check_range("noise_scale", self.noise_scale, 0.0, 1.0)
        if self.jpeg_quality is not None:
            check_pair("jpeg_quality", self.jpeg_quality, 1, 100, integer=True)


def draw_kernel(
    rng: np.random.Generator, settings: KernelBlurSettings, image_size: int
) -> tuple[np.ndarray, dict]:
    """Draw one kernel of the configured type for a square image of side ``image_size``."""
    if settings.kernel == "shake":
        return camera_shake_kernel(
            rng,
            max_length=settings.max_length,
            output_size=image_size,
            exposure=settings.exposure,
            support=settings.support,
            params=settings.trajectory,
            length_distribution=settings.length_distribution,
        )
    length = (
        settings.max_length
        * image_size
        / REFERENCE_SIZE
        * draw_exposure(rng, settings.exposure, settings.length_distribution)
    )
    if settings.kernel == "linear":
        angle = float(rng.uniform(0.0, 360.0))
        kernel = linear_kernel(length, angle, settings.support)
        return kernel, {
            "type": "linear",
            "length": length,
            "angle": angle,
            "support": int(kernel.shape[0]),
        }
    sigma = max(length / 6.0, 0.3)
    kernel = gaussian_kernel(sigma, settings.support)
    return kernel, {"type": "gaussian", "sigma": sigma, "support": int(kernel.shape[0])}


def add_noise_and_jpeg(
    img: torch.Tensor, rng: np.random.Generator, settings: KernelBlurSettings
) -> tuple[torch.Tensor, dict]:
    """The sensor side of a degradation: Gaussian noise with a drawn sigma, then optional JPEG.

    Returns the degraded (C, H, W) image and {gamma, noise_sigma, jpeg_quality} for a manifest.
    """
    sigma = sample_noise_sigma(rng, settings.noise_scale) if settings.noise_scale > 0 else 0.0
    img = add_gaussian_noise(img, sigma, rng)
    quality = None
    if settings.jpeg_quality is not None:
        quality = int(rng.integers(settings.jpeg_quality[0], settings.jpeg_quality[1] + 1))
        img = jpeg_compress(img, quality)
    return img, {"gamma": settings.gamma, "noise_sigma": sigma, "jpeg_quality": quality}


def random_kernel_blur(
    sharp: torch.Tensor,
    rng: np.random.Generator,
    settings: KernelBlurSettings = KernelBlurSettings(),
) -> tuple[torch.Tensor, np.ndarray, dict]:
    """Blur a (C, H, W) sharp image with a freshly drawn kernel, then add noise and JPEG.

    Returns:
        (blurred image, kernel, record of every drawn parameter).
    """
    kernel, record = draw_kernel(rng, settings, max(sharp.shape[-2:]))
    blurred, degradation = add_noise_and_jpeg(
        blur_image(sharp, kernel, settings.gamma), rng, settings
    )
    return blurred, kernel, {"kernel": record, **degradation}


FULL_SHAKE_RANGE = KernelBlurSettings(
    max_length=120.0, exposure=(0.125, 1.0), length_distribution="log-uniform"
)
"""Camera shake from mild to the seed paper's full strength, the default of ``facedeblur synth``.

Path lengths e * 120 px at a 512 px image with e log-uniform in [1/8, 1]: 15 to 120 px (3.75 to
30 px at 128 px), a third of the draws in each doubling (15-30, 30-60, 60-120 px at 512 px).
The two lower thirds are the range of the default settings (15-60 px, the shipped model's
recipe); the top third is the severe shake those leave out. Median 42.4 px (10.6 at 128 px)."""
