"""float32 vs int8 (onnxruntime dynamic and static QDQ): held-out quality and speed, one run.

    python benchmarks/quantization.py --data runs/eval-lfw/val \
        --calibration runs/eval-lfw/train/blur --calibration-count 64 --threads 2

The model (``--model``, default: the shipped default model) is exported folded
(``onnx_bytes``), then quantized with ``quantize_onnx``: ``dynamic`` needs no data, ``static``
is calibrated on the first ``--calibration-count`` images of ``--calibration`` (blurry faces of
people the model trained on). Every variant restores every pair of ``--data`` (held-out
people) through ``Deblurrer``; the table gives PSNR and identity distance (dlib descriptors of
the restored and the sharp face, both cut with MTCNN's box on the sharp image, as
``facedeblur evaluate`` does), their paired differences from float32 (mean +- standard error
over pairs) and the time per face at each batch size with the variants taking turns, as
ratios to float32 in the same round. int8 would ship only if its PSNR drops by less than 0.1 dB
and its identity distance does not grow.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from facedeblur.evaluate.protocol import list_pairs
from facedeblur.faces import build_detector
from facedeblur.faces.dlib_faces import FaceDescriptor
from facedeblur.io import image_to_tensor, tensor_to_image
from facedeblur.metrics import psnr
from facedeblur.metrics.identity import identity_distances
from facedeblur.models.weights import deblurrer_path, load_network
from facedeblur.restore.deblurrer import Deblurrer
from facedeblur.restore.onnx_export import onnx_bytes
from facedeblur.restore.onnx_quantize import calibration_faces, quantize_onnx
from facedeblur.restore.onnx_runner import OnnxRunner

FLOAT = "float32"
MAX_PSNR_DROP = 0.1


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def build_variants(model_arg, calibration: Path, count: int, size: int, threads: int) -> dict:
    """{name: Deblurrer} for float32 and the two int8 kinds, plus the seconds each took."""
    model, header = load_network(deblurrer_path(model_arg), role="deblurrer")
    exported = onnx_bytes(model, header, size=size)
    start = time.perf_counter()
    dynamic = quantize_onnx(exported, "dynamic")
    dynamic_s = time.perf_counter() - start
    faces = calibration_faces(calibration, count, size)
    start = time.perf_counter()
    static = quantize_onnx(exported, "static", faces)
    static_s = time.perf_counter() - start
    print(
        f"quantized: dynamic in {dynamic_s:.0f} s, static on {len(faces)} calibration faces "
        f"in {static_s:.0f} s; sizes {len(exported) / 1e6:.2f} / {len(dynamic) / 1e6:.2f} / "
        f"{len(static) / 1e6:.2f} MB (float32 / dynamic / static)"
    )
    return {
        name: Deblurrer(OnnxRunner(data, threads=threads, name=name))
        for name, data in ((FLOAT, exported), ("int8 dynamic", dynamic), ("int8 static", static))
    }


def quality(variants: dict, data: Path, limit: int | None, batch: int) -> dict:
    """{name: {"psnr": [...], "identity": [...]}} over the pairs of ``data``, paired by index;
    pairs where MTCNN finds no face on the sharp image get no identity distance (None)."""
    pairs, problems = list_pairs(data)
    pairs = pairs[:limit]
    for problem in problems:
        print(f"  skipped: {problem}")
    detect = build_detector("mtcnn")
    describe = FaceDescriptor()
    scores = {name: {"psnr": [], "identity": []} for name in ["blurry", *variants]}
    for start in range(0, len(pairs), batch):
        chunk = [pair.load()[:2] for pair in pairs[start : start + batch]]
        sharp = torch.stack([image_to_tensor(s) for s, _ in chunk])
        blurry = torch.stack([image_to_tensor(b) for _, b in chunk])
        outputs = {"blurry": blurry}
        outputs.update({name: d.deblur(blurry) for name, d in variants.items()})
        for i, (sharp_image, _) in enumerate(chunk):
            found = detect(sharp_image)
            images = [tensor_to_image(outputs[name][i]) for name in scores]
            if found:
                box = found[0].box
                descriptors = describe.descriptors(
                    [sharp_image, *images], [box] * (len(images) + 1)
                )
                distances = identity_distances(descriptors[1:], descriptors[0])
            else:
                distances = [None] * len(images)
            for name, distance in zip(scores, distances):
                scores[name]["psnr"].append(float(psnr(outputs[name][i : i + 1], sharp[i : i + 1])))
                scores[name]["identity"].append(None if distance is None else float(distance))
        print(f"  {min(start + batch, len(pairs))} of {len(pairs)} pairs", flush=True)
    return scores


def speed(variants: dict, size: int, batches: list[int], warmup: int, rounds: int) -> dict:
    """{(name, batch): [seconds per face, one per round]}, the variants taking turns."""
    times = collections.defaultdict(list)
    for batch in batches:
        x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
        for deblurrer in variants.values():
            for _ in range(warmup):
                deblurrer.deblur(x)
        for _ in range(rounds):
            for name, deblurrer in variants.items():
                start = time.perf_counter()
                deblurrer.deblur(x)
                times[name, batch].append((time.perf_counter() - start) / batch)
    return times


def paired(values: list, reference: list) -> tuple[float, float, int]:
    """Mean and standard error of values - reference over the pairs where both exist."""
    diffs = np.array([v - r for v, r in zip(values, reference) if v is not None and r is not None])
    if len(diffs) < 2:
        return float("nan"), float("nan"), len(diffs)
    return float(diffs.mean()), float(diffs.std(ddof=1) / np.sqrt(len(diffs))), len(diffs)


def main() -> None:
    """Parse the command line, quantize, measure, print the table and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="held-out pairs (synth output)")
    parser.add_argument(
        "--calibration", type=Path, required=True, help="folder of training-people faces"
    )
    parser.add_argument("--calibration-count", type=int, default=64, help="faces (64)")
    parser.add_argument("--model", default=None, help="weights (default: the shipped model)")
    parser.add_argument("--limit", type=int, default=None, help="first pairs only")
    parser.add_argument("--size", type=int, default=128, help="face side for export and speed")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads (2)")
    parser.add_argument("--batches", type=_ints, default=[1, 8], help="speed batches (1,8)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls per variant (2)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (5)")
    args = parser.parse_args()

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"onnxruntime {onnxruntime.__version__}, torch {torch.__version__}, {os.cpu_count()} CPU "
        f"cores, load average {load:.1f} at the start, {args.threads} onnxruntime threads"
    )
    variants = build_variants(
        args.model, args.calibration, args.calibration_count, args.size, args.threads
    )
    scores = quality(variants, args.data, args.limit, batch=8)
    times = speed(variants, args.size, args.batches, args.warmup, args.repeats)

    reference = scores[FLOAT]
    speed_cols = " | ".join(
        f"ms / face, batch {b} | time / {FLOAT}, batch {b}" for b in args.batches
    )
    print()
    print(
        f"| variant | PSNR (dB) | PSNR - {FLOAT} | identity distance | identity - {FLOAT} | "
        f"{speed_cols} |"
    )
    print("|---" * (5 + 2 * len(args.batches)) + "|")
    verdicts = []
    for name, score in scores.items():
        ids = [d for d in score["identity"] if d is not None]
        d_psnr, se_psnr, _ = paired(score["psnr"], reference["psnr"])
        d_id, se_id, _ = paired(score["identity"], reference["identity"])
        cells = [
            f"{np.mean(score['psnr']):.3f}",
            "" if name == FLOAT else f"{d_psnr:+.3f} +- {se_psnr:.3f}",
            f"{np.mean(ids):.4f}",
            "" if name == FLOAT else f"{d_id:+.4f} +- {se_id:.4f}",
        ]
        for batch in args.batches:
            if name == "blurry":
                cells += ["", ""]
                continue
            mine = times[name, batch]
            ratio = statistics.median(a / b for a, b in zip(mine, times[FLOAT, batch]))
            cells += [f"{1000 * statistics.median(mine):.1f}", f"{ratio:.2f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")
        if name.startswith("int8"):
            ships = d_psnr > -MAX_PSNR_DROP and d_id <= 0
            verdicts.append(
                f"{name}: PSNR {d_psnr:+.3f} dB, identity {d_id:+.4f} -> "
                f"{'meets' if ships else 'misses'} the bar (drop < {MAX_PSNR_DROP} dB, identity "
                "not worse)"
            )
    pairs = len(reference["psnr"])
    with_face = sum(d is not None for d in reference["identity"])
    print(f"\n{pairs} held-out pairs ({with_face} with a face found on the sharp image)")
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
