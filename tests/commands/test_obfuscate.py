"""The obfuscate command: outputs, sidecars, one-line errors, batches, the shipped networks."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from facedeblur.cli import main
from facedeblur.commands.obfuscate import obfuscate_files
from facedeblur.io import read_image, to_uint8, write_image
from facedeblur.privacy import obfuscate_photo
from tests.helpers import ConstantRebuild

ECKHART = "Aaron_Eckhart/Aaron_Eckhart_0001.jpg"
COOK = "AJ_Cook/AJ_Cook_0001.jpg"


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cli_writes_the_output_and_a_sidecar_and_leaves_the_input(data_dir, tmp_path, capsys):
    src = tmp_path / "eckhart.jpg"
    src.write_bytes((data_dir / "lfw" / "images" / ECKHART).read_bytes())
    before = _digest(src)
    code = main(
        ["obfuscate", str(src), "-o", str(tmp_path / "out.png"), "--method", "pixelate", "--quiet"]
    )
    assert code == 0, capsys.readouterr().err
    assert "hid 1 face(s) in 1 image(s)" in capsys.readouterr().out
    assert _digest(src) == before
    photo, out = to_uint8(read_image(src)), to_uint8(read_image(tmp_path / "out.png"))
    assert out.shape == photo.shape
    assert np.array_equal(out[:40], photo[:40]) and not np.array_equal(
        out[100:150, 100:150], photo[100:150, 100:150]
    )
    record = json.loads((tmp_path / "out.png.json").read_text())
    assert (
        record["method"] == "pixelate"
        and record["source"] == str(src)
        and len(record["faces"]) == 1
    )


def test_batch_sidecar_lists_each_flipped_attribute(data_dir, tmp_path):
    src = tmp_path / "eckhart.jpg"
    src.write_bytes((data_dir / "lfw" / "images" / ECKHART).read_bytes())
    report = obfuscate_files(
        [src], tmp_path / "out", attributes=["young"], obfuscator=ConstantRebuild(), progress=False
    )
    assert report.written == [tmp_path / "out" / "eckhart.jpg"] and report.faces == 1
    face = json.loads((tmp_path / "out" / "eckhart.jpg.json").read_text())["faces"][0]
    young = face["flipped"]["Young"]
    assert set(face["flipped"]) == {"Young"} and young["after"] == 1.0 - round(young["before"])


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("facedeblur obfuscate: error: "), err
    return err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--attributes", "pointy_nose,wings"], "unknown attribute 'wings'"),
        (["--attributes", "male"], "male: gender-linked attribute(s) are protected"),
        (["--method", "sepia"], "unknown obfuscation method 'sepia'"),
    ],
)
def test_cli_bad_options_are_one_line_and_exit_2(data_dir, tmp_path, capsys, extra, message):
    code = main(
        [
            "obfuscate",
            str(data_dir / "lfw" / "images" / ECKHART),
            "-o",
            str(tmp_path / "out.png"),
            *extra,
        ]
    )
    assert code == 2 and message in _one_line_error(capsys)
    assert not (tmp_path / "out.png").exists()


def test_cli_single_bad_files_are_one_line_and_exit_2(data_dir, tmp_path, capsys):
    grey, broken = tmp_path / "grey.png", tmp_path / "broken.jpg"
    write_image(grey, np.full((120, 120, 3), 0.5, np.float32))
    broken.write_bytes((data_dir / "lfw" / "images" / ECKHART).read_bytes()[:3000])
    for src, message in [(grey, "grey.png: no face found"), (broken, "broken.jpg: truncated JPEG")]:
        code = main(
            ["obfuscate", str(src), "-o", str(tmp_path / "out.png"), "--method", "blur", "--quiet"]
        )
        assert code == 2 and message in _one_line_error(capsys)
    before = _digest(grey)
    code = main(["obfuscate", str(grey), "-o", str(grey), "--method", "blur", "--quiet"])
    assert code == 2 and "output would overwrite an input" in _one_line_error(capsys)
    assert _digest(grey) == before and not (tmp_path / "out.png").exists()


def test_cli_batch_reports_bad_files_and_writes_the_good_ones(data_dir, tmp_path, capsys):
    folder, out = tmp_path / "photos", tmp_path / "out"
    folder.mkdir()
    (folder / "face.jpg").write_bytes((data_dir / "lfw" / "images" / COOK).read_bytes())
    (folder / "broken.jpg").write_bytes((data_dir / "lfw" / "images" / ECKHART).read_bytes()[:3000])
    write_image(folder / "grey.png", np.full((120, 120, 3), 0.5, np.float32))
    code = main(["obfuscate", str(folder), "-o", str(out), "--method", "swirl", "--quiet"])
    captured = capsys.readouterr()
    assert code == 1 and "Traceback" not in captured.err
    assert "skipped 2 problem(s)" in captured.err
    assert (
        "broken.jpg: truncated JPEG" in captured.err and "grey.png: no face found" in captured.err
    )
    assert sorted(p.name for p in (out / "photos").iterdir()) == ["face.jpg", "face.jpg.json"]
    assert "hid 1 face(s) in 1 image(s)" in captured.out


def test_cli_refuses_an_output_file_it_cannot_write(data_dir, tmp_path, capsys):
    code = main(
        [
            "obfuscate",
            str(data_dir / "lfw" / "images" / ECKHART),
            "-o",
            str(tmp_path / "out.webp"),
            "--method",
            "blur",
        ]
    )
    assert code == 2 and "only PNG and JPEG files are written" in _one_line_error(capsys)


def test_shipped_networks_change_the_face_and_keep_the_background(data_dir, tmp_path):
    src = data_dir / "lfw" / "images" / ECKHART
    out = tmp_path / "hidden.png"
    assert main(["obfuscate", str(src), "-o", str(out), "--quiet"]) == 0
    original, hidden = read_image(src), read_image(out)
    result = obfuscate_photo(original)
    inside = result.mask
    assert np.array_equal(to_uint8(hidden)[~inside], to_uint8(original)[~inside])
    assert np.abs(hidden[inside] - original[inside]).mean() > 0.02
    face = result.faces[0]
    assert face.flipped == ("Big_Nose", "Pointy_Nose", "Smiling", "Young")
    assert ((face.before >= 0) & (face.before <= 1)).all()
