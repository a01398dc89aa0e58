"""Frames mode decodes each clip once and holds only the frames of windows in progress."""

from types import SimpleNamespace

import numpy as np

from facedeblur.blur import SampleSettings
from facedeblur.blur.samples import window_frames
from facedeblur.blur.synth import _decoded_windows, _Problems


def _fake_clip(length: int, decoded: list[int]):
    """A clip of ``length`` frames whose frame i is filled with i; ``decoded`` logs the reads."""

    def stream(indices):
        for i in sorted(set(indices)):
            if i < length:
                decoded.append(i)
                yield i, np.full((2, 2, 3), i % 256, dtype=np.uint8)

    return SimpleNamespace(stream=stream)


def test_windows_come_when_complete_and_frames_are_let_go():
    settings = SampleSettings(mode="frames", frame_step=2)
    rng = np.random.default_rng(0)
    windows = {}
    for job in range(60):
        n = int(rng.choice([5, 7, 9]))
        windows[job] = (int(rng.integers(0, 400 - 2 * (n - 1))), n)
    decoded: list[int] = []
    seen, ends, live_sizes = set(), [], []
    for job, frames in _decoded_windows(_fake_clip(400, decoded), windows, settings, _Problems()):
        wanted = window_frames(*windows[job], settings)
        for i in wanted:
            assert frames[i][0, 0, 0] == i % 256
        seen.add(job)
        ends.append(wanted[-1])
        live_sizes.append(len(frames))
    assert seen == set(windows)
    assert ends == sorted(ends), "each window comes as soon as its last frame is decoded"
    assert decoded == sorted(set(decoded)), "every frame is decoded once, front to back"
    needed = {i for start, n in windows.values() for i in window_frames(start, n, settings)}
    assert set(decoded) == needed
    # Only frames of windows that overlap the newest one are held, not the whole clip.
    longest = max(len(window_frames(0, n, settings)) for n in (5, 7, 9))
    assert max(live_sizes) <= 2 * longest < len(needed) // 4


def test_windows_past_the_end_of_the_clip_come_last_without_their_missing_frames():
    settings = SampleSettings(mode="frames")
    windows = {0: (8, 5), 1: (0, 5), 2: (2, 5)}
    problems = _Problems()
    out = [
        (job, sorted(frames))
        for job, frames in _decoded_windows(_fake_clip(10, []), windows, settings, problems)
    ]
    assert [job for job, _ in out] == [1, 2, 0]
    assert out[-1][1][-2:] == [8, 9] and 12 not in out[-1][1]
    assert problems.lines() == []
