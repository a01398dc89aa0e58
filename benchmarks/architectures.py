"""Compare deblurring architectures under one training budget: quality per CPU millisecond.

    python benchmarks/architectures.py face-nafnet face-deblurgan-slim --steps 600

Every candidate preset trains for the same number of steps (its learning-rate schedule is
that of the full preset, so a winner can be resumed to its full length with
``facedeblur train --resume runs/arch/<preset>``), then its EMA generator is exported as
``candidate.safetensors`` and timed on 128x128 faces with torch on 2 threads. Quality is
measured on the engine's validation samples (held-out LFW people with kernel blur, plus
held-out video clips with frame-averaged blur): PSNR, SSIM and the dlib identity distance to
the sharp faces. ``--raw`` scores the raw generator instead of its moving average. The table
gives PSNR gain over the blurry input per millisecond.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from facedeblur.faces.dlib_faces import FaceDescriptor
from facedeblur.io import tensor_to_image
from facedeblur.metrics import psnr, ssim
from facedeblur.metrics.identity import identity_distances
from facedeblur.models.ops import final_output
from facedeblur.models.weights import save_weights
from facedeblur.restore.deblurrer import Deblurrer
from facedeblur.train import Trainer, load_config
from speed import seconds_per_call  # the sibling script benchmarks/speed.py


def time_per_face(model: torch.nn.Module, threads: int = 2, repeats: int = 20) -> float:
    """Median milliseconds for one 128x128 face (batch 1) with torch on ``threads`` threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    seconds = seconds_per_call(Deblurrer(model), batch=1, size=128, warmup=3, repeats=repeats)
    torch.set_num_threads(previous)
    return 1000.0 * seconds


def gmacs(model: torch.nn.Module) -> float:
    """Multiply-accumulates (10^9) of one 128x128 face."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.rand(1, 3, 128, 128))
    return counter.get_total_flops() / 2e9


def score(model: torch.nn.Module, samples: list[dict]) -> dict:
    """Mean PSNR, SSIM and dlib identity distance to the sharp faces, of the blurry inputs and of
    ``model``.
    """
    describe = FaceDescriptor()
    rows = []
    with torch.no_grad():
        for item in samples:
            blur, sharp = item["blur"][None], item["sharp"][None]
            out = final_output(model(blur)).clamp(0, 1)
            sharp_image = tensor_to_image(sharp[0])
            box = describe.face_box(sharp_image)
            target = describe(sharp_image, box)
            rows.append(
                [
                    float(psnr(blur, sharp)[0]),
                    float(psnr(out, sharp)[0]),
                    float(ssim(blur, sharp)[0]),
                    float(ssim(out, sharp)[0]),
                    float(identity_distances(describe(tensor_to_image(blur[0]), box), target)),
                    float(identity_distances(describe(tensor_to_image(out[0]), box), target)),
                ]
            )
    means = np.mean(rows, axis=0)
    keys = ("blurry_psnr", "psnr", "blurry_ssim", "ssim", "blurry_identity", "identity")
    return dict(zip(keys, means.tolist()))


def main() -> None:
    """Parse the command line, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "presets", nargs="+", help="candidate presets (same data and loss, different networks)"
    )
    parser.add_argument("--steps", type=int, default=600, help="training steps per candidate")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], help="config override for every run"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/arch"))
    parser.add_argument(
        "--raw", action="store_true", help="score the raw generator, not its moving average"
    )
    args = parser.parse_args()

    rows = []
    for name in args.presets:
        config = load_config(name, args.overrides)
        run_dir = args.out / name
        trainer = Trainer(
            config, run_dir, resume=(run_dir / "checkpoints" / "last.pt").exists(), progress=False
        )
        start = time.perf_counter()
        trainer.fit(until=args.steps)
        seconds = time.perf_counter() - start
        net = (trainer.generator if args.raw or trainer.ema is None else trainer.ema).eval()
        metrics = score(net, trainer.val)
        save_weights(
            run_dir / "candidate.safetensors",
            net,
            config.generator.name,
            config.generator.args,
            steps=trainer.step,
            metrics=metrics,
            data={"size": config.data.size},
        )
        rows.append(
            (
                name,
                sum(p.numel() for p in net.parameters()),
                gmacs(net),
                time_per_face(net),
                trainer.step,
                metrics,
            )
        )
        print(f"{name}: {trainer.step} steps, {seconds:.0f} s this call -> {run_dir}", flush=True)

    print()
    print(
        f"{len(trainer.val)} validation faces; "
        f"{'raw generator' if args.raw else 'moving-average generator'}"
    )
    print(
        "| network | params | GMAC/face | ms/face (torch, 2 thr) | steps | PSNR (blurry) "
        "| SSIM (blurry) "
        "| identity dist. (blurry) | PSNR gain / ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, params, macs, ms, steps, m in rows:
        gain = m["psnr"] - m["blurry_psnr"]
        print(
            f"| {name} | {params / 1e6:.2f} M | {macs:.2f} | {ms:.1f} | {steps} | {m['psnr']:.2f} "
            f"({m['blurry_psnr']:.2f}) | {m['ssim']:.4f} ({m['blurry_ssim']:.4f}) | "
            f"{m['identity']:.3f} "
            f"({m['blurry_identity']:.3f}) | {gain / ms:.3f} dB |"
        )


if __name__ == "__main__":
    main()
