"""Time a face deblurrer against DeblurGAN-9 on the CPU: faces per second at 128x128.

    python benchmarks/speed.py                                   # the shipped default model
    python benchmarks/speed.py --model runs/x/generator.safetensors --repeats 3

Every setting (model x backend x threads x batch) runs ``--warmup`` times untimed, then
``--repeats`` times timed; the table shows the median, through ``Deblurrer.deblur`` (padding
and clamping included). DeblurGAN-9 is ``build_model("deblurgan", n_blocks=9, ngf=64)`` with
random weights: its speed does not depend on them. The last column is the model's faces per
second over DeblurGAN-9's in the same setting.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import onnxruntime
import torch

from facedeblur.models import build_model
from facedeblur.models.weights import default_model_path, load_network
from facedeblur.restore.deblurrer import Deblurrer
from facedeblur.restore.onnx_export import onnx_bytes
from facedeblur.restore.onnx_runner import OnnxRunner

BASELINE = "DeblurGAN-9"
BASELINE_ARGS = {"n_blocks": 9, "ngf": 64}


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def seconds_per_call(
    deblurrer: Deblurrer, batch: int, size: int, warmup: int, repeats: int
) -> float:
    """Median seconds of one ``deblur`` call on a batch of ``batch`` random size x size images,
    after warm-up.
    """
    x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    for _ in range(warmup):
        deblurrer.deblur(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        deblurrer.deblur(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _deblurrer(
    model: torch.nn.Module, header: dict, backend: str, threads: int, size: int, cache: dict
) -> Deblurrer:
    if backend == "torch":
        torch.set_num_threads(threads)
        return Deblurrer(model)
    if id(model) not in cache:
        cache[id(model)] = onnx_bytes(model, header, size=size)
    return Deblurrer(OnnxRunner(cache[id(model)], threads=threads))


def main() -> None:
    """Parse the command line, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="weights to time (default: the shipped default model)",
    )
    parser.add_argument("--size", type=int, default=128, help="face side in pixels (128)")
    parser.add_argument("--threads", type=_ints, default=[1, 2], help="thread counts (1,2)")
    parser.add_argument("--batches", type=_ints, default=[1, 8], help="batch sizes (1,8)")
    parser.add_argument(
        "--backends", default="torch,onnxruntime", help="backends (torch,onnxruntime)"
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs per setting (2)")
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed runs per setting; the median counts (5)"
    )
    args = parser.parse_args()

    path = args.model or default_model_path()
    if not path.is_file():
        parser.error(f"{path} does not exist; pass --model PATH")
    model, header = load_network(path)
    name = f"{header['architecture']} ({path.name})"
    subjects = {
        name: (model, header),
        BASELINE: (
            build_model("deblurgan", **BASELINE_ARGS).eval(),
            {"architecture": "deblurgan", "args": BASELINE_ARGS},
        ),
    }
    print(
        f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, "
        f"{os.cpu_count()} CPU cores, "
        f"{args.size}x{args.size} faces, median of {args.repeats} runs after {args.warmup} warm-up"
    )
    for label, (net, _) in subjects.items():
        print(
            f"{label}: {sum(p.numel() for p in net.parameters()) / 1e6:.2f} M parameters"
            + (" (random weights, for timing only)" if label == BASELINE else "")
        )

    cache: dict = {}
    speed = {}
    for label, (net, net_header) in subjects.items():
        for backend in args.backends.split(","):
            for threads in args.threads:
                deblurrer = _deblurrer(net, net_header, backend, threads, args.size, cache)
                for batch in args.batches:
                    seconds = seconds_per_call(
                        deblurrer, batch, args.size, args.warmup, args.repeats
                    )
                    speed[label, backend, threads, batch] = batch / seconds
                    print(
                        f"  {label} {backend} threads={threads} batch={batch}: "
                        f"{1000 * seconds / batch:.1f} ms/face",
                        flush=True,
                    )

    print()
    print(f"| model | backend | threads | batch | ms / face | faces / s | x {BASELINE} |")
    print("|---|---|---|---|---|---|---|")
    for (label, backend, threads, batch), fps in speed.items():
        ratio = "" if label == BASELINE else f"{fps / speed[BASELINE, backend, threads, batch]:.1f}"
        print(
            f"| {label} | {backend} | {threads} | {batch} | {1000 / fps:.1f} | {fps:.1f} | "
            f"{ratio} |"
        )


if __name__ == "__main__":
    main()
