"""Running a deblurring network on images of any size: padding, tiling with blended seams."""

from __future__ import annotations

import importlib.resources
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .errors import FaceDeblurError, UsageError
from .io import image_to_tensor, tensor_to_image, to_float32
from .models.ops import final_output
from .weights import load_network

DEFAULT_MODEL_FILE = "default.safetensors"
BACKENDS = ("torch", "onnxruntime")


class Deblurrer:
    """A network ready to restore images; keeps every input's size.

    Args:
        model: a generator taking and returning float RGB in [0, 1] (or a list, finest last): an
            ``nn.Module``, or any callable with a ``pad_multiple`` (e.g. ``onnx_runner.OnnxRunner``).
        device: ``cpu`` or ``cuda``.
        tile: restore images larger than this side tile by tile (0 = whole image at once).
        overlap: overlap of neighbouring tiles in pixels; seams are blended linearly.
        header: the weights header, kept for reports.
    """

    def __init__(self, model: torch.nn.Module | Callable[[torch.Tensor], torch.Tensor], device: str = "cpu",
                 tile: int = 0, overlap: int = 32, header: dict | None = None):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval() if isinstance(model, torch.nn.Module) else model
        self.multiple = int(getattr(model, "pad_multiple", 1))
        if tile and tile <= 2 * overlap:
            raise FaceDeblurError(f"tile size {tile} must be larger than twice the overlap ({overlap})")
        self.tile, self.overlap = tile, overlap
        self.header = header or {}

    @torch.no_grad()
    def _run(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        pad_h = (-height) % self.multiple
        pad_w = (-width) % self.multiple
        mode = "reflect" if pad_h < height and pad_w < width else "replicate"
        padded = F.pad(x, (0, pad_w, 0, pad_h), mode=mode) if pad_h or pad_w else x
        return final_output(self.model(padded.to(self.device))).float().cpu()[..., :height, :width].clamp(0.0, 1.0)

    def _tiled(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        step = self.tile - self.overlap
        out = torch.zeros_like(x)
        weight = torch.zeros((1, 1, height, width))
        ramp = torch.ones(self.tile)
        ramp[: self.overlap] = torch.linspace(0.0, 1.0, self.overlap + 2)[1:-1]
        ramp[-self.overlap:] = torch.linspace(1.0, 0.0, self.overlap + 2)[1:-1]
        for top in _starts(height, self.tile, step):
            for left in _starts(width, self.tile, step):
                patch = x[..., top:top + self.tile, left:left + self.tile]
                ph, pw = patch.shape[-2:]
                w = (ramp[:ph, None] * ramp[None, :pw])[None, None]
                out[..., top:top + ph, left:left + pw] += self._run(patch) * w
                weight[..., top:top + ph, left:left + pw] += w
        return out / weight

    def deblur_batch(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Restore several HWC images of one size in a single network call (e.g. face crops)."""
        if not images:
            return []
        shapes = {img.shape for img in images}
        if len(shapes) > 1:
            raise FaceDeblurError(f"a batch needs images of one size, got {sorted(shapes)}")
        x = torch.stack([image_to_tensor(to_float32(img)) for img in images])
        return [tensor_to_image(y) for y in self._run(x)]

    def deblur(self, image):
        """Restore an image: HWC numpy (float in [0, 1] or uint8), or a CHW / NCHW tensor in [0, 1].

        Returns the same kind of array or tensor, float in [0, 1], at the input's size.
        """
        is_numpy = isinstance(image, np.ndarray)
        if is_numpy:
            x = image_to_tensor(to_float32(image))[None]
        else:
            x = image[None] if image.dim() == 3 else image
        if x.shape[-3] != 3:
            raise FaceDeblurError(f"expected an RGB image, got {x.shape[-3]} channels")
        x = x.float()
        big = self.tile and max(x.shape[-2:]) > self.tile
        y = self._tiled(x) if big else self._run(x)
        if is_numpy:
            return tensor_to_image(y[0])
        return y[0] if image.dim() == 3 else y


def _starts(length: int, tile: int, step: int) -> list[int]:
    if length <= tile:
        return [0]
    count = math.ceil((length - tile) / step) + 1
    return sorted({min(i * step, length - tile) for i in range(count)})


def pretrained_path(filename: str, what: str = "default model", option: str = "--model") -> Path:
    """A weights file shipped in ``facedeblur/pretrained``; ``FaceDeblurError`` naming ``what`` and the
    command-line ``option`` that points at other weights when it is missing."""
    path = Path(str(importlib.resources.files("facedeblur") / "pretrained" / filename))
    if not path.is_file():
        raise FaceDeblurError(f"{path}: the shipped {what} is missing from this installation; "
                              f"reinstall facedeblur or pass {option}")
    return path


def default_model_path() -> Path:
    """The shipped default face deblurrer (``facedeblur/pretrained/default.safetensors``).

    Raises ``FaceDeblurError`` when this installation lacks the file.
    """
    return pretrained_path(DEFAULT_MODEL_FILE)


def load_model(path: str | Path | None = None, device: str = "cpu", tile: int = 0, backend: str = "torch",
               threads: int | None = None) -> Deblurrer:
    """Load a deblurring model from a facedeblur safetensors file (its header names the architecture).

    With no ``path``, the default model shipped inside the package (see MODEL_CARD.md).

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
    model, header = load_network(path)
    return Deblurrer(model, device=device, tile=tile, header=header)


def _onnx_runner(path: Path, device: str, threads: int | None):
    """An OnnxRunner for an ``.onnx`` file, or for weights exported to ONNX in memory."""
    from .onnx_runner import OnnxRunner, import_onnxruntime

    import_onnxruntime()  # fail before a costly export when it is missing
    if path.suffix.lower() == ".onnx":
        if not path.is_file():
            raise FaceDeblurError(f"{path}: no such ONNX file")
        return OnnxRunner(path.read_bytes(), threads=threads, device=device, name=str(path))
    from .export import onnx_bytes

    model, header = load_network(path)
    return OnnxRunner(onnx_bytes(model, header), threads=threads, device=device, name=str(path))
