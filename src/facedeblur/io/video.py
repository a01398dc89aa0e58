"""Video files: reading chosen frames of a clip, and writing frames as an animated GIF or an MP4.

Files are written atomically.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from ..errors import FaceDeblurError, InputError, check_number
from .images import atomic_output, atomic_write_bytes, to_uint8

# Frame rates above this are refused: no screen shows them, and OpenCV's MPEG-4 writer hangs on inf.
MAX_FPS = 120.0


def playback_order(count: int, bounce: bool) -> list[int]:
    """Frame indices to play: 0..count-1, and with ``bounce`` back again (0..N-1..1).

    ``bounce`` gives a smooth loop.
    """
    forward = list(range(count))
    return forward + forward[-2:0:-1] if bounce and count > 2 else forward


def write_gif(
    path: str | Path, frames: list[np.ndarray], fps: float = 8.0, bounce: bool = True
) -> Path:
    """An endlessly looping GIF of RGB frames (float in [0, 1] or uint8) at ``fps``.

    ``fps`` is in (0, ``MAX_FPS``].
    """
    from PIL import Image

    check_number("fps", fps, 0.0, MAX_FPS, low_open=True)
    if not frames:
        raise FaceDeblurError(f"{path}: no frames to write")
    pictures = [Image.fromarray(to_uint8(frames[i])) for i in playback_order(len(frames), bounce)]
    buffer = io.BytesIO()
    pictures[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=pictures[1:],
        loop=0,
        duration=int(round(1000.0 / fps)),
        disposal=1,
    )
    return atomic_write_bytes(path, buffer.getvalue())


def write_mp4(
    path: str | Path, frames: list[np.ndarray], fps: float = 8.0, bounce: bool = True
) -> Path:
    """An MPEG-4 video of RGB frames (float in [0, 1] or uint8) at ``fps``.

    Odd sides are padded to even; ``fps`` is in (0, ``MAX_FPS``].
    """
    path = Path(path)
    check_number("fps", fps, 0.0, MAX_FPS, low_open=True)
    if not frames:
        raise FaceDeblurError(f"{path}: no frames to write")
    height, width = frames[0].shape[:2]
    size = (width + width % 2, height + height % 2)
    with atomic_output(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), size)
        try:
            if not writer.isOpened():
                raise FaceDeblurError(f"{path}: this OpenCV build cannot write MPEG-4 video")
            for i in playback_order(len(frames), bounce):
                frame = to_uint8(frames[i])[:, :, ::-1]
                pad = ((0, size[1] - height), (0, size[0] - width), (0, 0))
                writer.write(np.pad(frame, pad, mode="edge"))
        finally:
            writer.release()
    return path


def video_info(path: str | Path) -> tuple[int, float, tuple[int, int]]:
    """Frame count (as stored in the container), frame rate and (height, width) of a video."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such video file")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise InputError(path, "not a readable video")
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        size = (int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)))
    finally:
        cap.release()
    if count <= 0 or size[0] <= 0:
        raise InputError(path, "video has no frames")
    return count, fps, size


def iter_video_frames(
    path: str | Path, indices: set[int] | list[int] | range
) -> Iterator[tuple[int, np.ndarray]]:
    """Decode a video once, front to back, yielding ``(index, frame)`` for the wanted indices.

    Frames come in increasing index order as uint8 RGB (H, W, 3) arrays, each as soon as it is
    decoded, so a caller can hold only the frames it still needs. Unwanted frames are decoded
    but not converted, and decoding stops after the last wanted frame. Decoding sequentially
    (rather than seeking, which lands on key frames in some builds) gives the same frames on every
    platform. Frames past the end of the stream are simply not yielded.

    Raises:
        InputError: the file cannot be opened as a video.
    """
    path = Path(path)
    wanted = {int(i) for i in indices}
    if not wanted:
        return
    last = max(wanted)
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise InputError(path, "not a readable video")
        for index in range(last + 1):
            if not cap.grab():
                break
            if index in wanted:
                ok, frame = cap.retrieve()
                if not ok:
                    break
                yield index, np.ascontiguousarray(frame[:, :, ::-1])
    finally:
        cap.release()


def read_video_frames(path: str | Path, indices: set[int] | list[int]) -> dict[int, np.ndarray]:
    """The wanted frames of a video as uint8 RGB (H, W, 3) arrays, by index (see
    ``iter_video_frames``); frames past the end of the stream are absent from the result."""
    return dict(iter_video_frames(path, indices))
