"""Face losses through dlib's face-recognition network: identity and face features.

Both compare a restored face with its sharp target inside the 150 px chip that dlib's
recogniser sees. The chip is cut from both images with the same matrix, found from the
*target*'s 5-point landmarks (HOG face detection, then dlib's 5-point predictor, on the sharp
image; found once per distinct target and cached), and the cut is bilinear sampling, so the
gradient reaches every output pixel the chip covers.

- ``identity``: the Euclidean distance between the two 128-d descriptors, dlib's own metric
  (two faces of one person lie closer than 0.6), averaged over the faces.
- ``face_feature``: an LPIPS-style distance on the network's activations after residual levels
  1-4 (35, 17, 8 and 4 px, 32-256 channels): each activation is normalised to unit length over
  its channels, and the squared differences are summed over channels, averaged over positions
  and faces, and summed over the levels. A face-specific perceptual loss with trained weights.

Targets where no face is found are left out of both terms and counted (``skipped``).
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from ..errors import UsageError
from ..faces.align import dlib_chip_matrix, extract_chips
from ..faces.detect import DlibHOGDetector, largest_face
from ..faces.dlib_facenet import CHIP_SIZE, DlibFaceNet
from ..faces.dlib_faces import landmarks5
from ..io import tensor_to_image, to_uint8

FACE_TERMS = ("identity", "face_feature")
FEATURE_LEVELS = (1, 2, 3, 4)
"""Indices into ``DlibFaceNet.features`` compared by ``face_feature`` (residual levels 1-4)."""
MIN_DETECTED_SIDE = 160
"""Crop side (px) from which faces filling half the crop need no upsampling to be found."""
CACHE_SIZE = 200_000
"""Landmark sets kept (about 100 bytes each)."""


class TargetLandmarks:
    """The 5-point landmarks of sharp target images, found once per distinct image.

    ``__call__(targets)``: (N, 3, H, W) in [0, 1] -> N arrays (5, 2) of (x, y) pixels, or None
    where dlib's HOG detector finds no face. Results are cached by the 8-bit pixels, so a
    target seen again (a paired dataset's next epoch) costs a hash.

    Args:
        upsample: times the detector doubles the image; None picks it per image so that a face
            filling half of a face crop reaches the detector's 80 px (0 from 160 px up, 1 for
            80-159 px, 2 for 40-79 px crops).
        cache_size: landmark sets kept, least recently used dropped first.
    """

    def __init__(self, upsample: int | None = None, cache_size: int = CACHE_SIZE):
        self.upsample = upsample
        self.cache: OrderedDict[bytes, np.ndarray | None] = OrderedDict()
        self.cache_size = cache_size

    def _upsample_for(self, image: np.ndarray) -> int:
        if self.upsample is not None:
            return self.upsample
        side = min(image.shape[:2])
        return max(0, math.ceil(math.log2(MIN_DETECTED_SIDE / max(side, 1))))

    def find(self, image: np.ndarray) -> np.ndarray | None:
        """Landmarks of one (H, W, 3) uint8 image, or None without a face."""
        key = hashlib.blake2b(image.tobytes(), digest_size=16, key=repr(image.shape).encode())
        key = key.digest()
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        face = largest_face(DlibHOGDetector(upsample=self._upsample_for(image))(image))
        points = None if face is None else landmarks5(image, face.box)
        self.cache[key] = points
        if len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return points

    def __call__(self, targets: torch.Tensor) -> list[np.ndarray | None]:
        return [self.find(to_uint8(tensor_to_image(t))) for t in targets.detach().float().cpu()]


def _distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise Euclidean distance of (N, D) tensors, with a zero (not NaN) gradient at 0."""
    squared = (a - b).pow(2).sum(dim=1)
    positive = squared > 0
    return torch.where(positive, squared.clamp(min=1e-20).sqrt(), torch.zeros_like(squared))


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)


class FaceLosses(nn.Module):
    """The ``identity`` and ``face_feature`` terms of restored faces against their targets.

    ``forward(output, target)``: (..., 3, H, W) images in [0, 1] of one shape (any leading
    dimensions, e.g. (N, T, 3, H, W) moments) -> a dict with one scalar tensor per term in
    ``terms`` (zero, with no gradient, when no target holds a face) and ``faces``, the number of
    targets used. ``skipped`` counts targets without a face since construction. Gradients reach
    ``output`` only; the network is frozen and stays in eval mode.

    Args:
        terms: names from ``FACE_TERMS``.
        net: the recognition network (default: read from dlib's shipped file).
        upsample: HOG detector upsampling for finding the targets' faces (see
            ``TargetLandmarks``; None picks it from the image size).
    """

    def __init__(
        self,
        terms: tuple[str, ...] = FACE_TERMS,
        net: DlibFaceNet | None = None,
        upsample: int | None = None,
    ):
        super().__init__()
        unknown = [t for t in terms if t not in FACE_TERMS]
        if unknown or not terms:
            raise UsageError(
                f"face loss terms must be some of {', '.join(FACE_TERMS)}, got {list(terms)}"
            )
        self.terms = tuple(terms)
        self.net = net if net is not None else DlibFaceNet.from_dlib_file()
        self.net.requires_grad_(False)
        self.landmarks = TargetLandmarks(upsample)
        self.skipped = 0

    def train(self, mode: bool = True) -> FaceLosses:
        """Always stays in eval mode."""
        return super().train(False)

    def _compare(self, out_chips: torch.Tensor, ref_chips: torch.Tensor) -> dict:
        with torch.no_grad():
            ref = self.net.features(ref_chips)
        out = self.net.features(out_chips)
        values = {}
        if "identity" in self.terms:
            values["identity"] = _distance(self.net.describe(out), self.net.describe(ref)).mean()
        if "face_feature" in self.terms:
            values["face_feature"] = sum(
                (_unit(out[i]) - _unit(ref[i])).pow(2).sum(dim=1).mean() for i in FEATURE_LEVELS
            )
        return values

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> dict:
        if output.shape != target.shape or output.dim() < 4 or output.shape[-3] != 3:
            raise ValueError(
                "face losses need two (..., 3, H, W) tensors of one shape, got "
                f"{tuple(output.shape)} and {tuple(target.shape)}"
            )
        output = output.reshape(-1, *output.shape[-3:]).float()
        target = target.reshape(-1, *target.shape[-3:]).float()
        points = self.landmarks(target)
        keep = [i for i, p in enumerate(points) if p is not None]
        self.skipped += len(points) - len(keep)
        if not keep:
            zero = output.new_zeros(())
            return {**{t: zero for t in self.terms}, "faces": 0}
        matrices = torch.from_numpy(np.stack([dlib_chip_matrix(points[i]) for i in keep]))
        index = torch.tensor(keep, device=output.device)
        out_chips = extract_chips(output.index_select(0, index), matrices, CHIP_SIZE)
        ref_chips = extract_chips(target.index_select(0, index), matrices, CHIP_SIZE)
        return {**self._compare(out_chips, ref_chips), "faces": len(keep)}


def build_face_losses(weights: dict[str, float]) -> FaceLosses | None:
    """The face terms with a positive weight in ``weights`` (name -> weight), or None."""
    unknown = [name for name in weights if name not in FACE_TERMS]
    if unknown:
        raise UsageError(f"unknown face loss {unknown[0]!r}; choose from {', '.join(FACE_TERMS)}")
    terms = tuple(name for name in FACE_TERMS if weights.get(name, 0.0) > 0.0)
    return FaceLosses(terms) if terms else None
