"""The deblur command: faces in whole photos (--faces), bad photos in a batch, a trained run's
round trip.
"""

from __future__ import annotations

import numpy as np
import pytest

from facedeblur.cli import main
from facedeblur.faces.pasteback import face_crop_box
from facedeblur.io import encode_png, read_image, write_image
from tests.helpers import PEOPLE
from tests.helpers import background as _background


def _crops_mask(shape, boxes) -> np.ndarray:
    mask = np.zeros(shape[:2], dtype=bool)
    for x0, y0, side in boxes:
        mask[max(0, y0) : max(0, y0 + side), max(0, x0) : max(0, x0 + side)] = True
    return mask


@pytest.mark.slow
def test_cli_restores_the_faces_and_nothing_else(photo, detections, tiny_model, tmp_path, capsys):
    src, out, crops = tmp_path / "photo.png", tmp_path / "out.png", tmp_path / "crops"
    write_image(src, photo)
    code = main(
        [
            "deblur",
            str(src),
            "-o",
            str(out),
            "--faces",
            "--model",
            str(tiny_model),
            "--save-crops",
            str(crops),
            "--quiet",
        ]
    )
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


@pytest.mark.slow
def test_cli_batch_reports_bad_photos_and_goes_on(data_dir, tiny_model, tmp_path, capsys):
    folder, out = tmp_path / "photos", tmp_path / "out"
    folder.mkdir()
    write_image(folder / "landscape.png", _background(240, 320, seed=5))
    write_image(folder / "face.png", read_image(data_dir / "lfw" / "images" / PEOPLE[0]))
    (folder / "broken.jpg").write_bytes(
        (data_dir / "lfw" / "images" / PEOPLE[1]).read_bytes()[:3000]
    )
    huge = bytearray(encode_png(np.zeros((4, 4, 3), dtype=np.float32)))
    huge[16:24] = (20000).to_bytes(4, "big") + (10000).to_bytes(4, "big")  # IHDR: 20000 x 10000
    (folder / "huge.png").write_bytes(bytes(huge))
    code = main(
        ["deblur", str(folder), "-o", str(out), "--faces", "--model", str(tiny_model), "--quiet"]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "skipped 3 problem(s)" in err and "Traceback" not in err
    assert (
        "landscape.png: no face found; nothing written "
        "(without --faces the whole image is restored)" in err
    )
    assert "broken.jpg: truncated JPEG" in err
    assert "huge.png: 20000x10000 image (200 megapixels) is over the 100 megapixel limit" in err
    assert sorted(p.name for p in (out / "photos").iterdir()) == ["face.png"]


def test_save_crops_needs_faces(tiny_model, tmp_path, capsys):
    write_image(tmp_path / "a.png", np.zeros((8, 8, 3), dtype=np.float32))
    code = main(
        [
            "deblur",
            str(tmp_path / "a.png"),
            "-o",
            str(tmp_path / "b.png"),
            "--model",
            str(tiny_model),
            "--save-crops",
            str(tmp_path / "crops"),
        ]
    )
    assert code == 2 and "--save-crops needs --faces" in capsys.readouterr().err


@pytest.mark.slow
def test_deblur_cli_round_trip(trained_run, tmp_path, lfw_tree, capsys):
    from facedeblur import load_model
    from facedeblur.io import read_image, write_image

    src = tmp_path / "blurred"
    first = sorted(lfw_tree.rglob("*.jpg"))[:3]
    for i, path in enumerate(first):
        write_image(src / f"face{i}.png", read_image(path)[:37, :45])
    (src / "broken.png").write_bytes(b"not a png")
    before = {p: p.read_bytes() for p in src.iterdir()}
    code = main(
        [
            "deblur",
            str(src),
            "-o",
            str(tmp_path / "out"),
            "--model",
            str(trained_run / "generator.safetensors"),
            "--quiet",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1 and "broken.png" in captured.err and "Traceback" not in captured.err
    outs = sorted((tmp_path / "out" / "blurred").glob("*.png"))
    assert [p.name for p in outs] == ["face0.png", "face1.png", "face2.png"]
    assert read_image(outs[0]).shape == (37, 45, 3)
    assert {p: p.read_bytes() for p in src.iterdir()} == before

    model = load_model(trained_run / "generator.safetensors")
    assert model.header["architecture"] == "deblurgan" and model.header["steps"] == 2
    out = model.deblur(np.random.default_rng(0).random((30, 50, 3), dtype=np.float32))
    assert out.shape == (30, 50, 3)
    assert (
        main(
            [
                "deblur",
                str(src / "face0.png"),
                "-o",
                str(src / "face0.png"),
                "--model",
                str(trained_run / "generator.safetensors"),
                "--quiet",
            ]
        )
        == 2  # refused before anything ran
    )
    assert "overwrite an input" in capsys.readouterr().err
