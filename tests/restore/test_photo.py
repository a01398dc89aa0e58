"""Whole-photo face restoration: crops, feathered colour-consistent paste-back, the deblur API
with faces=True.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import facedeblur.faces.pasteback as pasteback
import facedeblur.restore.faces as faces_module
from facedeblur import Deblurrer, deblur, restore_faces
from facedeblur.errors import FaceDeblurError, NoFaceError
from facedeblur.faces import Detection
from facedeblur.faces.pasteback import (
    crop_with_padding,
    face_crop_box,
    feather_mask,
    feather_ramp,
    paste_corrections,
)
from facedeblur.io import to_float32, to_uint8
from facedeblur.restore import memory
from facedeblur.restore.faces import TOO_SMALL, detect_faces


class ColourCast(nn.Module):
    """A fake restoration model that only tints its input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.tensor([0.08, -0.06, 0.04]).view(1, 3, 1, 1)


def test_crop_box_is_centred_and_padded_by_reflection_at_the_border():
    image = np.random.default_rng(0).random((60, 80, 3)).astype(np.float32)
    box = face_crop_box(Detection((-10.0, 5.0, 30.0, 45.0), 1.0), margin=0.5)
    assert box == (-30, -15, 80)  # centre (10, 25) kept although the square sticks out
    crop = crop_with_padding(image, box)
    reflected = np.pad(image, ((15, 5), (30, 0), (0, 0)), mode="reflect")[:80, :80]
    np.testing.assert_array_equal(crop, reflected)


def test_feather_mask_falls_smoothly_to_zero_at_the_border():
    mask = feather_mask(100, 25)
    assert mask[50, 50] == 1.0 and mask[25:75, 25:75].min() == 1.0
    assert mask[0].max() < 0.01 and mask[:, -1].max() < 0.01
    np.testing.assert_allclose(mask, mask.T)
    np.testing.assert_allclose(mask, mask[::-1, ::-1], atol=1e-6)
    assert np.all(np.diff(mask[50, :50]) >= 0)


def test_overlapping_faces_are_averaged_not_corrected_twice():
    image = np.full((100, 160, 3), 0.5, dtype=np.float32)
    first, second = (0, 0, 100), (40, 0, 100)
    out = paste_corrections(
        image,
        [
            (first, np.full((100, 100, 3), 0.1, np.float32)),
            (second, np.full((100, 100, 3), 0.3, np.float32)),
        ],
    )
    np.testing.assert_allclose(out[50, 30], 0.6, atol=1e-6)  # only the first face
    np.testing.assert_allclose(out[50, 70], 0.7, atol=1e-6)  # both at full weight: their mean
    np.testing.assert_allclose(out[50, 110], 0.8, atol=1e-6)  # only the second face
    assert out[0, 70, 0] < 0.51 and out[99, 159, 0] < 0.51  # feathered to nothing at the borders


def test_far_apart_faces_are_pasted_as_if_each_were_alone():
    rng = np.random.default_rng(0)
    image = rng.uniform(0.2, 0.8, size=(120, 400, 3)).astype(np.float32)
    a, b, c = (0, 0, 60), (40, 30, 60), (300, 50, 60)  # a and b overlap, c stands apart
    changes = [rng.uniform(-0.1, 0.1, size=(60, 60, 3)).astype(np.float32) for _ in range(3)]
    together = paste_corrections(image, list(zip((a, b, c), changes)))
    pair = paste_corrections(image, [(a, changes[0]), (b, changes[1])])
    alone = paste_corrections(image, [(c, changes[2])])
    assert np.array_equal(together[:, :200], pair[:, :200])
    assert np.array_equal(together[:, 200:], alone[:, 200:])
    assert np.array_equal(together[:, 100:300], image[:, 100:300])


def test_a_colour_cast_of_the_model_is_removed(photo, detections):
    result = restore_faces(photo, Deblurrer(ColourCast()), detector=lambda img: detections)
    assert [f.status for f in result.faces] == ["restored", "restored"]
    for face in result.faces:
        x0, y0, x1, y1 = (int(v) for v in face.box)
        shift = (result.image - photo)[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0)
        # Where the cast pushes dark pixels below 0 the model's output is clamped, and what is
        # lost there looks like detail to the low-pass swap: 80% of the cast must go.
        assert np.all(np.abs(shift) < 0.2 * np.array([0.08, 0.06, 0.04])), shift


def test_a_big_face_keeps_its_native_detail(photo, detections):
    # The first face's crop (about 240 px) is larger than the 128 px model input; an identity
    # model must give back the photo itself, not a blurred 128 -> 240 px copy of it.
    assert max(face_crop_box(d)[2] for d in detections) > 128
    result = restore_faces(photo, Deblurrer(nn.Identity()), detector=lambda img: detections)
    np.testing.assert_allclose(result.image, photo, atol=1e-5)


def test_tiny_faces_are_skipped_and_left_untouched(photo, detections):
    tiny = Detection((400.0, 20.0, 420.0, 44.0), 0.99)
    result = restore_faces(
        photo, Deblurrer(ColourCast()), detector=lambda img: [*detections, tiny], min_face=32
    )
    statuses = {f.box: f.status for f in result.faces}
    assert statuses.pop(tiny.box) == TOO_SMALL and list(statuses.values()) == [
        "restored",
        "restored",
    ]
    assert [f.before is None for f in result.faces] == [
        False,
        True,
        False,
    ]  # numbered left to right
    np.testing.assert_array_equal(result.image[0:70, 380:440], photo[0:70, 380:440])
    none = restore_faces(
        photo, Deblurrer(ColourCast()), detector=lambda img: detections, min_face=1000
    )
    assert "all smaller than 1000 px" in none.problem and np.array_equal(none.image, photo)


def test_faces_of_a_large_photo_are_found_on_a_smaller_copy():
    seen = []

    def detector(img):
        seen.append(img.shape)
        return [
            Detection(
                (100.0, 50.0, 200.0, 150.0), 0.9, np.array([[150.0, 100.0]] * 5, dtype=np.float32)
            )
        ]

    found = detect_faces(np.zeros((2000, 4000, 3), dtype=np.float32), detector, max_side=1000)
    assert seen == [(500, 1000, 3)]
    assert found[0].box == (400.0, 200.0, 800.0, 600.0)
    np.testing.assert_allclose(found[0].landmarks[0], [600.0, 400.0])


def test_deblur_api_whole_image_or_faces(photo, detections):
    model = Deblurrer(ColourCast())
    whole = deblur(photo, model)
    assert whole.shape == photo.shape and abs(float((whole - photo)[..., 0].mean()) - 0.08) < 0.01
    faces_only = deblur(photo, model, faces=True, detector=lambda img: detections)
    np.testing.assert_array_equal(faces_only[:, 420:500], photo[:, 420:500])
    with pytest.raises(NoFaceError, match="no face found; faces=False"):
        deblur(photo, model, faces=True, detector=lambda img: [])


def _paste_at_once(image, corrections, margin):
    """paste_corrections as first written: one work array over the union of every crop, with
    whole masks. Faces apart are blended exactly as when each group is pasted alone."""
    out = image.copy()
    height, width = image.shape[:2]
    left, top = max(0, min(b[0] for b, _ in corrections)), max(0, min(b[1] for b, _ in corrections))
    right = min(width, max(b[0] + b[2] for b, _ in corrections))
    bottom = min(height, max(b[1] + b[2] for b, _ in corrections))
    total = np.zeros((bottom - top, right - left, 3), dtype=np.float32)
    weight = np.zeros((bottom - top, right - left, 1), dtype=np.float32)
    for (x0, y0, side), change in corrections:
        mask = feather_mask(side, feather_ramp(side, margin))[:, :, None]
        cx0, cy0 = max(x0, left), max(y0, top)
        cx1, cy1 = min(x0 + side, right), min(y0 + side, bottom)
        src = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
        dst = (slice(cy0 - top, cy1 - top), slice(cx0 - left, cx1 - left))
        total[dst] += mask[src] * change[src]
        weight[dst] += mask[src]
    region = out[top:bottom, left:right]
    out[top:bottom, left:right] = np.clip(region + total / np.maximum(weight, 1.0), 0.0, 1.0)
    return out


def test_pasting_in_bands_and_in_place_gives_the_same_bytes(monkeypatch):
    monkeypatch.setattr(pasteback, "PASTE_ROWS", 16)
    rng = np.random.default_rng(0)
    image = rng.random((150, 200, 3), dtype=np.float32)
    boxes = [(10, 20, 60), (40, 50, 70), (-15, 100, 50), (150, -10, 45)]
    changes = [rng.uniform(-0.3, 0.3, size=(s, s, 3)).astype(np.float32) for *_, s in boxes]
    corrections = list(zip(boxes, changes))
    expected = _paste_at_once(image, corrections, 0.5).tobytes()
    assert paste_corrections(image, corrections, 0.5).tobytes() == expected
    work = image.copy()
    pasted = paste_corrections(work, corrections, 0.5, in_place=True)
    assert pasted is work and pasted.tobytes() == expected


def test_restore_faces_pastes_into_the_photo_only_when_it_owns_it(photo, detections, monkeypatch):
    torch.manual_seed(0)
    model = Deblurrer(nn.Conv2d(3, 3, 3, padding=1))
    pasted_in_place = []
    real_paste = faces_module.paste_corrections

    def spy(image, corrections, margin, in_place=False):
        pasted_in_place.append(in_place)
        return real_paste(image, corrections, margin, in_place=in_place)

    monkeypatch.setattr(faces_module, "paste_corrections", spy)
    given = photo.copy()
    copied = restore_faces(given, model, detector=lambda img: detections)
    assert np.array_equal(given, photo), "the caller's photo must not change"
    handed = photo.copy()
    in_place = restore_faces(
        handed, model, detector=lambda img: detections, in_place=True, keep_crops=False
    )
    assert in_place.image is handed and in_place.image.tobytes() == copied.image.tobytes()
    assert all(f.before is None and f.after is None for f in in_place.faces)
    assert all(f.before is not None for f in copied.faces)
    uint8 = to_uint8(photo)
    made_here = restore_faces(uint8, model, detector=lambda img: detections)
    from_float = restore_faces(to_float32(uint8), model, detector=lambda img: detections)
    assert made_here.image.tobytes() == from_float.image.tobytes()
    assert pasted_in_place == [False, True, True, False]


def test_a_photo_over_the_memory_budget_is_refused_before_any_face_is_restored(photo, detections):
    calls = []

    def model(x):
        calls.append(x.shape)
        return x

    model.pad_multiple = 1
    budget = memory.PROCESS_BYTES / memory.GB  # the process alone: no photo fits
    with pytest.raises(FaceDeblurError) as refused:
        restore_faces(photo, Deblurrer(model), lambda img: detections, memory_budget=budget)
    line = str(refused.value)
    assert "900x400 photo with 2 face(s)" in line and f"over the {budget:g} GB budget" in line
    assert "--memory-budget" in line and not calls
    restore_faces(photo, Deblurrer(model), lambda img: detections, memory_budget=8)
    assert calls
