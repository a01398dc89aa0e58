"""The facedeblur command as a whole: documented exit codes, numbers checked in the parser,
--device cuda without CUDA, Ctrl-C; every error one line without a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from facedeblur.cli import main
from facedeblur.io import read_image, write_image
from tests.helpers import PEOPLE


@pytest.fixture()
def face(data_dir, tmp_path) -> Path:
    """A small real face: a 48x48 crop of an LFW photo."""
    image = read_image(data_dir / "lfw" / "images" / PEOPLE[0])[100:148, 100:148]
    return write_image(tmp_path / "face.png", image)


def _one_line(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"facedeblur {command}: "), err
    return err


def _deblur(inputs, out, model, *extra) -> int:
    return main(
        ["deblur", *map(str, inputs), "-o", str(out), "--model", str(model), "--quiet", *extra]
    )


def test_exit_codes_of_a_batch(face, tiny_model, tmp_path, capsys):
    broken = [tmp_path / "broken.png", tmp_path / "text.png"]
    broken[0].write_bytes(face.read_bytes()[:200])
    broken[1].write_text("not an image")
    assert _deblur([face], tmp_path / "all", tiny_model) == 0
    assert _deblur([face, *broken], tmp_path / "some", tiny_model) == 1
    assert "skipped 2 problem(s)" in capsys.readouterr().err
    assert _deblur(broken, tmp_path / "none", tiny_model) == 3
    assert "skipped 2 problem(s)" in capsys.readouterr().err
    assert _deblur([tmp_path / "missing.png"], tmp_path / "x", tiny_model) == 2
    assert "missing.png: no such file or folder" in _one_line(capsys, "deblur")


@pytest.mark.parametrize(
    "args",
    [
        ["moments", "in.png", "-o", "m", "--fps", "inf"],
        ["moments", "in.png", "-o", "m", "--fps", "0"],
        ["moments", "in.png", "-o", "m", "--frames", "65"],
        ["moments", "in.png", "-o", "m", "--u", "nan"],
        ["moments", "in.png", "-o", "m", "--margin", "1000"],
        ["deblur", "in.png", "-o", "o", "--margin", "-inf"],
        ["deblur", "in.png", "-o", "o", "--min-face", "0"],
        ["deblur", "in.png", "-o", "o", "--tile", "10"],
        ["deblur", "in.png", "-o", "o", "--tile", "nan"],
        ["deblur", "in.png", "-o", "o", "--threads", "0"],
        ["export", "-o", "x.onnx", "--size", "100000"],
        ["export", "-o", "x.onnx", "--opset", "99"],
        ["privacy-audit", "--gallery", "g", "--probes", "g", "--method", "blur", "--out", "a"]
        + ["--strength", "nan"],
        ["privacy-audit", "--gallery", "g", "--probes", "g", "--method", "blur", "--out", "a"]
        + ["--seed", "-1"],
    ],
)
def test_numbers_out_of_bounds_are_one_line_and_exit_2(args, capsys):
    assert main(args) == 2
    err = _one_line(capsys, args[0])
    assert "error: argument --" in err and "Traceback" not in err


def test_device_cuda_without_cuda_is_one_line(face, tiny_model, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _deblur([face], tmp_path / "o.png", tiny_model, "--device", "cuda") == 2
    assert _one_line(capsys, "deblur").endswith(
        "CUDA is not available on this machine; use --device cpu or auto"
    )
    assert not (tmp_path / "o.png").exists()


def test_ctrl_c_during_a_write_is_one_line_130_and_leaves_no_files(
    face, tiny_model, tmp_path, capsys, monkeypatch
):
    real = Path.write_bytes

    def interrupted(self, data):
        real(self, data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_bytes", interrupted)
    out = tmp_path / "out"
    assert _deblur([face], out, tiny_model) == 130
    assert _one_line(capsys, "deblur") == "facedeblur deblur: interrupted"
    assert not out.exists() or not any(out.rglob("*"))
