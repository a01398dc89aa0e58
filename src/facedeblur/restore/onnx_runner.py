"""Running an exported generator with onnxruntime, behind the same call as a torch model.

An ``OnnxRunner`` is what ``Deblurrer`` needs from a network: it is called on an NCHW float
tensor whose sides are multiples of ``pad_multiple`` and returns the restored NCHW tensor, so
padding, tiling and batching stay in ``Deblurrer``. ``pad_multiple`` and the weights header
come from the model's metadata (key ``facedeblur``), which ``export.export_onnx`` writes.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch

from ..errors import FaceDeblurError, UsageError
from ..models.weights import HEADER_KEY

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
OPTIMIZATION_LEVELS = {
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}
# Largest pad multiple accepted from a model's metadata (networks here use 1 to 16).
MAX_PAD_MULTIPLE = 1024


def import_onnxruntime():
    """The ``onnxruntime`` module, or a one-line error saying how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise FaceDeblurError(
            "the onnxruntime backend needs onnxruntime: pip install onnxruntime "
            "(or use the torch backend)"
        ) from None
    return onnxruntime


class OnnxRunner:
    """An onnxruntime session over a facedeblur ONNX model.

    It is callable like the generator it came from.

    Args:
        model: the serialized ONNX model (bytes of a ``.onnx`` file).
        threads: onnxruntime's intra-op threads (None: onnxruntime's default, one per core).
        device: ``cpu``, or ``cuda`` where onnxruntime was built with CUDA.
        name: how errors name the model (e.g. its path).
        spin: let idle intra-op threads spin-wait for work (onnxruntime's default). Off here:
            spinning threads take cores from everything else on the machine, including torch
            code (face detection) running between two calls; docs/speed.md has the
            measurements.
    """

    def __init__(
        self,
        model: bytes,
        threads: int | None = None,
        device: str = "cpu",
        name: str = "ONNX model",
        spin: bool = False,
    ):
        ort = import_onnxruntime()
        provider = PROVIDERS.get(str(device).split(":")[0])
        if provider not in ort.get_available_providers():
            raise UsageError(
                f"this onnxruntime cannot run on {device!r} "
                f"(it has {', '.join(ort.get_available_providers())})"
            )
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        try:
            self.session = ort.InferenceSession(model, options, providers=[provider])
        except Exception as exc:  # onnxruntime's own exception types derive from Exception only
            raise FaceDeblurError(
                f"{name}: onnxruntime cannot load it ({_first_line(exc)})"
            ) from None
        metadata = self.session.get_modelmeta().custom_metadata_map
        if HEADER_KEY not in metadata:
            raise FaceDeblurError(
                f"{name}: ONNX model carries no facedeblur header; make it with `facedeblur export`"
            )
        try:
            self.header = json.loads(metadata[HEADER_KEY])
        except json.JSONDecodeError:
            raise FaceDeblurError(f"{name}: its facedeblur header is not valid JSON") from None
        if not isinstance(self.header, dict):
            raise FaceDeblurError(f"{name}: its facedeblur header is not a JSON object")
        self.pad_multiple = _pad_multiple(self.header.get("pad_multiple", 1), name)
        self.input_name = self.session.get_inputs()[0].name
        self.name = name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Restore (N, 3, H, W) float in [0, 1]; returns a CPU tensor.

        H and W must be multiples of ``pad_multiple``.
        """
        feed = {self.input_name: x.detach().float().cpu().contiguous().numpy()}
        try:
            output = self.session.run(None, feed)[0]
        except Exception as exc:  # see __init__
            raise FaceDeblurError(
                f"{self.name}: onnxruntime failed on a {tuple(x.shape)} input ({_first_line(exc)})"
            ) from None
        return torch.from_numpy(output)


def optimized_model(model: bytes, level: str = "all") -> bytes:
    """``model`` as onnxruntime runs it on this machine's CPU: after its graph optimisations.

    Args:
        model: a serialized ONNX model.
        level: ``basic`` (constant folding, redundant nodes, simple fusions), ``extended``
            (more fusions) or ``all`` (also the CPU's blocked memory layout, NCHWc, with its
            reorder nodes, and Adds fused into convolutions where shapes are known to match).

    The result comes from ``SessionOptions.optimized_model_filepath``. At ``all`` it holds
    operators of this CPU's kernels: for inspecting what was fused, not for shipping.
    """
    if level not in OPTIMIZATION_LEVELS:
        raise UsageError(
            f"unknown optimisation level {level!r}; valid: {', '.join(OPTIMIZATION_LEVELS)}"
        )
    ort = import_onnxruntime()
    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(
        ort.GraphOptimizationLevel, OPTIMIZATION_LEVELS[level]
    )
    options.log_severity_level = 3  # saving at "all" warns that the result is CPU-specific
    with tempfile.TemporaryDirectory(prefix="facedeblur-ort-") as tmp:
        options.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        try:
            ort.InferenceSession(model, options, providers=[PROVIDERS["cpu"]])
        except Exception as exc:  # see OnnxRunner.__init__
            raise FaceDeblurError(
                f"onnxruntime cannot load the model ({_first_line(exc)})"
            ) from None
        return Path(options.optimized_model_filepath).read_bytes()


def _pad_multiple(value, name: str) -> int:
    """The metadata's ``pad_multiple``: an integer from 1 to ``MAX_PAD_MULTIPLE``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAD_MULTIPLE:
        raise FaceDeblurError(
            f"{name}: its pad_multiple must be an integer from 1 to {MAX_PAD_MULTIPLE}, "
            f"got {value!r}"
        )
    return value


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
