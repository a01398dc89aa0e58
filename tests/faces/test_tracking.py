"""Face tracks: association by overlap, gaps filled, boxes smoothed without lag, on synthetic box
sequences and on a real clip."""

from __future__ import annotations

import numpy as np
import pytest

from facedeblur.faces.detect import Detection
from facedeblur.faces.tracking import (
    MAX_GAP,
    faces_by_frame,
    iou,
    smooth,
    track_faces,
)


def _moving_box(frame: int, start=(40.0, 30.0), speed=(3.0, 1.0), side=60.0) -> np.ndarray:
    x, y = start[0] + speed[0] * frame, start[1] + speed[1] * frame
    return np.array([x, y, x + side, y + side])


def _detections(boxes: list[np.ndarray | None]) -> list[list[Detection]]:
    return [[] if box is None else [Detection(tuple(box), 0.9)] for box in boxes]


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)


def test_a_one_frame_detection_gap_is_filled_by_interpolation():
    truth = [_moving_box(f) for f in range(12)]
    boxes = list(truth)
    boxes[5] = None
    tracks = track_faces(_detections(boxes))
    assert len(tracks) == 1
    track = tracks[0]
    assert (track.first, track.last) == (0, 11)
    assert not track.detected[5] and track.detected.sum() == 11 and track.filled == 1
    # Motion at constant speed: interpolation and the centred average give the path itself.
    np.testing.assert_allclose(track.boxes, np.stack(truth), atol=1e-9)
    table = faces_by_frame(tracks, 12)
    assert all(len(row) == 1 for row in table), "no frame without its face"
    np.testing.assert_allclose(table[5][0][1].box, truth[5])


def test_a_gap_longer_than_max_gap_splits_the_track():
    boxes = [_moving_box(f) for f in range(20)]
    for f in range(5, 5 + MAX_GAP + 1):
        boxes[f] = None
    tracks = track_faces(_detections(boxes))
    assert [(t.first, t.last) for t in tracks] == [(0, 4), (5 + MAX_GAP + 1, 19)]
    assert faces_by_frame(tracks, 20)[7] == []


def test_smoothing_removes_jitter_and_keeps_the_path():
    rng = np.random.default_rng(0)
    truth = np.stack([_moving_box(f, speed=(2.0, 0.5)) for f in range(60)])
    noisy = truth + rng.normal(0.0, 3.0, truth.shape)
    (track,) = track_faces(_detections(list(noisy)))
    raw_error = np.sqrt(((noisy - truth) ** 2).mean())
    smooth_error = np.sqrt(((track.boxes - truth) ** 2).mean())
    assert smooth_error < 0.6 * raw_error
    # Frame-to-frame change of the box side (what shows as a face "breathing"): much calmer.
    side = track.boxes[:, 2] - track.boxes[:, 0]
    raw_side = noisy[:, 2] - noisy[:, 0]
    assert np.abs(np.diff(side)).mean() < 0.5 * np.abs(np.diff(raw_side)).mean()
    # Nothing is smoothed with a window of one frame.
    (unsmoothed,) = track_faces(_detections(list(noisy)), window=1)
    np.testing.assert_allclose(unsmoothed.boxes, noisy)


def test_smooth_is_centred_and_exact_on_lines():
    line = np.arange(10, dtype=float)[:, None] * [2.0, -1.0] + 5.0
    np.testing.assert_allclose(smooth(line, 5), line)
    bump = np.zeros(9)
    bump[4] = 5.0
    out = smooth(bump, 5)
    np.testing.assert_allclose(out[2:7], 1.0)
    assert out[0] == 0.0 and out[8] == 0.0


def test_two_faces_keep_their_tracks():
    left = [_moving_box(f, start=(10, 40), speed=(1, 0)) for f in range(10)]
    right = [_moving_box(f, start=(200, 40), speed=(-1, 0)) for f in range(10)]
    frames = [[Detection(tuple(b), 0.8), Detection(tuple(a), 0.9)] for a, b in zip(left, right)]
    frames[3] = frames[3][:1]  # the left face missed once
    tracks = track_faces(frames)
    assert len(tracks) == 2
    by_start = {round(t.boxes[0][0]): t for t in tracks}
    np.testing.assert_allclose(by_start[10].boxes, np.stack(left), atol=1e-9)
    np.testing.assert_allclose(by_start[200].boxes, np.stack(right), atol=1e-9)
    assert [pair[0].id for pair in faces_by_frame(tracks, 10)[3]] == [
        by_start[10].id,
        by_start[200].id,
    ]


def test_a_fast_face_is_followed_through_a_gap_by_its_velocity():
    # 30 px a frame with 60 px boxes: the boxes of frames 3 and 5 do not overlap at all.
    boxes = [_moving_box(f, speed=(30.0, 0.0)) for f in range(8)]
    boxes[4] = None
    assert iou(boxes[3], boxes[5]) == 0.0
    (track,) = track_faces(_detections(boxes))
    assert track.filled == 1
    np.testing.assert_allclose(track.boxes[4], _moving_box(4, speed=(30.0, 0.0)), atol=1e-9)
    # A track that may not miss a frame ends at the gap.
    assert len(track_faces(_detections(boxes), max_gap=0)) == 2


def test_short_tracks_can_be_dropped():
    boxes = _detections([_moving_box(f) for f in range(6)])
    boxes[2].append(Detection((300.0, 300.0, 320.0, 320.0), 0.5))  # a one-frame false face
    assert len(track_faces(boxes)) == 2
    assert len(track_faces(boxes, min_detections=2)) == 1


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        track_faces([], iou_threshold=0.0)
    with pytest.raises(ValueError):
        track_faces([], window=0)


@pytest.mark.slow
def test_real_clip_a_missed_frame_keeps_its_face(tmp_path, short_video):
    from facedeblur.faces.registry import build_detector
    from facedeblur.restore.video import track_video_faces
    from tests.videos import make_clip, shrink_frames

    clip = make_clip(tmp_path / "clip.mp4", shrink_frames(short_video, 96, 8, pad=32))
    mtcnn = build_detector("mtcnn")
    calls = []

    def blind_at_frame_4(image):
        calls.append(len(calls))
        return [] if len(calls) - 1 == 4 else mtcnn(image)

    every = track_video_faces(clip, "mtcnn")
    missed = track_video_faces(clip, blind_at_frame_4)
    assert len(every.tracks) == 1 and every.filled == 0
    assert len(missed.tracks) == 1 and missed.filled == 1
    assert all(len(row) == 1 for row in missed.faces)
    # The filled box is where the detector put the face (a few pixels at most).
    found = np.array(every.faces[4][0][1].box)
    filled = np.array(missed.faces[4][0][1].box)
    assert np.abs(found - filled).max() < 3.0
