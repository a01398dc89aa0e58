"""Videos through the file commands: deblur --faces, obfuscate and moments on short clips made from
a real talking-face video, written as H.264 with the frames, rate and audio of the source."""

from __future__ import annotations

import json
from fractions import Fraction

import av
import numpy as np
import pytest

from facedeblur.cli import main
from facedeblur.faces.pasteback import face_crop_box
from facedeblur.faces.registry import build_detector
from facedeblur.io.video import VideoWriter, decode_frames
from facedeblur.restore.video import deblur_video, track_video_faces
from tests.videos import make_clip, shrink_frames

NTSC = Fraction(30000, 1001)


@pytest.fixture(scope="module")
def clips(tmp_path_factory, short_video):
    """Two small clips of a real face (a 96 px face on a 224 x 160 picture): 8 frames at 25 fps
    with a sine tone, and 6 frames at 29.97 fps without sound."""
    root = tmp_path_factory.mktemp("clips")
    frames = shrink_frames(short_video, 96, 8, pad=32)
    tone = make_clip(root / "tone.mp4", frames, Fraction(25), tone=True)
    silent = make_clip(root / "silent.mov", frames[:6], NTSC)
    return tone, silent


def _facts(path) -> dict:
    """What a player sees in a file: codecs, pixel format, rate, decoded frames, audio length."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        facts = {
            "codec": video.codec_context.name,
            "pix_fmt": video.codec_context.pix_fmt,
            "rate": video.average_rate,
            "size": (video.codec_context.height, video.codec_context.width),
            "audio": audio.codec_context.name if audio else None,
            "audio_s": float(audio.duration * audio.time_base) if audio else 0.0,
        }
    facts["frames"] = len(list(decode_frames(path)))
    return facts


def _reencoded(src, dst) -> np.ndarray:
    """``src`` decoded and written again as the commands write (the codec's own loss only)."""
    with VideoWriter(dst, 25) as writer:
        for frame in decode_frames(src):
            writer.write(frame)
    return _frames(dst)


def _frames(path) -> np.ndarray:
    return np.stack(list(decode_frames(path))).astype(np.float32)


def _crop_mask(src, shape) -> np.ndarray:
    """(frames, H, W): the crop squares of the tracked faces of each frame (margin 0.5)."""
    mask = np.zeros(shape[:3], dtype=bool)
    for index, row in enumerate(track_video_faces(src, "mtcnn").faces):
        for _, face in row:
            x0, y0, side = face_crop_box(face, 0.5)
            mask[index, max(y0, 0) : y0 + side, max(x0, 0) : x0 + side] = True
    return mask


@pytest.mark.slow
def test_deblur_faces_writes_h264_with_the_frames_rate_and_audio(
    clips, tiny_model, tmp_path, capsys
):
    tone, _ = clips
    out = tmp_path / "out.mp4"
    code = main(
        ["deblur", str(tone), "--faces", "--model", str(tiny_model), "-o", str(out), "--quiet"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "frame/s" not in captured.err, "--quiet hides the progress bars"
    assert "1 face track(s), 8 faces restored" in captured.err
    source, result = _facts(tone), _facts(out)
    assert result["codec"] == "h264" and result["pix_fmt"] == "yuv420p"
    assert result["frames"] == source["frames"] == 8
    assert result["rate"] == source["rate"] == 25
    assert result["size"] == source["size"]
    assert result["audio"] == "aac"
    assert result["audio_s"] == pytest.approx(source["audio_s"], abs=0.07)
    # Faces changed, the rest only by the codec: compare with the clip merely re-encoded.
    after, plain = _frames(out), _reencoded(tone, tmp_path / "plain.mp4")
    faces = _crop_mask(tone, after.shape)
    assert 0.2 < faces.mean() < 0.7
    change = np.abs(after - plain).mean(axis=-1)
    assert change[~faces].mean() < 0.5
    assert change[faces].mean() > 8 * change[~faces].mean()


@pytest.mark.slow
def test_whole_frames_of_a_silent_ntsc_clip_into_a_folder(clips, tiny_model, tmp_path, capsys):
    _, silent = clips
    out = tmp_path / "out"
    code = main(["deblur", str(silent), "--model", str(tiny_model), "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "restoring" in captured.err and "frame" in captured.err, "a progress bar by default"
    result = _facts(out / "silent.mp4")
    assert result["codec"] == "h264"
    assert result["frames"] == 6 and result["rate"] == NTSC
    assert result["audio"] is None


@pytest.mark.slow
def test_a_missed_frame_is_restored_through_the_track(clips, tiny_model, tmp_path):
    tone, _ = clips
    mtcnn = build_detector("mtcnn")
    seen = []

    def misses_frame_3(image):
        seen.append(image)
        return [] if len(seen) == 4 else mtcnn(image)

    result = deblur_video(tone, tmp_path / "out.mp4", tiny_model, detector=misses_frame_3)
    assert result.filled == 1 and result.face_frames == 8
    after, plain = _frames(tmp_path / "out.mp4"), _reencoded(tone, tmp_path / "plain.mp4")
    faces = _crop_mask(tone, after.shape)
    change = np.abs(after[3] - plain[3]).mean(axis=-1)
    assert change[faces[3]].mean() > 8 * change[~faces[3]].mean(), "frame 3 has its face restored"


@pytest.mark.slow
def test_a_corrupt_video_is_one_line_and_exit_2(clips, tiny_model, tmp_path, capsys):
    tone, _ = clips
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(tone.read_bytes()[: tone.stat().st_size // 2])
    for bad in (garbage, cut):
        out = tmp_path / f"{bad.stem}_out.mp4"
        code = main(["deblur", str(bad), "--faces", "--model", str(tiny_model), "-o", str(out)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2
        assert len(err) == 1 and str(bad) in err[0] and "video" in err[0], err
        assert not out.exists() and list(tmp_path.glob(".*.tmp*")) == []


def test_video_outputs_must_be_mp4(clips, tmp_path, capsys):
    tone, _ = clips
    code = main(["deblur", str(tone), "--faces", "-o", str(tmp_path / "out.avi")])
    assert code == 2
    assert "name the output .mp4" in capsys.readouterr().err


@pytest.mark.slow
def test_obfuscate_hides_the_tracked_face_in_every_frame(clips, tmp_path, capsys):
    tone, _ = clips
    out = tmp_path / "hidden.mp4"
    code = main(["obfuscate", str(tone), "--method", "pixelate", "-o", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    result = _facts(out)
    assert result["codec"] == "h264" and result["frames"] == 8 and result["rate"] == 25
    assert result["audio"] == "aac"
    record = json.loads((tmp_path / "hidden.mp4.json").read_text())
    assert record["frames"] == 8 and record["found"] == 1 and record["hidden"] == 1
    (track,) = record["tracks"]
    assert (track["first_frame"], track["last_frame"], track["hidden_frames"]) == (0, 7, 8)
    after, plain = _frames(out), _reencoded(tone, tmp_path / "plain.mp4")
    faces = _crop_mask(tone, after.shape)
    change = np.abs(after - plain).mean(axis=-1)
    assert change[~faces].mean() < 0.5
    for index in range(8):
        assert change[index][faces[index]].mean() > 8 * change[~faces].mean()


@pytest.mark.slow
def test_moments_of_a_clip_and_of_one_frame(clips, tiny_weights, tmp_path, capsys):
    tone, _ = clips
    base = ["moments", str(tone), "--faces", "--model", str(tiny_weights), "--frames", "2"]
    assert main([*base, "-o", str(tmp_path / "clip"), "--quiet"]) == 0, capsys.readouterr().err
    result = _facts(tmp_path / "clip" / "moments.mp4")
    assert result["codec"] == "h264" and result["frames"] == 16 and result["rate"] == 25
    listing = json.loads((tmp_path / "clip" / "moments.json").read_text())
    assert listing["frames"] == 8 and listing["moments_per_frame"] == 2
    code = main([*base, "--time", "0.2", "-o", str(tmp_path / "frame"), "--quiet"])
    assert code == 0, capsys.readouterr().err
    listing = json.loads((tmp_path / "frame" / "moments.json").read_text())
    assert listing["frame"] == 5 and listing["files"] == ["moment_00.png", "moment_01.png"]
    assert _facts(tmp_path / "frame" / "moments.mp4")["codec"] == "h264"
    code = main([*base, "--time", "9", "-o", str(tmp_path / "late"), "--quiet"])
    assert code == 2 and "past the end" in capsys.readouterr().err
