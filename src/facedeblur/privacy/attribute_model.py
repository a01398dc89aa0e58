"""Rebuilding a face with chosen attributes flipped.

The attribute classifier and rebuild network together.

For one face of a photo: align it to the template crop by its landmarks, predict its 40
attributes, flip the chosen ones, feed the landmark heatmaps, the crop with the face ellipse
masked out and the edited attributes to the rebuild network, and warp the rebuilt crop back
into the photo's coordinates. Blending it into the photo along the mask is the caller's step
(``privacy.obfuscate``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import FaceDeblurError
from ..faces.align import align_face, unalign
from ..faces.mask import face_mask
from ..io import image_to_tensor, tensor_to_image
from ..models.privacy import landmark_heatmaps, rebuild_input
from ..models.runtime import resolve_device
from ..models.weights import load_network, pretrained_path
from .attribute_names import CELEBA_ATTRIBUTES

ATTRIBUTES_MODEL_FILE = "attributes.safetensors"
REBUILD_MODEL_FILE = "rebuild.safetensors"


@dataclass
class RebuiltFace:
    """One rebuilt face.

    ``layer``: (H, W, 3) float32, the rebuilt face warped into the photo (0 where the aligned
    crop does not reach); ``before``: (40,) predicted attribute probabilities of the original
    face; ``after``: (40,) the 0/1 attributes the face was rebuilt with (``before`` rounded, with
    the flipped columns inverted); ``crop``: the aligned rebuilt crop; ``covered``: bool (H, W),
    the photo pixels the crop covers fully (where ``layer`` holds the face, not its border).
    """

    layer: np.ndarray
    before: np.ndarray
    after: np.ndarray
    crop: np.ndarray
    covered: np.ndarray


class AttributeObfuscator:
    """The attribute classifier and the rebuild network, used together on aligned face crops.

    Args:
        classifier: a ``ResNetAttributes`` with CelebA's 40 attributes.
        rebuilder: a ``RebuildUNet`` taking the 111-channel ``rebuild_input``.
        size: side of the aligned crop both networks were trained on.
        device: ``cpu`` or ``cuda``.
    """

    def __init__(
        self,
        classifier: torch.nn.Module,
        rebuilder: torch.nn.Module,
        size: int = 64,
        device: str = "cpu",
    ):
        self.classifier = classifier.to(device).eval()
        self.rebuilder = rebuilder.to(device).eval()
        self.size = int(size)
        self.device = torch.device(device)

    @torch.no_grad()
    def attributes(self, crop: np.ndarray) -> np.ndarray:
        """(40,) attribute probabilities of an aligned (size, size, 3) face crop."""
        logits = self.classifier(image_to_tensor(crop)[None].to(self.device))
        return torch.sigmoid(logits)[0].float().cpu().numpy()

    @torch.no_grad()
    def rebuild(
        self, image: np.ndarray, points68: np.ndarray, flips: tuple[int, ...]
    ) -> RebuiltFace:
        """Rebuild the face with ``points68`` landmarks in ``image``.

        The attribute columns ``flips`` are inverted.

        Args:
            image: (H, W, 3) float32 RGB in [0, 1], the whole photo.
            points68: (68, 2) dlib landmarks of the face, in photo pixels.
            flips: attribute columns to invert (``attribute_names.resolve_flips``).
        """
        crop, matrix, points = align_face(image, points68, self.size)
        before = self.attributes(crop)
        after = (before >= 0.5).astype(np.float32)
        after[list(flips)] = 1.0 - after[list(flips)]
        mask = torch.from_numpy(face_mask((self.size, self.size), points))[None, None].to(
            self.device
        )
        heatmaps = landmark_heatmaps(points[None], self.size).to(self.device)
        x = rebuild_input(
            heatmaps,
            image_to_tensor(crop)[None].to(self.device) * (1.0 - mask),
            torch.from_numpy(after)[None].to(self.device),
        )
        rebuilt = tensor_to_image(self.rebuilder(x)[0].float().cpu())
        covered = (
            unalign(np.ones((self.size, self.size), dtype=np.float32), matrix, image.shape[:2])[
                ..., 0
            ]
            > 0.999
        )
        return RebuiltFace(
            unalign(rebuilt, matrix, image.shape[:2]), before, after, rebuilt, covered
        )


def load_attribute_obfuscator(
    classifier: str | Path | None = None, rebuilder: str | Path | None = None, device: str = "auto"
) -> AttributeObfuscator:
    """The attribute obfuscator from two weights files, on ``device`` (``auto``, ``cpu`` or
    ``cuda``, as ``models.runtime.resolve_device`` reads it).

    The default files are the ones shipped in ``facedeblur/pretrained``.

    Raises:
        FaceDeblurError: a file is missing, is not a facedeblur weights file, holds another
            kind of network, or the two were trained on different crop sizes.
    """
    classifier_path = (
        Path(classifier)
        if classifier
        else pretrained_path(ATTRIBUTES_MODEL_FILE, "attribute classifier", "--classifier")
    )
    rebuilder_path = (
        Path(rebuilder)
        if rebuilder
        else pretrained_path(REBUILD_MODEL_FILE, "face rebuild network", "--rebuilder")
    )
    net_c, header_c = load_network(classifier_path, role="attribute classifier")
    if net_c.fc.out_features != len(CELEBA_ATTRIBUTES):
        raise FaceDeblurError(
            f"{classifier_path}: predicts {net_c.fc.out_features} attributes, not CelebA's 40"
        )
    net_r, header_r = load_network(rebuilder_path, role="face rebuild network")
    sizes = {(h.get("data") or {}).get("size", 64) for h in (header_c, header_r)}
    if len(sizes) != 1:
        raise FaceDeblurError(
            f"{classifier_path} and {rebuilder_path} were trained on different crop sizes "
            f"{sorted(sizes)}"
        )
    return AttributeObfuscator(net_c, net_r, size=sizes.pop(), device=resolve_device(device))
