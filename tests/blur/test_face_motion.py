"""Facial motion from a still face: the drawn motion, the warp, the samples and their rebuild."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from facedeblur.blur import KernelBlurSettings, SampleSettings, resynthesize, synthesize
from facedeblur.blur.face_motion import (
    FaceMotionSettings,
    PiecewiseAffineWarp,
    draw_motion,
    find_landmarks,
    interocular,
    motion_tracks,
    render_subframes,
    sample_times,
)
from facedeblur.blur.frames import average_frames
from facedeblur.blur.samples import face_motion_sample
from facedeblur.cli import main
from facedeblur.io import image_to_tensor, read_image, tensor_to_image, to_uint8, write_image
from tests.helpers import background

SIDE = 256
STRONG = FaceMotionSettings(head=4.0, mouth=4.0, eyes=4.0)


def face_points(cx: float = 128.0, cy: float = 120.0, iod: float = 50.0) -> np.ndarray:
    """A plausible frontal 68-point iBUG layout (x, y) in pixels, eyes ``iod`` apart."""
    u = iod / 2.0
    jaw_angle = np.linspace(np.pi, 0.0, 17)
    jaw = np.stack([cx + 1.6 * u * np.cos(jaw_angle), cy + 0.2 * u + 2.0 * u * np.sin(jaw_angle)])
    brows = np.concatenate(
        [np.linspace(cx - 1.5 * u, cx - 0.3 * u, 5), np.linspace(cx + 0.3 * u, cx + 1.5 * u, 5)]
    )
    brows = np.stack([brows, cy - 0.8 * u - 0.15 * u * np.cos((brows - cx) / u)])
    nose = np.stack(
        [
            np.r_[np.full(4, cx), np.linspace(cx - 0.35 * u, cx + 0.35 * u, 5)],
            np.r_[np.linspace(cy - 0.4 * u, cy + 0.5 * u, 4), np.full(5, cy + 0.7 * u)],
        ]
    )

    def ring(centre_x, centre_y, rx, ry, count, start):
        a = start + np.linspace(0.0, 2 * np.pi, count, endpoint=False)
        return np.stack([centre_x - rx * np.cos(a), centre_y - ry * np.sin(a)])

    eyes = [ring(cx + s * u, cy - 0.3 * u, 0.35 * u, 0.15 * u, 6, 0.0) for s in (-1, 1)]
    outer = ring(cx, cy + 1.3 * u, 0.8 * u, 0.35 * u, 12, 0.0)
    inner = ring(cx, cy + 1.3 * u, 0.5 * u, 0.1 * u, 8, 0.0)
    return np.concatenate([jaw, brows, nose, *eyes, outer, inner], axis=1).T


def test_drawn_motion_is_seeded_and_zero_amplitude_does_not_move():
    points = face_points()
    times = sample_times(7, 0.8)
    a = draw_motion(np.random.default_rng(3), FaceMotionSettings())
    assert a == draw_motion(np.random.default_rng(3), FaceMotionSettings())
    assert a != draw_motion(np.random.default_rng(4), FaceMotionSettings())
    still = draw_motion(np.random.default_rng(3), FaceMotionSettings(head=0, mouth=0, eyes=0))
    tracks = motion_tracks(points, still, times)
    np.testing.assert_allclose(tracks[:, :68], np.broadcast_to(points, (7, 68, 2)), atol=1e-9)
    moving = motion_tracks(points, a, times)
    rigid = [0, 16, 17, 26, 27, 30, 36, 39, 42, 45]
    assert np.abs(moving[3, rigid] - points[rigid]).max() < 1e-9, "the middle keeps the pose..."
    assert np.abs(moving[0, rigid] - points[rigid]).max() > 0.1, "...and the others move"
    with pytest.raises(ValueError, match="head"):
        FaceMotionSettings(head=5.0)


def test_landmarks_move_as_drawn():
    """Rendering a picture of its own pixel coordinates: at each drawn landmark position, every
    sub-frame shows the coordinates of that landmark in the still."""
    points = face_points()
    ys, xs = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    coordinates = np.dstack([xs, ys, np.zeros_like(xs)]) / SIDE
    motion = draw_motion(np.random.default_rng(11), FaceMotionSettings())
    tracks = motion_tracks(points, motion, sample_times(5, 1.0))
    warp = PiecewiseAffineWarp(points, SIDE, tracks)
    frames = render_subframes(coordinates, warp, tracks, None)
    drawn = [i for i in range(68) if i not in range(60, 68)]
    for k in (0, 1, 3, 4):
        assert np.abs(tracks[k, drawn] - points[drawn]).max() > 0.5, "the motion is visible"
        at = tracks[k, drawn].astype(np.float32)
        seen = cv2.remap(frames[k], at[:, None, 0], at[:, None, 1], cv2.INTER_LINEAR)[:, 0, :2]
        np.testing.assert_allclose(seen * SIDE, points[drawn], atol=0.5)
        np.testing.assert_allclose(warp.moved_landmarks(tracks[k])[drawn], tracks[k, drawn])


def test_background_far_from_the_face_stays_still():
    points = face_points(iod=40.0)
    still = background(SIDE, SIDE, 5)
    ys, xs = np.mgrid[0:SIDE, 0:SIDE]
    near_face = np.hypot(xs - 128, ys - 130) < 30
    for seed in range(4):
        motion = draw_motion(np.random.default_rng(seed), FaceMotionSettings(2, 2, 2))
        tracks = motion_tracks(points, motion, sample_times(9, 1.0))
        warp = PiecewiseAffineWarp(points, SIDE, tracks)
        outline = warp.ring[:29].astype(np.float32)
        far = np.zeros((SIDE, SIDE), dtype=bool)
        for y in range(0, SIDE, 4):
            for x in range(0, SIDE, 4):
                far[y, x] = cv2.pointPolygonTest(outline, (float(x), float(y)), True) < -2.0
        assert far.sum() > 0.1 * (SIDE // 4) ** 2, "the test looks at a real background"
        for moved in tracks[[0, -1]]:
            source = warp.backward_map(moved)
            travel = np.hypot(source[..., 0] - xs, source[..., 1] - ys)
            assert travel[far].max() < 1e-3, "outside the fixed ring nothing moves"
            assert travel[near_face].max() > 1.0, "the face itself moves"
        frames = render_subframes(still, warp, tracks, None)
        for frame in frames:
            assert np.abs(frame - still)[far].max() < 1e-3


def lfw_face(data_dir: Path) -> Path:
    return data_dir / "lfw" / "images" / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg"


def test_subframes_differ_and_average_to_the_blur_before_noise(data_dir):
    img = read_image(lfw_face(data_dir))
    settings = SampleSettings(
        mode="face-motion",
        size=96,
        crop="face",
        margin=0.7,
        frame_counts=(7,),
        blur=KernelBlurSettings(noise_scale=0.0, exposure=(1.0, 1.0)),
        motion=STRONG,
    )
    sample = face_motion_sample(img, "face.jpg", 5, settings)
    frames = sample.frames
    assert len(frames) == 7 == sample.record["num_frames"]
    assert np.array_equal(sample.sharp, frames[3])
    for a in range(7):
        for b in range(a + 1, 7):
            assert not np.array_equal(frames[a], frames[b]), (a, b)
    stack = torch.stack([image_to_tensor(f.astype(np.float32) / 255.0) for f in frames])
    linear = to_uint8(tensor_to_image(average_frames(stack, 2.2)))
    assert np.array_equal(linear, sample.blur), "the blur is the linear-light mean of the frames"
    plain = to_uint8(tensor_to_image(average_frames(stack, 1.0)))
    assert not np.array_equal(plain, sample.blur), "a gamma-1 mean would differ"
    corner = (slice(0, 10), slice(0, 10))
    for frame in frames:
        assert np.array_equal(frame[corner], sample.sharp[corner]), "the background stays still"
    lm = np.asarray(sample.record["frame_landmarks"])
    assert lm.shape == (7, 68, 2)
    travel = np.linalg.norm(lm[:, 36:42].mean(axis=1)[:, None] - lm[:, 36:42].mean(axis=1), axis=-1)
    assert sample.record["fmr"]["travel"] == pytest.approx(travel.max(), abs=0.01)
    assert sorted(sample.record["fmr"]["order"]) == list(range(7))


def test_synth_face_motion_rebuilds_byte_for_byte_and_reports_faceless_images(lfw_tree, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for person in sorted(lfw_tree.iterdir())[:2]:
        (src / person.name).mkdir()
        for img in sorted(person.glob("*.jpg"))[:1]:
            (src / person.name / img.name).write_bytes(img.read_bytes())
    (src / "Nobody").mkdir()
    write_image(src / "Nobody" / "wall.png", background(160, 160, 2))
    settings = SampleSettings(
        mode="face-motion",
        size=64,
        crop="face",
        margin=0.7,
        frame_counts=(5,),
        blur=KernelBlurSettings(jpeg_quality=(70, 90)),
        motion=FaceMotionSettings(shake=True),
    )
    out = tmp_path / "out"
    report = synthesize(src, out, settings, count=3, seed=4, preview=tmp_path / "sheet.png")
    assert report.total_written == 2
    assert len(report.skipped) == 1
    assert "wall.png" in report.skipped[0] and "no face" in report.skipped[0]
    assert report.preview.is_file()
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    for record in records:
        assert record["mode"] == "face-motion"
        assert record["shake"] is not None and len(record["motion"]) == 9
        assert np.asarray(record["landmarks"]).shape == (68, 2)
        rebuilt = resynthesize(record)
        for name, pixels in (("blur", rebuilt.blur), ("sharp", rebuilt.sharp)):
            stored = cv2.imread(str(out / record["files"][name]), cv2.IMREAD_COLOR)[..., ::-1]
            assert np.array_equal(stored, pixels), name
        for rel, frame in zip(record["files"]["frames"], rebuilt.frames):
            assert np.array_equal(cv2.imread(str(out / rel))[..., ::-1], frame)
        assert rebuilt.record["fmr"] == record["fmr"]
        assert rebuilt.record["frame_landmarks"] == record["frame_landmarks"]


def test_celeba_faces_get_landmarks_and_synth_runs(data_dir, tmp_path, capsys):
    celeba = data_dir / "celeba" / "images"
    if not celeba.is_dir():
        pytest.skip("no CelebA images in the shared data")
    img = read_image(celeba / "000001.jpg")
    assert img.shape[:2] == (109, 89)
    face, points = find_landmarks(img, "000001.jpg")
    assert 12 < interocular(points) < 40
    x0, y0, x1, y1 = face.box
    inside = (points[:, 0] > x0 - 10) & (points[:, 0] < x1 + 10) & (points[:, 1] < y1 + 15)
    assert inside.all()
    src = tmp_path / "celeba"
    src.mkdir()
    for name in ("000001.jpg", "000002.jpg"):
        (src / name).write_bytes((celeba / name).read_bytes())
    out = tmp_path / "out"
    code = main(
        ["synth", str(src), "-o", str(out), "--mode", "face-motion", "--size", "64", "--quiet"]
        + ["--mouth", "2", "--frame-counts", "5"]
    )
    assert code == 0, capsys.readouterr().err
    assert len(list((out / "frames").iterdir())) == 2
    assert main(
        ["synth", str(src), "-o", str(tmp_path / "x"), "--mode", "face-motion", "--eyes", "9"]
    )
    assert "--eyes" in capsys.readouterr().err
