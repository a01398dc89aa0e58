"""int8 quantization of an exported generator with onnxruntime's quantization tools.

Two kinds (``INT8_MODES``):

- ``dynamic``: 8-bit (uint8) weights; each convolution quantizes its input on the fly from
  that input's own range (``ConvInteger``). Needs no data.
- ``static``: int8 weights and activations with fixed ranges measured beforehand on
  calibration faces (QDQ format: QuantizeLinear/DequantizeLinear pairs that onnxruntime fuses
  into int8 convolutions), per-channel weight scales.

Only convolutions are quantized, and not the first and the last (``_edge_convs``).

The result keeps the facedeblur header (with ``"int8": mode`` added), so ``OnnxRunner`` and
``load_model(..., backend="onnxruntime")`` run it like any exported model. docs/speed.md has
its measured quality and speed on held-out faces; it is an option, not the default.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import FaceDeblurError, InputError, UsageError
from ..io import image_to_tensor, list_images, read_image
from ..models.weights import HEADER_KEY

INT8_MODES = ("dynamic", "static")


def quantize_onnx(model: bytes, mode: str, calibration: torch.Tensor | None = None) -> bytes:
    """Quantize a facedeblur ONNX model (bytes from ``onnx_export.onnx_bytes``) to int8.

    Args:
        model: the float32 model.
        mode: ``dynamic`` or ``static``.
        calibration: for ``static`` only, (N, 3, H, W) float RGB in [0, 1] faces like the ones
            the model will restore (blurry inputs), H and W multiples of the model's
            ``pad_multiple``; each face is run once to measure activation ranges.

    Returns the serialized int8 model.
    """
    if mode not in INT8_MODES:
        raise UsageError(f"unknown int8 mode {mode!r}; valid modes: {', '.join(INT8_MODES)}")
    if mode == "static" and (calibration is None or len(calibration) == 0):
        raise UsageError("static int8 quantization needs calibration faces")
    if mode == "dynamic" and calibration is not None:
        raise UsageError("dynamic int8 quantization takes no calibration faces")
    onnx, quantization = _import_tools()
    with tempfile.TemporaryDirectory(prefix="facedeblur-int8-") as tmp:
        source, prepared, target = (Path(tmp) / n for n in ("f32.onnx", "pre.onnx", "int8.onnx"))
        source.write_bytes(model)
        header = _header(onnx.load(str(source)))
        try:
            quantization.quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
            graph = onnx.load(str(prepared)).graph
            common = {"op_types_to_quantize": ["Conv"], "nodes_to_exclude": _edge_convs(graph)}
            if mode == "dynamic":
                quantization.quantize_dynamic(
                    str(prepared),
                    str(target),
                    weight_type=quantization.QuantType.QUInt8,
                    **common,
                )
            else:
                quantization.quantize_static(
                    str(prepared),
                    str(target),
                    _Faces(graph.input[0].name, calibration),
                    quant_format=quantization.QuantFormat.QDQ,
                    per_channel=True,
                    activation_type=quantization.QuantType.QUInt8,
                    weight_type=quantization.QuantType.QInt8,
                    **common,
                )
        except Exception as exc:  # the tools raise many types; any of them means the same here
            text = str(exc).strip()
            raise FaceDeblurError(
                f"int8 {mode} quantization failed: {text.splitlines()[0] if text else exc!r}"
            ) from None
        proto = onnx.load(str(target))
    onnx.helper.set_model_props(
        proto, {HEADER_KEY: json.dumps({**header, "int8": mode}, sort_keys=True)}
    )
    return proto.SerializeToString()


def calibration_faces(folder: str | Path, count: int = 64, size: int = 128) -> torch.Tensor:
    """The first ``count`` images of ``folder`` (sorted by path) as calibration faces.

    Each is cut to its central square and resized (area) to ``size`` x ``size``: give blurry
    face crops like the ones the model restores, of people it trained on (calibration data is
    not for measuring). Returns (N, 3, size, size) float RGB in [0, 1]; ``InputError`` for a
    folder without images or an image that cannot be read.
    """
    if count < 1 or size < 1:
        raise UsageError(f"calibration needs a positive count and size, got {count} and {size}")
    paths = list_images(folder)[:count] if Path(folder).is_dir() else []
    if not paths:
        raise InputError(folder, "no images to calibrate on")
    faces = []
    for path in paths:
        image = image_to_tensor(read_image(path))
        height, width = image.shape[-2:]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        square = image[None, :, top : top + side, left : left + side]
        faces.append(F.interpolate(square, size=(size, size), mode="area")[0])
    return torch.stack(faces)


class _Faces:
    """Calibration inputs one face at a time, as onnxruntime's ``CalibrationDataReader``."""

    def __init__(self, input_name: str, faces: torch.Tensor):
        self.feeds = iter(
            [{input_name: face[None].detach().float().cpu().numpy()} for face in faces]
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.feeds, None)


def _header(proto) -> dict:
    props = {p.key: p.value for p in proto.metadata_props}
    if HEADER_KEY not in props:
        raise FaceDeblurError(
            "the ONNX model carries no facedeblur header; make it with `facedeblur export`"
        )
    return json.loads(props[HEADER_KEY])


def _edge_convs(graph) -> list[str]:
    """Names of the first and the last convolution (ONNX lists nodes in topological order).

    They stay float32: the first reads the image itself, where uint8 x int8 products can
    saturate on AVX2 CPUs, and the last writes the residual added to the input, where every
    int8 step shows in the output.
    """
    convs = [node.name for node in graph.node if node.op_type == "Conv"]
    return sorted({convs[0], convs[-1]}) if convs else []


def _import_tools():
    try:
        import onnx
        from onnxruntime import quantization
    except ImportError:
        raise FaceDeblurError(
            "int8 quantization needs onnx and onnxruntime: pip install onnx onnxruntime"
        ) from None
    return onnx, quantization
