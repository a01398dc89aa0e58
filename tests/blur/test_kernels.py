import numpy as np
import pytest

from facedeblur.blur import (
    REFERENCE_SIZE,
    TrajectoryParams,
    camera_shake_kernel,
    gaussian_kernel,
    kernel_centroid,
    linear_kernel,
    random_trajectory,
    trajectory_kernel,
)


def _assert_valid(kernel, tol=1e-3):
    assert kernel.ndim == 2 and kernel.shape[0] == kernel.shape[1] and kernel.shape[0] % 2 == 1
    assert (kernel >= 0).all()
    assert kernel.sum() == pytest.approx(1.0, abs=1e-9)
    c = kernel.shape[0] // 2
    cy, cx = kernel_centroid(kernel)
    assert abs(cy - c) < tol and abs(cx - c) < tol


@pytest.mark.parametrize("seed", range(12))
def test_camera_shake_kernels_are_normalised_and_centred(seed):
    kernel, record = camera_shake_kernel(np.random.default_rng(seed), output_size=128)
    _assert_valid(kernel)
    assert record["support"] == kernel.shape[0]
    assert 0 <= record["inertia"] <= 0.7 and 0 <= record["big_shake_prob"] <= 0.2
    assert 0 <= record["gaussian_shake"] <= 0.7 and 0 <= record["init_angle"] <= 2 * np.pi


def test_cropped_support_is_recentred_and_renormalised():
    kernel, _ = camera_shake_kernel(
        np.random.default_rng(3), output_size=512, exposure=(1.0, 1.0), support=9
    )
    assert kernel.shape == (9, 9)
    _assert_valid(kernel, tol=0.05)


def test_same_seed_same_kernel_and_different_seed_different_kernel():
    a, ra = camera_shake_kernel(np.random.default_rng(42), output_size=128)
    b, rb = camera_shake_kernel(np.random.default_rng(42), output_size=128)
    c, _ = camera_shake_kernel(np.random.default_rng(43), output_size=128)
    assert ra == rb and np.array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)


@pytest.mark.parametrize("seed", range(8))
def test_trajectory_length_never_exceeds_lmax(seed):
    traj = random_trajectory(np.random.default_rng(seed), 60.0, TrajectoryParams())
    assert len(traj.points) == 2000
    assert traj.path_length <= 60.0 * (1 + 1e-9)
    assert traj.path_length == pytest.approx(60.0, rel=1e-6)
    extent = np.abs(traj.points - traj.points[0]).max()
    assert extent <= 60.0 + 1e-9


def test_length_scales_with_output_size():
    _, small = camera_shake_kernel(np.random.default_rng(0), output_size=128)
    _, large = camera_shake_kernel(np.random.default_rng(0), output_size=512)
    assert small["max_length"] == pytest.approx(60.0 * 128 / REFERENCE_SIZE)
    assert large["max_length"] == pytest.approx(60.0)
    assert small["support"] < large["support"]


def test_shorter_exposure_gives_a_smaller_kernel():
    traj = random_trajectory(np.random.default_rng(5), 40.0)
    full = trajectory_kernel(traj, 1.0)
    part = trajectory_kernel(traj, 0.2)
    _assert_valid(part)
    assert (part > 1e-6).sum() < (full > 1e-6).sum()


def _second_moments(kernel):
    rows, cols = np.indices(kernel.shape) - kernel.shape[0] // 2
    return (kernel * cols**2).sum(), (kernel * rows**2).sum()


def test_linear_kernel_has_its_length_and_angle():
    horizontal = linear_kernel(12.0, 0.0)
    vertical = linear_kernel(12.0, 90.0)
    _assert_valid(horizontal)
    var_x, var_y = _second_moments(horizontal)
    # A uniform segment of length L has variance L^2 / 12; bilinear splatting adds up to ~1/6 px^2.
    assert 12.0**2 / 12 < var_x < 12.0**2 / 12 + 0.35
    assert var_y < 0.2
    vx, vy = _second_moments(vertical)
    assert vy == pytest.approx(var_x, abs=1e-6) and vx < 0.2


def test_gaussian_kernel_variance():
    kernel = gaussian_kernel(2.0)
    _assert_valid(kernel)
    var_x, var_y = _second_moments(kernel)
    assert var_x == pytest.approx(4.0, rel=0.02) and var_y == pytest.approx(4.0, rel=0.02)


def test_even_support_is_rejected():
    with pytest.raises(ValueError):
        gaussian_kernel(1.0, support=4)
    with pytest.raises(ValueError):
        linear_kernel(5.0, 10.0, support=6)
