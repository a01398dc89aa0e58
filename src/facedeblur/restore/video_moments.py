"""The sharp moments of a clip's blurry faces (CFMD-GAN), on the clip's face tracks.

A blurry video frame holds the motion of its exposure; CFMD-GAN restores N sharp moments of it
(u = 0 .. 1). For a clip there are two things a user wants:

- ``moments_video``: the whole clip in slow motion. Every frame is replaced by its N moments in
  u order, so the clip plays N times slower at its own frame rate (or at ``fps``), and a blurry
  gesture unfolds into sharp steps. The audio cannot follow the new timing and is left out.
- ``frame_moments``: the moments of one frame, chosen by its time, as ``moments`` gives them
  for a photo (the command writes frames, a GIF, an MP4 and a strip).

Faces come from the clip's tracks (``restore.video.track_video_faces``), so the boxes are
smoothed and a frame the detector missed still has its face. Each face's crop is restored at
every u in one network call (``MomentRestorer.restore``) and pasted back as the photo path does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import NoFaceError, UsageError
from ..faces.detect import Detection
from ..faces.pasteback import (
    DEFAULT_MARGIN,
    crop_with_padding,
    face_correction,
    face_crop_box,
    paste_corrections,
)
from ..faces.tracking import Track
from ..io import to_float32
from ..io.geometry import resize
from ..io.video import MAX_FPS, VideoWriter, decode_frames, iter_video_frames, probe_video
from .faces import DEFAULT_MIN_FACE, model_face_size
from .moments import MomentRestorer
from .video import DEFAULT_TRACKING, TrackSettings, track_frames, track_video_faces


def restore_frame_moments(
    image: np.ndarray,
    faces: Sequence[Detection] | None,
    restorer: MomentRestorer,
    u: Sequence[float],
    margin: float = DEFAULT_MARGIN,
    face_size: int | None = None,
) -> list[np.ndarray]:
    """The moments of one frame at each u: float32 RGB images of the frame's size.

    ``faces`` are the boxes to restore and paste back (the rest of the frame is untouched);
    None restores the whole frame.
    """
    image = to_float32(image)
    if faces is None:
        return restorer.restore(image, u)
    size = face_size or model_face_size(restorer)
    boxes = [face_crop_box(face, margin) for face in faces]
    crops = [crop_with_padding(image, box) for box in boxes]
    small = [resize(crop, size) for crop in crops]
    restored = [restorer.restore(crop, u) for crop in small]
    return [
        paste_corrections(
            image,
            [
                (box, face_correction(crop, moments[k], crop_small))
                for box, crop, crop_small, moments in zip(boxes, crops, small, restored)
            ],
            margin,
        )
        for k in range(len(u))
    ]


@dataclass
class MomentsVideoResult:
    """What ``moments_video`` wrote: the file, source frames, moments per frame, rate, tracks."""

    path: Path
    frames: int
    u: list[float]
    frame_rate: Fraction
    tracks: list[Track] = field(default_factory=list)
    seconds: float = 0.0


def moments_video(
    src: str | Path,
    dst: str | Path,
    restorer: MomentRestorer,
    u: Sequence[float],
    faces: bool = True,
    detector: str | Callable = "mtcnn",
    margin: float = DEFAULT_MARGIN,
    min_face: int = DEFAULT_MIN_FACE,
    fps: float | None = None,
    tracking: TrackSettings = DEFAULT_TRACKING,
    progress: bool = False,
) -> MomentsVideoResult:
    """Write the clip's moments as an H.264 MP4 at ``dst``: each frame's moments in u order.

    Args:
        src: the video; never written to.
        restorer: a loaded CFMD-GAN (``load_moments_model``).
        u: the control factors, in [0, 1] (e.g. ``moment_factors(7)``).
        faces: restore the tracked faces of each frame (default) or whole frames.
        detector, margin: as in ``restore.video.track_video_faces`` and ``restore_faces``.
        min_face: tracks whose median box side is under this many pixels are left as they are.
        fps: playback rate of the output, in (0, 120]; default the source's, so the clip plays
            ``len(u)`` times slower.
        tracking: association, gap and smoothing settings.
        progress: show progress bars.

    Raises:
        InputError: ``src`` is not a readable video, or ``dst`` cannot be written.
        NoFaceError: with ``faces``, no face big enough in any frame; nothing is written.
    """
    started = time.perf_counter()
    src, dst = Path(src), Path(dst)
    info = probe_video(src)
    rate = info.fps if fps is None else Fraction(fps)
    if fps is None and rate > MAX_FPS:
        rate = Fraction(MAX_FPS)
    table, tracks = None, []
    if faces:
        found = track_video_faces(src, detector, tracking=tracking, progress=progress)
        table, tracks = found.big_faces(src, min_face), found.tracks
    result = MomentsVideoResult(dst, 0, [float(v) for v in u], rate, tracks)
    with (
        VideoWriter(dst, rate) as writer,
        tqdm(desc="moments", unit="frame", total=info.count, disable=not progress) as bar,
    ):
        for index, frame in enumerate(decode_frames(src)):
            boxes = None if table is None else (table[index] if index < len(table) else [])
            for moment in restore_frame_moments(frame, boxes, restorer, u, margin):
                writer.write(moment)
            result.frames += 1
            bar.update()
    result.seconds = time.perf_counter() - started
    return result


@dataclass
class FrameMoments:
    """The moments of one frame of a clip: which frame, the frame itself, its moments."""

    index: int
    seconds: float
    frame: np.ndarray
    moments: list[np.ndarray]


def frame_moments(
    src: str | Path,
    seconds: float,
    restorer: MomentRestorer,
    u: Sequence[float],
    faces: bool = True,
    detector: str | Callable = "mtcnn",
    margin: float = DEFAULT_MARGIN,
    min_face: int = DEFAULT_MIN_FACE,
    tracking: TrackSettings = DEFAULT_TRACKING,
) -> FrameMoments:
    """The moments of the frame shown at ``seconds`` (frame ``floor(seconds * fps)``).

    With ``faces``, the faces are tracked over the frames around it (as far as the smoothing
    window and the gap filling reach), so the frame gets the same smoothed, gap-filled boxes
    as in ``moments_video``.

    Raises:
        UsageError: ``seconds`` negative or past the end of the clip.
        NoFaceError: with ``faces``, no face big enough at that frame.
    """
    src = Path(src)
    info = probe_video(src)
    if not (math.isfinite(seconds) and seconds >= 0):
        raise UsageError(f"--time must be a number of seconds >= 0, got {seconds}")
    index = math.floor(seconds * info.fps + 1e-9)
    reach = tracking.window // 2 + tracking.max_gap
    window = range(max(0, index - reach), index + reach + 1)
    frames = dict(iter_video_frames(src, window if faces else [index]))
    if index not in frames:
        raise UsageError(
            f"--time {seconds:g} s is past the end of {src} "
            f"(about {float(info.count / info.fps):.2f} s long)"
        )
    boxes = None
    if faces:
        found = track_frames(sorted(frames.items()), detector, tracking)
        boxes = found.big_faces(src, min_face)[found.frames.index(index)]
        if not boxes:
            raise NoFaceError(src, f"no face of {min_face}+ px at {seconds:g} s; nothing written")
    image = to_float32(frames[index])
    moments = restore_frame_moments(image, boxes, restorer, u, margin)
    return FrameMoments(index, float(index / info.fps), image, moments)
