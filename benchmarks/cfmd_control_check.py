"""Is CFMD-GAN's control pathway trainable? A toy task where u alone decides the answer.

    python benchmarks/cfmd_control_check.py --data runs/cfmd-motion/train --steps 400

The generator of a preset (``cfmd-cpu`` by default) is trained with its multi-scale content
loss only, on sharp faces (the ``sharp/`` images of a synth output) whose target is the same
face shifted horizontally by (u - 0.5) * ``--shift`` pixels, u drawn from {0, 0.5, 1}. The input
carries no hint of the shift: only the path from u through the mapping network into the ContAda
blocks (control projection, CADC offsets, CACA) can produce it. Every ``--every`` steps it prints
the PSNR of the output against the shifted target at u = 0 and u = 1, next to the unshifted
input's. A generator whose control pathway works climbs well above the input; one that ignores
u cannot beat it at both ends at once. This separates "the network cannot use u" from "the
data's moments are not learnt at this budget". Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from facedeblur.io import image_to_tensor, list_images, read_image
from facedeblur.losses import build_content_loss
from facedeblur.metrics import psnr
from facedeblur.models import build_model
from facedeblur.train import load_config

CROP = 64


def shifted_crops(
    faces: list[torch.Tensor],
    picks: torch.Tensor,
    u: torch.Tensor,
    shift: float,
    gen: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random 64 px crops of the picked faces and the same crops of the faces shifted by
    (u - 0.5) * shift px.
    """
    inputs, targets = [], []
    margin = int(shift) + 1
    for k, value in zip(picks.tolist(), u.tolist()):
        face = faces[k]
        y, x = (
            int(v)
            for v in torch.randint(margin, face.shape[-1] - CROP - margin + 1, (2,), generator=gen)
        )
        dx = int(round((value - 0.5) * shift))
        inputs.append(face[:, y : y + CROP, x : x + CROP])
        targets.append(face[:, y : y + CROP, x - dx : x - dx + CROP])
    return torch.stack(inputs), torch.stack(targets)


def main() -> None:
    """Train on the toy task and print the PSNR table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("runs/cfmd-motion/train"),
        help="a synth output whose sharp/ faces are used (default runs/cfmd-motion/train)",
    )
    parser.add_argument("--preset", default="cfmd-cpu")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument(
        "--shift", type=float, default=8.0, help="pixels between the u = 0 and u = 1 targets (8)"
    )
    parser.add_argument(
        "--faces", type=int, default=64, help="training faces (the first ones; default 64)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    config = load_config(args.preset)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    files = list_images(args.data / "sharp")[: args.faces]
    if len(files) < 8:
        raise SystemExit(f"{args.data / 'sharp'}: needs at least 8 faces, found {len(files)}")
    faces = [image_to_tensor(read_image(f)) for f in files]
    net = build_model(config.generator.name, **config.generator.args)
    loss_fn = build_content_loss(config.loss.content, **config.loss.content_args)
    opt = torch.optim.Adam(net.parameters(), lr=config.optim.lr, betas=tuple(config.optim.betas))
    held = torch.arange(8)
    print(
        "| step | u = 0: output | u = 0: input | u = 1: output | u = 1: input | seconds |\n"
        "|---|---|---|---|---|---|"
    )
    start = time.time()
    for step in range(1, args.steps + 1):
        u = torch.randint(0, 3, (config.train.batch_size,), generator=gen).float() / 2
        picks = torch.randint(0, len(faces), (config.train.batch_size,), generator=gen)
        inputs, targets = shifted_crops(faces, picks, u, args.shift, gen)
        loss = loss_fn(net(inputs, u), targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % args.every == 0 or step == args.steps:
            row = []
            net.eval()
            with torch.no_grad():
                for value in (0.0, 1.0):
                    u_held = torch.full((len(held),), value)
                    inputs, targets = shifted_crops(
                        faces, held, u_held, args.shift, torch.Generator().manual_seed(7)
                    )
                    output = net(inputs, u_held)[-1].clamp(0, 1)
                    row += [
                        float(psnr(output, targets).mean()),
                        float(psnr(inputs, targets).mean()),
                    ]
            net.train()
            print(
                f"| {step} | "
                + " | ".join(f"{v:.2f}" for v in row)
                + f" | {time.time() - start:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
