"""Whole-photo face restoration: crops, feathered colour-consistent paste-back, the --faces CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from facedeblur import Deblurrer, deblur, restore_faces
from facedeblur.blur import blur_image, camera_shake_kernel
from facedeblur.cli import main
from facedeblur.errors import InputError, NoFaceError
from facedeblur.faces import Detection, build_detector
from facedeblur.faces.pasteback import crop_with_padding, face_crop_box, feather_mask, paste_corrections
from facedeblur.io.geometry import resize
from facedeblur.io import encode_png, image_to_tensor, read_image, tensor_to_image, write_image
from facedeblur.models import build_model
from facedeblur.restore.faces import TOO_SMALL, detect_faces
from facedeblur.models.weights import save_weights

PEOPLE = ("Aaron_Eckhart/Aaron_Eckhart_0001.jpg", "Colin_Powell/Colin_Powell_0001.jpg")


class ColourCast(nn.Module):
    """A fake restoration model that only tints its input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.tensor([0.08, -0.06, 0.04]).view(1, 3, 1, 1)


def _background(height: int, width: int, seed: int) -> np.ndarray:
    """Smooth random texture, float RGB in [0, 1]."""
    noise = np.random.default_rng(seed).uniform(0.2, 0.8, (height // 8, width // 8, 3)).astype(np.float32)
    return resize(noise, (height, width))


@pytest.fixture(scope="module")
def photo(data_dir) -> np.ndarray:
    """Two motion-blurred LFW faces of different people on a 400 x 900 textured canvas."""
    canvas = _background(400, 900, seed=0)
    for (top, left, side), name, seed in zip([(70, 40, 250), (150, 650, 180)], PEOPLE, (1, 2)):
        face = read_image(data_dir / "lfw" / "images" / name)
        kernel, _ = camera_shake_kernel(np.random.default_rng(seed), max_length=40.0, output_size=250)
        blurred = tensor_to_image(blur_image(image_to_tensor(face), kernel))
        canvas[top:top + side, left:left + side] = resize(blurred, side)
    return np.rint(canvas * 255.0) / 255.0  # as read back from a PNG, so the CLI finds the same boxes


@pytest.fixture(scope="module")
def detections(photo) -> list[Detection]:
    found = build_detector("mtcnn")(photo)
    assert len(found) == 2
    return found


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    return save_weights(path, build_model("deblurgan", n_blocks=1, ngf=8), "deblurgan", {"n_blocks": 1, "ngf": 8})


def _crops_mask(shape, boxes) -> np.ndarray:
    mask = np.zeros(shape[:2], dtype=bool)
    for x0, y0, side in boxes:
        mask[max(0, y0):max(0, y0 + side), max(0, x0):max(0, x0 + side)] = True
    return mask


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
    out = paste_corrections(image, [(first, np.full((100, 100, 3), 0.1, np.float32)),
                                    (second, np.full((100, 100, 3), 0.3, np.float32))])
    np.testing.assert_allclose(out[50, 30], 0.6, atol=1e-6)  # only the first face
    np.testing.assert_allclose(out[50, 70], 0.7, atol=1e-6)  # both at full weight: their mean
    np.testing.assert_allclose(out[50, 110], 0.8, atol=1e-6)  # only the second face
    assert out[0, 70, 0] < 0.51 and out[99, 159, 0] < 0.51  # feathered to nothing at the borders


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
    result = restore_faces(photo, Deblurrer(ColourCast()), detector=lambda img: [*detections, tiny], min_face=32)
    statuses = {f.box: f.status for f in result.faces}
    assert statuses.pop(tiny.box) == TOO_SMALL and list(statuses.values()) == ["restored", "restored"]
    assert [f.before is None for f in result.faces] == [False, True, False]  # numbered left to right
    np.testing.assert_array_equal(result.image[0:70, 380:440], photo[0:70, 380:440])
    none = restore_faces(photo, Deblurrer(ColourCast()), detector=lambda img: detections, min_face=1000)
    assert "all smaller than 1000 px" in none.problem and np.array_equal(none.image, photo)


def test_faces_of_a_large_photo_are_found_on_a_smaller_copy():
    seen = []

    def detector(img):
        seen.append(img.shape)
        return [Detection((100.0, 50.0, 200.0, 150.0), 0.9, np.array([[150.0, 100.0]] * 5, dtype=np.float32))]

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


def test_cli_restores_the_faces_and_nothing_else(photo, detections, tiny_model, tmp_path, capsys):
    src, out, crops = tmp_path / "photo.png", tmp_path / "out.png", tmp_path / "crops"
    write_image(src, photo)
    code = main(["deblur", str(src), "-o", str(out), "--faces", "--model", str(tiny_model),
                 "--save-crops", str(crops), "--quiet"])
    assert code == 0, capsys.readouterr().err
    before, after = read_image(src), read_image(out)
    assert after.shape == before.shape
    boxes = [face_crop_box(d) for d in detections]
    far = ~_crops_mask(photo.shape, boxes)
    assert far.mean() > 0.5
    np.testing.assert_array_equal(after[far], before[far])
    for d in detections:
        x0, y0, x1, y1 = (int(v) for v in d.box)
        assert np.abs(after[y0:y1, x0:x1] - before[y0:y1, x0:x1]).mean() > 0.01
    for number, (_, _, side) in enumerate(boxes, start=1):
        assert read_image(crops / "out_png" / f"face{number}_before.png").shape == (side, side, 3)
        assert read_image(crops / "out_png" / f"face{number}_after.png").shape == (side, side, 3)
        sheet = read_image(crops / "out_png" / f"face{number}_side_by_side.png")
        assert sheet.shape[1] > 1.5 * sheet.shape[0]  # before | after, under a title row


def test_cli_batch_reports_bad_photos_and_goes_on(data_dir, tiny_model, tmp_path, capsys):
    folder, out = tmp_path / "photos", tmp_path / "out"
    folder.mkdir()
    write_image(folder / "landscape.png", _background(240, 320, seed=5))
    write_image(folder / "face.png", read_image(data_dir / "lfw" / "images" / PEOPLE[0]))
    (folder / "broken.jpg").write_bytes((data_dir / "lfw" / "images" / PEOPLE[1]).read_bytes()[:3000])
    huge = bytearray(encode_png(np.zeros((4, 4, 3), dtype=np.float32)))
    huge[16:24] = (20000).to_bytes(4, "big") + (10000).to_bytes(4, "big")  # IHDR: 20000 x 10000
    (folder / "huge.png").write_bytes(bytes(huge))
    code = main(["deblur", str(folder), "-o", str(out), "--faces", "--model", str(tiny_model), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert "skipped 3 problem(s)" in err and "Traceback" not in err
    assert "landscape.png: no face found; nothing written (without --faces the whole image is restored)" in err
    assert "broken.jpg: truncated JPEG" in err
    assert "huge.png: 20000x10000 image (200 megapixels) is over the 100 megapixel limit" in err
    assert sorted(p.name for p in (out / "photos").iterdir()) == ["face.png"]


def test_huge_jpeg_is_refused_before_decoding(data_dir, tmp_path):
    data = bytearray((data_dir / "lfw" / "images" / PEOPLE[0]).read_bytes())
    sof = next(i for i in range(2, len(data) - 9) if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC2))
    data[sof + 5:sof + 9] = (30000).to_bytes(2, "big") + (40000).to_bytes(2, "big")
    (tmp_path / "huge.jpg").write_bytes(bytes(data))
    with pytest.raises(InputError, match="40000x30000 image"):
        read_image(tmp_path / "huge.jpg")


def test_save_crops_needs_faces(tiny_model, tmp_path, capsys):
    write_image(tmp_path / "a.png", np.zeros((8, 8, 3), dtype=np.float32))
    code = main(["deblur", str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png"), "--model", str(tiny_model),
                 "--save-crops", str(tmp_path / "crops")])
    assert code == 2 and "--save-crops needs --faces" in capsys.readouterr().err
