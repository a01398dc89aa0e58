"""Video helpers: the playback order of clips."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facedeblur.errors import InputError
from facedeblur.io.video import iter_video_frames, playback_order, read_video_frames


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
