"""Training the two networks of attribute-based identity obfuscation on aligned CelebA faces.

``AttributesTrainer`` (``data.kind: attributes``) fits the 40-attribute classifier with the
seed paper's summed binary cross-entropy (summed over attributes, averaged over the batch) and
validates by mean per-attribute accuracy on held-out identities, beside the accuracy of always
answering each attribute's majority value in the training faces, the floor any classifier must beat.

``RebuildTrainer`` (``data.kind: rebuild``) fits the rebuild U-Net: from the landmark
heatmaps, the face with its ellipse masked out and the 40 CelebA attribute labels, rebuild the
face, with the configured content loss (the paper's ``ssim``, 1 - SSIM). It validates by SSIM
over the crop (the seed's figure), SSIM of the masked input (what the given context alone
scores) and the L1 error inside the face mask, and its sample grids show the rebuild with
the default attributes flipped, which is what obfuscation does.
"""

from __future__ import annotations

import contextlib
import json

import numpy as np
import torch
import torch.nn.functional as F

from ..io import atomic_write_text, tensor_to_image, write_image
from ..metrics import ssim
from ..models.privacy import landmark_heatmaps, rebuild_input
from ..privacy.attribute_names import CELEBA_ATTRIBUTES, resolve_flips
from ..io.sheets import contact_sheet
from .engine import GRID_ROWS, Trainer

VAL_BATCH = 64


def stack_batches(items: list[dict], size: int = VAL_BATCH):
    """Validation items stacked into batches of tensors (non-tensor entries are dropped)."""
    for start in range(0, len(items), size):
        chunk = items[start:start + size]
        yield {k: torch.stack([it[k] for it in chunk]) for k, v in chunk[0].items() if torch.is_tensor(v)}


def flip_attributes(attributes: torch.Tensor, columns) -> torch.Tensor:
    """0/1 attributes (N, K) with the given columns flipped (1 - value)."""
    flipped = attributes.clone()
    flipped[:, list(columns)] = 1.0 - flipped[:, list(columns)]
    return flipped


@torch.no_grad()
def score_attributes(net: torch.nn.Module, faces: list[dict], majority: torch.Tensor, device: torch.device | str = "cpu",
                     autocast=contextlib.nullcontext) -> dict:
    """Per-attribute accuracy of a classifier on labelled faces, beside always answering ``majority``.

    Args:
        net: attribute classifier, logits (N, K); it is put in eval mode.
        faces: items with ``image`` and ``attributes`` tensors (``CelebAFaces`` items).
        majority: (K,) 0/1, the answer of the majority baseline per attribute.
        device: where to run.
        autocast: a context manager factory for mixed precision.

    Returns:
        {"accuracy": (K,) array, "majority": (K,) array, "bce": summed BCE per face, "faces": count}.
    """
    net.eval()
    correct, majority_correct, bce, count = 0.0, 0.0, 0.0, 0
    for batch in stack_batches(faces):
        target = batch["attributes"].to(device)
        with autocast():
            logits = net(batch["image"].to(device)).float()
        correct = correct + ((logits > 0).float() == target).float().sum(0)
        majority_correct = majority_correct + (majority.to(device) == target).float().sum(0)
        bce += float(F.binary_cross_entropy_with_logits(logits, target, reduction="sum"))
        count += target.shape[0]
    return {"accuracy": (correct / count).cpu().numpy(), "majority": (majority_correct / count).cpu().numpy(),
            "bce": bce / count, "faces": count}


def rebuild_faces(net: torch.nn.Module, batch: dict, attributes: torch.Tensor | None = None,
                  device: torch.device | str = "cpu", autocast=contextlib.nullcontext) -> torch.Tensor:
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


def majority_answers(faces) -> torch.Tensor:
    """(K,) 0/1: each attribute's more frequent value over a ``CelebAFaces`` set."""
    labels = np.stack([faces.attributes[f] for f in faces.files]).astype(np.float32)
    return torch.from_numpy((labels.mean(0) >= 0.5).astype(np.float32))


class CelebATrainer(Trainer):
    """Shared parts of the CelebA trainers: what the weights were trained on."""

    def data_header(self) -> dict:
        """CelebA root, crop size, alignment and the identity split, for the weights header."""
        d = self.cfg.data
        train = self.stream.dataset
        return {"kind": d.kind, "train": d.train, "size": d.size, "alignment": "facedeblur.privacy.align.TEMPLATE",
                "faces": len(train), "dropped_without_landmarks": train.dropped,
                "validation": {"split": "identity", "val_fraction": d.val_fraction, "split_seed": self.cfg.train.seed,
                               "faces": len(self.val)}}


class AttributesTrainer(CelebATrainer):
    """The ``Trainer`` for ``data.kind: attributes``: a 40-attribute classifier on aligned CelebA faces."""

    score = "val_accuracy"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.majority = majority_answers(self.stream.dataset)

    def train_step(self, batch: dict) -> dict:
        """One step of summed binary cross-entropy on a batch of faces and their attributes."""
        image = batch["image"].to(self.device, non_blocking=True)
        target = batch["attributes"].to(self.device, non_blocking=True)
        with self._autocast():
            logits = self.g_train(image)
        loss = F.binary_cross_entropy_with_logits(logits.float(), target, reduction="sum") / image.shape[0]
        return self._step_generator(loss, loss, {})

    def validate(self) -> dict:
        """Mean per-attribute accuracy on the held-out faces; per-attribute figures go to ``attribute_accuracy.json``."""
        net = self.ema or self.generator
        scores = score_attributes(net, self.val, self.majority, self.device, self._autocast)
        self.generator.train()
        table = {name: {"accuracy": round(float(a), 4), "majority": round(float(m), 4)}
                 for name, a, m in zip(CELEBA_ATTRIBUTES, scores["accuracy"], scores["majority"])}
        atomic_write_text(self.run_dir / "attribute_accuracy.json",
                          json.dumps({"step": self.step, "faces": scores["faces"], "attributes": table}, indent=1))
        return {"val_accuracy": float(scores["accuracy"].mean()), "majority_accuracy": float(scores["majority"].mean()),
                "val_bce": scores["bce"]}

    def describe(self, metrics: dict) -> str:
        """One progress line for validation metrics."""
        return (f"step {self.step}: mean attribute accuracy {100 * metrics['val_accuracy']:.2f}% "
                f"(majority answer {100 * metrics['majority_accuracy']:.2f}%), BCE {metrics['val_bce']:.3f}")


class RebuildTrainer(CelebATrainer):
    """The ``Trainer`` for ``data.kind: rebuild``: the U-Net that rebuilds a face from landmarks, context and attributes."""

    score = "val_ssim"

    def rebuild(self, net, batch: dict, attributes: torch.Tensor | None = None) -> torch.Tensor:
        """The network's face for a batch (``rebuild_faces`` on this trainer's device)."""
        return rebuild_faces(net, batch, attributes, self.device, self._autocast)

    def train_step(self, batch: dict) -> dict:
        """One step of the content loss between the rebuilt and the original faces."""
        image = batch["image"].to(self.device, non_blocking=True)
        content = self.content_loss(self.rebuild(self.g_train, batch), image)
        return self._step_generator(self.cfg.loss.content_weight * content, content, {})

    @torch.no_grad()
    def validate(self) -> dict:
        """SSIM of the rebuilt and of the masked faces, and L1 inside the mask, on held-out faces; writes a grid."""
        net = self.ema or self.generator
        net.eval()
        flips = resolve_flips(None)
        rebuilt_ssim, masked_ssim, face_l1, rows = [], [], [], []
        for batch in stack_batches(self.val):
            image, mask = batch["image"].to(self.device), batch["mask"].to(self.device)
            out = self.rebuild(net, batch)
            rebuilt_ssim.append(ssim(out, image))
            masked_ssim.append(ssim(image * (1.0 - mask), image))
            face_l1.append(((out - image).abs() * mask).sum((1, 2, 3)) / (3.0 * mask.sum((1, 2, 3)).clamp(min=1.0)))
            if not rows:
                flipped = self.rebuild(net, batch, flip_attributes(batch["attributes"], flips))
                for k in range(min(GRID_ROWS, image.shape[0])):
                    rows.append([tensor_to_image(t[k].cpu()) for t in (image * (1.0 - mask), out, flipped, image)])
        self.generator.train()
        grid = contact_sheet(rows, ["masked input", "rebuilt", "default flips", "original"], cell=128)
        write_image(self.run_dir / "samples" / f"val_{self.step:07d}.png", grid)
        return {"val_ssim": float(torch.cat(rebuilt_ssim).mean()), "masked_ssim": float(torch.cat(masked_ssim).mean()),
                "val_face_l1": float(torch.cat(face_l1).mean())}

    def describe(self, metrics: dict) -> str:
        """One progress line for validation metrics."""
        return (f"step {self.step}: SSIM {metrics['val_ssim']:.4f} (masked input {metrics['masked_ssim']:.4f}), "
                f"L1 inside the face {metrics['val_face_l1']:.4f}")
