"""ONNX export and the onnxruntime backend: same results as torch at any size, CLI, clear errors."""

from __future__ import annotations

import json
import sys

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from facedeblur import Deblurrer, load_model
from facedeblur.cli import main
from facedeblur.errors import FaceDeblurError, UsageError
from facedeblur.io import read_image, write_image
from facedeblur.models import build_model
from facedeblur.models.weights import HEADER_KEY, save_weights
from facedeblur.restore.onnx_export import export_onnx, onnx_bytes

TINY = {"n_blocks": 1, "ngf": 8}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A tiny DeblurGAN generator with random weights, saved as facedeblur weights."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    return save_weights(path, build_model("deblurgan", **TINY), "deblurgan", TINY)


@pytest.fixture()
def photo(tmp_path):
    """A 53x70 (odd height) PNG with random content."""
    rng = np.random.default_rng(0)
    return write_image(tmp_path / "in.png", rng.random((53, 70, 3), dtype=np.float32))


def test_onnxruntime_matches_torch_on_an_odd_size_and_a_batch(weights):
    reference = load_model(weights)
    runner = load_model(weights, backend="onnxruntime", threads=1)
    assert runner.model.pad_multiple == 4
    assert runner.header["architecture"] == "deblurgan" and runner.header["args"] == TINY
    image = np.random.default_rng(1).random((53, 70, 3), dtype=np.float32)
    assert np.abs(runner.deblur(image) - reference.deblur(image)).max() < 1e-3
    batch = torch.rand(3, 3, 53, 70, generator=torch.Generator().manual_seed(2))
    out = runner.deblur(batch)
    assert out.shape == batch.shape
    assert (out - reference.deblur(batch)).abs().max() < 1e-3
    crops = [image[:40, :40], image[10:50, 20:60]]
    for got, want in zip(runner.deblur_batch(crops), reference.deblur_batch(crops)):
        assert np.abs(got - want).max() < 1e-3


def test_export_cli_writes_a_model_that_deblur_runs(weights, photo, tmp_path, capsys):
    model_file = tmp_path / "tiny.onnx"
    assert main(["export", "-o", str(model_file), "--model", str(weights), "--size", "32"]) == 0
    assert "wrote" in capsys.readouterr().out
    metadata = {p.key: p.value for p in onnx.load(str(model_file)).metadata_props}
    header = json.loads(metadata[HEADER_KEY])
    assert header["architecture"] == "deblurgan" and header["pad_multiple"] == 4
    assert not list(tmp_path.glob(".*.tmp")), "the atomic write left a temporary file"

    out = tmp_path / "out.png"
    code = main(
        [
            "deblur",
            str(photo),
            "-o",
            str(out),
            "--model",
            str(model_file),
            "--backend",
            "onnxruntime",
            "--threads",
            "1",
            "--quiet",
        ]
    )
    assert code == 0
    expected = load_model(weights).deblur(read_image(photo))
    assert np.abs(read_image(out) - expected).max() <= 1.5 / 255


def test_bad_backend_is_one_line_and_exit_2(weights, photo, tmp_path, capsys):
    code = main(
        [
            "deblur",
            str(photo),
            "-o",
            str(tmp_path / "out.png"),
            "--model",
            str(weights),
            "--backend",
            "tf",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "unknown backend 'tf'" in err and "onnxruntime" in err


def test_torch_backend_refuses_an_onnx_file_and_onnxruntime_a_broken_one(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(UsageError, match="onnxruntime backend"):
        load_model(broken)
    with pytest.raises(FaceDeblurError, match="onnxruntime cannot load it"):
        load_model(broken, backend="onnxruntime")
    with pytest.raises(FaceDeblurError, match="no such ONNX file"):
        load_model(tmp_path / "missing.onnx", backend="onnxruntime")


def test_missing_onnxruntime_says_how_to_install(weights, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(FaceDeblurError, match="pip install onnxruntime"):
        load_model(weights, backend="onnxruntime")


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, args",
    [
        ("nafnet", {"width": 8, "enc_blocks": [1, 1], "middle_blocks": 1, "dec_blocks": [1, 1]}),
        ("deepdeblur", {"scales": 2, "n_resblocks": 1, "n_feats": 8}),
    ],
)
def test_other_families_export_with_dynamic_sizes(name, args, tmp_path):
    torch.manual_seed(0)
    model = build_model(name, **args)
    reference = Deblurrer(model, header={"architecture": name, "args": args})
    path = export_onnx(reference, tmp_path / f"{name}.onnx", size=32)
    runner = load_model(path, backend="onnxruntime")
    assert runner.model.pad_multiple == model.pad_multiple
    batch = torch.rand(2, 3, 37, 45, generator=torch.Generator().manual_seed(3))
    assert (runner.deblur(batch) - reference.deblur(batch)).abs().max() < 1e-3


class BakesItsSize(nn.Module):
    """A network whose traced graph keeps the height it was traced at (not a dynamic size)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)[..., : int(x.shape[-2]), :]


def test_export_refuses_a_graph_that_does_not_follow_the_input_size():
    with pytest.raises(FaceDeblurError, match="exported model returns"):
        onnx_bytes(BakesItsSize(), {"architecture": "test"}, size=16)


def test_export_refuses_a_bad_opset_a_wrong_suffix_and_overwriting_its_weights(weights, tmp_path):
    with pytest.raises(UsageError, match="opset 99"):
        export_onnx(weights, tmp_path / "m.onnx", opset=99)
    with pytest.raises(UsageError, match=r"\.onnx suffix"):
        export_onnx(weights, tmp_path / "m.bin")
    with pytest.raises(UsageError, match="would overwrite"):
        export_onnx(weights, weights)
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "m.bin").exists()
