"""Regenerate ``examples/blurry.jpg``, the README's example photo.

The source is scikit-image's astronaut portrait (Eileen Collins, NASA, public domain), which
scikit-image installs. The whole photo is blurred with one camera-shake kernel of the
project's synthesis, drawn with a fixed seed at the strength the first default model was
trained on (L_max 60 px at 512 px, scaled to the 220 px face crop that ``--faces`` cuts on
this photo), in linear light, with sensor noise, then written as JPEG quality 90.

    python examples/make_examples.py            # rewrites examples/blurry.jpg
    python examples/make_examples.py --check    # exit 1 if the committed file differs

With the library versions it was made with the rebuild is byte for byte; ``--check`` allows
``TOLERANCE`` grey levels, as another JPEG encoder or floating-point library may round a few
pixels differently.
"""

from __future__ import annotations

import argparse
import importlib.resources
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from facedeblur import blur, read_image, write_image
from facedeblur.io import image_to_tensor, tensor_to_image

HERE = Path(__file__).resolve().parent
SEED = 2
FACE_CROP_SIDE = 220
JPEG_QUALITY = 90
TOLERANCE = 2


def astronaut_path() -> Path:
    """Path of scikit-image's bundled astronaut portrait (512x512 RGB PNG)."""
    return Path(str(importlib.resources.files("skimage.data") / "astronaut.png"))


def blurry_astronaut(seed: int = SEED) -> np.ndarray:
    """The astronaut photo with camera shake and noise: float RGB (512, 512, 3) in [0, 1]."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    kernel, _ = blur.camera_shake_kernel(
        rng, max_length=60.0, output_size=FACE_CROP_SIDE, exposure=(0.25, 1.0)
    )
    sharp = image_to_tensor(read_image(astronaut_path()))
    blurred = blur.blur_image(sharp, kernel)
    blurred = blur.add_gaussian_noise(blurred, blur.sample_noise_sigma(rng), rng)
    return tensor_to_image(blurred)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "blurry.jpg")
    parser.add_argument("--check", action="store_true", help="compare with --out, write nothing")
    args = parser.parse_args(argv)
    if not args.check:
        write_image(args.out, blurry_astronaut(), jpeg_quality=JPEG_QUALITY)
        print(f"wrote {args.out}")
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        fresh = write_image(Path(scratch) / "blurry.jpg", blurry_astronaut(), JPEG_QUALITY)
        fresh_pixels, committed = read_image(fresh), read_image(args.out)
    if fresh_pixels.shape != committed.shape:
        print(f"{args.out}: DIFFERS from a fresh run (size {committed.shape[:2]})")
        return 1
    levels = float(np.abs(fresh_pixels - committed).max()) * 255.0
    same = levels <= TOLERANCE
    verdict = "matches" if same else "DIFFERS from"
    print(f"{args.out}: {verdict} a fresh run (largest difference {levels:.0f} grey levels)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
