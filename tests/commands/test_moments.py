"""The moments command: frames, GIF, MP4 and strip of a blurry face; bad files and weights in a
batch.
"""

from __future__ import annotations

import json

import cv2
import pytest
from PIL import Image

from facedeblur.cli import main
from facedeblur.io import read_image, write_image
from facedeblur.models.weights import default_model_path


@pytest.mark.slow
def test_moments_command_writes_frames_gif_mp4_and_strip(moments_root, tiny_weights, tmp_path):
    blurry = sorted((moments_root / "val" / "blur").glob("*.png"))[0]
    out = tmp_path / "out"
    assert (
        main(
            [
                "moments",
                str(blurry),
                "-o",
                str(out),
                "--frames",
                "5",
                "--model",
                str(tiny_weights),
                "--quiet",
            ]
        )
        == 0
    )
    frames = sorted(out.glob("moment_*.png"))
    assert len(frames) == 5 and read_image(frames[0]).shape == read_image(blurry).shape
    gif = Image.open(out / "moments.gif")
    assert gif.n_frames == 8, "5 moments forwards and 3 back"
    video = cv2.VideoCapture(str(out / "moments.mp4"))
    count = 0
    while video.read()[0]:
        count += 1
    assert count == 8
    assert json.loads((out / "moments.json").read_text())["u"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert read_image(out / "strip.png").shape[1] > 6 * 100

    single = tmp_path / "single"
    assert (
        main(
            [
                "moments",
                str(blurry),
                "-o",
                str(single),
                "--u",
                "0.5",
                "--model",
                str(tiny_weights),
                "--quiet",
            ]
        )
        == 0
    )
    assert [p.name for p in sorted(single.glob("moment_*.png"))] == ["moment_00.png"]
    assert not (single / "moments.gif").exists()


def test_moments_batch_reports_bad_files_and_wrong_weights(
    moments_root, tiny_weights, tmp_path, capsys
):
    folder = tmp_path / "in"
    folder.mkdir()
    write_image(
        folder / "face.png", read_image(sorted((moments_root / "val" / "blur").glob("*.png"))[0])
    )
    (folder / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    assert (
        main(
            [
                "moments",
                str(folder),
                "-o",
                str(out),
                "--frames",
                "3",
                "--model",
                str(tiny_weights),
                "--quiet",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "broken.png" in err and "Traceback" not in err
    assert len(list((out / "in" / "face_png").glob("moment_*.png"))) == 3
    single_image_model = default_model_path()
    assert (
        main(
            [
                "moments",
                str(folder / "face.png"),
                "-o",
                str(tmp_path / "x"),
                "--model",
                str(single_image_model),
            ]
        )
        == 2
    )
    assert "needs CFMD-GAN weights" in capsys.readouterr().err
    assert (
        main(
            [
                "moments",
                str(folder / "face.png"),
                "-o",
                str(tmp_path / "x"),
                "--u",
                "1.5",
                "--model",
                str(tiny_weights),
            ]
        )
        == 2
    )
