"""CFMD-GAN ablations under one training budget, scored with the N-moment protocol (Table 4).

    python benchmarks/cfmd_ablations.py --steps 800 --limit 96

Each variant is the ``cfmd-cpu`` preset with one change, trained for ``--steps`` steps into
``runs/cfmd-ablation/<variant>`` (an interrupted variant resumes; a finished one is reused):

    full           the preset as it is
    no-fmr         frames tied to u in time order instead of facial motion order
    cadc-only      ContAda blocks without channel attention (CACA)
    caca-only      ContAda blocks with a plain 3x3 conv instead of the deformable one (CADC)
    no-perceptual  without the O-Net perceptual substitute

The preset's learning rate decays per epoch, not over the run, so the first ``--steps`` steps of
a longer run with the same preset and seed are this budget too: ``--checkpoint full=PATH`` takes
the ``full`` variant from such a run's checkpoint instead of training it again. Every variant is
then scored on the same evenly spread validation samples: its N moments against the frames in
FMR order (and, for ``no-fmr``, also in the time order it was trained on), next to the blurry
input repeated N times. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import yaml

from facedeblur.evaluate.moments_protocol import evaluate_moments
from facedeblur.train import load_config, train
from facedeblur.train.config import to_dict

VARIANTS = {
    "full": [],
    "no-fmr": ["data.frame_order=time"],
    "cadc-only": ["generator.args.block=cadc"],
    "caca-only": ["generator.args.block=caca"],
    "no-perceptual": ["loss.perceptual=none"],
}


def weights_of(variant: str, root: Path, steps: int, preset: str, checkpoint: Path | None) -> Path:
    """Train (or resume, or reuse) one variant and return its exported generator."""
    run_dir = root / variant
    weights = run_dir / "generator.safetensors"
    if weights.is_file():
        return weights
    # Validating only at the end changes nothing in training (it draws no random numbers).
    budget = [f"train.steps={steps}", f"train.val_every={steps}"]
    overrides = VARIANTS[variant] + budget
    if checkpoint is not None and not (run_dir / "checkpoints" / "last.pt").is_file():
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        config = load_config(preset, overrides)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
        shutil.copy(checkpoint, run_dir / "checkpoints" / "last.pt")
    if (run_dir / "checkpoints" / "last.pt").is_file():
        train(None, budget, resume=run_dir)
    else:
        train(preset, overrides, run_dir=run_dir)
    return weights


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="cfmd-cpu")
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--root", type=Path, default=Path("runs/cfmd-ablation"))
    parser.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="VARIANT=PATH",
        help="start a variant from a checkpoint of a longer run at --steps",
    )
    parser.add_argument(
        "--limit", type=int, default=96, help="validation samples, evenly spread (default 96)"
    )
    parser.add_argument("--no-identity", action="store_true")
    args = parser.parse_args()
    checkpoints = dict(item.split("=", 1) for item in args.checkpoint)
    config = load_config(args.preset)
    specs = {
        v: weights_of(
            v,
            args.root,
            args.steps,
            args.preset,
            Path(checkpoints[v]) if v in checkpoints else None,
        )
        for v in args.variants
    }
    rows = []
    runs = [("fmr", list(specs))] + ([("time", ["no-fmr"])] if "no-fmr" in specs else [])
    for order, variants in runs:
        methods = ["blurry"] + [f"moments:{specs[v]}" for v in variants]
        result = evaluate_moments(
            config.data.val,
            methods,
            frame_order=order,
            limit=args.limit,
            identity=not args.no_identity,
        )
        for label, name in zip(["blurry (repeated)"] + variants, result.methods):
            s = result.summary[name]["all"]
            identity = (
                f"{s['identity_distance']:.4f}" if s["identity_distance"] is not None else "n/a"
            )
            rows.append(
                f"| {label} | {order} | {s['samples']} | {s['psnr']:.2f} | {s['ssim']:.4f} | "
                f"{identity} |"
            )
    print(
        f"\n{args.preset}, {args.steps} steps per variant, N-moment scores on {config.data.val}\n"
    )
    print("| variant | ground-truth order | samples | PSNR | SSIM | identity distance |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
