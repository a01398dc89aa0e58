"""The camera-shake length range: how the exposure fraction, and so the blur length, is drawn."""

import json
import math

import numpy as np
import pytest

from facedeblur.blur import (
    FULL_SHAKE_RANGE,
    REFERENCE_SIZE,
    KernelBlurSettings,
    SampleSettings,
    camera_shake_kernel,
    draw_exposure,
    draw_kernel,
    kernel_centroid,
    random_trajectory,
)
from facedeblur.blur.checks import SettingError
from facedeblur.blur.synth import settings_from_dict, settings_to_dict
from facedeblur.cli import build_parser, main


def _ks_uniform(values: np.ndarray, lo: float, hi: float) -> float:
    """Kolmogorov-Smirnov distance between the sample and U(lo, hi)."""
    x = np.sort((values - lo) / (hi - lo))
    n = len(x)
    ranks = np.arange(1, n + 1) / n
    return float(max((ranks - x).max(), (x - (ranks - 1 / n)).max()))


def test_log_uniform_exposure_has_uniform_logarithm():
    rng = np.random.default_rng(0)
    e = np.array([draw_exposure(rng, (0.125, 1.0), "log-uniform") for _ in range(20000)])
    assert e.min() >= 0.125 and e.max() <= 1.0
    # 1.36 / sqrt(20000) = 0.0096 is the 5% critical value; the seed is fixed.
    assert _ks_uniform(np.log(e), math.log(0.125), 0.0) < 0.0096
    assert _ks_uniform(e, 0.125, 1.0) > 0.1, "log-uniform must differ from uniform"
    thirds = np.histogram(e, bins=[0.125, 0.25, 0.5, 1.0])[0] / len(e)
    np.testing.assert_allclose(thirds, 1 / 3, atol=0.015)


def test_uniform_exposure_is_the_earlier_single_uniform_draw():
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    e = [draw_exposure(a, (0.25, 1.0)) for _ in range(100)]
    assert e == [float(b.uniform(0.25, 1.0)) for _ in range(100)]


def test_default_shake_kernel_draws_exactly_as_before():
    """The default settings (the shipped model's recipe) consume the generator as they always did:
    the trajectory, then one uniform exposure draw."""
    _, record = camera_shake_kernel(np.random.default_rng(11), output_size=128)
    rng = np.random.default_rng(11)
    trajectory = random_trajectory(rng, 60.0 * 128 / REFERENCE_SIZE)
    assert record["exposure"] == float(rng.uniform(0.25, 1.0))
    assert record["inertia"] == trajectory.inertia


def test_full_range_lengths_are_log_uniform_up_to_30_px_at_128():
    rng = np.random.default_rng(3)
    lengths = []
    for _ in range(400):
        kernel, record = draw_kernel(rng, FULL_SHAKE_RANGE, 128)
        assert kernel.sum() == pytest.approx(1.0, abs=1e-9) and (kernel >= 0).all()
        c = kernel.shape[0] // 2
        cy, cx = kernel_centroid(kernel)
        assert abs(cy - c) < 1e-3 and abs(cx - c) < 1e-3
        assert record["max_length"] == pytest.approx(30.0)
        lengths.append(record["max_length"] * record["exposure"])
    lengths = np.array(lengths)
    assert lengths.min() >= 3.75 - 1e-9 and lengths.max() <= 30.0 + 1e-9
    assert lengths.max() > 29.0, "the range must reach the seed paper's full strength"
    # 1.36 / sqrt(400) = 0.068 is the 5% critical value.
    assert _ks_uniform(np.log(lengths), math.log(3.75), math.log(30.0)) < 0.068
    thirds = np.histogram(lengths, bins=[3.75, 7.5, 15.0, 30.0])[0] / len(lengths)
    np.testing.assert_allclose(thirds, 1 / 3, atol=0.07)


def test_full_exposure_integrates_120_px_at_512():
    settings = KernelBlurSettings(
        max_length=FULL_SHAKE_RANGE.max_length,
        exposure=(1.0, 1.0),
        length_distribution="log-uniform",
    )
    rng = np.random.default_rng(5)
    kernel, record = draw_kernel(rng, settings, REFERENCE_SIZE)
    assert record["max_length"] == pytest.approx(120.0) and record["exposure"] == 1.0
    assert random_trajectory(np.random.default_rng(5), 120.0).path_length == pytest.approx(120.0)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("kind", ["linear", "gaussian"])
def test_other_kernel_families_follow_the_same_distribution(kind):
    settings = KernelBlurSettings(
        kernel=kind, max_length=120.0, exposure=(0.125, 1.0), length_distribution="log-uniform"
    )
    a, b = np.random.default_rng(2), np.random.default_rng(2)
    _, record = draw_kernel(a, settings, 128)
    expected = 30.0 * draw_exposure(b, (0.125, 1.0), "log-uniform")
    got = record["length"] if kind == "linear" else record["sigma"] * 6.0
    assert got == pytest.approx(expected)


def test_unknown_distribution_is_a_setting_error():
    with pytest.raises(SettingError, match="length_distribution"):
        KernelBlurSettings(length_distribution="normal")
    with pytest.raises(ValueError, match="length distribution"):
        draw_exposure(np.random.default_rng(0), (0.5, 1.0), "normal")


def test_manifest_settings_name_the_distribution_only_when_not_uniform():
    uniform = settings_to_dict(SampleSettings())
    assert "length_distribution" not in uniform["blur"], "earlier manifests must read the same"
    assert settings_from_dict(uniform) == SampleSettings()
    full = SampleSettings(blur=FULL_SHAKE_RANGE)
    data = json.loads(json.dumps(settings_to_dict(full)))
    assert data["blur"]["length_distribution"] == "log-uniform"
    assert settings_from_dict(data) == full


def test_synth_cli_defaults_to_the_full_range(tmp_path, capsys):
    args = build_parser().parse_args(["synth", "in", "-o", "out"])
    assert args.max_length == 120.0 and args.exposure == (0.125, 1.0)
    assert args.length_distribution == "log-uniform"
    assert main(["synth", "in", "-o", "out", "--length-distribution", "normal"]) == 2
    assert "--length-distribution" in capsys.readouterr().err


def test_presets_keep_their_uniform_recipe_and_take_the_full_range_as_an_option():
    from facedeblur.errors import UsageError
    from facedeblur.train.config import load_config
    from facedeblur.train.data import kernel_settings

    shipped = kernel_settings(load_config("face-nafnet").data)
    assert shipped == KernelBlurSettings(
        max_length=60.0, exposure=(0.25, 1.0), noise_scale=2.0 / 255.0, jpeg_quality=(70, 95)
    )
    assert shipped.length_distribution == "uniform"
    full = kernel_settings(
        load_config(
            "face-nafnet",
            [
                "data.max_length=120",
                "data.exposure=[0.125,1.0]",
                "data.length_distribution=log-uniform",
            ],
        ).data
    )
    assert (full.max_length, full.exposure, full.length_distribution) == (
        FULL_SHAKE_RANGE.max_length,
        FULL_SHAKE_RANGE.exposure,
        FULL_SHAKE_RANGE.length_distribution,
    )
    with pytest.raises(UsageError, match="length_distribution"):
        load_config("face-nafnet", ["data.length_distribution=normal"])
