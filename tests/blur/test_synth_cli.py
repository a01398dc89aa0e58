import hashlib
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from facedeblur.blur import resynthesize
from facedeblur.cli import main
from facedeblur.io import read_image, write_image


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / mse)


def manifest(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]


def test_synth_end_to_end_with_person_split_preview_and_reproducibility(lfw_tree, tmp_path, capsys):
    out1, out2 = tmp_path / "a", tmp_path / "b"
    args = [
        "--count",
        "16",
        "--size",
        "64",
        "--seed",
        "3",
        "--split",
        "train=0.5,val=0.5",
        "--quiet",
    ]
    before = tree_digest(lfw_tree)
    assert (
        main(
            [
                "synth",
                str(lfw_tree),
                "-o",
                str(out1),
                *args,
                "--preview",
                str(tmp_path / "sheet.png"),
            ]
        )
        == 0
    )
    assert main(["synth", str(lfw_tree), "-o", str(out2), *args]) == 0
    assert tree_digest(lfw_tree) == before, "SRC must never change"
    # Only the top markers differ: out1's records its preview, which --overwrite may replace.
    digest1, digest2 = tree_digest(out1), tree_digest(out2)
    assert digest1.pop(".facedeblur-synth") != digest2.pop(".facedeblur-synth")
    assert digest1 == digest2, "same seed must give byte-identical output"
    assert "wrote 16 of 16 samples" in capsys.readouterr().out

    people = {}
    for split in ("train", "val"):
        records = manifest(out1 / split)
        assert records, f"split {split} is empty"
        for r in records:
            people.setdefault(Path(r["source"]).parent.name, set()).add(split)
            for key in ("blur", "sharp", "kernel", "kernel_png"):
                assert (out1 / split / r["files"][key]).is_file()
            assert np.load(out1 / split / r["files"]["kernel"]).sum() == pytest.approx(
                1.0, abs=1e-5
            )
    assert all(len(s) == 1 for s in people.values()), "a person must not appear in two splits"

    sheet = read_image(tmp_path / "sheet.png")
    assert sheet.shape[0] > 3 * 64 and sheet.shape[1] > 3 * 64

    record = manifest(out1 / "train")[0]
    again = resynthesize(record)
    assert np.array_equal(
        again.blur, cv2.imread(str(out1 / "train" / record["files"]["blur"]))[:, :, ::-1]
    )


def test_blur_lowers_psnr_into_a_realistic_band(lfw_tree, tmp_path):
    out = tmp_path / "out"
    assert (
        main(
            [
                "synth",
                str(lfw_tree),
                "-o",
                str(out),
                "--count",
                "12",
                "--size",
                "128",
                "--seed",
                "1",
                "--quiet",
            ]
        )
        == 0
    )
    values = [
        psnr(cv2.imread(str(out / r["files"]["sharp"])), cv2.imread(str(out / r["files"]["blur"])))
        for r in manifest(out)
    ]
    assert 17.0 < float(np.mean(values)) < 32.0


def test_frames_mode_writes_triplets_of_averaged_frames(short_video, tmp_path):
    out = tmp_path / "frames"
    code = main(
        [
            "synth",
            str(short_video),
            "-o",
            str(out),
            "--mode",
            "frames",
            "--count",
            "3",
            "--size",
            "64",
            "--frame-counts",
            "5,7",
            "--noise-scale",
            "0",
            "--seed",
            "4",
            "--quiet",
            "--preview",
            str(tmp_path / "f.png"),
        ]
    )
    assert code == 0
    import torch

    from facedeblur.blur import average_frames
    from facedeblur.io import image_to_tensor

    for r in manifest(out):
        assert r["num_frames"] in (5, 7) and r["crop"]["type"] == "face"
        frames = [read_image(out / f) for f in r["files"]["frames"]]
        assert len(frames) == r["num_frames"]
        sharp = read_image(out / r["files"]["sharp"])
        assert np.array_equal(sharp, frames[r["num_frames"] // 2])
        expected = average_frames(torch.stack([image_to_tensor(f) for f in frames]))
        blurred = image_to_tensor(read_image(out / r["files"]["blur"]))
        assert float((expected - blurred).abs().max()) <= 0.5 / 255 + 1e-6
    assert (tmp_path / "f.png").is_file()


def _write_bad_inputs(src: Path, good: Path) -> None:
    src.mkdir()
    img = read_image(good)
    (src / "good.jpg").write_bytes(good.read_bytes())
    data = good.read_bytes()
    (src / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (src / "notes.jpg").write_text("this is not an image")
    cv2.imwrite(str(src / "gray.png"), (img[:, :, 0] * 255).astype(np.uint8))
    rgba = np.dstack(
        [(img[:, :, ::-1] * 255).astype(np.uint8), np.full(img.shape[:2], 255, np.uint8)]
    )
    cv2.imwrite(str(src / "rgba.png"), rgba)
    cv2.imwrite(str(src / "deep.png"), (img[:, :, ::-1] * 65535).astype(np.uint16))
    write_image(src / "tiny.png", img[:40, :40])


def test_bad_files_are_reported_one_line_each_and_the_batch_goes_on(lfw_people, tmp_path, capsys):
    src = tmp_path / "src"
    _write_bad_inputs(src, sorted(lfw_people[0].glob("*.jpg"))[0])
    before = tree_digest(src)
    code = main(["synth", str(src), "-o", str(tmp_path / "out"), "--size", "128", "--quiet"])
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.err + captured.out
    err_lines = captured.err.splitlines()
    for name, problem in [
        ("truncated.jpg", "truncated JPEG"),
        ("notes.jpg", "not a readable image"),
        ("tiny.png", "smaller than the 128 px"),
    ]:
        assert sum(name in line and problem in line for line in err_lines) == 1, captured.err
    for name, note in [("gray.png", "grayscale"), ("rgba.png", "alpha"), ("deep.png", "16-bit")]:
        assert any(name in line and note in line for line in err_lines), captured.err
    assert "wrote 4 of 7 samples" in captured.out
    written = {r["source"].rsplit("/", 1)[-1] for r in manifest(tmp_path / "out")}
    assert written == {"good.jpg", "gray.png", "rgba.png", "deep.png"}
    assert tree_digest(src) == before


@pytest.mark.parametrize(
    "setup, expected",
    [
        (lambda t: (t / "empty").mkdir(), "no images found"),
        (lambda t: None, "no such file or folder"),
    ],
)
def test_empty_or_missing_source_is_one_line_and_exit_2(tmp_path, capsys, setup, expected):
    setup(tmp_path)
    code = main(["synth", str(tmp_path / "empty"), "-o", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_output_inside_source_is_refused(lfw_tree, capsys):
    before = tree_digest(lfw_tree)
    code = main(["synth", str(lfw_tree), "-o", str(lfw_tree / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "inside the source folder" in err
    assert tree_digest(lfw_tree) == before and not (lfw_tree / "out").exists()


def test_non_empty_output_needs_overwrite(lfw_tree, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["synth", str(lfw_tree), "-o", str(out), "--size", "64", "--quiet"]
    assert main([*args, "--count", "2"]) == 0
    (out / "keep.txt").write_text("mine")
    assert main([*args, "--count", "2"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*args, "--count", "1", "--overwrite"]) == 0
    assert (out / "keep.txt").read_text() == "mine"
    assert len(list((out / "blur").iterdir())) == 1, "an overwrite replaces the earlier synthesis"


@pytest.mark.parametrize(
    "option",
    [
        ["--split", "train=0.7,val=0.7"],
        ["--frame-counts", "0,5"],
        ["--exposure", "0,2"],
        ["--count", "0"],
        ["--kernel-size", "8"],
    ],
)
def test_bad_options_exit_2_without_traceback(lfw_tree, tmp_path, capsys, option):
    with pytest.raises(SystemExit) as exc:
        code = main(["synth", str(lfw_tree), "-o", str(tmp_path / "out"), "--quiet", *option])
        raise SystemExit(code)
    captured = capsys.readouterr()
    assert exc.value.code == 2 and "Traceback" not in captured.err


def test_short_video_and_faceless_clip_are_reported(short_video, tmp_path, capsys):
    src = tmp_path / "clips"
    src.mkdir()
    (src / "talk.mp4").symlink_to(short_video)
    blank = src / "wall"
    gradient = np.tile(np.linspace(0.2, 0.8, 96, dtype=np.float32), (96, 1))
    for i in range(6):
        write_image(blank / f"{i:02d}.png", np.dstack([gradient] * 3))
    code = main(
        [
            "synth",
            str(src),
            "-o",
            str(tmp_path / "out"),
            "--mode",
            "frames",
            "--frame-counts",
            "5",
            "--count",
            "2",
            "--size",
            "64",
            "--quiet",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1 and "Traceback" not in captured.err
    assert any("wall" in line and "no face found" in line for line in captured.err.splitlines())

    code = main(
        [
            "synth",
            str(short_video),
            "-o",
            str(tmp_path / "out2"),
            "--mode",
            "frames",
            "--frame-counts",
            "17",
            "--quiet",
        ]
    )
    captured = capsys.readouterr()
    assert code == 3, "no sample written: nothing done"
    assert any(
        "d1.mp4" in line and "fewer than the smallest window N=17" in line
        for line in captured.err.splitlines()
    )


@pytest.mark.slow
def test_console_script_reports_errors_on_one_line(tmp_path):
    exe = Path(sys.executable).with_name("facedeblur")
    result = subprocess.run(
        [str(exe), "synth", str(tmp_path / "missing"), "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"facedeblur synth: error: {tmp_path / 'missing'}: no such file or folder"
    ]


def test_frame_step_averages_every_step_th_frame(short_video, tmp_path):
    from facedeblur.blur import open_clip
    from facedeblur.io.geometry import crop_square, resize

    out = tmp_path / "stepped"
    code = main(
        [
            "synth",
            str(short_video),
            "-o",
            str(out),
            "--mode",
            "frames",
            "--count",
            "2",
            "--size",
            "64",
            "--frame-counts",
            "5",
            "--frame-step",
            "3",
            "--seed",
            "2",
            "--quiet",
        ]
    )
    assert code == 0
    clip = open_clip(short_video)
    for r in manifest(out):
        assert r["frame_step"] == 3 and r["middle"] == r["start"] + 6
        second = clip.read([r["start"] + 3])[r["start"] + 3]
        expected = resize(crop_square(second, r["crop"]["box"]), 64)
        written = read_image(out / r["files"]["frames"][1])
        assert float(np.abs(written - expected).max()) <= 0.5 / 255 + 1e-6
        stored = np.round(read_image(out / r["files"]["blur"]) * 255).astype(np.uint8)
        assert np.array_equal(resynthesize(r).blur, stored), (
            "the manifest line reproduces the stepped sample"
        )

    code = main(
        [
            "synth",
            str(short_video),
            "-o",
            str(tmp_path / "long"),
            "--mode",
            "frames",
            "--frame-counts",
            "5",
            "--frame-step",
            "4",
            "--quiet",
        ]
    )
    assert code == 3, "5 frames at step 4 span 17 frames, more than the clip's 16: nothing done"


@pytest.mark.slow
def test_min_motion_leaves_out_windows_whose_eye_moves_less(short_video, tmp_path, capsys):
    common = [
        "--mode",
        "frames",
        "--count",
        "6",
        "--size",
        "64",
        "--frame-counts",
        "5,7",
        "--seed",
        "3",
        "--quiet",
    ]
    assert main(["synth", str(short_video), "-o", str(tmp_path / "all"), *common]) == 0
    travel = {r["id"]: r["fmr"]["travel"] for r in manifest(tmp_path / "all")}
    threshold = sorted(travel.values())[3]
    capsys.readouterr()
    assert (
        main(
            [
                "synth",
                str(short_video),
                "-o",
                str(tmp_path / "moving"),
                *common,
                "--min-motion",
                str(threshold),
            ]
        )
        == 0
    )
    kept = {r["id"] for r in manifest(tmp_path / "moving")}
    assert kept == {i for i, t in travel.items() if t >= threshold} and 0 < len(kept) < len(travel)
    assert "left out" in capsys.readouterr().err


def test_frames_samples_rebuild_from_the_manifest_without_face_detection(
    short_video, tmp_path, monkeypatch
):
    import shutil

    import facedeblur.blur.samples as samples
    from facedeblur.errors import InputError

    out = tmp_path / "frames"
    assert (
        main(
            [
                "synth",
                str(short_video),
                "-o",
                str(out),
                "--mode",
                "frames",
                "--count",
                "2",
                "--size",
                "64",
                "--frame-counts",
                "5",
                "--seed",
                "4",
                "--quiet",
            ]
        )
        == 0
    )
    moved = tmp_path / "elsewhere" / short_video.name
    moved.parent.mkdir()
    shutil.copy(short_video, moved)

    def no_detection(*args, **kwargs):
        raise AssertionError("rebuilding must reuse the manifest's crop box, not detect faces")

    monkeypatch.setattr(samples, "choose_crop", no_detection)
    for r in manifest(out):
        again = resynthesize(r, source=moved)
        stored = [out / r["files"]["blur"]] + [out / f for f in r["files"]["frames"]]
        rebuilt = [again.blur] + again.frames
        for path, image in zip(stored, rebuilt):
            assert np.array_equal(image, cv2.imread(str(path))[:, :, ::-1]), path.name
        assert again.record["fmr"] == r["fmr"]
    late = dict(manifest(out)[0], start=14)
    with pytest.raises(InputError, match="cannot be read"):
        resynthesize(late, source=moved)
