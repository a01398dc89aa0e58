import json
import warnings

import numpy as np
import pytest
import torch

from facedeblur.blur import SampleSettings, blur_image, camera_shake_kernel, synthesize
from facedeblur.cli import main
from facedeblur.errors import InputError, UsageError
from facedeblur.evaluate.baselines import richardson_lucy, unsharp_mask, wiener
from facedeblur.evaluate.protocol import build_method, evaluate
from facedeblur.evaluate.report import write_report
from facedeblur.io import ImageConversionWarning, image_to_tensor, read_image
from facedeblur.metrics import psnr
from facedeblur.models.weights import pretrained_path


@pytest.fixture(scope="module")
def face(data_dir):
    img = read_image(data_dir / "lfw/images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg")
    return image_to_tensor(img)[:, 61:189, 61:189].contiguous()


def test_oracle_deconvolution_beats_the_blur(face):
    kernel, _ = camera_shake_kernel(np.random.default_rng(4), output_size=128)
    blurred = torch.round(blur_image(face, kernel) * 255) / 255
    before = float(psnr(blurred, face)[0])
    assert float(psnr(wiener(blurred, kernel), face)[0]) > before + 0.5
    assert float(psnr(richardson_lucy(blurred, kernel), face)[0]) > before + 2.0
    sharpened = unsharp_mask(blurred)
    assert sharpened.shape == face.shape and not torch.equal(sharpened, blurred)


def test_unknown_method_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown method"):
        build_method("magic")


def test_a_moments_model_is_scored_at_its_centre_moment(face):
    kernel, _ = camera_shake_kernel(np.random.default_rng(5), output_size=128)
    blurred = torch.round(blur_image(face, kernel) * 255) / 255
    centre = build_method("moments")
    base = build_method("model:default-v1")
    assert centre.name == "CFMD (shipped), centre"
    restored = centre.restore(blurred, None)
    assert float((restored - blurred).abs().max()) > 0.05, "the centre moment is deblurred"
    # The shipped moments model is anchored on default version 1: its centre is that model's result.
    np.testing.assert_allclose(restored.numpy(), base.restore(blurred, None).numpy(), atol=1e-4)
    with pytest.raises(InputError, match="moments model"):
        build_method(f"model:{pretrained_path('moments.safetensors')}")


@pytest.fixture()
def pairs(lfw_tree, tmp_path):
    out = tmp_path / "pairs"
    synthesize(lfw_tree, out, SampleSettings(size=128), count=4, seed=0, progress=False)
    return out


@pytest.mark.slow
def test_evaluation_report_has_the_numbers_of_its_json(pairs, tmp_path):
    result = evaluate(
        pairs, ["blurry", "wiener", "richardson-lucy"], detector="dlib-hog", progress=False
    )
    assert set(result.summary) == {
        "blurry",
        "wiener (oracle kernel)",
        "richardson-lucy (oracle kernel)",
        "sharp",
    }
    blurry, rl = result.summary["blurry"], result.summary["richardson-lucy (oracle kernel)"]
    assert blurry["images"] == 4 and blurry["psnr_gain"] == 0.0
    assert rl["psnr"] > blurry["psnr"]
    assert blurry["identity_distance"] is not None and 0 <= blurry["verification_accuracy"] <= 1
    md = write_report(result, tmp_path / "report", str(pairs))
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    text = md.read_text()
    for name, summary in saved["summary"].items():
        if name != "sharp":
            assert f"| {name} | {summary['psnr']:.2f} | {summary['ssim']:.4f} |" in text
    for picture in ("failure_rates.png", "psnr_gain.png", "cases.png"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ImageConversionWarning)
            assert read_image(tmp_path / "report" / picture).shape[0] > 100
    assert len((tmp_path / "report" / "report.csv").read_text().splitlines()) == 1 + 4 * 4


def test_evaluate_cli_skips_a_broken_pair(pairs, tmp_path, capsys):
    next((pairs / "sharp").glob("*.png")).write_bytes(b"broken")
    code = main(
        [
            "evaluate",
            "--data",
            str(pairs),
            "--method",
            "blurry",
            "--method",
            "unsharp",
            "--detector",
            "dlib-hog",
            "--out",
            str(tmp_path / "rep"),
            "--no-identity",
            "--quiet",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1 and "Traceback" not in captured.err
    assert "| unsharp mask |" in captured.out
    assert "not a readable image" in (tmp_path / "rep" / "report.md").read_text()
    assert (
        main(
            [
                "evaluate",
                "--data",
                str(pairs),
                "--method",
                "blurry",
                "--detector",
                "nope",
                "--out",
                str(tmp_path / "rep2"),
                "--quiet",
            ]
        )
        == 2
    )


@pytest.mark.slow
def test_evaluated_weights_are_named_by_file_or_run(trained_run, tmp_path):
    import shutil

    from facedeblur.evaluate.protocol import build_method, evaluate

    shutil.copy(trained_run / "generator.safetensors", tmp_path / "early.safetensors")
    shutil.copy(trained_run / "generator.safetensors", tmp_path / "late.safetensors")
    names = [
        build_method(f"model:{p}").name
        for p in (
            tmp_path / "early.safetensors",
            tmp_path / "late.safetensors",
            trained_run / "generator.safetensors",
        )
    ]
    assert names == ["model early", "model late", f"model {trained_run.name}"]
    (tmp_path / "other").mkdir()
    shutil.copy(trained_run / "generator.safetensors", tmp_path / "other" / "run.safetensors")
    with pytest.raises(UsageError, match="two methods are named 'model run'"):
        evaluate(
            tmp_path,
            [
                "blurry",
                f"model:{trained_run / 'generator.safetensors'}",
                f"model:{tmp_path / 'other' / 'run.safetensors'}",
            ],
            progress=False,
        )


@pytest.mark.slow
def test_identity_backends_agree_and_the_report_names_the_one_used(pairs, tmp_path):
    runs = {
        backend: evaluate(
            pairs,
            ["blurry", "unsharp"],
            detector="dlib-hog",
            identity_backend=backend,
            progress=False,
        )
        for backend in ("torch", "dlib")
    }
    by_backend = {
        backend: [r["identity_distance"] for r in result.rows if r["method"] != "sharp"]
        for backend, result in runs.items()
    }
    assert len(by_backend["torch"]) == 8 and None not in by_backend["torch"]
    assert max(abs(a - b) for a, b in zip(by_backend["torch"], by_backend["dlib"])) < 1e-3
    text = write_report(runs["torch"], tmp_path / "report", str(pairs)).read_text()
    assert "PyTorch port of dlib's model" in text
