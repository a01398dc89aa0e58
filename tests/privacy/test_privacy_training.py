"""Attribute obfuscation's networks on real CelebA faces: alignment, attribute names, the aligned
dataset and its landmark cache, the two trainers, and rebuilding a face with flipped attributes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import yaml

from facedeblur.data import CelebAFaces, celeba_landmarks
from facedeblur.errors import FaceDeblurError, UsageError
from facedeblur.faces.align import (
    TEMPLATE,
    align_face,
    similarity_matrix,
    transform_points,
    unalign,
)
from facedeblur.faces.dlib_faces import five_points
from facedeblur.io import read_image
from facedeblur.models import build_model
from facedeblur.models.weights import half_precision_copy, load_network, read_weights, save_weights
from facedeblur.privacy import landmarks_of
from facedeblur.privacy.attribute_model import AttributeObfuscator, load_attribute_obfuscator
from facedeblur.privacy.attribute_names import (
    CELEBA_ATTRIBUTES,
    DEFAULT_FLIPS,
    PROTECTED,
    resolve_flips,
)
from facedeblur.train import train
from facedeblur.train.tasks.celeba import flip_attributes

CELEBA_FILES = [f"{i:06d}.jpg" for i in range(1, 41)]


@pytest.fixture(scope="module")
def eckhart(data_dir):
    img = read_image(data_dir / "lfw" / "images" / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg")
    return img, landmarks_of(img, label="Aaron_Eckhart_0001.jpg")


@pytest.fixture(scope="module")
def celeba_cache(data_dir, tmp_path_factory):
    """Landmarks of 40 CelebA faces and the cache file holding them."""
    cache = tmp_path_factory.mktemp("celeba") / "landmarks.npz"
    return celeba_landmarks(data_dir / "celeba", CELEBA_FILES, cache=cache, progress=False), cache


def test_similarity_matrix_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    angle, scale, shift = 0.3, 1.7, np.array([4.0, -9.0])
    rot = scale * np.array(
        [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
    )
    dst = src @ rot.T + shift
    matrix = similarity_matrix(src, dst)
    assert np.allclose(matrix[:, :2], rot) and np.allclose(matrix[:, 2], shift)
    assert np.allclose(transform_points(src, matrix), dst, atol=1e-4)
    with pytest.raises(UsageError, match="coincide"):
        similarity_matrix(np.ones((5, 2)), dst)


def test_align_face_puts_the_landmarks_on_the_template_and_unalign_undoes_it(eckhart):
    img, points = eckhart
    crop, matrix, crop_points = align_face(img, points, 64)
    assert crop.shape == (64, 64, 3) and crop.dtype == np.float32
    assert np.abs(five_points(crop_points) - TEMPLATE * 64).max() < 4.0
    back = unalign(crop, matrix, img.shape[:2])
    assert back.shape == img.shape
    x0, y0 = np.floor(points.min(0) + 10).astype(int)
    x1, y1 = np.ceil(points.max(0) - 10).astype(int)
    # The crop is about 2.5x smaller than the face here, so only coarse structure survives the
    # round trip.
    assert np.abs(back[y0:y1, x0:x1] - img[y0:y1, x0:x1]).mean() < 0.05
    assert back[0, 0].sum() == 0.0 and back[-1, -1].sum() == 0.0


def test_attribute_names_resolve_case_insensitively_and_protect_gender_links():
    assert len(CELEBA_ATTRIBUTES) == 40 and CELEBA_ATTRIBUTES[20] == "Male"
    assert resolve_flips(None) == tuple(sorted(CELEBA_ATTRIBUTES.index(a) for a in DEFAULT_FLIPS))
    assert resolve_flips(["SMILING", "young"]) == (31, 39)
    every = resolve_flips(["all"])
    assert len(every) == 40 - len(PROTECTED) and 20 not in every
    assert len(resolve_flips(["all"], allow_protected=True)) == 40
    with pytest.raises(UsageError, match="unknown attribute 'pointy'"):
        resolve_flips(["pointy"])
    with pytest.raises(UsageError, match="male: gender-linked"):
        resolve_flips(["male", "smiling"])
    assert resolve_flips(["male"], allow_protected=True) == (20,)
    with pytest.raises(UsageError, match="no attributes"):
        resolve_flips([])


def test_flip_attributes_changes_only_the_chosen_columns():
    attrs = torch.tensor([[0.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    flipped = flip_attributes(attrs, (1, 3))
    assert torch.equal(flipped, torch.tensor([[0.0, 0.0, 1.0, 1.0], [1.0, 0.0, 0.0, 1.0]]))
    assert torch.equal(attrs[:, 1], torch.tensor([1.0, 1.0]))


def test_celeba_landmarks_are_cached_and_reused(data_dir, celeba_cache):
    landmarks, cache = celeba_cache
    assert cache.is_file() and len(landmarks) >= 35
    assert all(p.shape == (68, 2) for p in landmarks.values())
    with np.load(cache) as stored:
        assert len(stored["files"]) + len(stored["missing"]) == len(CELEBA_FILES)
        files, points, missing = stored["files"], stored["points"].copy(), stored["missing"]
    points[0] += 1000.0  # a changed cache entry comes back as stored: nothing was recomputed
    np.savez(cache, files=files, points=points, missing=missing)
    again = celeba_landmarks(data_dir / "celeba", CELEBA_FILES, cache=cache, progress=False)
    assert np.allclose(again[str(files[0])], points[0])
    np.savez(
        cache,
        files=files,
        points=points - (np.arange(len(points)) == 0)[:, None, None] * 1000.0,
        missing=missing,
    )


def test_celeba_faces_are_aligned_with_mask_points_and_attributes(data_dir, celeba_cache):
    landmarks, _ = celeba_cache
    ds = CelebAFaces(data_dir / "celeba", landmarks, files=CELEBA_FILES, size=48)
    assert len(ds) == len(landmarks) and ds.dropped == len(CELEBA_FILES) - len(landmarks)
    item = ds[0]
    assert item["image"].shape == (3, 48, 48) and item["mask"].shape == (1, 48, 48)
    assert item["points"].shape == (68, 2) and item["attributes"].shape == (40,)
    xs, ys = item["points"].round().long().T
    assert item["mask"][0, ys.clamp(0, 47), xs.clamp(0, 47)].all()
    assert 0.2 < item["mask"].mean() < 0.6  # the face, with context left around it
    assert np.abs(five_points(item["points"].numpy()) - TEMPLATE * 48).max() < 6.0


def _preset(tmp_path, name: str, cache, **train) -> dict:
    from importlib.resources import files

    raw = yaml.safe_load((files("facedeblur") / "configs" / f"{name}.yaml").read_text())
    raw["data"].update(limit=60, val_count=16, size=32, crop=32, landmarks=str(cache))
    raw["train"].update(
        steps=4, batch_size=4, val_every=2, ckpt_every=2, log_every=1, device="cpu", **train
    )
    return raw


def _write(tmp_path, raw: dict) -> str:
    path = tmp_path / f"{raw['name']}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


@pytest.mark.slow
def test_attribute_and_rebuild_trainers_run_and_their_weights_rebuild_a_face(
    tmp_path, data_dir, celeba_cache, eckhart
):
    _, cache = celeba_cache
    raw = _preset(tmp_path, "attributes-light", tmp_path / "lm.npz")
    raw["data"]["train"] = str(data_dir / "celeba")
    raw["generator"]["args"]["width"] = 8
    attr_dir, metrics = train(_write(tmp_path, raw), run_dir=tmp_path / "attr", progress=False)
    assert 0.0 < metrics["val_accuracy"] <= 1.0 and 0.0 < metrics["majority_accuracy"] <= 1.0
    assert math.isfinite(metrics["val_bce"])
    validations = [
        json.loads(line)
        for line in (attr_dir / "metrics.jsonl").read_text().splitlines()
        if "val_accuracy" in line
    ]
    best, _ = read_weights(attr_dir / "best.safetensors")
    assert best["metrics"]["val_accuracy"] == max(v["val_accuracy"] for v in validations)
    table = json.loads((attr_dir / "attribute_accuracy.json").read_text())
    assert set(table["attributes"]) == set(CELEBA_ATTRIBUTES) and 0 < table["faces"] <= 16

    raw = _preset(tmp_path, "rebuild-unet", tmp_path / "lm.npz")
    raw["data"]["train"] = str(data_dir / "celeba")
    raw["generator"]["args"].update(base=4, levels=3)
    rebuild_dir, metrics = train(
        _write(tmp_path, raw), run_dir=tmp_path / "rebuild", progress=False
    )
    assert all(math.isfinite(metrics[k]) for k in ("val_ssim", "masked_ssim", "val_face_l1"))
    assert list((rebuild_dir / "samples").glob("val_*.png"))
    losses = [json.loads(line) for line in (rebuild_dir / "metrics.jsonl").read_text().splitlines()]
    assert all(math.isfinite(r["content"]) for r in losses if "content" in r)

    obfuscator = load_attribute_obfuscator(
        attr_dir / "generator.safetensors", rebuild_dir / "generator.safetensors"
    )
    assert obfuscator.size == 32
    img, points = eckhart
    face = obfuscator.rebuild(img, points, resolve_flips(None))
    assert face.layer.shape == img.shape and face.crop.shape == (32, 32, 3)
    assert face.before.shape == (40,) and ((face.before >= 0) & (face.before <= 1)).all()
    changed = np.nonzero((face.before >= 0.5).astype(np.float32) != face.after)[0]
    assert changed.tolist() == list(resolve_flips(None))
    with pytest.raises(FaceDeblurError, match="not the attribute classifier"):
        load_attribute_obfuscator(
            rebuild_dir / "generator.safetensors", rebuild_dir / "generator.safetensors"
        )


def test_rebuild_reacts_to_the_flipped_attributes(eckhart, tmp_path):
    torch.manual_seed(0)
    classifier = build_model("resnet_attributes", depth=18, width=4)
    rebuilder = build_model("rebuild_unet", base=4, levels=2)
    obfuscator = AttributeObfuscator(classifier, rebuilder, size=32)
    img, points = eckhart
    plain = obfuscator.rebuild(img, points, ())
    flipped = obfuscator.rebuild(img, points, (31,))
    assert np.array_equal(plain.before, flipped.before)
    assert not np.array_equal(plain.crop, flipped.crop)
    path = save_weights(
        tmp_path / "c.safetensors",
        build_model("resnet_attributes", depth=18, width=4, num_attributes=3),
        "resnet_attributes",
        {"depth": 18, "width": 4, "num_attributes": 3},
    )
    with pytest.raises(FaceDeblurError, match="not CelebA's 40"):
        load_attribute_obfuscator(path, tmp_path / "missing.safetensors")


def test_half_precision_copy_is_half_the_size_and_predicts_the_same(tmp_path):
    torch.manual_seed(0)
    net = build_model("resnet_attributes", depth=18, width=8).eval()
    full = save_weights(
        tmp_path / "full.safetensors",
        net,
        "resnet_attributes",
        {"depth": 18, "width": 8},
        data={"size": 64},
    )
    half = half_precision_copy(full, tmp_path / "half.safetensors")
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded, header = load_network(half)
    assert header["stored"] == "float16" and header["data"] == {"size": 64}
    assert next(loaded.parameters()).dtype == torch.float32
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(loaded(x), net(x), atol=2e-2)
    assert torch.equal(loaded.bn1.num_batches_tracked, net.bn1.num_batches_tracked)
