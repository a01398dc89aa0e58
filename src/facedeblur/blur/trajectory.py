"""Random camera-shake trajectories (Boracchi & Foi, as used by DeblurGAN's Algorithm 1).

A trajectory is the path of a point light source across the sensor during the exposure:
M = 2000 steps of equal length L_max / (M - 1), so its total path length is exactly L_max.
At each step the velocity turns by a Gaussian term, is pulled back towards the start by an
inertia (centripetal) term, and with a small probability reverses in an impulsive big shake.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .checks import check_range

MAX_ITERATIONS = 100_000


@dataclass(frozen=True)
class TrajectoryParams:
    """Ranges of the random-trajectory model; defaults are the seed paper's Algorithm 1.

    ``iterations`` is a whole number in [2, 100000]; the probabilities ``impulsive_prob`` and
    ``big_shake_max`` lie in [0, 1], ``inertia_max`` and ``gaussian_shake_max`` in [0, 10]
    (``SettingError``, a ``ValueError``, otherwise).
    """

    iterations: int = 2000
    impulsive_prob: float = 0.001
    inertia_max: float = 0.7
    big_shake_max: float = 0.2
    gaussian_shake_max: float = 0.7

    def __post_init__(self):
        check_range("iterations", self.iterations, 2, MAX_ITERATIONS, integer=True)
        check_range("impulsive_prob", self.impulsive_prob, 0.0, 1.0)
        check_range("big_shake_max", self.big_shake_max, 0.0, 1.0)
        check_range("inertia_max", self.inertia_max, 0.0, 10.0)
        check_range("gaussian_shake_max", self.gaussian_shake_max, 0.0, 10.0)


@dataclass(frozen=True)
class Trajectory:
    """Sampled trajectory: ``points`` are complex positions (x + i*y, pixels, y pointing down)."""

    points: np.ndarray
    inertia: float
    big_shake_prob: float
    gaussian_shake: float
    init_angle: float
    big_shakes: int

    @property
    def path_length(self) -> float:
        """Sum of the step lengths, in pixels."""
        return float(np.abs(np.diff(self.points)).sum())

    def draws(self) -> dict:
        """The randomly drawn parameters, for a manifest."""
        out = asdict(self)
        del out["points"]
        return out


def random_trajectory(
    rng: np.random.Generator,
    max_length: float = 60.0,
    params: TrajectoryParams = TrajectoryParams(),
) -> Trajectory:
    """Draw one camera-shake trajectory.

    Args:
        rng: numpy generator; the same generator state gives the same trajectory.
        max_length: L_max, the total path length in pixels.
        params: model constants and ranges.

    Returns:
        A ``Trajectory`` whose ``points`` has ``params.iterations`` complex samples starting at 0.
    """
    if not math.isfinite(max_length) or max_length <= 0:
        raise ValueError(f"max_length must be finite and positive, got {max_length!r}")
    m = params.iterations
    step = max_length / (m - 1)
    inertia = params.inertia_max * rng.uniform()
    big_shake_prob = params.big_shake_max * rng.uniform()
    gaussian_shake = params.gaussian_shake_max * rng.uniform()
    init_angle = 2.0 * np.pi * rng.uniform()

    # All random numbers are drawn up front, so the loop below does only arithmetic.
    shake_draw = rng.uniform(size=m - 1)
    turn_draw = rng.uniform(size=m - 1)
    gauss = rng.standard_normal(size=(m - 1, 2))
    gauss_c = gauss[:, 0] + 1j * gauss[:, 1]

    p_s = params.impulsive_prob
    v = complex(np.cos(init_angle), np.sin(init_angle)) * step
    x = np.zeros(m, dtype=np.complex128)
    pos = 0j
    big_shakes = 0
    for t in range(m - 1):
        if shake_draw[t] < big_shake_prob * p_s:
            next_dir = 2.0 * v * np.exp(1j * (np.pi + (turn_draw[t] - 0.5)))
            big_shakes += 1
        else:
            next_dir = 0j
        dv = next_dir + p_s * (gaussian_shake * gauss_c[t] - inertia * pos) * step
        v = v + dv
        v = v / abs(v) * step
        pos = pos + v
        x[t + 1] = pos
    return Trajectory(
        points=x,
        inertia=float(inertia),
        big_shake_prob=float(big_shake_prob),
        gaussian_shake=float(gaussian_shake),
        init_angle=float(init_angle),
        big_shakes=big_shakes,
    )
