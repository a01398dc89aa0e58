"""Released weights: safetensors whose JSON header names the architecture and its arguments.

The header (safetensors ``__metadata__``, key ``facedeblur``) holds ``{"architecture",
"args", "data", "metrics", ...}``, so ``load_network`` rebuilds the model without code edits
and a file that does not fit its architecture is an error, never random weights.
"""

from __future__ import annotations

import importlib.resources
import json
import math
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_safetensors_bytes
from torch.overrides import TorchFunctionMode

from ..errors import FaceDeblurError, InputError, UsageError
from ..io import atomic_write_bytes
from . import ROLES, build_model

HEADER_KEY = "facedeblur"
# Bounds of header arguments (widths, block counts, ...) and of the lists among them.
MAX_ARG = 4096
MAX_LIST = 64
# Where weights of each role belong, for the line refusing them elsewhere.
ROLE_HINTS = {
    "moments model": "; CFMD weights restore moments: use `facedeblur moments`",
    "attribute classifier": "; it is for `facedeblur obfuscate --method attributes`",
    "face rebuild network": "; it is for `facedeblur obfuscate --method attributes`",
    "discriminator": "; a discriminator only trains a generator",
}


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


def read_header(path: str | Path) -> dict:
    """The checked header of a weights file, read without its tensors.

    Returns a dict with at least ``architecture`` (str) and ``args`` (dict). ``InputError``
    (one line) for a missing file, one that is not safetensors, or a header that is not a JSON
    object naming an architecture, or whose arguments break ``check_args``.
    """
    return _open(path, with_tensors=False)[0]


def read_weights(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """The checked header (see ``read_header``) and the tensors of a weights file."""
    return _open(path, with_tensors=True)


def _open(path: str | Path, with_tensors: bool) -> tuple[dict, dict[str, torch.Tensor]]:
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such weights file")
    try:
        with safe_open(str(path), framework="pt") as fh:
            metadata = fh.metadata() or {}
            tensors = {key: fh.get_tensor(key) for key in fh.keys()} if with_tensors else {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(path, f"not a safetensors weights file ({exc})") from None
    if HEADER_KEY not in metadata:
        raise InputError(path, "weights carry no facedeblur header (architecture and arguments)")
    try:
        header = json.loads(metadata[HEADER_KEY])
    except json.JSONDecodeError:
        raise InputError(path, "its facedeblur header is not valid JSON") from None
    if not isinstance(header, dict) or not isinstance(header.get("architecture"), str):
        raise InputError(path, "its facedeblur header is not a JSON object naming an architecture")
    header.setdefault("args", {})
    problem = check_args(header["args"])
    if problem:
        raise InputError(path, f"its header arguments are out of bounds: {problem}")
    return header, tensors


def check_args(args: dict) -> str | None:
    """What is wrong with a header's architecture arguments, or None.

    They must be a JSON object whose numbers are finite and in [0, ``MAX_ARG``] and whose lists
    hold at most ``MAX_LIST`` items (nested objects, e.g. a CFMD base, alike): bounds no
    network here comes near, so building one never loops or allocates without end.
    """
    if not isinstance(args, dict):
        return f"args must be a JSON object, got {type(args).__name__}"
    return _bad_value(args, "args")


def _bad_value(value, where: str) -> str | None:
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        if len(value) > MAX_LIST:
            return f"{where} has {len(value)} items (at most {MAX_LIST})"
        items = ((str(i), v) for i, v in enumerate(value))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        ok = math.isfinite(value) and 0 <= value <= MAX_ARG
        return None if ok else f"{where}={value} (numbers must lie in [0, {MAX_ARG}])"
    else:
        return None
    for key, item in items:
        problem = _bad_value(item, f"{where}.{key}")
        if problem:
            return problem
    return None


def load_network(path: str | Path, role: str | None = None) -> tuple[torch.nn.Module, dict]:
    """Rebuild the network a weights file describes and load it strictly.

    The network is not allocated until the file is known to fit: the header is checked
    (``read_header``), the architecture's role (``models.ROLES``) must be ``role`` when one is
    given, the network is first built on the meta device and every parameter and buffer shape
    compared with the file's tensors, and every float tensor must be finite. Each failure is an
    ``InputError`` naming the file, on one line.

    Args:
        path: a facedeblur ``.safetensors`` file.
        role: what the caller needs, e.g. ``"deblurrer"``; None accepts any network.

    Returns (model in eval mode, on the CPU, header).
    """
    header, tensors = read_weights(path)
    architecture, args = header["architecture"], header["args"]
    if role is not None:
        _check_role(Path(path), architecture, role)
    _check_fit(Path(path), architecture, _meta_shapes(Path(path), architecture, args), tensors)
    model = build_model(architecture, **args)
    model.load_state_dict(tensors)
    model.eval()
    return model, header


def _check_role(path: Path, architecture: str, role: str) -> None:
    kind = ROLES.get(architecture)
    if kind == role:
        return
    hint = ROLE_HINTS.get(kind, "")
    raise InputError(
        path,
        f"holds {architecture!r} weights ({kind or 'unknown kind'}), not the {role} this needs"
        f"{hint}",
    )


def _meta_shapes(path: Path, architecture: str, args: dict) -> dict[str, tuple[int, ...]]:
    """Parameter and buffer shapes of the network the header describes, built without memory."""
    try:
        with torch.device("meta"), _SkipMetaInit():
            model = build_model(architecture, **args)
    except UsageError as exc:
        raise InputError(path, str(exc)) from None
    except Exception as exc:  # a constructor fed odd arguments can fail in many ways
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(
            path, f"its header does not build a {architecture!r} network ({reason})"
        ) from None
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def _check_fit(
    path: Path, architecture: str, shapes: dict[str, tuple[int, ...]], tensors: dict
) -> None:
    missing = sorted(set(shapes) - set(tensors))
    unexpected = sorted(set(tensors) - set(shapes))
    if missing or unexpected:
        raise InputError(
            path,
            f"weights do not fit {architecture} (keys: {', '.join((missing + unexpected)[:4])})",
        )
    for key, shape in shapes.items():
        if tuple(tensors[key].shape) != shape:
            raise InputError(
                path,
                f"weights do not fit the {architecture} its header describes ({key}: file "
                f"{tuple(tensors[key].shape)}, header {shape})",
            )
    for key, tensor in tensors.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise InputError(path, f"weights hold NaN or infinite values ({key})")


class _SkipMetaInit(TorchFunctionMode):
    """Skips in-place calls (``normal_``, ``uniform_``, ...) on meta tensors: they hold no values,
    and torch runs some of them (e.g. ``normal_``) through its compiler, seconds per process."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name.endswith("_") and not name.startswith("_"):
            target = args[0] if args else kwargs.get("tensor")
            if isinstance(target, torch.Tensor) and target.is_meta:
                return target
        return func(*args, **kwargs)


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


SHIPPED_DEBLURRERS = {"default": DEFAULT_MODEL_FILE, "default-v1": "default-v1.safetensors"}
"""The face deblurrers shipped in ``facedeblur/pretrained``, by the name ``--model`` takes."""


def deblurrer_path(model: str | Path | None) -> Path:
    """The weights file of ``model``: a shipped deblurrer's name (``SHIPPED_DEBLURRERS``), None
    for the default, or a path (a file of that name in the current folder wins over a name).
    """
    if model is None:
        return default_model_path()
    if str(model) in SHIPPED_DEBLURRERS and not Path(model).exists():
        return pretrained_path(SHIPPED_DEBLURRERS[str(model)])
    return Path(model)


def default_model_path() -> Path:
    """The shipped default face deblurrer (``facedeblur/pretrained/default.safetensors``).

    Raises ``FaceDeblurError`` when this installation lacks the file.
    """
    return pretrained_path(DEFAULT_MODEL_FILE)
