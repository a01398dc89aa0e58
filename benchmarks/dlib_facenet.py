"""dlib's face-recognition network in PyTorch against dlib itself: equality and speed.

    python benchmarks/dlib_facenet.py --faces 64

On ``--faces`` LFW faces (the first images of the first people, alphabetically), each face is
found by dlib's HOG detector, landmarked by its 5-point predictor and cut into dlib's 150 px
chip. Equality: descriptors of ``DlibFaceNet`` vs ``compute_face_descriptor`` on the same chips,
and the identity distances of every pair; also the chips cut by the differentiable alignment
(``faces.align.extract_chips``, truncated to 8 bits as dlib does). Speed: faces per second on
the chips, dlib one by one vs PyTorch in batches, on ``--threads`` threads, measured in one
run side by side.
"""

from __future__ import annotations

import argparse
import timeit
from pathlib import Path

import numpy as np
import torch

from facedeblur.faces.align import dlib_chip_matrix, extract_chips
from facedeblur.faces.dlib_facenet import shipped_facenet
from facedeblur.faces.dlib_faces import FaceDescriptor, landmarks5
from facedeblur.faces.dlib_models import load_dlib, model_path
from facedeblur.io import read_image, to_uint8


def lfw_faces(root: Path, count: int) -> list[np.ndarray]:
    """The first image of the first ``count`` people of an LFW tree, as uint8 RGB."""
    people = sorted(p for p in root.iterdir() if p.is_dir())
    return [to_uint8(read_image(sorted(p.glob("*.jpg"))[0])) for p in people[:count]]


def chips_and_points(images: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """dlib's 150 px chips (N, 150, 150, 3) and the 5-point landmarks they were cut from."""
    dlib = load_dlib()
    describe = FaceDescriptor()
    chips, points = [], []
    for image in images:
        found = landmarks5(image, describe.face_box(image))
        shape = dlib.full_object_detection(
            dlib.rectangle(0, 0, image.shape[1] - 1, image.shape[0] - 1),
            [dlib.point(int(x), int(y)) for x, y in found],
        )
        chips.append(dlib.get_face_chip(image, shape, 150, 0.25))
        points.append(found)
    return np.stack(chips), points


def as_batch(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0


def pair_distances(descriptors: np.ndarray) -> np.ndarray:
    """Euclidean distances of every pair i < j."""
    i, j = np.triu_indices(len(descriptors), k=1)
    return np.linalg.norm(descriptors[i] - descriptors[j], axis=1)


def faces_per_second(run, count: int, repeats: int = 3) -> float:
    """Faces per second of ``run()`` (which describes ``count`` faces), best of ``repeats``."""
    return count / min(timeit.repeat(run, number=1, repeat=repeats))


def main() -> None:
    """Measure and print both tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw", type=Path, default=Path("../shared/data/lfw/images"))
    parser.add_argument("--faces", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    images = lfw_faces(args.lfw, args.faces)
    chips, points = chips_and_points(images)
    recognizer = load_dlib().face_recognition_model_v1(str(model_path("face_descriptor")))
    net = shipped_facenet()
    reference = np.stack([np.asarray(recognizer.compute_face_descriptor(c)) for c in chips])
    with torch.no_grad():
        ours = net(as_batch(chips)).numpy()
        matrices = torch.from_numpy(np.stack([dlib_chip_matrix(p) for p in points]))
        cut = torch.cat(
            [extract_chips(as_batch(img[None]), m[None]) for img, m in zip(images, matrices)]
        )
        aligned = net(torch.floor(cut * 255.0 + 1e-3) / 255.0).numpy()

    print(f"{len(chips)} LFW faces, {len(chips) * (len(chips) - 1) // 2} pairs")
    print("| compared with dlib | descriptor max abs diff | pair distance max abs diff |")
    print("|---|---|---|")
    for label, mine in (("DlibFaceNet on dlib's chips", ours), ("+ our alignment", aligned)):
        print(
            f"| {label} | {np.abs(mine - reference).max():.2e} | "
            f"{np.abs(pair_distances(mine) - pair_distances(reference)).max():.2e} |"
        )

    def dlib_run():
        for chip in chips:
            recognizer.compute_face_descriptor(chip)

    def torch_run(batch: int):
        def run():
            with torch.no_grad():
                for start in range(0, len(chips), batch):
                    net(as_batch(chips[start : start + batch]))

        return run

    print(f"\nspeed on {args.threads} threads, chips already cut")
    print("| network | faces / s |")
    print("|---|---|")
    print(f"| dlib (C++, one by one) | {faces_per_second(dlib_run, len(chips)):.1f} |")
    for batch in (1, 16, 64):
        rate = faces_per_second(torch_run(batch), len(chips))
        print(f"| DlibFaceNet (PyTorch, batch {batch}) | {rate:.1f} |")


if __name__ == "__main__":
    main()
