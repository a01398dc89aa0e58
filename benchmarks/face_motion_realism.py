"""How close is face-motion blur of still faces to real frame-averaged blur? Prints one table.

Synthesizes face-motion samples from still faces (LFW) and frames-mode samples from the talking-face
clips, both at the same size and face margin without added noise or JPEG, keeps only the held-out
clips of the video split (the model card's ``--split train=0.8,val=0.2`` with its seed), and
compares per sample:

- PSNR of the blurred face against the sharp (centre) frame;
- where the difference energy sum((blurred - sharp)^2) sits: eyes, mouth (landmark hulls grown by
  0.2 inter-ocular distance), the rest of the face (hull of jaw and brows) and the background,
  with regions from dlib landmarks of the sharp face (found the same way for both);
- eye travel per sample: the largest distance between two left-eye centroids of its frames (FMR's
  ``travel``: dlib landmarks on the real frames, the drawn landmarks of the synthetic ones);
- dlib HOG failure: the blurred face missed (no detection at IoU >= 0.5 with the sharp face's).

    python benchmarks/face_motion_realism.py ../shared/data/lfw/images ../shared/data/videos \\
        --count 300 --video-count 600 --seed 3
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import cv2
import numpy as np

from facedeblur.blur import KernelBlurSettings, SampleSettings, synthesize
from facedeblur.blur.face_motion import FaceMotionSettings, find_landmarks, interocular
from facedeblur.errors import NoFaceError
from facedeblur.faces import DlibHOGDetector
from facedeblur.io import read_image
from synth_quality import iou

REGIONS = ("eyes", "mouth", "rest of face", "background")


def region_masks(points: np.ndarray, side: int) -> dict[str, np.ndarray]:
    """Boolean (side, side) masks of ``REGIONS`` from (68, 2) landmarks, partitioning the image."""
    grow = max(1, int(round(0.2 * interocular(points))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))

    def hull(indices) -> np.ndarray:
        mask = np.zeros((side, side), np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(np.rint(points[indices]).astype(np.int32)), 1)
        return mask

    eyes = cv2.dilate(hull(range(36, 42)) | hull(range(42, 48)), kernel).astype(bool)
    mouth = cv2.dilate(hull(range(48, 60)), kernel).astype(bool) & ~eyes
    face = hull(range(0, 27)).astype(bool) & ~eyes & ~mouth
    return {
        "eyes": eyes,
        "mouth": mouth,
        "rest of face": face,
        "background": ~(eyes | mouth | face),
    }


def measure(root: Path, detector) -> dict[str, list]:
    """Per-sample statistics of a synth output folder."""
    stats = {"psnr": [], "travel": [], "found": 0, "missed": 0, "landmarks_failed": 0}
    stats.update({name: [] for name in REGIONS})
    for line in (root / "manifest.jsonl").read_text().splitlines():
        record = json.loads(line)
        sharp = read_image(root / record["files"]["sharp"])
        blur = read_image(root / record["files"]["blur"])
        mse = float(np.mean((blur.astype(np.float64) - sharp) ** 2))
        stats["psnr"].append(10 * np.log10(1.0 / max(mse, 1e-12)))
        if record.get("fmr"):
            stats["travel"].append(record["fmr"]["travel"])
        try:
            _, points = find_landmarks(sharp, record["id"])
        except NoFaceError:
            stats["landmarks_failed"] += 1
        else:
            energy = ((blur.astype(np.float64) - sharp) ** 2).sum(axis=2)
            total = max(energy.sum(), 1e-12)
            for name, mask in region_masks(points, sharp.shape[0]).items():
                stats[name].append(energy[mask].sum() / total)
        ref = detector(sharp)
        if ref:
            stats["found"] += 1
            if not [d for d in detector(blur) if iou(d.box, ref[0].box) >= 0.5]:
                stats["missed"] += 1
    return stats


def spread(values) -> str:
    if not values:
        return "n/a"
    p5, p50, p95 = np.percentile(values, [5, 50, 95])
    return f"{np.mean(values):.2f} ({p5:.2f} / {p50:.2f} / {p95:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stills", type=Path, help="sharp faces (LFW person folders)")
    parser.add_argument("videos", type=Path, help="talking-face clips")
    parser.add_argument("--count", type=int, default=300, help="face-motion samples")
    parser.add_argument("--video-count", type=int, default=600, help="frames-mode samples (all)")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--margin", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--video-seed", type=int, default=11, help="seed of the clip split")
    parser.add_argument("--head", type=float, default=1.0)
    parser.add_argument("--mouth", type=float, default=1.0)
    parser.add_argument("--eyes", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=None, help="keep the synthesized data here")
    args = parser.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="facedeblur-realism-"))
    blur = KernelBlurSettings(noise_scale=0.0)
    common = dict(size=args.size, crop="face", margin=args.margin, blur=blur)
    motion = FaceMotionSettings(head=args.head, mouth=args.mouth, eyes=args.eyes)
    synthesize(
        args.stills,
        out / "face-motion",
        SampleSettings(mode="face-motion", motion=motion, **common),
        count=args.count,
        seed=args.seed,
        overwrite=True,
        progress=False,
    )
    real = out / "frames"
    if not (real / "val" / "manifest.jsonl").is_file():
        synthesize(
            args.videos,
            real,
            SampleSettings(mode="frames", **common),
            count=args.video_count,
            seed=args.video_seed,
            split={"train": 0.8, "val": 0.2},
            overwrite=True,
            progress=False,
        )
    detector = DlibHOGDetector(upsample=1)
    columns = {
        "real, held-out clips (frames mode)": measure(real / "val", detector),
        "face-motion, LFW stills": measure(out / "face-motion", detector),
    }
    print(
        f"size {args.size}, margin {args.margin}, no noise or JPEG; face-motion amplitudes head "
        f"{args.head:g}, mouth {args.mouth:g}, eyes {args.eyes:g}; data in {out}"
    )
    print()
    print("| measure | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    rows = [
        ("samples", lambda s: str(len(s["psnr"]))),
        ("PSNR blurred vs sharp, dB: mean (5th / 50th / 95th pct)", lambda s: spread(s["psnr"])),
        ("eye travel per sample, px: mean (5th / 50th / 95th pct)", lambda s: spread(s["travel"])),
    ]
    rows += [
        (f"share of difference energy: {name}, mean", lambda s, n=name: f"{np.mean(s[n]):.3f}")
        for name in REGIONS
    ]
    rows += [
        (
            "dlib HOG misses the blurred face (of those found sharp)",
            lambda s: (
                f"{s['missed']} / {s['found']} ({100 * s['missed'] / max(s['found'], 1):.1f}%)"
            ),
        ),
        (
            "no landmarks on the sharp face (left out of the shares)",
            lambda s: str(s["landmarks_failed"]),
        ),
    ]
    for label, cell in rows:
        print(f"| {label} | " + " | ".join(cell(s) for s in columns.values()) + " |")


if __name__ == "__main__":
    main()
