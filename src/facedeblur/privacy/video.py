"""Hiding the faces of a video: faces tracked through the clip, hidden in every frame.

The clip's faces are found and tracked first (``restore.video.track_video_faces``: gaps of a few
frames are filled and boxes smoothed, so a face the detector misses for a frame is still hidden
there). Each frame is then hidden face by face with the photo pipeline
(``obfuscate.obfuscate_photo``) given the tracked box, and encoded to H.264 with the source's
audio. Two things are decided per track rather than per frame, so a face does not flicker
between treatments: whether it is too small for landmarks (its median box side under
``min_face``), and the seed of its motion-blur direction (``seed`` + track number).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from tqdm import tqdm

from ..errors import NoFaceError
from ..faces.tracking import Track
from ..io import to_float32
from ..io.video import VideoWriter, decode_frames, probe_video
from ..restore.video import DEFAULT_TRACKING, TrackSettings, track_video_faces
from .attribute_model import AttributeObfuscator, load_attribute_obfuscator
from .obfuscate import (
    ATTRIBUTES,
    DEFAULT_SMALL_FACES,
    DETECT_UPSAMPLE,
    MIN_FACE,
    obfuscate_photo,
    resolve_options,
)

# ``min_face`` given to the photo pipeline for a track judged too small: every box is "small".
_ALWAYS_SMALL = 2**31 - 1


@dataclass
class TrackRecord:
    """How one tracked face was treated: its frames, and in how many it was hidden."""

    track: Track
    too_small: bool
    treatment: str
    hidden_frames: int = 0
    visible_frames: int = 0

    def summary(self) -> dict:
        """A JSON-ready dict (no boxes: the sidecar stays small and says less about the face)."""
        return {
            "track": self.track.id,
            "first_frame": self.track.first,
            "last_frame": self.track.last,
            "detected_frames": int(self.track.detected.sum()),
            "filled_frames": self.track.filled,
            "median_size_px": round(self.track.size, 1),
            "too_small": self.too_small,
            "treatment": self.treatment,
            "hidden_frames": self.hidden_frames,
            "visible_frames": self.visible_frames,
        }


@dataclass
class VideoObfuscation:
    """What ``obfuscate_video`` wrote: the file, frame count and rate, one record per track.

    ``visible`` lists the tracks left visible in some frame (too small with
    ``small_faces="leave"``, or changed too little in a frame to count as hidden).
    """

    path: Path
    frames: int
    frame_rate: Fraction
    method: str
    tracks: list[TrackRecord] = field(default_factory=list)
    audio: bool = False
    seconds: float = 0.0

    @property
    def visible(self) -> list[TrackRecord]:
        """The tracks left visible in at least one frame."""
        return [record for record in self.tracks if record.visible_frames]

    @property
    def fps(self) -> float:
        """Frames processed per second of wall time (both passes)."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def obfuscate_video(
    src: str | Path,
    dst: str | Path,
    method: str = ATTRIBUTES,
    attributes: Iterable[str] | None = None,
    allow_protected: bool = False,
    strength: float = 1.0,
    feather: float | None = None,
    seed: int = 0,
    obfuscator: AttributeObfuscator | None = None,
    detector: str | Callable = "dlib-hog",
    device: str = "auto",
    min_face: int = MIN_FACE,
    small_faces: str = DEFAULT_SMALL_FACES,
    tracking: TrackSettings = DEFAULT_TRACKING,
    progress: bool = False,
) -> VideoObfuscation:
    """Hide every tracked face of a clip into an H.264 MP4 at ``dst`` (atomically), audio kept.

    The options are ``obfuscate_photo``'s, except that ``min_face`` and the motion-blur seed
    apply per track (module docstring). ``detector`` defaults, as for photos, to dlib's HOG
    detector upsampled ``DETECT_UPSAMPLE`` times; ``tracking`` sets the association, gap and
    smoothing of ``faces.tracking``. Pixels outside the face masks come out as the encoder
    gives them back (H.264 is lossy), frames without a face unchanged otherwise.

    Raises:
        UsageError: bad options (checked before any frame is read).
        InputError: ``src`` is not a readable video, or ``dst`` cannot be written.
        NoFaceError: no face in any frame; nothing is written.
    """
    started = time.perf_counter()
    src, dst = Path(src), Path(dst)
    resolve_options(method, attributes, allow_protected, strength, feather, min_face, small_faces)
    info = probe_video(src)
    if isinstance(detector, str) and detector == "dlib-hog":
        from ..faces.registry import build_detector

        detector = build_detector(detector, upsample=DETECT_UPSAMPLE)
    found = track_video_faces(src, detector, tracking=tracking, progress=progress)
    if not found.tracks:
        raise NoFaceError(src, f"no face found in {len(found.frames)} frames; nothing written")
    records = {}
    for track in found.tracks:
        small = track.size < min_face
        records[track.id] = TrackRecord(track, small, small_faces if small else method)
    if (
        method == ATTRIBUTES
        and obfuscator is None
        and any(not r.too_small for r in records.values())
    ):
        obfuscator = load_attribute_obfuscator(device=device)
    result = VideoObfuscation(dst, 0, info.fps, method, list(records.values()), info.has_audio)
    with (
        VideoWriter(dst, info.fps, audio_from=src if info.has_audio else None) as writer,
        tqdm(desc="hiding faces", unit="frame", total=info.count, disable=not progress) as bar,
    ):
        for index, frame in enumerate(decode_frames(src)):
            image = to_float32(frame)
            for track, face in found.faces[index] if index < len(found.faces) else []:
                record = records[track.id]
                hidden = obfuscate_photo(
                    image,
                    method,
                    attributes,
                    allow_protected,
                    strength,
                    feather,
                    seed + track.id,
                    obfuscator,
                    detector=lambda _image, face=face: [face],
                    label=f"{src} frame {index}",
                    min_face=_ALWAYS_SMALL if record.too_small else 1,
                    small_faces=small_faces,
                )
                image = hidden.image
                if hidden.hidden:
                    record.hidden_frames += 1
                else:
                    record.visible_frames += 1
            writer.write(image)
            bar.update()
        result.frames = writer.count
    result.seconds = time.perf_counter() - started
    return result
