"""Small test clips made from the frames of a real talking-face video, with or without sound."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from facedeblur.io.geometry import resize
from facedeblur.io.video import decode_frames

SAMPLE_RATE = 16000
TONE_HZ = 440.0


def shrink_frames(source: Path, side: int, count: int, pad: int = 0) -> list[np.ndarray]:
    """The first ``count`` frames of ``source`` resized to ``side`` x ``side``, uint8 RGB.

    ``pad`` pixels of the frame's edge are repeated above and below, twice that left and right,
    so the face takes a smaller part of the picture.
    """
    frames = []
    for frame in decode_frames(source):
        small = np.clip(resize(frame / 255.0, side) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        frames.append(np.pad(small, ((pad, pad), (2 * pad, 2 * pad), (0, 0)), mode="edge"))
        if len(frames) == count:
            break
    return frames


def make_clip(
    path: Path, frames: list[np.ndarray], fps: Fraction = Fraction(25), tone: bool = False
) -> Path:
    """Write ``frames`` as an H.264 MP4 at ``fps``; with ``tone``, an AAC sine track as long."""
    with av.open(str(path), mode="w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        audio = None
        if tone:
            audio = out.add_stream("aac", rate=SAMPLE_RATE)
            audio.layout = "mono"
        for i, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts = i
            out.mux(video.encode(picture))
        out.mux(video.encode(None))
        if audio is not None:
            samples = int(len(frames) / fps * SAMPLE_RATE)
            t = np.arange(samples) / SAMPLE_RATE
            wave = (0.3 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)[None]
            for start in range(0, samples, 1024):
                chunk = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(wave[:, start : start + 1024]),
                    format="fltp",
                    layout="mono",
                )
                chunk.sample_rate, chunk.pts = SAMPLE_RATE, start
                out.mux(audio.encode(chunk))
            out.mux(audio.encode(None))
    return path
