"""Peak memory of ``facedeblur deblur`` on large photos, next to the estimate of its memory budget.

Each photo is composed from LFW faces: LFW photos enlarged to the given sides, placed left to
right on a smooth background, saved as JPEG. Each command runs under ``/usr/bin/time -v`` (peak
resident memory); the estimate is the one ``--memory-budget 0.5`` prints when it refuses the
photo. Prints a markdown table. Takes minutes per 86 MP photo on a CPU.

    python benchmarks/large_photo_memory.py [--only mid8] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

BIN = Path(sys.executable).parent / "facedeblur"
PEOPLE = [
    "George_W_Bush/George_W_Bush_0001.jpg",
    "Colin_Powell/Colin_Powell_0001.jpg",
    "Tony_Blair/Tony_Blair_0001.jpg",
]
# name -> (width, height, side of each enlarged LFW photo, extra deblur options)
CASES = {
    "big3": (11000, 7800, [2000, 3000, 4000], ["--faces"]),
    "big1": (11000, 7800, [7000], ["--faces"]),
    "mid8": (3400, 2400, [900, 1200], ["--faces"]),
    "mid8-tiles": (3400, 2400, [900, 1200], []),
}


def compose(path: Path, lfw: Path, width: int, height: int, sides: list[int]) -> Path:
    """Write the photo of a case as a JPEG (quality 90)."""
    rng = np.random.default_rng(0)
    coarse = rng.integers(60, 200, size=(height // 64 + 1, width // 64 + 1, 3), dtype=np.uint8)
    canvas = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)
    left = 0
    for index, side in enumerate(sides):
        face = cv2.imread(str(lfw / PEOPLE[index % len(PEOPLE)]))
        face = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
        top = (height - side) // 2
        canvas[top : top + side, left : left + side] = face
        left += side + 50
    cv2.imwrite(str(path), canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


def peak_gb(args: list[str]) -> float:
    """Peak resident memory of ``facedeblur ARGS`` in GB."""
    run = subprocess.run(
        ["/usr/bin/time", "-v", str(BIN), *args], capture_output=True, text=True, check=False
    )
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr)
    if found is None:
        raise SystemExit(f"no measurement for {args}:\n{run.stderr}")
    return int(found.group(1)) / 1e6


def estimate_gb(args: list[str]) -> str:
    """The estimate ``--memory-budget 0.5`` prints when it refuses the photo."""
    run = subprocess.run(
        [str(BIN), *args, "--memory-budget", "0.5"], capture_output=True, text=True, check=False
    )
    found = re.search(r"needs about ([\d.]+) GB", run.stderr)
    return f"{found.group(1)} GB" if found else "fits"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(CASES), action="append")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    print("| photo | options | peak RSS | estimate |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or list(CASES):
            width, height, sides, extra = CASES[name]
            photo = compose(
                Path(tmp) / f"{name}.jpg", args.data / "lfw" / "images", width, height, sides
            )
            command = [str(photo), "-o", str(Path(tmp) / f"{name}.png"), "--quiet", *extra]
            estimate = estimate_gb(["deblur", *command])
            peak = peak_gb(["deblur", *command])
            size = f"{width}x{height} ({width * height / 1e6:.1f} MP), LFW at {sides} px"
            print(
                f"| {size} | `{' '.join(extra) or '(tiles of 512)'}` | {peak:.2f} GB | {estimate} |"
            )


if __name__ == "__main__":
    main()
