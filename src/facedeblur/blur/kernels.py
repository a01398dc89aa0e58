"""Blur kernels (point-spread functions): camera shake, linear motion, Gaussian.

Every kernel here is a square float64 array of odd side K, non-negative, summing to 1, with
its centre of mass on the centre pixel (K // 2, K // 2); convolving with it therefore keeps
the image's brightness and position.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..models.ops import gaussian_taps
from .trajectory import Trajectory, TrajectoryParams, random_trajectory

REFERENCE_SIZE = 512
"""Image side (px) at which ``max_length`` is given; lengths scale with the output size.

DeblurGAN applied its 60 px trajectories to whole photos of about this size before cropping;
at the 128 px face crops used here that is a path of at most 15 px."""

MAX_KERNEL_SUPPORT = 2047
"""Largest kernel side: a 2047 x 2047 float64 kernel is 33 MB, and it fits a 1024 px image."""

LENGTH_DISTRIBUTIONS = ("uniform", "log-uniform")
"""How the exposure fraction e, and with it the blur's path length e * L_max, is drawn from its
range (low, high): ``uniform`` (equal density per pixel of length) or ``log-uniform`` (equal
probability per doubling of length, so mild and severe blur are drawn equally often)."""


def kernel_centroid(kernel: np.ndarray) -> tuple[float, float]:
    """Centre of mass of a kernel as (row, column) in pixel indices."""
    total = kernel.sum()
    rows, cols = np.indices(kernel.shape)
    return float((rows * kernel).sum() / total), float((cols * kernel).sum() / total)


def _check_support(support: int) -> None:
    if not 1 <= support <= MAX_KERNEL_SUPPORT or support % 2 == 0:
        raise ValueError(
            f"kernel support must be an odd number in 1..{MAX_KERNEL_SUPPORT}, got {support}"
        )


def _splat(xs: np.ndarray, ys: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """Bilinear (sub-pixel) splatting of weighted points onto a size x size grid.

    Bilinear weights preserve each point's first moment, so the centroid of the result is
    the weighted mean of the points, as long as all of them land inside the grid.
    """
    x0 = np.floor(xs)
    y0 = np.floor(ys)
    fx = xs - x0
    fy = ys - y0
    x0 = x0.astype(np.int64)
    y0 = y0.astype(np.int64)
    grid = np.zeros(size * size, dtype=np.float64)
    for dy, dx, w in (
        (0, 0, (1 - fy) * (1 - fx)),
        (0, 1, (1 - fy) * fx),
        (1, 0, fy * (1 - fx)),
        (1, 1, fy * fx),
    ):
        xi = x0 + dx
        yi = y0 + dy
        inside = (xi >= 0) & (xi < size) & (yi >= 0) & (yi < size)
        grid += np.bincount(
            (yi * size + xi)[inside], weights=(w * weights)[inside], minlength=size * size
        )
    return grid.reshape(size, size)


def _exposure_samples(points: np.ndarray, exposure: float) -> tuple[np.ndarray, np.ndarray]:
    """Trajectory samples covered by the first ``exposure`` fraction of the shutter time.

    The trajectory is piecewise linear between samples; the last, partial sample gets a
    fractional weight so the exposure is continuous rather than quantised to whole steps.
    """
    if not 0.0 < exposure <= 1.0:
        raise ValueError("exposure must be in (0, 1]")
    end = exposure * (len(points) - 1)
    n = int(math.floor(end))
    frac = end - n
    pts = points[: n + 1]
    weights = np.ones(n + 1)
    if frac > 1e-9:
        tail = points[n] + frac * (points[n + 1] - points[n])
        pts = np.append(pts, tail)
        weights = np.append(weights, frac)
    return pts, weights


def points_to_kernel(
    points: np.ndarray, weights: np.ndarray | None = None, support: int | None = None
) -> np.ndarray:
    """Rasterise weighted complex points (x + iy) into a centred, normalised kernel.

    Args:
        points: complex sample positions in pixels.
        weights: non-negative weight per point (uniform when None).
        support: odd kernel side K, at most ``MAX_KERNEL_SUPPORT``. None picks the smallest odd
            side that holds every point.
            A smaller support crops the kernel; the crop is re-centred and renormalised.
    """
    points = np.asarray(points, dtype=np.complex128)
    weights = np.ones(len(points)) if weights is None else np.asarray(weights, dtype=np.float64)
    centroid = (points * weights).sum() / weights.sum()
    rel = points - centroid
    if support is None:
        reach = max(np.abs(rel.real).max(), np.abs(rel.imag).max())
        support = 2 * int(math.ceil(reach)) + 3
    _check_support(support)
    centre = support // 2
    shift = complex(centre, centre)
    kernel = _splat(rel.real + shift.real, rel.imag + shift.imag, weights, support)
    # Points cropped away move the centroid; a few corrective shifts bring it back.
    for _ in range(6):
        if kernel.sum() <= 0:
            raise ValueError("kernel support too small: nothing of the trajectory is left")
        cy, cx = kernel_centroid(kernel)
        err = complex(centre - cx, centre - cy)
        if abs(err) < 1e-6:
            break
        shift += err
        kernel = _splat(rel.real + shift.real, rel.imag + shift.imag, weights, support)
    return kernel / kernel.sum()


def draw_exposure(
    rng: np.random.Generator, exposure: tuple[float, float], distribution: str = "uniform"
) -> float:
    """Draw the exposure fraction e in [low, high] (both in (0, 1]) from one uniform draw of rng.

    ``uniform``: e ~ U(low, high). ``log-uniform``: log e ~ U(log low, log high), i.e. density
    proportional to 1 / e, so each factor of two in e (and in the blur length e * L_max) is equally
    likely.
    """
    lo, hi = exposure
    if distribution == "uniform":
        return float(rng.uniform(lo, hi))
    if distribution == "log-uniform":
        drawn = math.exp(float(rng.uniform(math.log(lo), math.log(hi))))
        return min(max(drawn, lo), hi)
    choices = ", ".join(LENGTH_DISTRIBUTIONS)
    raise ValueError(f"length distribution must be one of {choices}, got {distribution!r}")


def trajectory_kernel(
    trajectory: Trajectory, exposure: float = 1.0, support: int | None = None
) -> np.ndarray:
    """PSF of a camera-shake trajectory over the first ``exposure`` fraction of the shutter time."""
    pts, weights = _exposure_samples(trajectory.points, exposure)
    return points_to_kernel(pts, weights, support)


def camera_shake_kernel(
    rng: np.random.Generator,
    *,
    max_length: float = 60.0,
    output_size: int = REFERENCE_SIZE,
    exposure: tuple[float, float] = (0.25, 1.0),
    support: int | None = None,
    params: TrajectoryParams = TrajectoryParams(),
    length_distribution: str = "uniform",
) -> tuple[np.ndarray, dict]:
    """Draw a random camera-shake kernel for an image of side ``output_size``.

    ``max_length`` is the trajectory length at ``REFERENCE_SIZE`` pixels and is scaled to
    ``output_size``; the exposure fraction e is drawn from ``exposure`` by ``draw_exposure`` with
    ``length_distribution``, and the kernel integrates the first e of the trajectory: a path of
    e * max_length (scaled) pixels.

    Returns:
        (kernel, record) where record lists every drawn and derived parameter.
    """
    length = max_length * output_size / REFERENCE_SIZE
    trajectory = random_trajectory(rng, length, params)
    exposure_fraction = draw_exposure(rng, exposure, length_distribution)
    kernel = trajectory_kernel(trajectory, exposure_fraction, support)
    record = {
        "type": "camera_shake",
        "max_length": float(length),
        "exposure": exposure_fraction,
        "support": int(kernel.shape[0]),
        **trajectory.draws(),
    }
    return kernel, record


def linear_kernel(length: float, angle: float, support: int | None = None) -> np.ndarray:
    """Uniform linear-motion kernel: a segment of ``length`` px at ``angle`` degrees.

    The angle is counter-clockwise from the +x axis as seen on screen (image rows grow
    downwards). A length below 1 px returns (close to) a delta.
    """
    theta = math.radians(angle)
    n = max(2, int(math.ceil(length * 20)) + 1)
    t = np.linspace(-0.5, 0.5, n) * length
    points = t * math.cos(theta) - 1j * t * math.sin(theta)
    return points_to_kernel(points, None, support)


def gaussian_kernel(sigma: float, support: int | None = None) -> np.ndarray:
    """Isotropic Gaussian kernel; the default support is 2 * ceil(3 * sigma) + 1."""
    if sigma <= 0:
        raise ValueError("sigma must be positive")
    if support is None:
        support = 2 * int(math.ceil(3 * sigma)) + 1
    _check_support(support)
    g = gaussian_taps(sigma, support, torch.float64).numpy()
    kernel = np.outer(g, g)
    return kernel / kernel.sum()


def delta_kernel(support: int = 1) -> np.ndarray:
    """The identity kernel."""
    if support % 2 == 0:
        raise ValueError(f"kernel support must be odd, got {support}")
    kernel = np.zeros((support, support))
    kernel[support // 2, support // 2] = 1.0
    return kernel
