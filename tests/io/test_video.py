"""Video files: frames decoded in order, H.264 written with even sides, audio carried over, and
phone rotation applied."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from facedeblur.errors import FaceDeblurError, InputError
from facedeblur.io.video import (
    VideoWriter,
    decode_frames,
    iter_video_frames,
    playback_order,
    probe_video,
    read_video_frames,
    write_mp4,
)


def test_playback_order():
    assert playback_order(4, bounce=True) == [0, 1, 2, 3, 2, 1]
    assert playback_order(4, bounce=False) == [0, 1, 2, 3]
    assert playback_order(2, bounce=True) == [0, 1]


def _write_clip(path, count: int) -> None:
    """A small MJPEG clip whose frames differ (a bar that moves and a brightness ramp)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (48, 32))
    assert writer.isOpened()
    for i in range(count):
        frame = np.full((32, 48, 3), 8 * i, dtype=np.uint8)
        frame[:, 2 * i : 2 * i + 4] = (255, 40, 0)
        writer.write(frame)
    writer.release()


def _every_frame(path) -> list[np.ndarray]:
    """Reference: every frame by plain sequential ``VideoCapture.read``, as RGB."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame[:, :, ::-1])
    cap.release()
    return frames


def test_iter_video_frames_gives_the_sequentially_decoded_frames_in_order(tmp_path):
    path = tmp_path / "clip.avi"
    _write_clip(path, 20)
    reference = _every_frame(path)
    assert len(reference) == 20
    wanted = [17, 3, 0, 9, 3, 10, 25]
    got = list(iter_video_frames(path, wanted))
    assert [i for i, _ in got] == [0, 3, 9, 10, 17], "increasing, once each, none past the end"
    for i, frame in got:
        assert frame.dtype == np.uint8 and frame.shape == (32, 48, 3)
        assert frame.flags.c_contiguous
        np.testing.assert_array_equal(frame, reference[i])
    assert read_video_frames(path, wanted).keys() == {0, 3, 9, 10, 17}
    assert list(iter_video_frames(path, [])) == []


def test_iter_video_frames_yields_each_frame_as_soon_as_it_is_decoded(tmp_path):
    path = tmp_path / "clip.avi"
    _write_clip(path, 12)
    frames = iter_video_frames(path, [2, 5, 11])
    assert next(frames)[0] == 2, "a frame comes before the rest of the clip is decoded"
    assert [i for i, _ in frames] == [5, 11]


def test_unreadable_video_is_an_input_error(tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"not a video")
    with pytest.raises(InputError):
        list(iter_video_frames(path, [0]))


def _stream(path):
    """(codec, pixel format, (height, width), decoded frames, audio codec) of a written file."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        facts = (video.codec_context.name, video.codec_context.pix_fmt)
        size = (video.codec_context.height, video.codec_context.width)
    return (*facts, size, len(list(decode_frames(path))), audio)


def test_write_mp4_is_h264_with_even_sides(tmp_path):
    ramp = np.linspace(0.0, 1.0, 47, dtype=np.float32)
    frames = []
    for i in range(4):
        across = np.tile(ramp, (33, 1))
        frame = np.stack([across, np.full((33, 47), 0.2 * i), 1 - across], -1)
        frame[8:24, 10:30] = (0.9, 0.3, 0.1)  # an orange block: colours must come back
        frames.append(frame.astype(np.float32))
    path = write_mp4(tmp_path / "moments.mp4", frames, fps=8.0, bounce=True)
    assert _stream(path) == ("h264", "yuv420p", (34, 48), 6, None)
    assert probe_video(path).fps == 8
    back = next(decode_frames(path))
    # The padded row and column repeat the edge; the picture survives the codec closely.
    np.testing.assert_array_equal(back[33], back[32])
    assert np.abs(back[:33, :47] / 255.0 - frames[0]).mean() < 0.02
    np.testing.assert_allclose(back[12:20, 14:26].mean((0, 1)) / 255.0, (0.9, 0.3, 0.1), atol=0.02)


def test_video_writer_leaves_nothing_behind_on_error(tmp_path):
    path = tmp_path / "clip.mp4"
    with pytest.raises(RuntimeError), VideoWriter(path, 25) as writer:
        writer.write(np.zeros((16, 16, 3), np.uint8))
        raise RuntimeError("stopped")
    with pytest.raises(FaceDeblurError, match="no frames"), VideoWriter(path, 25):
        pass
    with pytest.raises(FaceDeblurError, match="16x16"), VideoWriter(path, 25) as writer:
        writer.write(np.zeros((16, 16, 3), np.uint8))
        writer.write(np.zeros((16, 18, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_audio_other_than_aac_becomes_aac(tmp_path):
    src = tmp_path / "pcm.mkv"
    with av.open(str(src), mode="w") as out:
        video = out.add_stream("mjpeg", rate=10)
        video.width, video.height, video.pix_fmt = 32, 32, "yuvj420p"
        audio = out.add_stream("pcm_s16le", rate=8000)
        audio.layout = "stereo"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 20 * i, np.uint8), "rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        samples = np.zeros((1, 2 * 8000), np.int16)
        sound = av.AudioFrame.from_ndarray(samples, format="s16", layout="stereo")
        sound.sample_rate, sound.pts = 8000, 0
        out.mux(audio.encode(sound))
        out.mux(audio.encode(None))
    dst = tmp_path / "out.mp4"
    with VideoWriter(dst, probe_video(src).fps, audio_from=src) as writer:
        for frame in decode_frames(src):
            writer.write(frame)
    assert _stream(dst) == ("h264", "yuv420p", (32, 32), 10, "aac")


def test_rotated_clips_come_out_upright(tmp_path):
    path = tmp_path / "phone.mp4"
    picture = np.zeros((32, 64, 3), np.uint8)
    picture[:8, :16] = 255  # a white block top left, as stored
    with av.open(str(path), mode="w") as out:
        video = out.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 32, "yuv420p"
        video.set_display_rotation(90)  # shown turned a quarter counter-clockwise
        for i in range(2):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    assert probe_video(path).size == (64, 32)
    upright = next(decode_frames(path))
    assert upright.shape == (64, 32, 3)
    assert upright[60, 4].min() > 200 and upright[4, 4].max() < 50, "the block is bottom left"
