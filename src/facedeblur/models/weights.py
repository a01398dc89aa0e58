"""Released weights: safetensors whose JSON header names the architecture and its arguments.

The header (safetensors ``__metadata__``, key ``facedeblur``) holds ``{"architecture",
"args", "data", "metrics", ...}``, so ``load_network`` rebuilds the model without code edits
and a file that does not fit its architecture is an error, never random weights.
"""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_safetensors_bytes

from ..errors import FaceDeblurError
from ..io import atomic_write_bytes

HEADER_KEY = "facedeblur"


def save_weights(
    path: str | Path, model: torch.nn.Module, architecture: str, args: dict, **info
) -> Path:
    """Write ``model``'s state dict with a header {architecture, args, **info}, atomically."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return _write(path, tensors, {"architecture": architecture, "args": args, **info})


def _write(path: str | Path, tensors: dict[str, torch.Tensor], header: dict) -> Path:
    data = save_safetensors_bytes(
        tensors, metadata={HEADER_KEY: json.dumps(header, sort_keys=True)}
    )
    return atomic_write_bytes(path, data)


def weights_label(path: str | Path) -> str:
    """A short name for a weights file in reports: the file's stem, but for the files a training
    run writes (``generator.safetensors``, ``best.safetensors``) the run folder's name, so that
    ``runs/a/generator.safetensors`` reads "a" and ``runs/a/best.safetensors`` "a (best)"."""
    path = Path(path)
    if path.stem == "generator" and path.parent.name:
        return path.parent.name
    if path.stem == "best" and path.parent.name:
        return f"{path.parent.name} (best)"
    return path.stem


def read_weights(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """The header and tensors of a weights file, with one-line errors for bad files."""
    path = Path(path)
    if not path.is_file():
        raise FaceDeblurError(f"{path}: no such weights file")
    try:
        with safe_open(str(path), framework="pt") as fh:
            metadata = fh.metadata() or {}
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise FaceDeblurError(f"{path}: not a safetensors weights file ({exc})") from None
    if HEADER_KEY not in metadata:
        raise FaceDeblurError(
            f"{path}: weights carry no facedeblur header (architecture and arguments)"
        )
    return json.loads(metadata[HEADER_KEY]), tensors


def load_network(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """Rebuild the network a weights file describes and load it strictly.

    Returns (model, header).
    """
    from . import build_model

    header, tensors = read_weights(path)
    model = build_model(header["architecture"], **header.get("args", {}))
    result = model.load_state_dict(tensors, strict=False)
    problems = list(result.missing_keys) + list(result.unexpected_keys)
    if problems:
        raise FaceDeblurError(
            f"{path}: weights do not fit {header['architecture']} (keys: {', '.join(problems[:4])})"
        )
    model.eval()
    return model, header


def half_precision_copy(src: str | Path, dst: str | Path) -> Path:
    """Write ``src``'s weights with float32 tensors stored as float16.

    For shipping at half the size.

    The header is kept and gains ``"stored": "float16"``; ``load_network`` loads the file into
    the float32 model as before (each value rounded to float16 once). Integer tensors (e.g.
    batch-norm counters) are kept as they are.
    """
    header, tensors = read_weights(src)
    halved = {k: v.half() if v.dtype == torch.float32 else v for k, v in tensors.items()}
    return _write(dst, halved, {**header, "stored": "float16"})


DEFAULT_MODEL_FILE = "default.safetensors"


def pretrained_path(filename: str, what: str = "default model", option: str = "--model") -> Path:
    """A weights file shipped in ``facedeblur/pretrained``.

    ``FaceDeblurError`` naming ``what`` and the command-line ``option`` that points at other
    weights when it is missing.
    """
    path = Path(str(importlib.resources.files("facedeblur") / "pretrained" / filename))
    if not path.is_file():
        raise FaceDeblurError(
            f"{path}: the shipped {what} is missing from this installation; "
            f"reinstall facedeblur or pass {option}"
        )
    return path


def default_model_path() -> Path:
    """The shipped default face deblurrer (``facedeblur/pretrained/default.safetensors``).

    Raises ``FaceDeblurError`` when this installation lacks the file.
    """
    return pretrained_path(DEFAULT_MODEL_FILE)
