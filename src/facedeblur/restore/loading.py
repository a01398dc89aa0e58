"""Loading a deblurring model for the torch or onnxruntime backend."""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import FaceDeblurError, UsageError
from ..models.runtime import resolve_device, set_threads
from ..models.weights import deblurrer_path, load_network
from .deblurrer import Deblurrer

BACKENDS = ("torch", "onnxruntime")


def load_model(
    path: str | Path | None = None,
    device: str = "auto",
    tile: int = 0,
    backend: str = "torch",
    threads: int | None = None,
    flip_ensemble: bool = False,
) -> Deblurrer:
    """Load a deblurring model from a facedeblur safetensors file.

    Its header names the architecture.

    With no ``path``, the default model shipped inside the package (see MODEL_CARD.md); a
    shipped model's name (``default``, ``default-v1``: ``models.weights.SHIPPED_DEBLURRERS``)
    loads that one. Only
    single-image deblurring networks load (``models.ROLES``); a CFMD moments model, an attribute
    classifier or a discriminator is refused with one line (``InputError``).

    Args:
        path: weights (``.safetensors``), or for the onnxruntime backend also a ``.onnx`` file
            written by ``facedeblur export``; a weights file is then exported in memory first.
        device: ``auto`` (CUDA when the backend can use it, else the CPU), ``cpu`` or ``cuda``
            (``models.runtime.resolve_device``).
        tile: restore images larger than this side tile by tile (0 = whole image at once).
        backend: ``torch`` or ``onnxruntime``.
        threads: CPU threads, 1 .. 256. For torch this is ``models.runtime.set_threads``, which
            holds for the whole process; None leaves the process's count (facedeblur's default,
            ``models.runtime.default_threads``, set when the package is imported). For
            onnxruntime the session's intra-op threads; None takes torch's current count.
        flip_ensemble: average each result with that of the mirror image (``Deblurrer``):
            twice the time, a little closer to the sharp face.
    """
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; valid backends: {', '.join(BACKENDS)}")
    device = resolve_device(device, backend)
    if threads is not None:
        set_threads(threads)
    path = deblurrer_path(path)
    if backend == "onnxruntime":
        runner = _onnx_runner(path, device, torch.get_num_threads())
        return Deblurrer(
            runner, device=device, tile=tile, header=runner.header, flip_ensemble=flip_ensemble
        )
    if path.suffix.lower() == ".onnx":
        raise UsageError(f"{path}: an ONNX model runs with the onnxruntime backend, not torch")
    model, header = load_network(path, role="deblurrer")
    return Deblurrer(model, device=device, tile=tile, header=header, flip_ensemble=flip_ensemble)


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
