"""Ablation of the face losses: pixel loss only vs + identity vs + identity + face features.

    python benchmarks/identity_ablation.py --data runs/eval-lfw/val --steps 60 --limit 128
    python benchmarks/identity_ablation.py --data runs/eval-lfw-strong/val \
        --identity-weights 0,0.004,0.02

Every arm starts from the same weights (``--init``, the shipped default model unless told
otherwise), trains ``--steps`` steps of the ``face-nafnet`` recipe with the same data, seed and
schedule, and differs only in the loss weights. The face losses need whole faces, so every arm
trains on whole 128 px faces (``data.crop`` off) rather than the recipe's 64 px crops. Then one
``facedeblur evaluate`` run scores the blurry input, the starting model and every arm on
``--data`` (held-out people), and the table prints PSNR, SSIM, identity distance, MTCNN
failure and confidence. Runs resume: rerun the same command to continue an interrupted one.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from facedeblur.evaluate import evaluate
from facedeblur.train import train

ARMS = {
    "pixel": [],
    "identity": ["loss.identity_weight=0.004"],
    "identity+face_feature": ["loss.identity_weight=0.004", "loss.face_feature_weight=0.005"],
}
"""Loss overrides per arm. The weights make each face term's gradient on the default model's
restored faces about as large as the Charbonnier term's (measured: 0.28 and 0.24 vs 0.0011
per unit weight, batch of 16 held-out faces)."""

FINE_TUNE = [
    "data.crop=128",
    'data.mix_train=""',
    'data.mix_val=""',
    "train.batch_size=4",
    "train.val_every=30",
    "train.ckpt_every=25",
    "train.ema=0.995",
    "optim.lr=2.0e-4",
    "optim.decay_start=0.0",
]
"""What every arm changes in the recipe: whole faces, no video mix (its synthesized folder is
optional), a fine-tuning learning rate decayed linearly to 0."""


def main() -> None:
    """Train the arms, evaluate them side by side, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="held-out pairs to evaluate on")
    parser.add_argument("--steps", type=int, default=60, help="training steps per arm")
    parser.add_argument("--init", default="default", help="weights every arm starts from")
    parser.add_argument("--preset", default="face-nafnet")
    parser.add_argument("--arm", action="append", choices=list(ARMS), help="arms to run (all)")
    parser.add_argument(
        "--identity-weights",
        type=lambda text: [float(w) for w in text.split(",")],
        help="sweep instead: one arm per identity weight, e.g. 0,0.004,0.02 (0 is pixel only)",
    )
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], help="config override for all"
    )
    parser.add_argument("--limit", type=int, default=None, help="evaluate the first pairs only")
    parser.add_argument("--out", type=Path, default=Path("runs/identity-ablation"))
    args = parser.parse_args()

    arms = (
        {f"identity={w:g}": [f"loss.identity_weight={w}"] for w in args.identity_weights}
        if args.identity_weights
        else {name: ARMS[name] for name in args.arm or ARMS}
    )
    methods = ["blurry", "default" if args.init == "default" else f"model:{args.init}"]
    for arm, arm_overrides in arms.items():
        run_dir = args.out / arm
        overrides = [
            *FINE_TUNE,
            f"generator.init_weights={args.init}",
            f"train.steps={args.steps}",
            *arm_overrides,
            *args.overrides,
        ]
        resume = run_dir if (run_dir / "checkpoints" / "last.pt").exists() else None
        start = time.perf_counter()
        train(args.preset, overrides, run_dir=run_dir, resume=resume, progress=False)
        print(f"{arm}: trained in {time.perf_counter() - start:.0f} s -> {run_dir}", flush=True)
        methods.append(f"model:{run_dir / 'generator.safetensors'}")

    result = evaluate(args.data, methods, limit=args.limit)
    print(f"\n{args.data}: {result.summary['sharp']['images']} pairs; arms: {args.out}")
    print(
        "| method | PSNR (dB) | SSIM | identity distance | verified (< 0.6) "
        "| MTCNN missed (IoU 0.5) | MTCNN confidence |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, m in result.summary.items():
        cells = [
            m["psnr"],
            m["ssim"],
            m["identity_distance"],
            m["verification_accuracy"],
            m["failure_rate"],
            m["mean_confidence"],
        ]
        text = ["" if v is None else f"{v:.4f}" for v in cells]
        print(f"| {name} | " + " | ".join(text) + " |")
    print_paired(result, len(arms))


def print_paired(result, count: int) -> None:
    """Each arm minus the first arm, face by face: mean and standard error of the identity
    distance and PSNR differences, and the share of faces whose identity distance went down.
    The arms are the last ``count`` methods of ``result``."""
    arms = result.methods[-count:]
    if count < 2:
        return
    rows = {n: {r["id"]: r for r in result.rows if r["method"] == n} for n in arms}
    base = arms[0]
    ids = [
        i
        for i in rows[base]
        if all(i in rows[n] and rows[n][i]["identity_distance"] is not None for n in arms)
    ]
    print(f"\npaired over {len(ids)} faces, against {base}:")
    print("| arm | identity distance | faces closer | PSNR (dB) |")
    print("|---|---|---|---|")
    for name in arms[1:]:
        cells = []
        for key in ("identity_distance", "psnr"):
            d = np.array([rows[name][i][key] - rows[base][i][key] for i in ids])
            cells.append(f"{d.mean():+.4f} +- {d.std(ddof=1) / np.sqrt(len(d)):.4f}")
        closer = np.mean(
            [rows[name][i]["identity_distance"] < rows[base][i]["identity_distance"] for i in ids]
        )
        print(f"| {name} | {cells[0]} | {closer:.1%} | {cells[1]} |")


if __name__ == "__main__":
    main()
