"""evaluate reads only inside --data, refuses unfinished syntheses and never reports NaN."""

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

import facedeblur.blur.synth as synth_module
import facedeblur.evaluate.moments_protocol as moments_protocol
import facedeblur.evaluate.protocol as protocol
from facedeblur.blur import SampleSettings, synthesize
from facedeblur.cli import main
from facedeblur.data import VideoMoments
from facedeblur.evaluate.moments_protocol import evaluate_moments
from facedeblur.evaluate.report import markdown


@pytest.fixture()
def pairs(lfw_tree, tmp_path) -> Path:
    out = tmp_path / "pairs"
    synthesize(lfw_tree, out, SampleSettings(size=64), count=3, seed=0, progress=False)
    return out


def run_evaluate(data: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "evaluate",
            "--data",
            str(data),
            "--method",
            "blurry",
            "--detector",
            "dlib-hog",
            "--no-identity",
            "--quiet",
            "--out",
            str(out),
            *extra,
        ]
    )


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def rewrite_manifest(root: Path, change) -> None:
    path = root / "manifest.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records = change(records)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.mark.slow
def test_an_interrupted_synthesis_is_refused_unless_allowed(
    lfw_tree, tmp_path, monkeypatch, capsys
):
    real_write = synth_module._write_sample
    calls = []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_write(*args)

    monkeypatch.setattr(synth_module, "_write_sample", interrupted)
    out = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        synthesize(lfw_tree, out, SampleSettings(size=64), count=3, progress=False)
    assert not (out / "manifest.jsonl").exists() and len(list((out / "blur").iterdir())) == 1

    assert run_evaluate(out, tmp_path / "rep") == 2
    line = error_line(capsys)
    assert "did not finish" in line and "--allow-incomplete" in line
    assert not (tmp_path / "rep").exists()
    assert run_evaluate(out, tmp_path / "rep", "--allow-incomplete") == 0
    assert (
        json.loads((tmp_path / "rep" / "report.json").read_text())["summary"]["blurry"]["images"]
        == 1
    )


def test_a_manifest_that_misses_samples_is_refused_unless_allowed(pairs, tmp_path, capsys):
    rewrite_manifest(pairs, lambda records: records[:2])
    assert run_evaluate(pairs, tmp_path / "rep") == 2
    assert "not in manifest.jsonl" in error_line(capsys)
    assert run_evaluate(pairs, tmp_path / "rep", "--allow-incomplete") == 0
    assert len(json.loads((tmp_path / "rep" / "report.json").read_text())["rows"]) == 2 * 2


def test_manifest_paths_outside_data_are_skipped_and_never_read(
    pairs, tmp_path, monkeypatch, capsys
):
    outside = tmp_path / "secret.png"
    shutil.copy(next((pairs / "sharp").iterdir()), outside)

    def point_outside(records):
        records[0]["files"]["sharp"] = "../secret.png"
        records[1]["files"]["sharp"] = str(outside)
        return records

    rewrite_manifest(pairs, point_outside)
    read = []
    real_read = protocol.read_image
    monkeypatch.setattr(
        protocol, "read_image", lambda path: read.append(Path(path).resolve()) or real_read(path)
    )
    code = run_evaluate(pairs, tmp_path / "rep")
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert sum("is outside" in line for line in err.splitlines()) == 2
    assert read and all(pairs.resolve() in p.parents for p in read)
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["summary"]["blurry"]["images"] == 1


def nan_method(always: bool):
    calls = []

    def restore(blur, kernel):
        calls.append(1)
        return blur * float("nan") if always or len(calls) == 1 else blur

    return protocol.Method("broken model", restore)


@pytest.mark.slow
def test_a_nan_score_skips_its_pair_and_the_report_prints_no_nan(pairs, tmp_path, monkeypatch):
    real = protocol.build_method
    monkeypatch.setattr(
        protocol,
        "build_method",
        lambda spec, device="cpu": nan_method(False) if spec == "broken" else real(spec, device),
    )
    result = protocol.evaluate(
        pairs, ["blurry", "broken"], detector="dlib-hog", identity=False, progress=False
    )
    assert any("NaN or infinite score for broken model" in line for line in result.skipped)
    assert result.summary["broken model"]["images"] == 2
    assert result.summary["blurry"]["images"] == 2, "every method is scored on the same pairs"
    cells = [line for line in markdown(result, str(pairs)).splitlines() if line.startswith("|")]
    assert cells and not any(re.search(r"\bnan\b", line, re.IGNORECASE) for line in cells)
    assert torch.isfinite(torch.tensor([r["psnr"] for r in result.rows])).all()


def test_all_nan_scores_are_one_line_and_exit_2(pairs, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(protocol, "build_method", lambda spec, device="cpu": nan_method(True))
    assert run_evaluate(pairs, tmp_path / "rep") == 2
    assert "no pair could be evaluated" in error_line(capsys)


def test_limit_below_one_is_a_usage_error(pairs, tmp_path, capsys):
    assert run_evaluate(pairs, tmp_path / "rep", "--limit", "-1") == 2
    assert "--limit" in error_line(capsys)


@pytest.mark.slow
def test_moments_evaluation_skips_paths_outside_its_data(moments_root, tmp_path):
    root = tmp_path / "val"
    shutil.copytree(moments_root / "val", root)
    outside = tmp_path / "frame.png"
    shutil.copy(next((root / "sharp").iterdir()), outside)

    def point_outside(records):
        records[0]["files"]["frames"][0] = str(outside)
        return records

    rewrite_manifest(root, point_outside)
    usable = len(VideoMoments(root))
    result = evaluate_moments(root, ["blurry"], identity=False, progress=False)
    assert len(result.skipped) == 1 and "is outside" in result.skipped[0]
    assert result.summary["blurry (repeated)"]["all"]["samples"] == usable - 1


@pytest.mark.slow
def test_an_unfinished_split_is_refused_unless_allowed(lfw_tree, tmp_path, capsys):
    out = tmp_path / "splits"
    settings = SampleSettings(size=64)
    split = {"train": 0.5, "val": 0.5}
    synthesize(lfw_tree, out, settings, count=4, seed=0, split=split, progress=False)
    # As a killed synth leaves one split: samples on disk, no manifest, its marker unfinished.
    val = out / "val"
    (val / "manifest.jsonl").unlink()
    (val / synth_module.MARKER).write_text(json.dumps({"complete": False}))
    assert run_evaluate(out, tmp_path / "rep") == 2
    line = error_line(capsys)
    assert "val" in line and "did not finish" in line and "--allow-incomplete" in line
    assert not (tmp_path / "rep").exists()
    assert run_evaluate(out, tmp_path / "rep", "--allow-incomplete") == 0
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["summary"]["blurry"]["images"] == 4


def nan_moments(always: bool):
    calls = []

    def restore(blur, u):
        calls.append(1)
        moments = blur[None].expand(len(u), -1, -1, -1)
        return moments * float("nan") if always or len(calls) == 1 else moments

    return moments_protocol.MomentMethod("broken moments", restore)


def run_evaluate_moments(data: Path, out: Path) -> int:
    args = ["evaluate", "--moments", "--data", str(data), "--method", "broken"]
    return main([*args, "--no-identity", "--quiet", "--out", str(out)])


@pytest.mark.parametrize("always", [True, False])
def test_nan_moment_scores_are_reported_not_exit_0(
    always, moments_root, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(
        moments_protocol, "build_moment_method", lambda spec, device="cpu": nan_moments(always)
    )
    code = run_evaluate_moments(moments_root / "val", tmp_path / "rep")
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if always:
        assert code == 2
        assert len(err.strip().splitlines()) == 1 and "no sample could be evaluated" in err
        assert not (tmp_path / "rep").exists()
        return
    assert code == 1
    problems = [line for line in err.splitlines() if "NaN or infinite score" in line]
    assert len(problems) == 1 and "broken moments" in problems[0]
    report = (tmp_path / "rep" / "report.md").read_text()
    cells = [line for line in report.splitlines() if line.startswith("|")]
    assert cells and not any(re.search(r"\bnan\b", line, re.IGNORECASE) for line in cells)
