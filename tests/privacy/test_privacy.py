"""Identity obfuscation groundwork: face masks, classical obfuscations, CelebA attributes, the
attribute classifier and the rebuild network's input and training step."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from facedeblur.data import identity_split, read_attributes, read_identities
from facedeblur.errors import InputError, NoFaceError, UsageError
from facedeblur.faces.detect import DlibHOGDetector, largest_face
from facedeblur.io import read_image
from facedeblur.losses import SSIMLoss
from facedeblur.models import (
    RebuildUNet,
    ResNet,
    build_model,
    landmark_heatmaps,
    rebuild_input,
    resnet18_attributes,
)
from facedeblur.models.privacy import Bottleneck, BasicBlock
from facedeblur.privacy import METHODS, face_ellipse, face_mask, feathered, landmarks_of, obfuscate_classical


@pytest.fixture(scope="module")
def eckhart(data_dir):
    """A real LFW face (250x250, frontal), its HOG face box and its dlib landmarks."""
    img = read_image(data_dir / "lfw" / "images" / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg")
    box = largest_face(DlibHOGDetector()(img)).box
    return img, box, landmarks_of(img, label="Aaron_Eckhart_0001.jpg")


def _covers(mask: np.ndarray, points: np.ndarray) -> bool:
    xs, ys = np.rint(points).astype(int).T
    return bool(mask[ys, xs].all())


def test_face_mask_covers_every_landmark_and_stays_on_the_face(eckhart):
    img, (x0, y0, x1, y1), points = eckhart
    mask = face_mask(img.shape[:2], points)
    assert mask.shape == img.shape[:2] and mask.dtype == np.float32
    assert set(np.unique(mask)) == {0.0, 1.0}
    assert _covers(mask, points)
    assert mask.mean() < 0.6
    ys, xs = np.nonzero(mask)
    w, h = x1 - x0, y1 - y0
    assert xs.min() >= x0 - 0.3 * w and xs.max() <= x1 + 0.3 * w
    assert ys.min() >= y0 - 0.3 * h and ys.max() <= y1 + 0.3 * h


def test_face_mask_turns_with_the_head(eckhart):
    img, _, points = eckhart
    centre = points.mean(axis=0)
    turn = math.radians(25.0)
    rot = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    tilted = (points - centre) @ rot.T + centre
    _, axes, angle = face_ellipse(points)
    _, tilted_axes, tilted_angle = face_ellipse(tilted)
    assert tilted_angle == pytest.approx(angle + 25.0, abs=1e-6)
    assert tilted_axes == pytest.approx(axes, rel=1e-6)
    assert _covers(face_mask(img.shape[:2], tilted), tilted)


def test_face_mask_rejects_wrong_landmarks():
    with pytest.raises(UsageError, match=r"\(68, 2\)"):
        face_mask((32, 32), np.zeros((5, 2)))


def test_no_face_is_a_clear_error():
    with pytest.raises(NoFaceError, match="^blank.png: no face found$"):
        landmarks_of(np.full((48, 48, 3), 0.5, np.float32), label="blank.png")


def test_feathered_mask_is_soft_inside_and_zero_far_away():
    mask = np.zeros((64, 64), np.float32)
    mask[20:44, 20:44] = 1.0
    soft = feathered(mask, 4)
    assert soft.dtype == np.float32 and soft.min() >= 0.0 and soft.max() <= 1.0
    assert soft[32, 32] == pytest.approx(1.0, abs=1e-6)
    assert 0.2 < soft[32, 20] < 0.8
    assert (soft[:5] == 0).all() and (soft[:, :5] == 0).all()
    assert np.array_equal(feathered(mask, 0), mask)


def _textured(size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
    img = 0.5 * (ramp[None, :, None] + ramp[:, None, None]) * np.array([1.0, 0.7, 0.4], np.float32)
    return np.clip(img + 0.3 * rng.random((size, size, 3), dtype=np.float32), 0.0, 1.0).astype(np.float32)


@pytest.mark.parametrize("method", METHODS)
def test_classical_obfuscation_changes_only_the_masked_face(method):
    img = _textured()
    binary = np.zeros((64, 64), np.uint8)
    cv2.ellipse(binary, (32, 30), (14, 18), 10.0, 0, 360, 1, thickness=-1)
    mask = feathered(binary.astype(np.float32), 3)
    out = obfuscate_classical(img, mask, method, seed=3)
    assert out.shape == img.shape and out.dtype == np.float32
    outside = mask == 0
    assert outside.sum() > 2000
    assert np.array_equal(out[outside], img[outside])
    inside = mask > 0.99
    assert np.abs(out[inside] - img[inside]).mean() > 0.03
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_classical_obfuscation_bad_arguments():
    img = _textured(32)
    mask = np.ones((32, 32), np.float32)
    with pytest.raises(UsageError, match="valid methods: " + ", ".join(METHODS)) as info:
        obfuscate_classical(img, mask, "sepia")
    assert "\n" not in str(info.value)
    with pytest.raises(UsageError, match="does not match"):
        obfuscate_classical(img, mask[:16], "blur")
    assert np.array_equal(obfuscate_classical(img, np.zeros_like(mask), "swirl"), img)


ATTR_FILE = """3
Smiling Young Big_Nose
000001.jpg  1 -1  1
000002.jpg -1 -1  1
"""


def test_read_attributes_maps_minus_one_to_zero(tmp_path):
    path = tmp_path / "attrs.txt"
    path.write_text(ATTR_FILE + "000003.jpg  1  1 -1\n")
    names, table = read_attributes(path)
    assert names == ["Smiling", "Young", "Big_Nose"]
    assert list(table) == ["000001.jpg", "000002.jpg", "000003.jpg"]
    assert table["000002.jpg"].dtype == np.int8 and table["000002.jpg"].tolist() == [0, 0, 1]


@pytest.mark.parametrize("bad_line, message", [
    ("000003.jpg  1  1\n", "line 5: expected a file name and 3 values of 1 or -1"),
    ("000003.jpg  1  0 1\n", "line 5: expected a file name and 3 values of 1 or -1"),
    ("000001.jpg  1  1 1\n", "line 5: 000001.jpg appears twice"),
])
def test_read_attributes_names_file_and_line(tmp_path, bad_line, message):
    path = tmp_path / "attrs.txt"
    path.write_text(ATTR_FILE + bad_line)
    with pytest.raises(InputError, match=message) as info:
        read_attributes(path)
    assert str(info.value).startswith(str(path))


def test_read_attributes_checks_the_count(tmp_path):
    path = tmp_path / "attrs.txt"
    path.write_text(ATTR_FILE)
    with pytest.raises(InputError, match="line 1 announces 3 images but 2 rows follow"):
        read_attributes(path)


def test_identity_split_keeps_each_person_on_one_side(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("".join(f"{i:06d}.jpg {i % 7}\n" for i in range(1, 41)))
    identities = read_identities(path)
    files = list(identities)
    train, val = identity_split(files, identities, 0.3, seed=1)
    assert sorted(train + val) == sorted(files)
    assert not {identities[f] for f in train} & {identities[f] for f in val}
    assert len({identities[f] for f in val}) == 2
    assert identity_split(files, identities, 0.3, seed=1) == (train, val)
    path.write_text("000001.jpg 1\n000002.jpg two\n")
    with pytest.raises(InputError, match="line 2"):
        read_identities(path)


def test_resnet_matches_torchvision_layout():
    # torchvision's resnet18 / resnet50: 11,689,512 / 25,557,032 parameters, 122 / 320 state-dict entries.
    for block, layers, params, entries in [(BasicBlock, (2, 2, 2, 2), 11_689_512, 122),
                                           (Bottleneck, (3, 4, 6, 3), 25_557_032, 320)]:
        model = ResNet(block, layers)
        state = model.state_dict()
        assert sum(p.numel() for p in model.parameters()) == params
        assert len(state) == entries
        assert {"conv1.weight", "bn1.running_mean", "layer4.0.downsample.1.weight", "fc.bias"} <= set(state)
        assert state["fc.weight"].shape[0] == 1000
    assert "layer1.2.conv3.weight" in state and "layer1.0.downsample.0.weight" in state


def test_attribute_head_gives_logits_per_attribute():
    torch.manual_seed(0)
    model = resnet18_attributes().eval()
    with torch.no_grad():
        logits = model(torch.rand(2, 3, 64, 64))
    assert logits.shape == (2, 40) and torch.isfinite(logits).all()
    assert (logits < 0).any() and (logits > 0).any()  # raw logits, no sigmoid in the model
    assert build_model("resnet_attributes", depth=18, num_attributes=5).fc.out_features == 5
    with pytest.raises(UsageError, match="depth 20"):
        build_model("resnet_attributes", depth=20)
    half = build_model("resnet_attributes", depth=18, width=32)
    assert sum(p.numel() for p in half.parameters()) < sum(p.numel() for p in resnet18_attributes().parameters()) / 3
    assert half(torch.rand(1, 3, 64, 64)).shape == (1, 40)


def test_rebuild_input_channel_order():
    gen = torch.Generator().manual_seed(0)
    heatmaps = landmark_heatmaps(torch.rand(2, 68, 2, generator=gen) * 16, 16, sigma=1.0)
    image = torch.rand(2, 3, 16, 16, generator=gen)
    attrs = (torch.rand(2, 40, generator=gen) > 0.5).float()
    x = rebuild_input(heatmaps, image, attrs)
    assert x.shape == (2, 111, 16, 16)
    assert torch.equal(x[:, :68], heatmaps) and torch.equal(x[:, 68:71], image)
    for k in (0, 7, 39):
        flipped = attrs.clone()
        flipped[:, k] = 1 - flipped[:, k]
        changed = (rebuild_input(heatmaps, image, flipped) != x).flatten(2).any(dim=2).any(dim=0)
        assert changed.nonzero().flatten().tolist() == [71 + k]
    with pytest.raises(UsageError):
        rebuild_input(heatmaps, image[:, :, :8], attrs)


def test_landmark_heatmaps_peak_at_the_points():
    points = np.array([[3.0, 5.0], [10.0, 2.0]], np.float32)
    maps = landmark_heatmaps(points, (8, 12), sigma=1.0)
    assert maps.shape == (2, 8, 12) and maps.dtype == torch.float32
    assert maps[0, 5, 3] == 1.0 and maps[1, 2, 10] == 1.0
    assert maps[0].argmax() == 5 * 12 + 3


def test_rebuild_unet_trains_a_step_with_the_ssim_loss():
    torch.manual_seed(0)
    model = RebuildUNet(in_channels=111, base=8, levels=3)
    x = torch.rand(2, 111, 32, 32)
    target = torch.rand(2, 3, 32, 32)
    out = model(x)
    assert out.shape == (2, 3, 32, 32) and out.min() >= 0.0 and out.max() <= 1.0
    loss = SSIMLoss()(out, target)
    assert torch.isfinite(loss) and 0.0 < loss.item() < 2.0
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert all(g.abs().sum() > 0 for g in grads)
    torch.optim.Adam(model.parameters(), lr=1e-3).step()
    assert SSIMLoss()(target, target).item() == pytest.approx(0.0, abs=1e-6)
    assert isinstance(build_model("rebuild_unet", base=4, levels=2), RebuildUNet)
