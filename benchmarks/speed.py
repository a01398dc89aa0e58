"""Time face deblurrers on the CPU: folded vs unfolded, torch vs onnxruntime, faces per second.

    python benchmarks/speed.py                                   # the shipped default model
    python benchmarks/speed.py --threads 2 --batches 1,8 --no-baseline
    python benchmarks/speed.py --model default-v1 --model runs/v2/generator.safetensors
    python benchmarks/speed.py --graph                           # also the ONNX graphs' node counts
    python benchmarks/speed.py --threads 2 --no-baseline --spin-compare

Every setting (model x fold x backend x threads) is timed through ``Deblurrer.deblur`` (padding
and clamping included) on a batch of random size x size images. Settings take turns: each round
times every setting once, so a machine whose load drifts slows them alike, and the ratios are
medians of per-round ratios (each from two calls made seconds apart). "folded" runs
``fold_for_inference``'s network (torch) or the graph ``onnx_bytes`` exports from it
(onnxruntime); "unfolded" runs the network as trained. onnxruntime runs as ``OnnxRunner``
does, its idle threads not spinning; ``--spin-compare`` adds onnxruntime's own default
(spinning) beside it. A model with nothing to fold (DeblurGAN) is timed as is. DeblurGAN-9 is
``build_model("deblurgan", n_blocks=9, ngf=64)`` with random weights (its speed does not depend
on them), the reference the model card compares against.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import time
from pathlib import Path

import onnx
import onnxruntime
import torch

from facedeblur.models import build_model
from facedeblur.models.nafnet import fold_for_inference
from facedeblur.models.weights import deblurrer_path, load_network, weights_label
from facedeblur.restore.deblurrer import Deblurrer
from facedeblur.restore.onnx_export import onnx_bytes
from facedeblur.restore.onnx_runner import OnnxRunner, optimized_model

BASELINE = "DeblurGAN-9"
BASELINE_ARGS = {"n_blocks": 9, "ngf": 64}
BACKENDS = ("torch", "onnxruntime")
FOLD_NAMES = {True: "folded", False: "unfolded"}
SPINNING = "onnxruntime, spinning"


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def timed(deblurrer: Deblurrer, x: torch.Tensor) -> float:
    """Seconds of one ``deblur`` call on ``x``."""
    start = time.perf_counter()
    deblurrer.deblur(x)
    return time.perf_counter() - start


class Setting:
    """One way to run one network: a ``Deblurrer`` and the label parts of its table row."""

    def __init__(self, label: str, fold: bool, backend: str, threads: int, deblurrer: Deblurrer):
        self.label, self.fold, self.backend, self.threads = label, fold, backend, threads
        self.deblurrer = deblurrer

    @property
    def key(self) -> tuple:
        return self.label, self.fold, self.backend, self.threads

    def __call__(self, x: torch.Tensor) -> float:
        if self.backend == "torch":
            torch.set_num_threads(self.threads)
        return timed(self.deblurrer, x)


def build_settings(subjects: dict, exports: dict, backends: list[str], threads: list[int]) -> list:
    """Every (network, fold, backend, threads) of ``subjects`` {label: (net, header, folds)};
    ``exports`` holds the ONNX graph of each (label, fold). ``SPINNING`` runs onnxruntime with
    its intra-op threads spinning while idle (``OnnxRunner(spin=True)``)."""
    settings = []
    for label, (net, _, folds) in subjects.items():
        for fold in folds:
            for backend in backends:
                for count in threads:
                    if backend == "torch":
                        deblurrer = Deblurrer(net, fold=fold)
                    else:
                        runner = OnnxRunner(
                            exports[label, fold], threads=count, spin=backend == SPINNING
                        )
                        deblurrer = Deblurrer(runner)
                    settings.append(Setting(label, fold, backend, count, deblurrer))
    return settings


def measure(settings: list, batch: int, size: int, warmup: int, rounds: int) -> dict:
    """{setting key: [seconds per call, one per round]} with the settings taking turns."""
    x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    for setting in settings:
        for _ in range(warmup):
            setting(x)
    times = collections.defaultdict(list)
    for _ in range(rounds):
        for setting in settings:
            times[setting.key].append(setting(x))
    return times


def ratio(times: dict, key: tuple, reference: tuple) -> float | None:
    """Median over rounds of time(key) / time(reference) (None when either was not timed)."""
    if key not in times or reference not in times:
        return None
    return statistics.median(a / b for a, b in zip(times[key], times[reference]))


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"


def print_graphs(exports: dict, weights: dict) -> None:
    """Node counts by operator of each exported graph {(label, fold): bytes}, as exported and
    after onnxruntime's graph optimisations (``optimized_model``); ``weights`` names each
    (label, fold)."""
    print("\nONNX graphs (nodes by operator; Constant nodes not counted):")
    for (label, fold), exported in exports.items():
        for stage, data in (
            ("exported", exported),
            ("onnxruntime basic", optimized_model(exported, "basic")),
            ("onnxruntime all", optimized_model(exported, "all")),
        ):
            graph = onnx.load_model_from_string(data).graph
            ops = collections.Counter(n.op_type for n in graph.node if n.op_type != "Constant")
            listed = ", ".join(f"{op} {count}" for op, count in sorted(ops.items()))
            print(
                f"  {label}, {weights[label, fold]}, {stage}: {sum(ops.values())} nodes ({listed})"
            )


def main() -> None:
    """Parse the command line, measure, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        action="append",
        default=None,
        help="weights to time, or a shipped model's name (repeatable; default: the shipped "
        "default model)",
    )
    parser.add_argument("--size", type=int, default=128, help="face side in pixels (128)")
    parser.add_argument("--threads", type=_ints, default=[1, 2], help="thread counts (1,2)")
    parser.add_argument("--batches", type=_ints, default=[1, 8], help="batch sizes (1,8)")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="backends (torch,onnxruntime)"
    )
    parser.add_argument(
        "--no-fold-compare",
        action="store_true",
        help="time the folded networks only (what Deblurrer and export run)",
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help=f"leave {BASELINE} out (it is ~10x slower)"
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls per setting (2)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds; medians count (5)")
    parser.add_argument(
        "--spin-compare",
        action="store_true",
        help="also time onnxruntime with its idle threads spinning (its own default)",
    )
    parser.add_argument(
        "--graph", action="store_true", help="also print the exported graphs' node counts"
    )
    args = parser.parse_args()
    backends = args.backends.split(",")
    if not set(backends) <= set(BACKENDS):
        parser.error(f"--backends takes {', '.join(BACKENDS)}")
    if args.spin_compare and "onnxruntime" in backends:
        backends.append(SPINNING)

    folds = (True,) if args.no_fold_compare else (False, True)
    subjects, as_is = {}, {BASELINE}
    for name in args.model or [None]:
        path = deblurrer_path(name)
        if not Path(path).is_file():
            parser.error(f"{path} does not exist; pass --model PATH")
        model, header = load_network(path, role="deblurrer")
        label = f"{header['architecture']} ({weights_label(path)})"
        foldable = fold_for_inference(model) is not model
        subjects[label] = (model, header, folds if foldable else (True,))
        if not foldable:
            as_is.add(label)
    if not args.no_baseline:
        baseline = build_model("deblurgan", **BASELINE_ARGS).eval()
        subjects[BASELINE] = (
            baseline,
            {"architecture": "deblurgan", "args": BASELINE_ARGS},
            (True,),
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, "
        f"{os.cpu_count()} CPU cores, load average {load:.1f} at the start, "
        f"{args.size}x{args.size} faces, median of {args.repeats} rounds after "
        f"{args.warmup} warm-up calls"
    )
    for label, (net, _, _) in subjects.items():
        print(
            f"{label}: {sum(p.numel() for p in net.parameters()) / 1e6:.2f} M parameters"
            + (" (random weights, for timing only)" if label == BASELINE else "")
        )

    exports = {
        (label, fold): onnx_bytes(net, header, size=args.size, fold=fold)
        for label, (net, header, folds) in subjects.items()
        for fold in folds
        if backends != ["torch"] or args.graph
    }
    weights = {
        (label, fold): "as is (nothing folds)" if label in as_is else FOLD_NAMES[fold]
        for label, (_, _, folds) in subjects.items()
        for fold in folds
    }
    settings = build_settings(subjects, exports, backends, args.threads)
    results = {}
    for batch in args.batches:
        results[batch] = measure(settings, batch, args.size, args.warmup, args.repeats)
        print(f"  batch {batch} timed", flush=True)

    print()
    print(
        f"| model | weights | backend | threads | batch | ms / face | faces / s | "
        f"time / folded | time / torch | time / not spinning | x {BASELINE} faces / s |"
    )
    print("|---" * 11 + "|")
    for batch, times in results.items():
        for setting in settings:
            label, fold, backend, threads = setting.key
            seconds = statistics.median(times[setting.key]) / batch
            folded = (label, True, backend, threads)
            torch_key = (label, fold, "torch", threads)
            faster = ratio(times, (BASELINE, True, backend, threads), setting.key)
            still = (label, fold, "onnxruntime", threads)
            spinning = ratio(times, setting.key, still) if backend == SPINNING else None
            print(
                f"| {label} | {weights[label, fold]} | {backend} | {threads} | "
                f"{batch} | {1000 * seconds:.1f} | {1 / seconds:.1f} | "
                f"{_cell(ratio(times, setting.key, folded))} | "
                f"{_cell(ratio(times, setting.key, torch_key))} | {_cell(spinning)} | "
                f"{'' if label == BASELINE else _cell(faster)} |"
            )
    if args.graph:
        print_graphs(exports, weights)


if __name__ == "__main__":
    main()
