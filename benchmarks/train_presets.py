"""Train CPU presets and print what each run gave: steps, time, validation PSNR/SSIM.

    python benchmarks/train_presets.py                       # every *-cpu preset, preset lengths
    python benchmarks/train_presets.py deblurgan-wgangp-cpu --set train.steps=600

Runs go to runs/bench/<preset>; metrics are on person-disjoint held-out LFW faces blurred
by the on-the-fly camera-shake synthesis (RGB PSNR, SSIM with Wang et al.'s window).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from facedeblur.train import load_config, preset_names, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="*", help="presets to run (default: all *-cpu presets)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], help="config override for every run"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    args = parser.parse_args()

    names = args.presets or [n for n in preset_names() if n.endswith("-cpu")]
    rows = []
    for name in names:
        config = load_config(name, args.overrides)
        start = time.perf_counter()
        run_dir, metrics = train(config, run_dir=args.out / name, progress=False)
        seconds = time.perf_counter() - start
        rows.append((name, config.train.steps, seconds, metrics))
        print(f"{name}: done in {seconds:.0f} s -> {run_dir}", flush=True)

    print()
    print("| preset | steps | time (s) | blurry PSNR / SSIM | restored PSNR / SSIM |")
    print("|---|---|---|---|---|")
    for name, steps, seconds, m in rows:
        print(
            f"| {name} | {steps} | {seconds:.0f} | "
            f"{m['blurry_psnr']:.2f} / {m['blurry_ssim']:.4f} | "
            f"{m['val_psnr']:.2f} / {m['val_ssim']:.4f} |"
        )


if __name__ == "__main__":
    main()
