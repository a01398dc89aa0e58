"""Video inputs of the file commands: telling clips from images, and where each clip's MP4 goes.

A video given as a file (``.mp4``, ``.mov``, ``.avi``, ``.mkv``, ``.webm``, ``.m4v``) is processed
frame by frame into an H.264 MP4; folders are searched for images only. One video alone may be
written to the ``-o`` file itself (named ``.mp4``); otherwise each goes into the ``-o`` folder
as ``<name>.mp4``.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from ..io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, is_video_file
from .batch import check_inputs, check_output_folder, unique_outputs

MP4 = ".mp4"


def split_videos(inputs: list[Path]) -> tuple[list[Path], list[Path]]:
    """(video files, everything else) of ``inputs``, each in the given order.

    Raises:
        InputError: an input that does not exist.
    """
    check_inputs(inputs)
    videos = [p for p in inputs if p.is_file() and is_video_file(p)]
    return videos, [p for p in inputs if p not in videos]


def plan_videos(videos: list[Path], out: Path, alone: bool) -> list[tuple[Path, Path]]:
    """(video, output MP4) pairs: the file ``out`` for one video ``alone``, else ``out/<name>.mp4``.

    Raises:
        UsageError: one video with an output file not named ``.mp4``; an ``out`` that is a
            file where a folder is meant; two videos whose outputs cannot be told apart.
    """
    if alone and out.suffix and not out.is_dir():
        if out.suffix.lower() != MP4:
            raise UsageError(
                f"{out}: videos are written as H.264 MP4 (plays in browsers); name the output .mp4"
            )
        return [(videos[0], out)]
    check_output_folder(out)
    entries = [(video, video, Path(video.name)) for video in videos]
    return unique_outputs(entries, out, lambda rel: rel.with_suffix(MP4))


def check_mixed_output(videos: list[Path], others: list[Path], out: Path) -> None:
    """Refuse an ``out`` named like a file when images and videos are given together."""
    suffix = out.suffix.lower()
    if videos and others and suffix in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS:
        raise UsageError(f"{out}: images and videos together are written into a folder; -o DIR")


def frames_note(src: Path, frames: int, fps: float, what: str, speed: float, audio: bool) -> str:
    """One line about a finished video for the batch's notes."""
    sound = "audio kept" if audio else "no audio"
    return f"{src}: {frames} frames at {fps:.4g} fps, {what}, {sound} ({speed:.2f} frames/s)"
