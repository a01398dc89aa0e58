"""Video files: reading clips frame by frame, writing H.264 MP4 (audio kept) and animated GIFs.

Everything goes through PyAV, whose wheels bundle FFmpeg with the libx264 encoder: one library
reads every clip (frames, frame rate, rotation, audio) and writes MP4s that browsers play
(H.264, yuv420p, even sides, the index at the front of the file). Frames come out as uint8 RGB
(H, W, 3), upright (a phone clip's rotation tag is applied, as OpenCV and players do). Files are
written atomically: a temporary file beside the target, renamed when complete.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import FaceDeblurError, InputError, check_number
from .images import atomic_output, atomic_write_bytes, to_uint8

# Frame rates above this are refused: no screen shows them.
MAX_FPS = 120.0
# x264 constant-quality setting: 18 is visually close to lossless, so a restored face is not
# smeared again by the encoder (23 is x264's default).
H264_CRF = 18
# Audio codecs that MP4 holds and browsers play: copied as they are; others become AAC.
COPIED_AUDIO = ("aac", "mp3")
# FFmpeg's codes for BT.601 (SMPTE 170M) primaries, matrix and transfer, and for limited range:
# what swscale's RGB -> YUV conversion produces, tagged so players turn it back the same way.
BT601, LIMITED_RANGE = 6, 1
# Channel layouts AAC takes, by channel count (a source may say "2 channels", without order).
STANDARD_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 8: "7.1"}
# The frame rate a clip is written at when its container states none.
FALLBACK_FPS = Fraction(25)
# Rational frame rates are kept to this denominator (NTSC rates are n/1001).
MAX_RATE_DENOMINATOR = 1001
_UNREADABLE = "not a readable video (corrupt file or unsupported format)"


@dataclass(frozen=True)
class VideoInfo:
    """What a clip's container says: frame count, frame rate, upright (height, width), audio.

    ``count`` is the container's count (or an estimate from the duration); decoding may give a
    few frames more or fewer.
    """

    count: int
    fps: Fraction
    size: tuple[int, int]
    has_audio: bool


def _open(path: Path) -> av.container.InputContainer:
    """The clip opened for reading, with a video stream; else ``InputError`` naming it."""
    if not path.is_file():
        raise InputError(path, "no such video file")
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, ValueError):
        raise InputError(path, _UNREADABLE) from None
    if not container.streams.video:
        container.close()
        raise InputError(path, "has no video stream")
    return container


def _frame_rate(stream) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate or rate <= 0:
        return FALLBACK_FPS
    return Fraction(rate).limit_denominator(MAX_RATE_DENOMINATOR)


def probe_video(path: str | Path) -> VideoInfo:
    """The ``VideoInfo`` of a clip, read from its container without decoding frames.

    Raises:
        InputError: no such file, not a readable video, or no frames.
    """
    path = Path(path)
    with contextlib.closing(_open(path)) as container:
        stream = container.streams.video[0]
        fps = _frame_rate(stream)
        count = stream.frames
        if count <= 0 and stream.duration and stream.time_base:
            count = round(stream.duration * stream.time_base * fps)
        if count <= 0 and container.duration:
            count = round(container.duration / av.time_base * fps)
        height, width = stream.codec_context.height, stream.codec_context.width
        turn = _quarter_turns(_stream_rotation(container, path))
        has_audio = bool(container.streams.audio)
    if count <= 0 or height <= 0 or width <= 0:
        raise InputError(path, "video has no frames")
    size = (width, height) if turn % 2 else (height, width)
    return VideoInfo(count, fps, size, has_audio)


def _stream_rotation(container, path: Path) -> float:
    """The rotation of the first frame (PyAV exposes it on frames only); 0 when none."""
    try:
        frame = next(container.decode(video=0), None)
    except av.FFmpegError:
        raise InputError(path, _UNREADABLE) from None
    container.seek(0)
    return frame.rotation if frame is not None else 0.0


def _quarter_turns(rotation: float) -> int:
    """Counter-clockwise quarter turns (``np.rot90``'s k) that make a frame upright."""
    return round(rotation / 90.0) % 4


def video_info(path: str | Path) -> tuple[int, float, tuple[int, int]]:
    """Frame count (as stored in the container), frame rate and upright (height, width)."""
    info = probe_video(path)
    return info.count, float(info.fps), info.size


def decode_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Every frame of a clip, front to back, as uint8 RGB (H, W, 3) upright arrays.

    Frames come one at a time as they are decoded, so a caller holds only what it keeps.

    Raises:
        InputError: the file cannot be opened as a video, or decoding fails part way (the
            message names the frame).
    """
    path = Path(path)
    with contextlib.closing(_open(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        index = 0
        try:
            for frame in container.decode(stream):
                rgb = frame.to_ndarray(format="rgb24")
                turns = _quarter_turns(frame.rotation)
                yield np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb
                index += 1
        except av.FFmpegError:
            raise InputError(path, f"cannot decode frame {index} (corrupt video)") from None


def iter_video_frames(path: str | Path, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
    """Decode a video once, front to back, yielding ``(index, frame)`` for the wanted indices.

    Frames come in increasing index order as uint8 RGB (H, W, 3) arrays, each as soon as it is
    decoded, so a caller can hold only the frames it still needs; decoding stops after the last
    wanted frame. Decoding sequentially (rather than seeking, which lands on key frames) gives
    the same frames on every platform. Frames past the end of the stream are not yielded.

    Raises:
        InputError: the file cannot be opened or decoded as a video.
    """
    wanted = {int(i) for i in indices}
    if not wanted:
        return
    last = max(wanted)
    frames = decode_frames(path)
    with contextlib.closing(frames):
        for index, frame in enumerate(frames):
            if index in wanted:
                yield index, frame
            if index >= last:
                break


def read_video_frames(path: str | Path, indices: Iterable[int]) -> dict[int, np.ndarray]:
    """The wanted frames of a video as uint8 RGB (H, W, 3) arrays, by index (see
    ``iter_video_frames``); frames past the end of the stream are absent from the result."""
    return dict(iter_video_frames(path, indices))


def even_sides(height: int, width: int) -> tuple[int, int]:
    """(height, width) rounded up to even numbers, as yuv420p H.264 needs."""
    return height + height % 2, width + width % 2


class VideoWriter:
    """Write RGB frames to an H.264 MP4, atomically, optionally with the audio of a source clip.

    Use as a context manager: the file appears at ``path`` only when the block ends without an
    error (the temporary file is removed otherwise). Frames are uint8 or float RGB in [0, 1],
    all of one size; odd sides are padded to even by repeating the last row or column. Frame
    ``i`` is shown at ``i / fps`` seconds. With ``audio_from``, that clip's first audio track
    is copied (AAC and MP3 as they are, other codecs re-encoded to AAC), aligned to the source's
    first video frame and cut at the end of the written video.

    Args:
        path: the .mp4 file to write.
        fps: frames per second, in (0, ``MAX_FPS``]; a ``Fraction`` keeps NTSC rates exact.
        audio_from: a clip whose audio to keep, or None.
        crf: x264 constant-quality setting (0 lossless .. 51; lower is better).
    """

    def __init__(
        self,
        path: str | Path,
        fps: float | Fraction,
        audio_from: str | Path | None = None,
        crf: int = H264_CRF,
    ):
        check_number("fps", float(fps), 0.0, MAX_FPS, low_open=True)
        self.path = Path(path)
        self.fps = Fraction(fps).limit_denominator(MAX_RATE_DENOMINATOR)
        self.audio_from = None if audio_from is None else Path(audio_from)
        self.crf = crf
        self.count = 0
        self._stack = contextlib.ExitStack()
        self._out = None
        self._video = None
        self._size: tuple[int, int] | None = None
        self._audio: _AudioCopy | None = None

    def __enter__(self) -> VideoWriter:
        tmp = self._stack.enter_context(atomic_output(self.path))
        try:
            self._out = av.open(str(tmp), mode="w", format="mp4", options={"movflags": "faststart"})
        except (av.FFmpegError, OSError) as exc:
            self._stack.close()
            raise InputError(self.path, f"cannot write ({exc})") from None
        self._stack.callback(self._out.close)
        return self

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB (H, W, 3) frame."""
        rgb = to_uint8(frame)
        if self._video is None:
            self._start(rgb.shape[0], rgb.shape[1])
        if rgb.shape[:2] != self._size:
            raise FaceDeblurError(
                f"{self.path}: frame {self.count} is {rgb.shape[1]}x{rgb.shape[0]}, "
                f"the video {self._size[1]}x{self._size[0]}"
            )
        height, width = even_sides(*self._size)
        if (height, width) != self._size:
            pad = ((0, height - self._size[0]), (0, width - self._size[1]), (0, 0))
            rgb = np.pad(rgb, pad, mode="edge")
        picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        picture.pts = self.count
        try:
            self._out.mux(self._video.encode(picture))
            self.count += 1
            if self._audio is not None:
                self._audio.copy_until(self.count / self.fps, self._out)
        except av.FFmpegError as exc:
            raise InputError(self.path, f"cannot write ({exc})") from None

    def _start(self, height: int, width: int) -> None:
        """Add the streams (all before the first packet, as MP4 needs) for frames of this size."""
        self._size = (height, width)
        self._video = self._out.add_stream("libx264", rate=self.fps)
        self._video.height, self._video.width = even_sides(height, width)
        self._video.pix_fmt = "yuv420p"
        self._video.time_base = 1 / self.fps
        self._video.options = {"crf": str(self.crf)}
        context = self._video.codec_context
        context.colorspace = context.color_primaries = context.color_trc = BT601
        context.color_range = LIMITED_RANGE
        if self.audio_from is not None:
            self._audio = _AudioCopy.open(self.audio_from, self._out)
            if self._audio is not None:
                self._stack.callback(self._audio.close)

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None:
            self._stack.__exit__(kind, value, traceback)
            return
        try:
            if self._video is None:
                raise FaceDeblurError(f"{self.path}: no frames to write")
            self._out.mux(self._video.encode(None))
            if self._audio is not None:
                self._audio.copy_until(self.count / self.fps, self._out)
                self._audio.finish(self._out)
        except BaseException:
            self._stack.__exit__(*sys.exc_info())
            raise
        try:
            self._stack.close()
        except av.FFmpegError as exc:
            raise InputError(self.path, f"cannot write ({exc})") from None


class _AudioCopy:
    """The first audio track of a clip, moved packet by packet into an MP4 being written.

    Packet times are counted from the source's first video frame, so sound and picture stay
    together (a packet that starts a little before it, such as AAC's priming, keeps a negative
    time, which MP4 holds).
    """

    def __init__(self, source, stream, output_stream, encode: bool, offset: Fraction):
        self.source, self.stream, self.output_stream = source, stream, output_stream
        self.encode, self.offset = encode, offset
        self.packets = source.demux(stream)
        self.pending = None

    @classmethod
    def open(cls, path: Path, out) -> _AudioCopy | None:
        """Ready to copy the audio of ``path`` into ``out``; None when the clip has none."""
        source = _open(path)
        if not source.streams.audio:
            source.close()
            return None
        stream = source.streams.audio[0]
        video = source.streams.video[0]
        offset = Fraction(video.start_time or 0) * Fraction(video.time_base or 0)
        if stream.codec_context.name in COPIED_AUDIO:
            return cls(source, stream, out.add_stream_from_template(stream), False, offset)
        output_stream = out.add_stream("aac", rate=stream.codec_context.sample_rate)
        channels = len(stream.codec_context.layout.channels)
        output_stream.layout = STANDARD_LAYOUTS.get(channels, "stereo")
        output_stream.format = "fltp"
        return cls(source, stream, output_stream, True, offset)

    def _next(self):
        """The next audio packet with a time, kept in ``pending``; None at the end."""
        while self.pending is None:
            try:
                packet = next(self.packets)
            except (StopIteration, av.FFmpegError):
                return None
            if packet.pts is not None and packet.size:
                self.pending = packet
        return self.pending

    def copy_until(self, seconds: Fraction, out) -> None:
        """Move the audio packets that start before ``seconds`` of video time into ``out``."""
        while (packet := self._next()) is not None:
            shift = round(self.offset / packet.time_base)
            if (packet.pts - shift) * packet.time_base >= seconds:
                return
            self.pending = None
            if self.encode:
                for frame in packet.decode():
                    frame.pts = None
                    out.mux(self.output_stream.encode(frame))
                continue
            if packet.dts is not None:
                packet.dts -= shift
            packet.pts -= shift
            packet.stream = self.output_stream
            out.mux(packet)

    def finish(self, out) -> None:
        """Flush the AAC encoder when the audio was re-encoded."""
        if self.encode:
            out.mux(self.output_stream.encode(None))

    def close(self) -> None:
        """Close the source clip."""
        self.source.close()


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
    """An H.264 MP4 of RGB frames (float in [0, 1] or uint8) at ``fps``, written atomically.

    Odd sides are padded to even (``VideoWriter``); ``fps`` is in (0, ``MAX_FPS``].
    """
    path = Path(path)
    check_number("fps", fps, 0.0, MAX_FPS, low_open=True)
    if not frames:
        raise FaceDeblurError(f"{path}: no frames to write")
    with VideoWriter(path, fps) as writer:
        for i in playback_order(len(frames), bounce):
            writer.write(frames[i])
    return path
