"""Restoring refuses what it cannot do well: tiny images, images over the memory budget, network
outputs with NaN/inf, and ONNX models with a bad pad multiple; each is one line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from torch import nn

from facedeblur import Deblurrer
from facedeblur.errors import FaceDeblurError
from facedeblur.io import write_image
from facedeblur.models.weights import HEADER_KEY
from facedeblur.restore.moments import MomentRestorer
from facedeblur.restore.onnx_runner import OnnxRunner


class _Scaled(nn.Module):
    """A stand-in network: its input times ``factor`` (NaN or inf poisons the output)."""

    pad_multiple = 4

    def __init__(self, factor: float = 1.0):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor, u: torch.Tensor | None = None) -> list[torch.Tensor]:
        return [x * self.factor]


def _one_line(info) -> str:
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("side", [1, 3, 7])
def test_images_too_small_for_the_network_are_refused(side):
    image = np.full((side, side, 3), 0.5, dtype=np.float32)
    with pytest.raises(FaceDeblurError) as info:
        Deblurrer(_Scaled()).deblur(image)
    assert "too small" in _one_line(info)
    with pytest.raises(FaceDeblurError, match="too small"):
        MomentRestorer(_Scaled()).restore(image, [0.0, 1.0])


def test_the_smallest_accepted_image_keeps_its_size():
    image = np.random.default_rng(0).random((8, 9, 3), dtype=np.float32)
    np.testing.assert_allclose(Deblurrer(_Scaled()).deblur(image), image, atol=1e-6)
    assert [m.shape for m in MomentRestorer(_Scaled()).restore(image, [0.5])] == [(8, 9, 3)]


@pytest.mark.parametrize("factor", [float("nan"), float("inf")])
def test_nan_or_inf_outputs_are_an_error_not_an_image(factor):
    image = np.full((16, 16, 3), 0.5, dtype=np.float32)
    with pytest.raises(FaceDeblurError) as info:
        Deblurrer(_Scaled(factor)).deblur(image)
    assert "NaN/inf for a 16x16 input" in _one_line(info)
    with pytest.raises(FaceDeblurError, match="NaN/inf"):
        MomentRestorer(_Scaled(factor)).restore(image, [0.5])


def test_whole_images_over_the_budget_are_refused_and_tiles_still_work():
    image = np.random.default_rng(1).random((120, 150, 3), dtype=np.float32)
    with pytest.raises(FaceDeblurError) as info:
        Deblurrer(_Scaled(), tile=0, max_pixels=10_000).deblur(image)
    assert "--tile 512" in _one_line(info)
    tiled = Deblurrer(_Scaled(), tile=64, overlap=16, max_pixels=10_000).deblur(image)
    np.testing.assert_allclose(tiled, image, atol=1e-5)


def test_moments_go_fewer_at_a_time_under_the_budget():
    calls = []

    class Counting(_Scaled):
        def forward(self, x, u=None):
            calls.append(x.shape[0])
            return super().forward(x, u)

    image = np.full((40, 40, 3), 0.25, dtype=np.float32)
    moments = MomentRestorer(Counting(), max_pixels=3 * 40 * 40).restore(image, [0.1] * 7)
    assert len(moments) == 7 and max(calls) == 3
    with pytest.raises(FaceDeblurError, match="too large"):
        MomentRestorer(Counting(), max_pixels=100).restore(image, [0.5])


def _identity_onnx(header) -> bytes:
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 3, "h", "w"])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["n", 3, "h", "w"])
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "id", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {HEADER_KEY: json.dumps(header)})
    onnx.checker.check_model(model)
    return model.SerializeToString()


@pytest.mark.parametrize("multiple", [-8, 0, 2.5, "8", True, 10**9])
def test_a_bad_onnx_pad_multiple_is_one_line(multiple):
    with pytest.raises(FaceDeblurError) as info:
        OnnxRunner(_identity_onnx({"architecture": "x", "pad_multiple": multiple}), name="m.onnx")
    assert "m.onnx: its pad_multiple must be an integer" in _one_line(info)


def test_an_onnx_header_that_is_not_an_object_is_one_line():
    with pytest.raises(FaceDeblurError, match="not a JSON object"):
        OnnxRunner(_identity_onnx([1, 2]), name="m.onnx")


def test_a_good_onnx_pad_multiple_runs():
    runner = OnnxRunner(_identity_onnx({"architecture": "x", "pad_multiple": 4}))
    image = np.random.default_rng(2).random((10, 13, 3), dtype=np.float32)
    np.testing.assert_allclose(Deblurrer(runner).deblur(image), image, atol=1e-6)


@pytest.mark.slow
def test_a_tiny_image_does_not_stop_a_deblur_batch(tmp_path, data_dir):
    photo = next((data_dir / "lfw" / "images").glob("*/*_0001.jpg"))
    tiny = write_image(tmp_path / "tiny.png", np.zeros((1, 1, 3), dtype=np.float32))
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "facedeblur.cli", "deblur", str(tiny), str(photo), "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert f"{tiny}: a 1x1 image is too small" in run.stderr
    assert [p.name for p in out.iterdir()] == [photo.name]
