"""The kinds of image the public API takes, and giving a result back in the kind it was given.

A path (``str`` or ``Path``) is read with ``read_image``; a PIL image is turned upright by its
EXIF orientation and converted to RGB (alpha composited on white, as files are); a numpy array
is RGB (H, W, 3), float in [0, 1] or uint8; a tensor is CHW or NCHW with N = 1, float in
[0, 1] or uint8. Results come back as the same kind: a PIL image (RGB, uint8) for a PIL image,
a float32 array in [0, 1] for an array or a path, and a float32 tensor in [0, 1] of the input's
shape layout and device for a tensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from ..errors import FaceDeblurError
from .images import read_image, to_float32, to_uint8

PATH, PIL_IMAGE, ARRAY, TENSOR = "path", "PIL image", "array", "tensor"
# PIL modes of one channel wider than 8 bits, and the value that is white.
_WIDE_MODES = {"I;16": 65535.0, "I;16B": 65535.0, "I;16L": 65535.0, "I": 65535.0, "F": 1.0}


@dataclass(frozen=True)
class ImageKind:
    """What an API call was given: ``kind`` (``PATH``, ``PIL_IMAGE``, ``ARRAY`` or ``TENSOR``),
    and for a tensor whether it had a batch dimension and which device it lived on."""

    kind: str
    batched: bool = False
    device: torch.device | None = None


def _from_pil(image: Image.Image) -> np.ndarray:
    image = ImageOps.exif_transpose(image)
    if image.mode in _WIDE_MODES:
        grey = np.asarray(image, dtype=np.float32) / _WIDE_MODES[image.mode]
        return np.repeat(np.clip(grey, 0.0, 1.0)[:, :, None], 3, axis=2)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if not has_alpha:
        return to_float32(np.asarray(image.convert("RGB")))
    rgba = to_float32(np.asarray(image.convert("RGBA")))
    alpha = rgba[:, :, 3:4]
    return np.ascontiguousarray(rgba[:, :, :3] * alpha + (1.0 - alpha))


def _from_tensor(image: torch.Tensor) -> tuple[np.ndarray, ImageKind]:
    batched = image.dim() == 4
    if image.dim() not in (3, 4) or (batched and image.shape[0] != 1):
        raise FaceDeblurError(
            f"expected a CHW tensor or an NCHW tensor with N = 1, got shape {tuple(image.shape)}"
        )
    chw = image[0] if batched else image
    if chw.shape[0] != 3:
        raise FaceDeblurError(f"expected an RGB image, got {chw.shape[0]} channels")
    array = chw.detach().cpu().numpy().transpose(1, 2, 0)
    array = to_float32(array) if array.dtype == np.uint8 else array.astype(np.float32)
    return np.ascontiguousarray(array), ImageKind(TENSOR, batched, image.device)


def to_array(image) -> tuple[np.ndarray, ImageKind]:
    """An image of any accepted kind as an RGB (H, W, 3) array, and the kind it was.

    The array is float32 in [0, 1] for paths, PIL images and tensors; an array is returned as
    given (float in [0, 1] or uint8) for the caller to check.

    Raises:
        InputError: a path that is not a readable image.
        FaceDeblurError: an object of another type, or a tensor of the wrong shape.
    """
    if isinstance(image, (str, Path)):
        return read_image(image), ImageKind(PATH)
    if isinstance(image, Image.Image):
        return _from_pil(image), ImageKind(PIL_IMAGE)
    if isinstance(image, torch.Tensor):
        return _from_tensor(image)
    if isinstance(image, np.ndarray):
        return image, ImageKind(ARRAY)
    raise FaceDeblurError(
        "expected an image path, a PIL image, a numpy array or a tensor, "
        f"got {type(image).__name__}"
    )


def from_array(array: np.ndarray, kind: ImageKind):
    """An RGB (H, W, 3) float image in [0, 1] as the ``kind`` that ``to_array`` recorded."""
    if kind.kind == PIL_IMAGE:
        return Image.fromarray(to_uint8(array))
    if kind.kind == TENSOR:
        tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32))
        tensor = tensor.to(kind.device)
        return tensor[None] if kind.batched else tensor
    return to_float32(array)
