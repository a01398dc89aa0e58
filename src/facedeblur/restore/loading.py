"""Loading a deblurring model for the torch or onnxruntime backend."""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import FaceDeblurError, UsageError
from ..models.weights import default_model_path, load_network
from .deblurrer import Deblurrer

BACKENDS = ("torch", "onnxruntime")


def load_model(
    path: str | Path | None = None,
    device: str = "cpu",
    tile: int = 0,
    backend: str = "torch",
    threads: int | None = None,
) -> Deblurrer:
    """Load a deblurring model from a facedeblur safetensors file.

    Its header names the architecture.

    With no ``path``, the default model shipped inside the package (see MODEL_CARD.md). Only
    single-image deblurring networks load (``models.ROLES``); a CFMD moments model, an attribute
    classifier or a discriminator is refused with one line (``InputError``).

    Args:
        path: weights (``.safetensors``), or for the onnxruntime backend also a ``.onnx`` file
            written by ``facedeblur export``; a weights file is then exported in memory first.
        device: ``cpu`` or ``cuda``.
        tile: restore images larger than this side tile by tile (0 = whole image at once).
        backend: ``torch`` or ``onnxruntime``.
        threads: CPU threads. For onnxruntime the session's intra-op threads (default: one per
            core); for torch this calls ``torch.set_num_threads``, which holds for the whole
            process (default: torch's own setting is left alone).
    """
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; valid backends: {', '.join(BACKENDS)}")
    if threads is not None and threads < 1:
        raise UsageError(f"threads must be at least 1, got {threads}")
    path = default_model_path() if path is None else Path(path)
    if backend == "onnxruntime":
        runner = _onnx_runner(path, device, threads)
        return Deblurrer(runner, device=device, tile=tile, header=runner.header)
    if path.suffix.lower() == ".onnx":
        raise UsageError(f"{path}: an ONNX model runs with the onnxruntime backend, not torch")
    if threads is not None:
        torch.set_num_threads(threads)
    model, header = load_network(path, role="deblurrer")
    return Deblurrer(model, device=device, tile=tile, header=header)


def _onnx_runner(path: Path, device: str, threads: int | None):
    """An OnnxRunner for an ``.onnx`` file, or for weights exported to ONNX in memory."""
    from .onnx_runner import OnnxRunner, import_onnxruntime

    import_onnxruntime()  # fail before a costly export when it is missing
    if path.suffix.lower() == ".onnx":
        if not path.is_file():
            raise FaceDeblurError(f"{path}: no such ONNX file")
        return OnnxRunner(path.read_bytes(), threads=threads, device=device, name=str(path))
    from .onnx_export import onnx_bytes

    model, header = load_network(path, role="deblurrer")
    return OnnxRunner(onnx_bytes(model, header), threads=threads, device=device, name=str(path))
