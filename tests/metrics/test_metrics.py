"""Metrics: PSNR/SSIM against scikit-image, MS-SSIM, detection, identity, LPIPS and FID."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from facedeblur.errors import FaceDeblurError
from facedeblur.faces.detect import Detection
from facedeblur.io import read_image
from facedeblur.metrics.detection import DetectionTally, greedy_match, iou, match_face
from facedeblur.metrics.fid import FID, FIDInceptionV3, load_fid_inception
from facedeblur.metrics.identity import (
    frechet_distance,
    frechet_distance_from_stats,
    identity_distances,
    verification_accuracy,
)
from facedeblur.metrics.image import psnr, ssim
from facedeblur.metrics.lpips import LPIPS
from facedeblur.metrics.msssim import ms_ssim


def _t(img: np.ndarray) -> torch.Tensor:
    return (
        torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)
    )


def _sk_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return structural_similarity(
        a,
        b,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        channel_axis=2,
        data_range=1.0,
    )


@pytest.fixture(scope="module")
def face(data_dir) -> np.ndarray:
    path = sorted((data_dir / "lfw" / "images").glob("*/*.jpg"))[0]
    return read_image(path)


# ---------------------------------------------------------------- PSNR / SSIM
def _pairs(face):
    rng = np.random.default_rng(0)
    rand_a = rng.random((48, 64, 3)).astype(np.float32)
    rand_b = np.clip(rand_a + rng.normal(0, 0.1, rand_a.shape), 0, 1).astype(np.float32)
    noisy = np.clip(face + rng.normal(0, 0.03, face.shape), 0, 1).astype(np.float32)
    shifted = np.ascontiguousarray(np.roll(face, 1, axis=1))
    return [(rand_a, rand_b), (face, noisy), (face, shifted)]


def test_psnr_ssim_match_scikit_image(face):
    for a, b in _pairs(face):
        assert psnr(_t(b), _t(a)).item() == pytest.approx(
            peak_signal_noise_ratio(a, b, data_range=1.0), abs=1e-4
        )
        assert ssim(_t(b), _t(a)).item() == pytest.approx(_sk_ssim(a, b), abs=1e-4)


def test_identical_images(face):
    x = _t(face)
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-6)
    p = psnr(x, x).item()
    assert math.isfinite(p) and p >= 100  # MSE is clamped at 1e-20: 200 dB, never inf


def test_psnr_known_noise_and_shift():
    gen = torch.Generator().manual_seed(1)
    x = torch.full((1, 3, 256, 256), 0.5)
    noisy = x + 0.05 * torch.randn(x.shape, generator=gen)  # no clipping needed around 0.5
    assert psnr(noisy, x).item() == pytest.approx(
        10 * math.log10(1 / 0.05**2), abs=0.05
    )  # 26.02 dB
    ramp = (torch.arange(101, dtype=torch.float64) / 100).expand(1, 3, 32, 101)
    # a one-pixel horizontal shift of a ramp of slope 1/100 differs by exactly 0.01 everywhere
    assert psnr(ramp[..., 1:], ramp[..., :-1]).item() == pytest.approx(40.0, abs=1e-4)


def test_batch_and_3d_inputs(face):
    a, b = _pairs(face)[1]
    batch = psnr(torch.cat([_t(b), _t(a)]), torch.cat([_t(a), _t(a)]))
    assert batch.shape == (2,) and batch[1] > 100
    assert ssim(_t(b)[0], _t(a)[0]).shape == (1,)


# ---------------------------------------------------------------- MS-SSIM
def test_ms_ssim_identity_and_noise(face):
    x = _t(face)
    assert x.shape[-1] > 160
    assert ms_ssim(x, x).item() == pytest.approx(1.0, abs=1e-6)
    gen = torch.Generator().manual_seed(2)
    noise = torch.randn(x.shape, generator=gen)
    values = [ms_ssim((x + s * noise).clamp(0, 1), x).item() for s in (0.02, 0.05, 0.1, 0.2)]
    assert all(v1 > v2 for v1, v2 in zip(values, values[1:])) and 0 < values[-1] < 1


def test_ms_ssim_levels_and_small_images(face):
    x = _t(face)
    y = (x + 0.05 * torch.randn(x.shape, generator=torch.Generator().manual_seed(3))).clamp(0, 1)
    assert ms_ssim(y, x, levels=1).item() == pytest.approx(ssim(y, x).item(), abs=1e-6)
    small = x[..., :100, :100], y[..., :100, :100]
    with pytest.raises(ValueError, match="160 px"):
        ms_ssim(*small)
    v = ms_ssim(*small, levels=3)  # needs > 40 px
    assert v.shape == (1,) and 0 < v.item() < 1
    with pytest.raises(ValueError, match="levels"):
        ms_ssim(*small, levels=6)


# ---------------------------------------------------------------- detection
def test_iou_edge_cases():
    a = (0, 0, 10, 10)
    assert iou(a, a) == 1.0
    assert iou(a, (20, 20, 30, 30)) == 0.0
    assert iou(a, (2, 2, 7, 7)) == pytest.approx(25 / 100)  # contained
    assert iou(a, (10, 0, 20, 10)) == 0.0  # touching edges
    assert iou(a, (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou(a, (3, 3, 3, 8)) == 0.0  # zero width
    assert iou((5, 5, 5, 5), (5, 5, 5, 5)) == 0.0
    assert iou(Detection(a, 1.0), a) == 1.0


def test_match_face():
    ref = (0, 0, 10, 10)
    dets = [
        Detection((5, 0, 15, 10), 0.9),
        Detection((1, 0, 11, 10), 0.5),
        Detection((40, 40, 50, 50), 0.99),
    ]
    assert match_face(dets, ref) is dets[1]
    assert match_face(dets[:1], ref) is None  # IoU 1/3 < 0.5
    assert match_face(dets[:1], ref, iou_threshold=0.3) is dets[0]
    assert match_face([], ref) is None


def test_detection_tally_exact_numbers():
    tally = DetectionTally()
    # image 1: two reference faces, one found (score 0.9), one missed, plus a false positive
    refs1 = [(0, 0, 10, 10), (100, 100, 120, 120)]
    dets1 = [Detection((1, 1, 10, 10), 0.9), Detection((50, 50, 60, 60), 0.4)]
    # image 2: one reference face (given as the sharp-image detection), found with score 0.7;
    # a second, overlapping detection of the same face is a false positive (one-to-one matching)
    refs2 = [Detection((0, 0, 20, 20), 0.95)]
    dets2 = [Detection((0, 0, 20, 19), 0.7), Detection((0, 0, 20, 18), 0.6)]
    assert tally.add(dets1, refs1, seconds=0.5) == [(0, 0, pytest.approx(0.81))]
    tally.add(dets2, refs2, seconds=1.5)
    s = tally.summary()
    assert (s["images"], s["faces"], s["detections"], s["matched"], s["false_positives"]) == (
        2,
        3,
        4,
        2,
        2,
    )
    assert s["recall"] == pytest.approx(2 / 3)
    assert s["failure_rate"] == pytest.approx(1 / 3)
    assert s["mean_confidence"] == pytest.approx(0.8)
    assert s["seconds"] == pytest.approx(2.0)
    assert s["faces_per_second"] == pytest.approx(1.5)
    assert s["images_per_second"] == pytest.approx(1.0)
    empty = DetectionTally().summary()
    assert (
        empty["recall"] is None
        and empty["faces_per_second"] is None
        and empty["false_positives"] == 0
    )


def test_greedy_match_is_one_to_one():
    refs = [(0, 0, 10, 10), (2, 0, 12, 10)]
    dets = [Detection((1, 0, 11, 10), 0.9)]
    assert len(greedy_match(dets, refs)) == 1


# ---------------------------------------------------------------- identity
def test_identity_distances_and_verification():
    a = np.zeros((4, 128))
    b = np.zeros((4, 128))
    b[:, 0] = [0.0, 0.3, 0.6, 1.0]
    d = identity_distances(a, b)
    np.testing.assert_allclose(d, [0.0, 0.3, 0.6, 1.0])
    assert verification_accuracy(d) == 0.5  # 0.6 itself is not below the threshold
    assert verification_accuracy(d, threshold=0.7) == 0.75
    assert verification_accuracy(d, same=[True, True, False, False]) == 1.0
    with pytest.raises(ValueError):
        identity_distances(a, b[:3])


def test_frechet_distance():
    rng = np.random.default_rng(4)
    feats = rng.normal(size=(500, 16)) @ rng.normal(size=(16, 16))
    assert abs(frechet_distance(feats, feats)) < 1e-6
    shift = rng.normal(size=16)
    assert frechet_distance(feats, feats + shift) == pytest.approx(float(shift @ shift), rel=1e-6)
    # Gaussians with the same mean: 1-d closed form (s_a - s_b)^2
    assert frechet_distance_from_stats([0.0], [[4.0]], [0.0], [[1.0]]) == pytest.approx(1.0)
    # singular covariances still give a finite value
    low_rank = np.repeat(rng.normal(size=(50, 1)), 8, axis=1)
    assert math.isfinite(frechet_distance(low_rank, low_rank + 1.0))


# ---------------------------------------------------------------- LPIPS
def test_lpips_properties(lpips_files, face):
    metric = LPIPS(backbone_path=lpips_files[0], linear_path=lpips_files[1])
    x = _t(face)[..., :128, :128]
    y = (x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(5))).clamp(0, 1)
    both = torch.cat([x, y])
    d = metric(both, torch.cat([x, x]))
    assert d.shape == (2,)
    assert d[0].item() == pytest.approx(0.0, abs=1e-7)
    assert d[1].item() > 0
    assert metric(x, y).item() == pytest.approx(metric(y, x).item(), rel=1e-5)
    metric.train()
    assert not metric.training and not any(p.requires_grad for p in metric.parameters())


def test_lpips_weight_errors(lpips_files, tmp_path):
    backbone, linear = lpips_files
    with pytest.raises(FaceDeblurError, match="alexnet-owt-7be5be79.pth"):
        LPIPS(backbone_path=tmp_path / "nope.pth", linear_path=linear)
    with pytest.raises(FaceDeblurError, match="alex.pth"):
        LPIPS(backbone_path=backbone, linear_path=None)
    bad = torch.load(linear, weights_only=True)
    bad["lin4.model.1.weight"] = torch.rand(1, 128, 1, 1)
    del bad["lin0.model.1.weight"]
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(FaceDeblurError, match="missing keys lin0.*wrong shapes lin4"):
        LPIPS(backbone_path=backbone, linear_path=tmp_path / "bad.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(FaceDeblurError, match="cannot read"):
        LPIPS(backbone_path=tmp_path / "junk.pth", linear_path=linear)


# ---------------------------------------------------------------- FID
@pytest.fixture(scope="module")
def fid_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("fid") / "pt_inception-2015-12-05-6726825d.pth"
    torch.manual_seed(0)
    state = {
        k: v
        for k, v in FIDInceptionV3().state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    torch.save(state, path)
    return path


@pytest.mark.slow
def test_fid_network_loads_and_gives_pool3_features(fid_weights):
    metric = FID(weights_path=fid_weights)
    images = torch.rand(
        2, 3, 64, 80, generator=torch.Generator().manual_seed(6)
    )  # resized to 299 inside
    feats = metric.features(images, batch_size=1)
    assert feats.shape == (2, 2048) and np.isfinite(feats).all() and (feats >= 0).all()
    np.testing.assert_allclose(metric.features(images), feats, rtol=1e-4, atol=1e-6)
    assert not np.allclose(feats[0], feats[1])


def test_fid_from_features():
    rng = np.random.default_rng(7)
    feats = rng.normal(size=(300, 32))
    assert abs(FID.from_features(feats, feats)) < 1e-6
    near, far = FID.from_features(feats, feats + 0.1), FID.from_features(feats, feats + 1.0)
    assert 0 < near < far and far == pytest.approx(32.0, rel=1e-6)


@pytest.mark.slow
def test_fid_weight_errors(fid_weights, tmp_path):
    with pytest.raises(FaceDeblurError, match="pt_inception-2015-12-05-6726825d.pth"):
        load_fid_inception(None)
    with pytest.raises(FaceDeblurError, match="not found"):
        load_fid_inception(tmp_path / "missing.pth")
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(32, 3, 3, 3)}, tmp_path / "partial.pth")
    with pytest.raises(FaceDeblurError, match="missing keys"):
        load_fid_inception(tmp_path / "partial.pth")
