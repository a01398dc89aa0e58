"""Running a deblurring network on images of any size: padding, tiling with blended seams."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import FaceDeblurError
from ..io import image_to_tensor, tensor_to_image, to_float32
from ..io.kinds import from_array, to_array
from ..models.nafnet import fold_for_inference
from ..models.ops import final_output

# Smallest side restored: a few pixels hold no face to restore, and padding by reflection to
# the network's pad multiple needs sides of at least that multiple.
MIN_SIDE = 8
# Pixels one network call may take (batch x height x width, after padding). The default model
# needs about 1.2 kB a pixel on the CPU, so 4 MP is about 5 GB; larger images go in tiles.
MAX_PIXELS = 4_000_000


class Deblurrer:
    """A network ready to restore images; keeps every input's size.

    Args:
        model: a generator taking and returning float RGB in [0, 1] (or a list, finest last): an
            ``nn.Module``, or any callable with a ``pad_multiple`` (e.g.
            ``onnx_runner.OnnxRunner``).
        device: ``cpu`` or ``cuda``.
        tile: restore images larger than this side tile by tile (0 = whole image at once).
        overlap: overlap of neighbouring tiles in pixels; seams are blended linearly.
        header: the weights header, kept for reports.
        max_pixels: most pixels (batch x height x width) one network call may take; a larger
            image without tiles is refused with ``FaceDeblurError`` instead of running out of
            memory.
        fold: run ``models.nafnet.fold_for_inference``'s copy of an ``nn.Module`` (the same
            output up to float rounding, fewer operations); False runs ``model`` as given.
        flip_ensemble: restore each image and its mirror image (left-right) and average the
            two results, the mirror one flipped back: twice the network time for a result
            that no longer depends on which way the face was mirrored (MODEL_CARD.md has
            what it gains on held-out faces).

    Every call refuses (``FaceDeblurError``, one line) images with a side under ``min_side``
    (``MIN_SIDE`` or the network's pad multiple, whichever is larger) and network outputs that
    hold NaN or infinite values.
    """

    def __init__(
        self,
        model: torch.nn.Module | Callable[[torch.Tensor], torch.Tensor],
        device: str = "cpu",
        tile: int = 0,
        overlap: int = 32,
        header: dict | None = None,
        max_pixels: int = MAX_PIXELS,
        fold: bool = True,
        flip_ensemble: bool = False,
    ):
        self.device = torch.device(device)
        self.flip_ensemble = flip_ensemble
        if isinstance(model, torch.nn.Module):
            model = model.to(self.device).eval()
            self.model = fold_for_inference(model) if fold else model
        else:
            self.model = model
        self.multiple = int(getattr(model, "pad_multiple", 1))
        if self.multiple < 1:
            raise FaceDeblurError(
                f"the network's pad multiple must be positive, got {self.multiple}"
            )
        self.min_side = max(MIN_SIDE, self.multiple)
        self.max_pixels = max_pixels
        if tile and tile <= 2 * overlap:
            raise FaceDeblurError(
                f"tile size {tile} must be larger than twice the overlap ({overlap})"
            )
        self.tile, self.overlap = tile, overlap
        self.header = header or {}

    @torch.no_grad()
    def _run(self, x: torch.Tensor) -> torch.Tensor:
        check_size(x.shape, self.min_side, self.max_pixels, self.multiple)
        y = self._restore_padded(x)
        if self.flip_ensemble:
            y = (y + self._restore_padded(x.flip(-1)).flip(-1)) / 2
        return y

    def _restore_padded(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        pad_h = (-height) % self.multiple
        pad_w = (-width) % self.multiple
        # Reflection needs pads under the sides, which min_side >= multiple ensures.
        padded = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect") if pad_h or pad_w else x
        y = final_output(self.model(padded.to(self.device))).float().cpu()[..., :height, :width]
        return check_finite(y, width, height).clamp(0.0, 1.0)

    def _tiled(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        step = self.tile - self.overlap
        out = torch.zeros_like(x)
        weight = torch.zeros((1, 1, height, width))
        ramp = torch.ones(self.tile)
        ramp[: self.overlap] = torch.linspace(0.0, 1.0, self.overlap + 2)[1:-1]
        ramp[-self.overlap :] = torch.linspace(1.0, 0.0, self.overlap + 2)[1:-1]
        for top in _starts(height, self.tile, step):
            for left in _starts(width, self.tile, step):
                patch = x[..., top : top + self.tile, left : left + self.tile]
                ph, pw = patch.shape[-2:]
                w = (ramp[:ph, None] * ramp[None, :pw])[None, None]
                out[..., top : top + ph, left : left + pw] += self._run(patch) * w
                weight[..., top : top + ph, left : left + pw] += w
        out /= weight  # in place: no third photo-sized tensor
        return out

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
        """Restore an image at its own size: a path, a PIL image, an HWC numpy array (float in
        [0, 1] or uint8), or a CHW / NCHW tensor in [0, 1] (any batch size).

        Returns the same kind (``io.kinds``: an array for a path, a tensor on the input's
        device), float in [0, 1].
        """
        if not isinstance(image, (np.ndarray, torch.Tensor)):
            array, kind = to_array(image)
            return from_array(self.deblur(array), kind)
        is_numpy = isinstance(image, np.ndarray)
        if is_numpy:
            x = image_to_tensor(to_float32(image))[None]
        else:
            x = image[None] if image.dim() == 3 else image
        if x.shape[-3] != 3:
            raise FaceDeblurError(f"expected an RGB image, got {x.shape[-3]} channels")
        x = x.float()
        big = self.tile and max(x.shape[-2:]) > self.tile
        check_size(x.shape, self.min_side, math.inf if big else self.max_pixels, self.multiple)
        y = self._tiled(x) if big else self._run(x)
        if is_numpy:
            return tensor_to_image(y[0])
        y = y.to(image.device)
        return y[0] if image.dim() == 3 else y


def check_size(shape: torch.Size, min_side: int, max_pixels: int, multiple: int = 1) -> None:
    """Refuse an (N, C, H, W) input with a side under ``min_side`` or over ``max_pixels`` pixels
    in all (sides rounded up to ``multiple``) with a one-line ``FaceDeblurError``."""
    count, height, width = shape[0], shape[-2], shape[-1]
    if min(height, width) < min_side:
        raise FaceDeblurError(
            f"a {width}x{height} image is too small for the network "
            f"(it needs at least {min_side} pixels a side)"
        )
    pixels = count * -(-height // multiple) * multiple * -(-width // multiple) * multiple
    if pixels > max_pixels:
        raise FaceDeblurError(
            f"a {width}x{height} image is too large to restore at once "
            f"({pixels / 1e6:.1f} MP, the budget is {max_pixels / 1e6:g} MP); restore it in "
            "tiles (--tile 512, or tile=512 in Python)"
        )


def check_finite(y: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """``y`` itself, or a one-line ``FaceDeblurError`` when it holds NaN or infinite values."""
    if not torch.isfinite(y).all():
        raise FaceDeblurError(f"the model produced NaN/inf for a {width}x{height} input")
    return y


def _starts(length: int, tile: int, step: int) -> list[int]:
    if length <= tile:
        return [0]
    count = math.ceil((length - tile) / step) + 1
    return sorted({min(i * step, length - tile) for i in range(count)})
