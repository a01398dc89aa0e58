"""How well the face rebuild network rebuilds CelebA people it never saw, and how much flipping
attributes changes it.

    python benchmarks/rebuild_quality.py                          # the shipped rebuild network
    python benchmarks/rebuild_quality.py --weights runs/rebuild-unet/generator.safetensors

The held-out faces are rebuilt from the weights header (CelebA root, crop size, identity split
fraction and seed): every one of them, not only the validation sample training looked at. For
each face: SSIM of the rebuilt crop against the original (the seed paper's figure), SSIM of
the masked input alone (what the given context scores by itself), the mean absolute error
inside the face mask, and the same two after flipping the default attributes, with the mean
change those flips make inside the mask. Prints one table.
"""

from __future__ import annotations

import torch

from celeba_held_out import load_held_out
from facedeblur.metrics import ssim
from facedeblur.privacy.attribute_model import REBUILD_MODEL_FILE
from facedeblur.privacy.attribute_names import DEFAULT_FLIPS, resolve_flips
from facedeblur.train.tasks.celeba import flip_attributes, stack_batches
from facedeblur.train.tasks.rebuild import rebuild_faces


def _inside(diff: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute value of ``diff`` (N, 3, H, W) inside each face mask (N, 1, H, W): (N,)."""
    return (diff.abs() * mask).sum((1, 2, 3)) / (3.0 * mask.sum((1, 2, 3)).clamp(min=1.0))


@torch.no_grad()
def main() -> None:
    """Score the rebuild network on every held-out face and print a Markdown table."""
    _, net, _, _, val = load_held_out(
        __doc__.split("\n\n")[0].replace("\n", " "), REBUILD_MODEL_FILE, "face rebuild network"
    )
    flips = resolve_flips(None)
    scores = {key: [] for key in ("rebuilt", "masked", "l1", "flipped", "flipped_l1", "change")}
    for batch in stack_batches([val[i] for i in range(len(val))]):
        image, mask = batch["image"], batch["mask"]
        rebuilt = rebuild_faces(net, batch)
        flipped = rebuild_faces(net, batch, flip_attributes(batch["attributes"], flips))
        scores["rebuilt"].append(ssim(rebuilt, image))
        scores["masked"].append(ssim(image * (1.0 - mask), image))
        scores["l1"].append(_inside(rebuilt - image, mask))
        scores["flipped"].append(ssim(flipped, image))
        scores["flipped_l1"].append(_inside(flipped - image, mask))
        scores["change"].append(_inside(flipped - rebuilt, mask))
    mean = {key: float(torch.cat(values).mean()) for key, values in scores.items()}
    print("| input attributes | SSIM vs original | L1 inside the face mask |\n|---|---|---|")
    print(f"| masked input alone | {mean['masked']:.4f} | |")
    print(f"| true CelebA labels | **{mean['rebuilt']:.4f}** | {mean['l1']:.4f} |")
    print(
        f"| default flips ({', '.join(a.lower() for a in DEFAULT_FLIPS)}) "
        f"| {mean['flipped']:.4f} | {mean['flipped_l1']:.4f} |"
    )
    print(
        f"\nmean change the flips make inside the face mask: {mean['change']:.4f} (L1, 0-1 scale)"
    )


if __name__ == "__main__":
    main()
