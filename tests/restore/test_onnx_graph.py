"""The exported graph: folded NAF blocks, one LayerNormalization node per norm, a constant gate
split, the same output as torch; and what onnxruntime makes of it."""

from __future__ import annotations

import collections

import numpy as np
import onnx
import pytest
import torch

from facedeblur.errors import UsageError
from facedeblur.models import build_model
from facedeblur.models.weights import default_model_path, load_network
from facedeblur.restore.onnx_export import onnx_bytes
from facedeblur.restore.onnx_runner import OnnxRunner, optimized_model

SMALL = {"width": 8, "enc_blocks": [1, 1], "middle_blocks": 1, "dec_blocks": [1, 1]}
TOLERANCE = 1e-4


def _ops(data: bytes) -> collections.Counter:
    graph = onnx.load_model_from_string(data).graph
    return collections.Counter(n.op_type for n in graph.node if n.op_type != "Constant")


def _trained_like(args: dict) -> torch.nn.Module:
    """A NAFNet with random branch scales and norm affines (a fresh one has zero scales)."""
    generator = torch.Generator().manual_seed(0)
    model = build_model("nafnet", **args).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("beta", "gamma", "bias")) or "norm" in name:
                p.add_(torch.randn(p.shape, generator=generator) * 0.3)
    return model


def _compare_folded_with_unfolded(model: torch.nn.Module, header: dict, size: int) -> None:
    unfolded = onnx_bytes(model, header, size=size, fold=False)
    folded = onnx_bytes(model, header, size=size)
    assert sum(_ops(folded).values()) < sum(_ops(unfolded).values())
    for level in ("basic", "all"):
        optimized = [sum(_ops(optimized_model(d, level)).values()) for d in (folded, unfolded)]
        assert optimized[0] <= optimized[1], level
    x = torch.rand(3, 3, size + 8, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model(x)
    got = OnnxRunner(folded, threads=1)(x)
    assert (got - expected).abs().max().item() <= TOLERANCE


def test_folded_export_has_fewer_nodes_and_the_same_output():
    _compare_folded_with_unfolded(_trained_like(SMALL), {"architecture": "nafnet"}, size=32)


@pytest.mark.slow
def test_folded_export_of_the_shipped_model_has_fewer_nodes_and_the_same_output():
    model, header = load_network(default_model_path())
    _compare_folded_with_unfolded(model, header, size=64)


def test_norms_export_as_layer_normalization_and_gates_split_at_a_constant():
    model = _trained_like(SMALL)
    blocks = 5  # enc 1 + 1, middle 1, dec 1 + 1
    ops = _ops(onnx_bytes(model, {"architecture": "nafnet"}, size=32))
    assert ops["LayerNormalization"] == 2 * blocks and ops["Split"] == 2 * blocks
    assert not {"ReduceMean", "Shape", "Gather", "Slice"} & set(ops), ops
    # beta and gamma are in the convolutions: the Muls left are the gates' and the attention's.
    assert ops["Mul"] == 3 * blocks


def test_optimized_model_refuses_an_unknown_level():
    with pytest.raises(UsageError, match="optimisation level 'fast'"):
        optimized_model(b"", "fast")


def test_onnx_runner_threads_spin_only_when_asked():
    data = onnx_bytes(_trained_like(SMALL), {"architecture": "nafnet"}, size=16)
    for spin, value in ((False, "0"), (True, "1")):
        runner = OnnxRunner(data, threads=1, spin=spin)
        entries = runner.session.get_session_options().get_session_config_entry
        assert entries("session.intra_op.allow_spinning") == value
    x = np.random.default_rng(0).random((1, 3, 16, 16), dtype=np.float32)
    assert runner(torch.from_numpy(x)).shape == (1, 3, 16, 16)
