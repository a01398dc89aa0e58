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
from tests.privacy.crowd import crowd_photo

ECKHART = "Aaron_Eckhart/Aaron_Eckhart_0001.jpg"
COOK = "AJ_Cook/AJ_Cook_0001.jpg"
BUSH = "George_W_Bush/George_W_Bush_0001.jpg"


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
    assert "hid 1 of 1 face(s) in 1 image(s)" in capsys.readouterr().out
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
    assert (
        report.written == [tmp_path / "out" / "eckhart.jpg"] and report.found == report.hidden == 1
    )
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
    assert "hid 1 of 1 face(s) in 1 image(s)" in captured.out


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


@pytest.fixture(scope="module")
def crowd_file(data_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("crowd") / "crowd.png"
    write_image(path, crowd_photo(data_dir))
    return path


def test_cli_hides_small_faces_and_counts_every_face(crowd_file, tmp_path, capsys):
    out = tmp_path / "out.png"
    code = main(["obfuscate", str(crowd_file), "-o", str(out), "--method", "blur", "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "hid 4 of 4 face(s) (2 too small, under 40 px: pixelate in their box)" in captured.out
    record = json.loads((tmp_path / "out.png.json").read_text())
    assert (record["found"], record["hidden"], record["too_small"]) == (4, 4, 2)
    assert record["min_face"] == 40 and record["small_faces"] == "pixelate"
    treated = sorted((f["treatment"], f["too_small"], f["hidden"]) for f in record["faces"])
    assert treated == [("blur", False, True)] * 2 + [("pixelate", True, True)] * 2


def test_cli_exits_1_and_names_the_image_when_faces_are_left(crowd_file, tmp_path, capsys):
    out = tmp_path / "out.png"
    code = main(
        ["obfuscate", str(crowd_file), "-o", str(out), "--method", "blur"]
        + ["--small-faces", "leave", "--min-face", "30", "--quiet"]
    )
    captured = capsys.readouterr()
    assert code == 1 and "Traceback" not in captured.err
    assert "hid 2 of 4 face(s) (2 too small, under 30 px: left visible)" in captured.out
    assert "faces left visible in 1 image(s):" in captured.err
    assert f"{crowd_file}: 2 of 4 face(s) left visible (2 smaller than 30 px" in captured.err
    record = json.loads((tmp_path / "out.png.json").read_text())
    assert record["hidden"] == 2 and out.is_file()
    assert sorted(f["treatment"] for f in record["faces"] if not f["hidden"]) == ["leave"] * 2


def test_cli_huge_feather_still_hides_the_face(data_dir, tmp_path, capsys):
    src, out = data_dir / "lfw" / "images" / BUSH, tmp_path / "out.png"
    code = main(
        ["obfuscate", str(src), "-o", str(out), "--method", "blackout", "--feather", "1e9"]
        + ["--quiet"]
    )
    assert code == 0 and "hid 1 of 1 face(s)" in capsys.readouterr().out
    face = json.loads((tmp_path / "out.png.json").read_text())["faces"][0]
    assert face["hidden"] and face["feather_px"] < 100
    x0, y0, x1, y1 = (int(v) for v in face["box"])
    centre = read_image(out)[
        (y0 + y1) // 2 - 5 : (y0 + y1) // 2 + 5, (x0 + x1) // 2 - 5 : (x0 + x1) // 2 + 5
    ]
    assert centre.max() == 0.0


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--strength", "0.1"], "argument --strength: must be a finite number in [0.5, 4"),
        (["--strength", "nan"], "argument --strength: must be a finite number"),
        (["--feather", "-1"], "argument --feather: must be a finite number"),
        (["--feather", "inf"], "argument --feather: must be a finite number"),
        (["--min-face", "0"], "argument --min-face: must be a finite number"),
        (["--small-faces", "swirl"], "argument --small-faces: invalid choice: 'swirl'"),
    ],
)
def test_cli_out_of_range_numbers_are_one_line_and_exit_2(
    data_dir, tmp_path, capsys, extra, message
):
    src = data_dir / "lfw" / "images" / ECKHART
    code = main(
        ["obfuscate", str(src), "-o", str(tmp_path / "out.png"), "--method", "blur", *extra]
    )
    assert code == 2 and message in _one_line_error(capsys)
    assert not (tmp_path / "out.png").exists()


def test_cli_skip_existing_leaves_a_finished_image(data_dir, tmp_path, capsys):
    src, out = data_dir / "lfw" / "images" / ECKHART, tmp_path / "out"
    args = ["obfuscate", str(src), "-o", str(out), "--method", "blur", "--quiet"]
    assert main(args) == 0
    sidecar = out / "Aaron_Eckhart_0001.jpg.json"
    sidecar.write_text("{}")
    capsys.readouterr()
    assert main([*args, "--skip-existing"]) == 0
    assert "1 already there" in capsys.readouterr().out and sidecar.read_text() == "{}"
