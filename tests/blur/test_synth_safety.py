"""synth never destroys a file it did not write, and refuses settings outside their ranges."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from facedeblur.blur import KernelBlurSettings, SampleSettings, TrajectoryParams
from facedeblur.cli import main

MARKER = ".facedeblur-synth"


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture()
def photo(data_dir, tmp_path) -> Path:
    path = tmp_path / "p.jpg"
    shutil.copy(data_dir / "lfw/images/George_W_Bush/George_W_Bush_0001.jpg", path)
    return path


def synth(src, out, *args) -> int:
    return main(["synth", str(src), "-o", str(out), "--size", "64", "--quiet", *map(str, args)])


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_preview_over_the_input_is_refused_and_the_photo_kept(photo, tmp_path, capsys):
    before = photo.read_bytes()
    assert synth(photo, tmp_path / "s", "--preview", photo) == 2
    assert "preview would be written over or inside the source" in one_error_line(capsys)
    assert photo.read_bytes() == before
    assert not (tmp_path / "s").exists()


def test_preview_inside_the_source_folder_is_refused(lfw_tree, tmp_path, capsys):
    before = digest(lfw_tree)
    assert synth(lfw_tree, tmp_path / "s", "--preview", lfw_tree / "sheet.png") == 2
    assert "inside the source" in one_error_line(capsys)
    assert digest(lfw_tree) == before


def test_an_existing_preview_is_replaced_only_when_synth_wrote_it(photo, tmp_path, capsys):
    other = tmp_path / "holiday.png"
    other.write_bytes(b"my picture")
    assert synth(photo, tmp_path / "s", "--preview", other, "--count", "1") == 2
    assert "exists" in one_error_line(capsys)
    assert other.read_bytes() == b"my picture"

    sheet = tmp_path / "sheet.png"
    assert synth(photo, tmp_path / "s", "--preview", sheet) == 0
    first = sheet.read_bytes()
    assert synth(photo, tmp_path / "s", "--preview", sheet, "--seed", "1") == 2, "no --overwrite"
    assert "--overwrite" in capsys.readouterr().err
    assert synth(photo, tmp_path / "s", "--preview", sheet, "--seed", "1", "--overwrite") == 0
    assert sheet.read_bytes() != first
    assert synth(photo, tmp_path / "t", "--preview", sheet, "--overwrite") == 2, (
        "the sheet belongs to another synthesis"
    )
    capsys.readouterr()
    assert synth(photo, tmp_path / "u", "--preview", tmp_path / "notes.txt") == 2
    assert "--preview" in one_error_line(capsys)


def test_overwrite_refuses_a_folder_synth_did_not_make(photo, tmp_path, capsys):
    out = tmp_path / "mine"
    for part in ("blur", "sharp"):
        (out / part).mkdir(parents=True)
        (out / part / "000000_p.png").write_bytes(b"user file named like a sample")
    (out / "notes.txt").write_text("keep me")
    before = digest(out)
    assert synth(photo, out, "--overwrite") == 2
    line = one_error_line(capsys)
    assert str(out) in line and "holds no earlier synthesis" in line
    assert digest(out) == before


@pytest.mark.slow
def test_overwrite_removes_only_what_synth_wrote(lfw_tree, tmp_path):
    out = tmp_path / "s"
    assert synth(lfw_tree, out, "--split", "train=0.5,val=0.5") == 0
    kept, cleared = out / "train", out / "val"
    assert json.loads((kept / MARKER).read_text())["complete"] is True
    (out / "blur").mkdir()
    (out / "blur" / "holiday.png").write_bytes(b"mine")
    (kept / "blur" / "notes.txt").write_text("mine too")
    assert synth(lfw_tree, out, "--count", "2", "--overwrite") == 0
    assert (out / "blur" / "holiday.png").read_bytes() == b"mine"
    assert sorted(p.name for p in (kept / "blur").iterdir()) == ["notes.txt"]
    assert sorted(p.name for p in kept.iterdir()) == ["blur"]
    assert not cleared.exists(), "a split folder left empty goes"
    assert len(list((out / "sharp").iterdir())) == 2
    assert json.loads((out / MARKER).read_text())["complete"] is True


@pytest.mark.parametrize(
    "option, named",
    [
        (["--gamma", "-2"], "--gamma"),
        (["--gamma", "nan"], "--gamma"),
        (["--noise-scale", "inf"], "--noise-scale"),
        (["--noise-scale", "-0.1"], "--noise-scale"),
        (["--max-length", "nan"], "--max-length"),
        (["--max-length", "1e9"], "--max-length"),
        (["--exposure", "nan,1"], "--exposure"),
        (["--kernel-size", "200001"], "--kernel-size"),
        (["--kernel-size", "129"], "--kernel-size"),
        (["--margin", "1000"], "--margin"),
        (["--margin", "nan"], "--margin"),
        (["--size", "100000"], "--size"),
        (["--jpeg", "0,50"], "--jpeg"),
        (["--frame-counts", "5,100000"], "--frame-counts"),
        (["--frame-step", "0"], "--frame-step"),
        (["--frame-step", "100000"], "--frame-step"),
        (["--min-motion", "inf"], "--min-motion"),
        (["--count", "100000000000"], "--count"),
    ],
)
def test_settings_out_of_range_are_one_line_naming_the_option(
    photo, tmp_path, capsys, option, named
):
    assert synth(photo, tmp_path / "s", *option) == 2
    assert named in one_error_line(capsys)
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    "make",
    [
        lambda: KernelBlurSettings(gamma=float("nan")),
        lambda: KernelBlurSettings(noise_scale=float("inf")),
        lambda: KernelBlurSettings(max_length=float("nan")),
        lambda: KernelBlurSettings(exposure=(0.5, float("nan"))),
        lambda: KernelBlurSettings(support=10**9 + 1),
        lambda: KernelBlurSettings(jpeg_quality=(50, 101)),
        lambda: SampleSettings(size=16.5),
        lambda: SampleSettings(margin=float("inf")),
        lambda: SampleSettings(frame_counts=()),
        lambda: TrajectoryParams(iterations=10**9),
        lambda: TrajectoryParams(impulsive_prob=float("nan")),
    ],
)
def test_library_settings_refuse_nan_inf_and_huge_values(make):
    with pytest.raises(ValueError):
        make()
