"""The attribute classifier of identity obfuscation (``data.kind: attributes``).

It fits the 40 CelebA attributes with the seed paper's summed binary cross-entropy (summed over
attributes, averaged over the batch) and validates by mean per-attribute accuracy on held-out
identities, beside the accuracy of always answering each attribute's majority value in the
training faces, the floor any classifier must beat.
"""

from __future__ import annotations

import contextlib
import json

import torch
import torch.nn.functional as F

from ...io import atomic_write_text
from ...privacy.attribute_names import CELEBA_ATTRIBUTES
from .celeba import CelebATask, majority_answers, stack_batches


@torch.no_grad()
def score_attributes(
    net: torch.nn.Module,
    faces: list[dict],
    majority: torch.Tensor,
    device: torch.device | str = "cpu",
    autocast=contextlib.nullcontext,
) -> dict:
    """Per-attribute accuracy of a classifier on labelled faces.

    Beside it, the accuracy of always answering ``majority``.

    Args:
        net: attribute classifier, logits (N, K); it is put in eval mode.
        faces: items with ``image`` and ``attributes`` tensors (``CelebAFaces`` items).
        majority: (K,) 0/1, the answer of the majority baseline per attribute.
        device: where to run.
        autocast: a context manager factory for mixed precision.

    Returns:
        {"accuracy": (K,) array, "majority": (K,) array, "bce": summed BCE per face,
        "faces": count}.
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
    return {
        "accuracy": (correct / count).cpu().numpy(),
        "majority": (majority_correct / count).cpu().numpy(),
        "bce": bce / count,
        "faces": count,
    }


class AttributesTask(CelebATask):
    """A 40-attribute classifier on aligned CelebA faces, validated by mean attribute accuracy."""

    score = "val_accuracy"

    def prepare(self, train_set, val: list[dict]) -> None:
        """The majority answers of the training faces, the baseline of every validation."""
        self.majority = majority_answers(train_set)

    def train_step(self, batch: dict, loop) -> tuple[torch.Tensor, dict]:
        """Summed binary cross-entropy on a batch of faces and their attributes."""
        image = batch["image"].to(self.device, non_blocking=True)
        target = batch["attributes"].to(self.device, non_blocking=True)
        with loop.autocast():
            logits = loop.g_train(image)
        loss = (
            F.binary_cross_entropy_with_logits(logits.float(), target, reduction="sum")
            / image.shape[0]
        )
        return loss, {"content": loss.item()}

    def validate(self, net, val: list[dict], loop) -> dict:
        """Mean per-attribute accuracy on the held-out faces.

        Per-attribute figures go to ``attribute_accuracy.json``.
        """
        scores = score_attributes(net, val, self.majority, self.device, loop.autocast)
        table = {
            name: {"accuracy": round(float(a), 4), "majority": round(float(m), 4)}
            for name, a, m in zip(CELEBA_ATTRIBUTES, scores["accuracy"], scores["majority"])
        }
        atomic_write_text(
            loop.run_dir / "attribute_accuracy.json",
            json.dumps(
                {"step": loop.step, "faces": scores["faces"], "attributes": table}, indent=1
            ),
        )
        return {
            "val_accuracy": float(scores["accuracy"].mean()),
            "majority_accuracy": float(scores["majority"].mean()),
            "val_bce": scores["bce"],
        }

    def describe(self, step: int, metrics: dict) -> str:
        """One progress line for validation metrics."""
        return (
            f"step {step}: mean attribute accuracy {100 * metrics['val_accuracy']:.2f}% "
            f"(majority answer {100 * metrics['majority_accuracy']:.2f}%), "
            f"BCE {metrics['val_bce']:.3f}"
        )
