"""The output policy of the file batches (deblur, moments): unique names, write failures as one
line per file with the batch going on, nothing partial left, and --skip-existing.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from PIL import Image

from facedeblur.cli import main
from facedeblur.errors import UsageError
from facedeblur.io import images as io_images
from facedeblur.io import read_image, write_image
from tests.helpers import PEOPLE


@pytest.fixture()
def faces(data_dir, tmp_path) -> list[Path]:
    """Two small real faces (48x48 PNG crops of LFW photos) in ``tmp_path/in``."""
    paths = []
    for number, person in enumerate(PEOPLE):
        face = read_image(data_dir / "lfw" / "images" / person)[100:148, 100:148]
        paths.append(write_image(tmp_path / "in" / f"face{number}.png", face))
    return paths


def _deblur(inputs, out, model, *extra) -> int:
    return main(
        ["deblur", *map(str, inputs), "-o", str(out), "--model", str(model), "--quiet", *extra]
    )


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_same_named_inputs_get_unique_outputs(faces, tiny_model, tmp_path, capsys):
    for folder in ("A", "B"):
        (tmp_path / folder).mkdir()
    (tmp_path / "A" / "x.png").write_bytes(faces[0].read_bytes())
    (tmp_path / "B" / "x.png").write_bytes(faces[1].read_bytes())
    image = read_image(faces[0])
    for ext in ("webp", "tiff", "png"):
        Image.fromarray((image * 255).round().astype("uint8")).save(tmp_path / f"a.{ext}")
    inputs = [tmp_path / "A" / "x.png", tmp_path / "B" / "x.png"]
    inputs += [tmp_path / f"a.{ext}" for ext in ("webp", "tiff", "png")]
    assert _deblur([*inputs, inputs[0]], tmp_path / "o", tiny_model) == 0
    assert "restored 5 image(s)" in capsys.readouterr().out
    assert _files(tmp_path / "o") == [
        "A/x.png",
        "B/x.png",
        "a_png.png",
        "a_tiff.png",
        "a_webp.png",
    ]


def test_outputs_that_cannot_be_told_apart_are_refused_before_anything_runs(
    faces, tiny_model, tmp_path, capsys
):
    for parent in ("A", "B"):
        (tmp_path / parent / "p").mkdir(parents=True)
        (tmp_path / parent / "p" / "x.png").write_bytes(faces[0].read_bytes())
    inputs = [tmp_path / "A" / "p" / "x.png", tmp_path / "B" / "p" / "x.png"]
    assert _deblur(inputs, tmp_path / "o", tiny_model) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "would both be written to" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_same_named_inputs_get_their_own_moments_folders(faces, tiny_weights, tmp_path):
    for folder, face in zip(("A", "B"), faces):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.png").write_bytes(face.read_bytes())
    args = ["moments", str(tmp_path / "A" / "x.png"), str(tmp_path / "B" / "x.png")]
    code = main([*args, "-o", str(tmp_path / "m"), "--frames", "2", "--model", str(tiny_weights)])
    assert code == 0
    for folder in ("A", "B"):
        assert (tmp_path / "m" / folder / "x_png" / "moments.json").is_file()


@pytest.mark.parametrize(
    "code, reason",
    [
        (errno.ENOSPC, "No space left on device"),
        (errno.EACCES, "Permission denied"),
        (errno.EROFS, "Read-only file system"),
    ],
)
def test_a_failed_write_is_one_line_and_the_batch_goes_on(
    faces, tiny_model, tmp_path, capsys, monkeypatch, code, reason
):
    real = io_images.atomic_write_bytes

    def failing(path, data):
        if Path(path).name == "face0.png":
            raise OSError(code, os.strerror(code))
        return real(path, data)

    monkeypatch.setattr(io_images, "atomic_write_bytes", failing)
    out = tmp_path / "out"
    assert _deblur(faces, out, tiny_model) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"face0.png: cannot write ({reason})" in err
    assert _files(out) == ["face1.png"]


def test_output_paths_that_are_folders_or_files_are_one_line(faces, tiny_model, tmp_path, capsys):
    (tmp_path / "existing.png").mkdir()
    assert _deblur(faces[:1], tmp_path / "existing.png", tiny_model) == 2
    assert "existing.png is a folder" in capsys.readouterr().err
    (tmp_path / "plain").write_text("a file")
    assert _deblur(faces, tmp_path / "plain", tiny_model) == 2
    assert "plain is a file, not a folder" in capsys.readouterr().err
    (tmp_path / "out" / "face0.png").mkdir(parents=True)  # in the way of one output
    assert _deblur(faces, tmp_path / "out", tiny_model, "--overwrite") == 1
    err = capsys.readouterr().err
    assert "face0.png: cannot write" in err and "Traceback" not in err
    assert (tmp_path / "out" / "face1.png").is_file()


def test_skip_existing_leaves_finished_outputs_and_does_the_rest(
    faces, tiny_model, tmp_path, capsys
):
    out = tmp_path / "out"
    assert _deblur(faces, out, tiny_model) == 0
    (out / "face0.png").write_bytes(b"kept")
    (out / "face1.png").unlink()
    capsys.readouterr()
    assert _deblur(faces, out, tiny_model, "--skip-existing") == 0
    assert "restored 1 image(s)" in capsys.readouterr().out
    assert (out / "face0.png").read_bytes() == b"kept"
    assert read_image(out / "face1.png").shape == (48, 48, 3)
    assert _deblur(faces, out, tiny_model) == 2, "a full OUT needs an option"
    assert "folder is not empty; pass --overwrite" in capsys.readouterr().err
    assert (out / "face0.png").read_bytes() == b"kept"
    assert _deblur(faces, out, tiny_model, "--overwrite") == 0
    assert (out / "face0.png").read_bytes() != b"kept", "with --overwrite outputs are redone"


@pytest.mark.slow
def test_a_failed_moments_write_leaves_nothing_partial(faces, tiny_weights, tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("facedeblur.commands.moments.write_gif", full_disk)
    out = tmp_path / "m"
    args = ["moments", str(faces[0]), "-o", str(out), "--frames", "3", "--model", str(tiny_weights)]
    assert main([*args, "--quiet"]) == 3
    assert _files(out) == []
    monkeypatch.undo()
    assert main([*args, "--quiet", "--skip-existing"]) == 0
    assert "moments.json" in _files(out)
    stamp = (out / "moments.json").stat().st_mtime_ns
    assert main([*args, "--quiet", "--skip-existing"]) == 0
    assert (out / "moments.json").stat().st_mtime_ns == stamp


def test_the_library_checks_numbers_too(faces, tmp_path):
    from facedeblur.commands.deblur import deblur_files
    from facedeblur.commands.moments import moments_files

    with pytest.raises(UsageError, match="--margin"):
        deblur_files(faces, tmp_path / "o", None, margin=float("nan"))
    with pytest.raises(UsageError, match="--tile"):
        deblur_files(faces, tmp_path / "o", None, tile=8)
    with pytest.raises(UsageError, match="--fps"):
        moments_files(faces, tmp_path / "o", fps=float("inf"))
