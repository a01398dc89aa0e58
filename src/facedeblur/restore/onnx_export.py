"""ONNX export of a generator, with dynamic batch, height and width, checked against torch.

The ONNX model has one input ``input`` and one output ``output``: (N, 3, H, W) float RGB in
[0, 1], H and W multiples of the model's ``pad_multiple`` (``Deblurrer`` pads to them). Its
metadata (key ``facedeblur``) holds the weights header plus ``pad_multiple``, which is all
``onnx_runner.OnnxRunner`` needs to run it.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import torch
from torch import nn

from ..errors import FaceDeblurError, UsageError
from ..io import atomic_write_bytes
from ..models.nafnet import fold_for_inference
from ..models.ops import final_output
from ..models.weights import HEADER_KEY, default_model_path, load_network
from .deblurrer import Deblurrer
from .onnx_quantize import INT8_MODES, calibration_faces, quantize_onnx
from .onnx_runner import OnnxRunner

DEFAULT_OPSET = 17
MIN_OPSET, MAX_OPSET = 11, 20
TOLERANCE = 1e-3
AXES = {0: "batch", 2: "height", 3: "width"}


class _FullResolution(nn.Module):
    """A generator reduced to its full-resolution output (the last of a multi-scale list)."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return final_output(self.generator(x))


def onnx_bytes(
    model: nn.Module,
    header: dict,
    size: int = 128,
    opset: int = DEFAULT_OPSET,
    fold: bool = True,
) -> bytes:
    """Export ``model`` to a serialized ONNX model.

    ``header`` and ``pad_multiple`` go in its metadata.

    With ``fold``, the graph is that of ``models.nafnet.fold_for_inference(model)`` (fewer
    nodes, the same output). It is traced on a ``size`` x ``size`` input (rounded up to
    ``pad_multiple``); the result is then run by onnxruntime on a batch of another size and
    compared with ``model`` itself in torch.

    Raises:
        FaceDeblurError: when export fails, or the ONNX output differs from torch's by more
            than 1e-3 (e.g. an operation that does not follow dynamic sizes).
    """
    onnx = _import_onnx()
    if size < 1:
        raise UsageError(f"export size must be positive, got {size}")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise UsageError(
            f"opset {opset} is outside what the exporter writes ({MIN_OPSET} to {MAX_OPSET})"
        )
    multiple = int(getattr(model, "pad_multiple", 1))
    side = -(-size // multiple) * multiple
    reference = _FullResolution(model).eval()
    wrapped = _FullResolution(fold_for_inference(model) if fold else model).eval()
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    buffer = io.BytesIO()
    # The TorchScript exporter is the one that needs only the `onnx` package (the torch.export
    # one also needs onnxscript and takes ~10x longer); its warnings are about its own
    # internals, and the result is checked numerically below.
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        try:
            example = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0)).to(
                device
            )
            torch.onnx.export(
                wrapped,
                (example,),
                buffer,
                dynamo=False,
                opset_version=opset,
                input_names=["input"],
                output_names=["output"],
                dynamic_axes={"input": AXES, "output": AXES},
            )
        except (
            Exception
        ) as exc:  # the exporter raises many types; any of them means the same to a user
            raise FaceDeblurError(
                f"ONNX export of {header.get('architecture', 'the model')} failed: "
                f"{str(exc).strip().splitlines()[0]}"
            ) from None
    proto = onnx.load_model_from_string(buffer.getvalue())
    onnx.helper.set_model_props(
        proto, {HEADER_KEY: json.dumps({**header, "pad_multiple": multiple}, sort_keys=True)}
    )
    data = proto.SerializeToString()
    _check(reference, OnnxRunner(data, name="the exported model"), side, multiple, device)
    return data


def _check(
    model: nn.Module, runner: OnnxRunner, side: int, multiple: int, device: torch.device
) -> None:
    """Compare onnxruntime with torch on a seeded batch of 2.

    The batch's height differs from the traced one.
    """
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, side + multiple, side, generator=generator)
    with torch.no_grad():
        expected = model(x.to(device)).float().cpu()
    got = runner(x)
    if got.shape != expected.shape:
        raise FaceDeblurError(
            f"the exported model returns {tuple(got.shape)} "
            f"where torch returns {tuple(expected.shape)}"
        )
    diff = (got - expected).abs().max().item()
    if not diff <= TOLERANCE:
        raise FaceDeblurError(
            f"the exported model differs from torch by {diff:.2e} (tolerance {TOLERANCE:g})"
        )


def export_onnx(
    source: str | Path | Deblurrer | None,
    out_path: str | Path,
    size: int = 128,
    opset: int = DEFAULT_OPSET,
    int8: str | None = None,
    calibration: str | Path | None = None,
    calibration_count: int = 64,
) -> Path:
    """Export a generator to an ONNX file, atomically; returns its path.

    Args:
        source: a facedeblur weights file, a torch ``Deblurrer``, or None for the shipped default
            model.
        out_path: the ``.onnx`` file to write.
        size: side of the square input the graph is traced on (any size runs afterwards).
        opset: ONNX opset version.
        int8: None for float32, or ``dynamic`` / ``static`` to quantize the checked float32
            graph (``onnx_quantize.quantize_onnx``). Not the default: on the CPUs measured it
            was slower than float32 and slightly worse (docs/speed.md).
        calibration: for ``static``, a folder of blurry face crops of training people; its first
            ``calibration_count`` images calibrate the activation ranges.
    """
    if int8 is not None and int8 not in INT8_MODES:
        raise UsageError(f"unknown int8 mode {int8!r}; valid modes: {', '.join(INT8_MODES)}")
    if (int8 == "static") != (calibration is not None):
        raise UsageError("static int8 needs calibration faces (a folder); other exports take none")
    if isinstance(source, Deblurrer):
        if not isinstance(source.model, nn.Module):
            raise UsageError(
                "this Deblurrer already runs an ONNX model; export from its weights file instead"
            )
        model, header = source.model, source.header
    else:
        source = default_model_path() if source is None else Path(source)
        if Path(out_path).resolve() == source.resolve():
            raise UsageError(
                f"{out_path}: the ONNX file would overwrite the weights it is made from"
            )
        model, header = load_network(source, role="deblurrer")
    if Path(out_path).suffix.lower() != ".onnx":
        raise UsageError(
            f"{out_path}: name the ONNX file with the .onnx suffix (the backend goes by it)"
        )
    data = onnx_bytes(model, header, size=size, opset=opset)
    if int8 is not None:
        multiple = int(getattr(model, "pad_multiple", 1))
        faces = (
            calibration_faces(calibration, calibration_count, -(-size // multiple) * multiple)
            if int8 == "static"
            else None
        )
        data = quantize_onnx(data, int8, faces)
    return atomic_write_bytes(out_path, data)


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise FaceDeblurError("ONNX export needs the onnx package: pip install onnx") from None
    return onnx
