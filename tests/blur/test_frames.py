import numpy as np
import pytest
import torch

from facedeblur.blur import average_frames, find_clips, open_clip
from facedeblur.io import read_image, write_image


def test_identical_frames_return_the_frame():
    frame = torch.rand(3, 32, 32)
    out = average_frames(frame.expand(7, -1, -1, -1).clone())
    assert torch.allclose(out, frame, atol=1e-6)


def test_frames_are_averaged_in_linear_light():
    frames = torch.stack([torch.zeros(3, 4, 4), torch.ones(3, 4, 4)])
    assert torch.allclose(
        average_frames(frames, 2.2), torch.full((3, 4, 4), 0.5 ** (1 / 2.2)), atol=1e-6
    )
    assert torch.allclose(average_frames(frames, 1.0), torch.full((3, 4, 4), 0.5), atol=1e-6)


def test_video_clip_is_read_front_to_back(short_video):
    clip = open_clip(short_video)
    assert clip.is_video and clip.num_frames == 16 and clip.fps == pytest.approx(30.0)
    frames = clip.read([0, 7, 15, 99])
    assert sorted(frames) == [0, 7, 15]
    assert frames[7].shape == (512, 512, 3) and frames[7].dtype == np.float32
    assert not np.array_equal(frames[0], frames[15])


def test_folder_of_frames_is_a_clip(tmp_path, short_video):
    frames = open_clip(short_video).read(range(6))
    clip_dir = tmp_path / "clips" / "talk"
    for i, f in frames.items():
        write_image(clip_dir / f"{i:03d}.png", f)
    (tmp_path / "clips" / "notes.txt").write_text("not a clip")
    assert find_clips(tmp_path / "clips") == [clip_dir]
    clip = open_clip(clip_dir)
    assert clip.num_frames == 6 and not clip.is_video
    assert np.abs(clip.read([3])[3] - read_image(clip_dir / "003.png")).max() == 0


def test_video_stream_gives_decoded_frames_and_read_their_float_form(short_video):
    clip = open_clip(short_video)
    streamed = list(clip.stream({9, 2, 40}))
    assert [i for i, _ in streamed] == [2, 9]
    read = clip.read([2, 9])
    for i, frame in streamed:
        assert frame.dtype == np.uint8
        assert np.array_equal(read[i], frame.astype(np.float32) / 255.0)
