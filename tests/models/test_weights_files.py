"""Weights files are untrusted input: bad headers, shapes, values and kinds are one-line errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from facedeblur.errors import FaceDeblurError
from facedeblur.models import build_model
from facedeblur.models import weights as weights_module
from facedeblur.models.weights import HEADER_KEY, load_network, pretrained_path, save_weights
from facedeblur.restore.loading import load_model
from facedeblur.restore.moments import load_moments_model

TINY = {"n_blocks": 1, "ngf": 8}


@pytest.fixture(scope="module")
def tensors() -> dict[str, torch.Tensor]:
    """The state dict of a tiny DeblurGAN generator."""
    torch.manual_seed(0)
    return {k: v.clone() for k, v in build_model("deblurgan", **TINY).state_dict().items()}


def _write(path, tensors, header) -> str:
    text = header if isinstance(header, str) else json.dumps(header)
    save_file(tensors, str(path), metadata={HEADER_KEY: text})
    return str(path)


def _one_line_error(path, **kwargs) -> str:
    with pytest.raises(FaceDeblurError) as info:
        load_network(path, **kwargs)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message, message
    return message


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"args": {}}', "naming an architecture"),
        ({"architecture": "deblurgan", "args": [1]}, "args must be a JSON object"),
        ({"architecture": "deblurgan", "args": {"n_blocks": 10**9}}, "out of bounds"),
        ({"architecture": "deblurgan", "args": {"ngf": -8}}, "out of bounds"),
        ({"architecture": "no_such_net", "args": {}}, "unknown model"),
        ({"architecture": "deblurgan", "args": {"colour": 1}}, "bad arguments"),
        ({"architecture": "deblurgan", "args": {"upsample": "teleport"}}, "upsample must be"),
    ],
    ids=range(9),
)
def test_a_bad_header_is_one_line(tmp_path, tensors, header, expected):
    path = _write(tmp_path / "w.safetensors", tensors, header)
    assert expected in _one_line_error(path)


def test_header_sizes_that_do_not_fit_the_tensors_are_refused_before_allocating(
    tmp_path, tensors, monkeypatch
):
    path = _write(
        tmp_path / "wide.safetensors", tensors, {"architecture": "deblurgan", "args": {"ngf": 4000}}
    )
    devices = []
    build = weights_module.build_model

    def recording_build(*args, **kwargs):
        devices.append(torch.empty(0).device.type)
        return build(*args, **kwargs)

    monkeypatch.setattr(weights_module, "build_model", recording_build)
    assert "header" in _one_line_error(path)
    assert devices == ["meta"]


def test_nan_weights_are_refused(tmp_path, tensors):
    poisoned = dict(tensors)
    key = next(k for k, v in poisoned.items() if v.is_floating_point())
    poisoned[key] = torch.full_like(poisoned[key], math.nan)
    path = _write(
        tmp_path / "nan.safetensors", poisoned, {"architecture": "deblurgan", "args": TINY}
    )
    assert "NaN" in _one_line_error(path)


def test_good_weights_still_load(tmp_path):
    path = save_weights(
        tmp_path / "ok.safetensors", build_model("deblurgan", **TINY), "deblurgan", TINY
    )
    model, header = load_network(path, role="deblurrer")
    assert header["architecture"] == "deblurgan" and not model.training


def test_the_weights_kind_must_match_the_command():
    attributes = pretrained_path("attributes.safetensors")
    with pytest.raises(FaceDeblurError, match="not the deblurrer"):
        load_model(attributes)
    with pytest.raises(FaceDeblurError, match="facedeblur moments"):
        load_model(pretrained_path("moments.safetensors"))
    with pytest.raises(FaceDeblurError, match="restores one moment only"):
        load_moments_model(pretrained_path("default.safetensors"))
    with pytest.raises(FaceDeblurError, match="not the moments model"):
        load_moments_model(attributes)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["deblur", "export"])
def test_the_cli_refuses_an_attribute_classifier_as_a_deblurrer(tmp_path, command):
    attributes = str(pretrained_path("attributes.safetensors"))
    image = tmp_path / "in.png"
    image.write_bytes(b"")
    args = {
        "deblur": ["deblur", "--model", attributes, str(image), "-o", str(tmp_path / "out")],
        "export": ["export", "--model", attributes, "-o", str(tmp_path / "x.onnx")],
    }[command]
    run = subprocess.run(
        [sys.executable, "-m", "facedeblur.cli", *args], capture_output=True, text=True
    )
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "Traceback" not in run.stderr
    assert "not the deblurrer" in run.stderr
    assert not (tmp_path / "x.onnx").exists() and not (tmp_path / "out").exists()
