"""How strong and how realistic is the synthesized blur? Prints one table.

Runs ``facedeblur synth`` (timed) on a source, then measures blurred against sharp: PSNR and
SSIM (RGB, scikit-image, Gaussian window sigma 1.5) and what the blur does to dlib's HOG face
detector (a face counts as missed when no detection overlaps the sharp image's face at
IoU >= 0.5; faces the detector misses on the sharp image are left out).

    python benchmarks/synth_quality.py ../shared/data/lfw/images --count 200 --size 128 --seed 3
    python benchmarks/synth_quality.py ../shared/data/videos --mode frames --count 60
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from facedeblur.blur import SampleSettings, synthesize
from facedeblur.faces import DlibHOGDetector
from facedeblur.io import read_image


def iou(a, b) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("--mode", choices=("kernel", "frames"), default="kernel")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="keep the synthesized data here")
    args = parser.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="facedeblur-bench-")) / "synth"
    crop = "center" if args.mode == "kernel" else "face"
    start = time.perf_counter()
    report = synthesize(
        args.src,
        out,
        SampleSettings(mode=args.mode, size=args.size, crop=crop),
        count=args.count,
        seed=args.seed,
        overwrite=True,
        progress=False,
    )
    seconds = time.perf_counter() - start

    detector = DlibHOGDetector(upsample=1)
    psnrs, ssims, sharp_scores, blur_scores = [], [], [], []
    found_sharp = missed_blur = 0
    for line in (out / "manifest.jsonl").read_text().splitlines():
        record = json.loads(line)
        sharp = read_image(out / record["files"]["sharp"])
        blur = read_image(out / record["files"]["blur"])
        psnrs.append(peak_signal_noise_ratio(sharp, blur, data_range=1.0))
        ssims.append(
            structural_similarity(
                sharp,
                blur,
                data_range=1.0,
                channel_axis=2,
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
            )
        )
        ref = detector(sharp)
        if not ref:
            continue
        found_sharp += 1
        sharp_scores.append(ref[0].score)
        hits = [d for d in detector(blur) if iou(d.box, ref[0].box) >= 0.5]
        if hits:
            blur_scores.append(hits[0].score)
        else:
            missed_blur += 1

    n = len(psnrs)
    print(f"source: {args.src}  mode: {args.mode}  size: {args.size}  seed: {args.seed}")
    print(
        f"synth: {report.total_written} samples in {seconds:.1f} s "
        f"({report.total_written / seconds:.1f} samples/s), "
        f"{len(report.skipped)} problem(s)"
    )
    print()
    print("| measure | value |")
    print("|---|---|")
    print(
        f"| PSNR blurred vs sharp, mean (5th / 50th / 95th pct) | {np.mean(psnrs):.2f} dB "
        f"({np.percentile(psnrs, 5):.2f} / {np.median(psnrs):.2f} / "
        f"{np.percentile(psnrs, 95):.2f}) |"
    )
    print(f"| SSIM blurred vs sharp, mean | {np.mean(ssims):.4f} |")
    print(
        f"| dlib HOG finds the face on sharp | {found_sharp} / {n} "
        f"({100 * (1 - found_sharp / n):.1f}% failure) |"
    )
    if found_sharp:
        print(
            f"| ... and misses it after blur | {missed_blur} / {found_sharp} "
            f"({100 * missed_blur / found_sharp:.1f}% failure) |"
        )
        print(
            f"| mean detector score sharp / blurred (hits) | {np.mean(sharp_scores):.3f} / "
            f"{np.mean(blur_scores) if blur_scores else float('nan'):.3f} |"
        )


if __name__ == "__main__":
    main()
