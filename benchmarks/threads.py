"""Time one 128 px face through the default model at several CPU thread counts, idle and loaded.

    python benchmarks/threads.py                        # torch's default vs facedeblur's default
    python benchmarks/threads.py --threads 1,2,4 --load 2 --repeats 30

In one process, side by side: every round times one ``Deblurrer.deblur`` call per setting, in
turn, so that each setting sees the same machine. Settings are ``torch`` (the thread count torch
picks by itself, read before facedeblur is imported), ``facedeblur`` (``models.runtime.
default_threads()``) and any counts given with ``--threads``. The rounds run first with no extra
load, then with ``--load`` processes spinning on the CPU (pure Python busy loops, as another job
on a shared machine would). The table shows the extra busy processes, the 1-minute load average
when the phase ended (other jobs count too), and the median and slowest call in milliseconds.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time
from pathlib import Path

import torch

TORCH_DEFAULT = torch.get_num_threads()  # before facedeblur sets its own default

from facedeblur.io import read_image  # noqa: E402
from facedeblur.io.geometry import resize  # noqa: E402
from facedeblur.models.runtime import default_threads  # noqa: E402
from facedeblur.restore.loading import load_model  # noqa: E402

FACE = Path("../shared/data/lfw/images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg")


def _spin() -> None:
    while True:
        pass


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def time_settings(deblurrer, face, settings: dict[str, int], rounds: int) -> dict[str, list[float]]:
    """Seconds of one ``deblur`` call per round for each named thread count, interleaved."""
    times: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(rounds):
        for name, threads in settings.items():
            torch.set_num_threads(threads)
            start = time.perf_counter()
            deblurrer.deblur(face)
            times[name].append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=FACE, help="a face photo (center crop)")
    parser.add_argument("--threads", type=_ints, default=[], help="more counts, e.g. 1,2,4")
    parser.add_argument("--load", type=int, default=2, help="busy processes for the loaded run")
    parser.add_argument("--repeats", type=int, default=20, help="timed rounds per phase")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds per phase")
    args = parser.parse_args()

    settings = {"torch": TORCH_DEFAULT, "facedeblur": default_threads()}
    settings.update({str(n): n for n in args.threads if n not in settings.values()})
    image = read_image(args.image)
    side = min(image.shape[:2])
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    face = resize(image[top : top + side, left : left + side], 128)
    deblurrer = load_model()

    print(f"torch default {TORCH_DEFAULT} thread(s), facedeblur default {default_threads()}")
    print("| extra busy | load avg | setting | threads | median ms | slowest ms |")
    print("|---|---|---|---|---|---|")
    for load in (0, args.load):
        spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(load)]
        for process in spinners:
            process.start()
        try:
            time_settings(deblurrer, face, settings, args.warmup)
            times = time_settings(deblurrer, face, settings, args.repeats)
        finally:
            load_average = os.getloadavg()[0]
            for process in spinners:
                process.terminate()
                process.join()
        for name, values in times.items():
            print(
                f"| {load} | {load_average:.1f} | {name} | {settings[name]} | "
                f"{1000 * statistics.median(values):.0f} | {1000 * max(values):.0f} |"
            )


if __name__ == "__main__":
    main()
