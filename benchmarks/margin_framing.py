"""Which ``synth --margin`` on dlib's HOG box frames a face as ``deblur --faces`` does.

    python benchmarks/margin_framing.py                 # 40 LFW photos, MTCNN margin 0.5
    python benchmarks/margin_framing.py --count 100 --margin 0.5

``synth --crop face`` grows dlib HOG's box (the largest face, found as ``blur.samples.detect_face``
finds it) by ``margin`` on every side; ``deblur --faces`` grows MTCNN's box by its ``--margin``.
For each photo (the first photo of every 100th LFW person) this prints nothing but the summary:
the HOG margin whose crop side equals MTCNN's crop side, as median and quartiles.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from facedeblur.blur.samples import detect_face
from facedeblur.errors import FaceDeblurError
from facedeblur.faces.registry import build_detector
from facedeblur.io import read_image

LFW = Path("../shared/data/lfw/images")


def equivalent_margin(hog_side: float, mtcnn_side: float, mtcnn_margin: float) -> float:
    """The margin m with (1 + 2 m) * hog_side == (1 + 2 mtcnn_margin) * mtcnn_side."""
    return ((1.0 + 2.0 * mtcnn_margin) * mtcnn_side / hog_side - 1.0) / 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw", type=Path, default=LFW, help="LFW images folder")
    parser.add_argument("--count", type=int, default=40, help="photos (every 100th person)")
    parser.add_argument("--margin", type=float, default=0.5, help="deblur --faces margin")
    args = parser.parse_args()

    mtcnn = build_detector("mtcnn")
    margins = []
    for person in sorted(args.lfw.iterdir())[::100][: args.count]:
        path = sorted(person.glob("*.jpg"))[0]
        image = read_image(path)
        faces = mtcnn(image)
        try:
            hog = detect_face(image, path)
        except FaceDeblurError:
            continue
        if not faces:
            continue
        face = max(faces, key=lambda d: d.width * d.height)
        margins.append(
            equivalent_margin(max(hog.width, hog.height), max(face.width, face.height), args.margin)
        )
    low, _, high = statistics.quantiles(margins, n=4)
    print(
        f"{len(margins)} faces: the HOG margin framing as MTCNN + {args.margin:g}: "
        f"median {statistics.median(margins):.3f}, quartiles {low:.3f} .. {high:.3f}"
    )


if __name__ == "__main__":
    main()
