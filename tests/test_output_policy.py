"""The output policy of every command, through the CLI: files written with the usual permissions
(0644 under umask 022), an OUT that is not empty refused without --overwrite, and an OUT inside
an input folder refused always."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from facedeblur.blur import SampleSettings, synthesize
from facedeblur.cli import main
from tests.helpers import PEOPLE, tiny_config


@pytest.fixture(autouse=True)
def usual_umask():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture()
def photos(tmp_path, data_dir) -> Path:
    """A folder with one real 250 x 250 LFW photo of one face."""
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(data_dir / "lfw" / "images" / PEOPLE[0], folder / "face.jpg")
    return folder


@pytest.fixture()
def pairs(lfw_tree, tmp_path) -> Path:
    out = tmp_path / "pairs"
    synthesize(lfw_tree, out, SampleSettings(size=64), count=2, seed=0, progress=False)
    return out


def _modes(out: Path) -> dict[str, str]:
    files = [out] if out.is_file() else [p for p in out.rglob("*") if p.is_file()]
    assert files, f"nothing written to {out}"
    return {str(p.relative_to(out.parent)): oct(p.stat().st_mode & 0o777) for p in files}


def _all_0644(out: Path) -> None:
    modes = _modes(out)
    assert set(modes.values()) == {"0o644"}, modes


def _one_error(capsys, command: str, text: str) -> None:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"facedeblur {command}: error:"), err
    assert text in err, err


def _runs(command: list, out: Path, capsys) -> None:
    code = main([*map(str, command), "-o", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    _all_0644(out)


@pytest.mark.slow
def test_synth_deblur_moments_obfuscate_write_0644(
    photos, lfw_tree, tiny_model, tiny_weights, tmp_path, capsys
):
    _runs(["synth", lfw_tree, "--count", "2", "--size", "32"], tmp_path / "synth", capsys)
    _runs(["deblur", photos, "--model", tiny_model], tmp_path / "deblur", capsys)
    _runs(["moments", photos, "--model", tiny_weights, "--frames", "2"], tmp_path / "m", capsys)
    _runs(["obfuscate", photos, "--method", "pixelate"], tmp_path / "obfuscate", capsys)


@pytest.mark.slow
def test_export_writes_0644(tiny_model, tmp_path, capsys):
    _runs(["export", "--model", tiny_model, "--size", "32"], tmp_path / "m.onnx", capsys)


@pytest.mark.slow
def test_train_and_evaluate_write_0644(lfw_tree, pairs, tmp_path, capsys):
    config = tiny_config(tmp_path, lfw_tree, "lsgan", steps=1)
    _runs(["train", config], tmp_path / "run", capsys)
    command = ["evaluate", "--data", pairs, "--method", "blurry", "--method", "unsharp"]
    command += ["--no-identity"]
    _runs([*command, "--detector", "dlib-hog"], tmp_path / "report", capsys)


@pytest.mark.slow
def test_privacy_audit_writes_0644(lfw_tree, tmp_path, capsys):
    command = ["privacy-audit", "--gallery", lfw_tree, "--probes", lfw_tree]
    command += ["--method", "blackout", "--no-attack", "--people", "2"]
    _runs(command, tmp_path / "audit", capsys)


@pytest.mark.slow
def test_demo_writes_0644(tmp_path, capsys):
    _runs(["demo"], tmp_path / "demo", capsys)


def _commands(photos: Path, pairs: Path, lfw_tree: Path, model: Path, config: Path) -> dict:
    """Each command's arguments but -o, reading ``photos`` or the other inputs."""
    return {
        "synth": ["synth", photos],
        "train": ["train", config],
        "deblur": ["deblur", photos, "--model", model],
        "moments": ["moments", photos],
        "obfuscate": ["obfuscate", photos],
        "evaluate": ["evaluate", "--data", pairs, "--method", "blurry"],
        "privacy-audit": ["privacy-audit", "--gallery", lfw_tree, "--probes", lfw_tree]
        + ["--method", "blur"],
        "export": ["export", "--model", model],
        "demo": ["demo"],
    }


def test_every_command_refuses_an_out_that_is_not_empty_before_working(
    photos, pairs, lfw_tree, tiny_model, tmp_path, capsys
):
    config = tiny_config(tmp_path, lfw_tree, "lsgan", steps=1)
    for name, command in _commands(photos, pairs, lfw_tree, tiny_model, config).items():
        out = tmp_path / f"full-{name}"
        out.mkdir()
        (out / "mine.txt").write_text("keep me")
        target = out / "model.onnx" if name == "export" else out
        if name == "export":
            target.write_bytes(b"earlier export")
        assert main([*map(str, command), "-o", str(target), "--quiet"]) == 2, name
        _one_error(capsys, name, "not empty" if name != "export" else "exists; pass --overwrite")
        assert (out / "mine.txt").read_text() == "keep me"
        assert sorted(p.name for p in out.iterdir()) == sorted(
            ["mine.txt"] + (["model.onnx"] if name == "export" else [])
        )


def test_every_command_refuses_an_out_inside_an_input_folder(
    photos, pairs, lfw_tree, tiny_model, tmp_path, capsys
):
    config = tiny_config(tmp_path, lfw_tree, "lsgan", steps=1)
    inside = {
        "synth": photos,
        "train": lfw_tree,
        "deblur": photos,
        "moments": photos,
        "obfuscate": photos,
        "evaluate": pairs,
        "privacy-audit": lfw_tree,
    }
    commands = _commands(photos, pairs, lfw_tree, tiny_model, config)
    for name, folder in inside.items():
        out = folder / "out"
        overwrite = [] if name == "train" else ["--overwrite"]
        assert main([*map(str, commands[name]), "-o", str(out), "--quiet", *overwrite]) == 2, name
        _one_error(capsys, name, "inside the")
        assert not out.exists(), name
