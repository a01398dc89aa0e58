"""Restoring the faces of a video: faces found in every frame, tracked, restored in batches.

A clip is read twice, front to back, so memory holds a few frames whatever its length:

1. ``track_video_faces`` detects the faces of every frame and joins them into smoothed,
   gap-filled tracks (``faces.tracking``), which need the whole clip (a centred average
   looks a few frames ahead).
2. ``deblur_video`` decodes the clip again and restores the tracked faces: crops of several
   frames go through the network together (``FACE_BATCH`` crops a call), are pasted back with
   the photo path's colour-consistent, feathered paste (``faces.pasteback``), and the frames are
   encoded to H.264 with the source's audio (``io.video.VideoWriter``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import NoFaceError
from ..faces.detect import Detection
from ..faces.pasteback import (
    DEFAULT_MARGIN,
    crop_with_padding,
    face_correction,
    face_crop_box,
    paste_corrections,
)
from ..faces.registry import build_detector
from ..faces.tracking import IOU_THRESHOLD, MAX_GAP, SMOOTH_WINDOW, Track, faces_by_frame
from ..faces.tracking import track_faces as join_tracks
from ..io import to_float32
from ..io.geometry import resize
from ..io.video import VideoWriter, decode_frames, probe_video
from .deblurrer import Deblurrer
from .faces import DEFAULT_MIN_FACE, FACE_BATCH, detect_faces, model_face_size
from .loading import load_model


@dataclass(frozen=True)
class TrackSettings:
    """How detections are joined into tracks (``faces.tracking.track_faces``)."""

    iou_threshold: float = IOU_THRESHOLD
    max_gap: int = MAX_GAP
    window: int = SMOOTH_WINDOW


DEFAULT_TRACKING = TrackSettings()


@dataclass
class VideoFaces:
    """The faces of a clip: its tracks, and per decoded frame the smoothed faces present.

    ``frames`` are the frame indices that were searched (every frame, or the ones asked for);
    ``faces[k]`` holds the (track, face) pairs of ``frames[k]``, left to right.
    """

    frames: list[int]
    tracks: list[Track]
    faces: list[list[tuple[Track, Detection]]]
    detections: int

    @property
    def filled(self) -> int:
        """Faces given to frames by tracking where the detector missed them."""
        return sum(track.filled for track in self.tracks)

    def big_faces(self, src: Path, min_face: int) -> list[list[Detection]]:
        """Per searched frame, the faces of the tracks whose median side is ``min_face`` or more.

        Deciding per track, not per box, keeps a face near the limit from flickering.

        Raises:
            NoFaceError: naming ``src``, when no track is that big.
        """
        keep = {track.id for track in self.tracks if track.size >= min_face}
        if not keep:
            problem = "no face found" if not self.tracks else f"no face of {min_face}+ px found"
            raise NoFaceError(
                src,
                f"{problem} in {len(self.frames)} frames; nothing written "
                "(without --faces whole frames are restored)",
            )
        return [[face for track, face in row if track.id in keep] for row in self.faces]


def track_frames(
    frames: Iterable[tuple[int, np.ndarray]],
    detector: str | Callable = "mtcnn",
    tracking: TrackSettings = DEFAULT_TRACKING,
    progress: bool = False,
    total: int | None = None,
) -> VideoFaces:
    """Detect the faces of ``(index, RGB frame)`` pairs and track them as consecutive frames.

    ``detector`` is a detector name (``faces.DETECTORS``) or a callable RGB image -> list of
    ``Detection``; ``total`` (the expected frame count) only sizes the progress bar.
    """
    detect = build_detector(detector) if isinstance(detector, str) else detector
    indices, found = [], []
    for index, frame in tqdm(
        frames, desc="finding faces", unit="frame", total=total, disable=not progress
    ):
        indices.append(index)
        found.append(detect_faces(to_float32(frame), detect))
    tracks = join_tracks(found, tracking.iou_threshold, tracking.max_gap, tracking.window)
    return VideoFaces(
        indices, tracks, faces_by_frame(tracks, len(indices)), sum(len(f) for f in found)
    )


def track_video_faces(
    path: str | Path,
    detector: str | Callable = "mtcnn",
    tracking: TrackSettings = DEFAULT_TRACKING,
    progress: bool = False,
) -> VideoFaces:
    """Detect the faces of every frame of a clip and track them (step 1 of the module docstring).

    ``progress`` shows a bar with frames, frames per second and time left.

    Raises:
        InputError: the file is not a readable video.
    """
    path = Path(path)
    total = probe_video(path).count
    return track_frames(enumerate(decode_frames(path)), detector, tracking, progress, total)


@dataclass
class VideoResult:
    """What a video run wrote: the file, frames, frame rate, tracks, faces and speed.

    ``face_frames`` counts the faces changed over all frames (a face in 100 frames is 100);
    ``filled`` those that tracking supplied where the detector missed; ``small_tracks`` the
    tracks left as they were for being smaller than ``min_face``. ``seconds`` is the wall time
    of the whole run (both passes), ``fps`` the frames processed per second.
    """

    path: Path
    frames: int
    frame_rate: Fraction
    tracks: list[Track] = field(default_factory=list)
    face_frames: int = 0
    filled: int = 0
    small_tracks: int = 0
    audio: bool = False
    seconds: float = 0.0

    @property
    def fps(self) -> float:
        """Frames processed per second of wall time."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class _FaceBatcher:
    """Frames waiting for their faces to be restored, restored ``batch`` crops at a time.

    Frames leave in the order they came, each once all its faces are pasted back.
    """

    def __init__(self, deblurrer: Deblurrer, size: int, margin: float, batch: int, emit: Callable):
        self.deblurrer, self.size, self.margin, self.batch = deblurrer, size, margin, batch
        self.emit = emit
        self.frames: list[tuple[np.ndarray, list[tuple[int, int, int]]]] = []
        self.queued = 0

    def add(self, image: np.ndarray, faces: list[Detection]) -> None:
        boxes = [face_crop_box(face, self.margin) for face in faces]
        self.frames.append((image, boxes))
        self.queued += len(boxes)
        if self.queued >= self.batch or len(self.frames) >= self.batch:
            self.flush()

    def flush(self) -> None:
        crops = [crop_with_padding(image, box) for image, boxes in self.frames for box in boxes]
        small = [resize(crop, self.size) for crop in crops]
        restored: list[np.ndarray] = []
        for start in range(0, len(small), self.batch):
            restored += self.deblurrer.deblur_batch(small[start : start + self.batch])
        k = 0
        for image, boxes in self.frames:
            changes = []
            for box in boxes:
                changes.append((box, face_correction(crops[k], restored[k], small[k])))
                k += 1
            self.emit(paste_corrections(image, changes, self.margin) if changes else image)
        self.frames, self.queued = [], 0


def deblur_video(
    src: str | Path,
    dst: str | Path,
    model: str | Path | Deblurrer | None = None,
    faces: bool = True,
    detector: str | Callable = "mtcnn",
    margin: float = DEFAULT_MARGIN,
    min_face: int = DEFAULT_MIN_FACE,
    face_size: int | None = None,
    batch: int = FACE_BATCH,
    tracking: TrackSettings = DEFAULT_TRACKING,
    device: str = "auto",
    progress: bool = False,
) -> VideoResult:
    """Restore a clip into an H.264 MP4 at ``dst`` (atomically), keeping its audio.

    Args:
        src: the video to restore (any format FFmpeg reads); never written to.
        dst: the .mp4 file to write.
        model: weights path, a loaded ``Deblurrer``, or None for the shipped default model.
        faces: True (default): restore the tracked faces of every frame and leave the rest
            untouched; False: restore every whole frame (tiled as the ``Deblurrer`` says).
        detector: a detector name or callable (see ``track_video_faces``).
        margin: space around each face box on every side, as a fraction of its larger side.
        min_face: tracks whose median box side is under this many pixels are left as they
            are, in every frame (deciding per track, not per frame, avoids flicker).
        face_size: crop side the model sees; default ``model_face_size``.
        batch: face crops restored per network call (crops of several frames together).
        tracking: association, gap and smoothing settings (``TrackSettings``).
        device: ``auto``, ``cpu`` or ``cuda`` when ``model`` is not already loaded.
        progress: show progress bars (frames, frames per second, time left).

    The output has the source's frame count and frame rate (a variable-rate clip is written at
    its average rate), sides rounded up to even, and the source's first audio track.

    Raises:
        InputError: ``src`` is not a readable video, or ``dst`` cannot be written.
        NoFaceError: with ``faces``, no face big enough in any frame; nothing is written.
    """
    started = time.perf_counter()
    src, dst = Path(src), Path(dst)
    info = probe_video(src)
    deblurrer = (
        model if isinstance(model, Deblurrer) else load_model(model, device=device, tile=512)
    )
    result = VideoResult(dst, 0, info.fps, audio=info.has_audio)
    table: list[list[Detection]] | None = None
    if faces:
        found = track_video_faces(src, detector, tracking=tracking, progress=progress)
        table = found.big_faces(src, min_face)
        big = [track for track in found.tracks if track.size >= min_face]
        result.tracks, result.small_tracks = found.tracks, len(found.tracks) - len(big)
        result.face_frames = sum(len(row) for row in table)
        result.filled = sum(track.filled for track in big)
    with VideoWriter(dst, info.fps, audio_from=src if info.has_audio else None) as writer:
        bar = tqdm(desc="restoring", unit="frame", total=info.count, disable=not progress)

        def emit(image: np.ndarray) -> None:
            writer.write(image)
            bar.update()

        with bar:
            if table is None:
                for frame in decode_frames(src):
                    emit(deblurrer.deblur(to_float32(frame)))
            else:
                size = face_size or model_face_size(deblurrer)
                batcher = _FaceBatcher(deblurrer, size, margin, batch, emit)
                for index, frame in enumerate(decode_frames(src)):
                    batcher.add(to_float32(frame), table[index] if index < len(table) else [])
                batcher.flush()
        result.frames = writer.count
    result.seconds = time.perf_counter() - started
    return result
