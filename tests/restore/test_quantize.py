"""int8 export with onnxruntime's quantization: dynamic and static (calibrated), an option."""

from __future__ import annotations

import collections

import numpy as np
import onnx
import pytest
import torch

from facedeblur import Deblurrer, load_model
from facedeblur.cli import main
from facedeblur.errors import InputError, UsageError
from facedeblur.io import write_image
from facedeblur.models import build_model
from facedeblur.models.weights import save_weights
from facedeblur.restore.onnx_export import export_onnx, onnx_bytes
from facedeblur.restore.onnx_quantize import calibration_faces, quantize_onnx

SMALL = {"width": 8, "enc_blocks": [1, 1], "middle_blocks": 1, "dec_blocks": [1, 1]}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A small NAFNet with open branches (random scales), saved as facedeblur weights."""
    torch.manual_seed(0)
    model = build_model("nafnet", **SMALL)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("beta", "gamma")):
                p.fill_(0.3)
    path = tmp_path_factory.mktemp("weights") / "small.safetensors"
    return save_weights(path, model, "nafnet", SMALL)


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """A folder of four smooth 40x48 images (not square: calibration cuts the centre)."""
    folder = tmp_path_factory.mktemp("calibration")
    y, x = np.mgrid[0:40, 0:48] / 48.0
    for i in range(4):
        image = np.stack([x, y, (x + y + i / 4) % 1.0], axis=-1).astype(np.float32)
        write_image(folder / f"face{i}.png", image)
    return folder


def _ops(path) -> collections.Counter:
    return collections.Counter(n.op_type for n in onnx.load(str(path)).graph.node)


@pytest.mark.slow
def test_dynamic_int8_export_runs_near_float32_and_keeps_the_edge_convolutions(weights, tmp_path):
    path = export_onnx(weights, tmp_path / "dynamic.onnx", size=32, int8="dynamic")
    runner = load_model(path, backend="onnxruntime", threads=1)
    assert runner.header["int8"] == "dynamic" and runner.header["architecture"] == "nafnet"
    ops = _ops(path)
    assert ops["ConvInteger"] > 0 and ops["Conv"] == 2, ops
    x = torch.rand(2, 3, 40, 32, generator=torch.Generator().manual_seed(1))
    error = (runner.deblur(x) - load_model(weights).deblur(x)).abs()
    assert 0 < error.max().item() < 0.02 and error.mean().item() < 0.002


@pytest.mark.slow
def test_static_int8_export_from_the_cli_calibrates_on_a_folder(weights, faces, tmp_path, capsys):
    out = tmp_path / "static.onnx"
    code = main(
        [
            "export",
            "-o",
            str(out),
            "--model",
            str(weights),
            "--size",
            "32",
            "--int8",
            "static",
            "--calibration",
            str(faces),
            "--calibration-count",
            "3",
        ]
    )
    assert code == 0 and "quantized to int8 (static)" in capsys.readouterr().out
    ops = _ops(out)
    assert ops["QuantizeLinear"] > 0 and ops["DequantizeLinear"] > 0, ops
    runner = load_model(out, backend="onnxruntime", threads=1)
    assert runner.header["int8"] == "static"
    # The fourth image, left out of calibration, is like the three calibrated on. int8
    # activations of an 8-channel network are coarse (measured: mean error 0.011).
    x = calibration_faces(faces, count=4, size=32)[3:]
    error = (runner.deblur(x) - load_model(weights).deblur(x)).abs()
    assert 0 < error.max().item() < 0.15 and error.mean().item() < 0.02


def test_calibration_faces_are_central_squares_resized(faces):
    batch = calibration_faces(faces, count=3, size=16)
    assert batch.shape == (3, 3, 16, 16) and 0 <= batch.min() and batch.max() <= 1


def test_int8_refuses_bad_modes_missing_or_stray_calibration(weights, faces, tmp_path):
    data = onnx_bytes(Deblurrer(build_model("nafnet", **SMALL)).model, {"architecture": "x"})
    with pytest.raises(UsageError, match="unknown int8 mode 'int4'"):
        quantize_onnx(data, "int4")
    with pytest.raises(UsageError, match="needs calibration faces"):
        quantize_onnx(data, "static")
    with pytest.raises(UsageError, match="takes no calibration"):
        quantize_onnx(data, "dynamic", torch.rand(1, 3, 16, 16))
    with pytest.raises(UsageError, match="static int8 needs calibration"):
        export_onnx(weights, tmp_path / "a.onnx", int8="static")
    with pytest.raises(UsageError, match="static int8 needs calibration"):
        export_onnx(weights, tmp_path / "a.onnx", int8="dynamic", calibration=faces)
    with pytest.raises(InputError, match="no images to calibrate on"):
        calibration_faces(tmp_path)
    assert not (tmp_path / "a.onnx").exists()
