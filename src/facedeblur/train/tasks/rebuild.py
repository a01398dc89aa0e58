"""The face rebuild network of identity obfuscation (``data.kind: rebuild``).

From the landmark heatmaps, the face with its ellipse masked out and the 40 CelebA attribute
labels, it rebuilds the face with the configured content loss (the paper's ``ssim``,
1 - SSIM). It validates by SSIM over the crop (the seed's figure), SSIM of the masked input
(what the given context alone scores) and the L1 error inside the face mask, and its sample
grids show the rebuild with the default attributes flipped, which is what obfuscation does.
"""

from __future__ import annotations

import contextlib

import torch

from ...io import tensor_to_image
from ...metrics import ssim
from ...models.privacy import landmark_heatmaps, rebuild_input
from ...privacy.attribute_names import resolve_flips
from .celeba import CelebATask, flip_attributes, stack_batches
from .restore import GRID_ROWS


def rebuild_faces(
    net: torch.nn.Module,
    batch: dict,
    attributes: torch.Tensor | None = None,
    device: torch.device | str = "cpu",
    autocast=contextlib.nullcontext,
) -> torch.Tensor:
    """Rebuilt faces (N, 3, H, W) for a batch of ``CelebAFaces`` items.

    The input is ``rebuild_input`` of the landmark heatmaps, the image with its face mask
    blacked out and ``attributes`` (default: the batch's own labels).
    """
    image = batch["image"].to(device, non_blocking=True)
    mask = batch["mask"].to(device, non_blocking=True)
    heatmaps = landmark_heatmaps(batch["points"].to(device), image.shape[-2:])
    attributes = batch["attributes"] if attributes is None else attributes
    x = rebuild_input(heatmaps, image * (1.0 - mask), attributes.to(device))
    with autocast():
        return net(x).float()


class RebuildTask(CelebATask):
    """The U-Net that rebuilds a face from landmarks, context and attributes, validated by SSIM."""

    score = "val_ssim"

    def train_step(self, batch: dict, loop) -> tuple[torch.Tensor, dict]:
        """The content loss between the rebuilt and the original faces."""
        image = batch["image"].to(self.device, non_blocking=True)
        rebuilt = rebuild_faces(loop.g_train, batch, None, self.device, loop.autocast)
        content = self.content_loss(rebuilt, image)
        losses: dict = {}
        total = self.add_face_losses(self.cfg.loss.content_weight * content, rebuilt, image, losses)
        return total, {**losses, "content": content.item()}

    @torch.no_grad()
    def validate(self, net, val: list[dict], loop) -> dict:
        """SSIM of the rebuilt and of the masked faces, and L1 inside the mask, on held-out faces.

        Writes a grid.
        """
        flips = resolve_flips(None)
        rebuilt_ssim, masked_ssim, face_l1, rows = [], [], [], []
        for batch in stack_batches(val):
            image, mask = batch["image"].to(self.device), batch["mask"].to(self.device)
            out = rebuild_faces(net, batch, None, self.device, loop.autocast)
            rebuilt_ssim.append(ssim(out, image))
            masked_ssim.append(ssim(image * (1.0 - mask), image))
            face_l1.append(
                ((out - image).abs() * mask).sum((1, 2, 3))
                / (3.0 * mask.sum((1, 2, 3)).clamp(min=1.0))
            )
            if not rows:
                flipped = rebuild_faces(
                    net,
                    batch,
                    flip_attributes(batch["attributes"], flips),
                    self.device,
                    loop.autocast,
                )
                for k in range(min(GRID_ROWS, image.shape[0])):
                    rows.append(
                        [
                            tensor_to_image(t[k].cpu())
                            for t in (image * (1.0 - mask), out, flipped, image)
                        ]
                    )
        loop.write_samples(rows, ["masked input", "rebuilt", "default flips", "original"])
        return {
            "val_ssim": float(torch.cat(rebuilt_ssim).mean()),
            "masked_ssim": float(torch.cat(masked_ssim).mean()),
            "val_face_l1": float(torch.cat(face_l1).mean()),
        }

    def describe(self, step: int, metrics: dict) -> str:
        """One progress line for validation metrics."""
        return (
            f"step {step}: SSIM {metrics['val_ssim']:.4f} "
            f"(masked input {metrics['masked_ssim']:.4f}), "
            f"L1 inside the face {metrics['val_face_l1']:.4f}"
        )
