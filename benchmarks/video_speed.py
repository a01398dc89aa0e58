"""Frames per second of the video commands on a 720p clip, on the CPU.

    python benchmarks/video_speed.py                     # d0.mp4 of the shared data, made 720p
    python benchmarks/video_speed.py --source clip.mp4 --seconds 3 --threads 1

The clip is made first: the first ``--seconds`` of ``--source`` scaled to 720 px high and
widened to 1280 px by repeating its left and right edges, written as H.264 with the source's
audio through ``io.video.VideoWriter``. Then each command's library function runs on it once
(the model already loaded, as in a batch): ``deblur_video`` (faces tracked and restored) and
``obfuscate_video`` (attribute rebuild, the default, and pixelate). The table gives the wall
time, the process's CPU time (all threads; on a shared machine the two differ) and frames per
second of wall time, both passes (finding faces, then restoring or hiding) included.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from facedeblur.io.geometry import resize
from facedeblur.io.video import VideoWriter, decode_frames, probe_video
from facedeblur.privacy.attribute_model import load_attribute_obfuscator
from facedeblur.privacy.video import obfuscate_video
from facedeblur.restore.loading import load_model
from facedeblur.restore.video import deblur_video

SOURCE = Path(__file__).resolve().parents[2] / "shared/data/videos/liveportrait/d0.mp4"
HEIGHT, WIDTH = 720, 1280


def make_720p(source: Path, dst: Path, seconds: float) -> Path:
    """The first ``seconds`` of ``source`` as a 1280x720 H.264 clip (audio kept)."""
    info = probe_video(source)
    count = int(seconds * info.fps)
    with VideoWriter(dst, info.fps, audio_from=source) as writer:
        for index, frame in enumerate(decode_frames(source)):
            if index == count:
                break
            side = round(frame.shape[1] * HEIGHT / frame.shape[0])
            tall = resize(frame.astype(np.float32) / 255.0, (HEIGHT, side))
            left = (WIDTH - side) // 2
            writer.write(np.pad(tall, ((0, 0), (left, WIDTH - side - left), (0, 0)), "edge"))
    return dst


def _timed(label: str, frames_of, run) -> tuple[str, int, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return label, frames_of(result), wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--seconds", type=float, default=3.0, help="clip length (3)")
    parser.add_argument("--work", type=Path, default=Path("runs/video_speed"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clip = make_720p(args.source, args.work / "clip720p.mp4", args.seconds)
    info = probe_video(clip)
    print(f"clip: {clip} ({info.size[1]}x{info.size[0]}, {info.count} frames, {info.fps} fps)")
    deblurrer = load_model(tile=512)
    obfuscator = load_attribute_obfuscator()
    rows = [
        _timed(
            "deblur --faces",
            lambda r: r.frames,
            lambda: deblur_video(clip, args.work / "deblurred.mp4", deblurrer),
        ),
        _timed(
            "obfuscate (attributes)",
            lambda r: r.frames,
            lambda: obfuscate_video(clip, args.work / "attributes.mp4", obfuscator=obfuscator),
        ),
        _timed(
            "obfuscate --method pixelate",
            lambda r: r.frames,
            lambda: obfuscate_video(clip, args.work / "pixelate.mp4", "pixelate"),
        ),
    ]
    print(f"torch threads: {args.threads}")
    print("| command | frames | wall s | CPU s | frames/s (wall) |")
    print("|---|---|---|---|---|")
    for label, frames, wall, cpu in rows:
        print(f"| {label} | {frames} | {wall:.1f} | {cpu:.1f} | {frames / wall:.2f} |")


if __name__ == "__main__":
    main()
