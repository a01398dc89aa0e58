"""Writing files: atomic, with the usual permissions, nothing left behind on any exception, and
write errors as one line naming the file.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from facedeblur.errors import FaceDeblurError, InputError, UsageError
from facedeblur.io import atomic_output, atomic_write_text, write_gif, write_image, write_mp4

FRAMES = [np.full((12, 10, 3), v, dtype=np.float32) for v in (0.2, 0.8)]
WRITERS = {
    "png": lambda p: write_image(p, FRAMES[0]),
    "jpg": lambda p: write_image(p, FRAMES[0]),
    "txt": lambda p: atomic_write_text(p, "text"),
    "gif": lambda p: write_gif(p, FRAMES),
    "mp4": lambda p: write_mp4(p, FRAMES),
}


@pytest.fixture()
def umask():
    """Set the process umask for one test (restored afterwards)."""
    before = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(before)


@pytest.mark.parametrize("kind", sorted(WRITERS))
@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_get_the_mode_the_umask_gives(tmp_path, umask, kind, mask, mode):
    umask(mask)
    path = WRITERS[kind](tmp_path / f"out.{kind}")
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert os.listdir(tmp_path) == [f"out.{kind}"]


def test_ctrl_c_during_a_write_leaves_no_temporary_file(tmp_path):
    (tmp_path / "a.png").write_bytes(b"before")
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(tmp_path / "a.png") as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == ["a.png"]
    assert (tmp_path / "a.png").read_bytes() == b"before"


def test_ctrl_c_at_the_rename_leaves_no_temporary_file(tmp_path, monkeypatch):
    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_image(tmp_path / "a.png", FRAMES[0])
    assert os.listdir(tmp_path) == []


def test_a_failure_while_writing_a_video_leaves_no_temporary_file(tmp_path):
    with pytest.raises(FaceDeblurError, match=r"clip\.mp4: frame 1 is 2x2"):
        write_mp4(tmp_path / "clip.mp4", [FRAMES[0], np.zeros((2, 2, 3))])
    assert os.listdir(tmp_path) == []


def test_full_disk_is_one_line_naming_the_file(tmp_path, monkeypatch):
    def full(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(FaceDeblurError) as caught:
        write_image(tmp_path / "out" / "a.png", FRAMES[0])
    assert (
        str(caught.value) == f"{tmp_path / 'out' / 'a.png'}: cannot write (No space left on device)"
    )
    assert os.listdir(tmp_path / "out") == []


def test_output_that_is_a_folder_is_one_line(tmp_path):
    (tmp_path / "a.png").mkdir()
    with pytest.raises(InputError, match=r"a\.png: cannot write \(Is a directory\)"):
        write_image(tmp_path / "a.png", FRAMES[0])
    assert os.listdir(tmp_path) == ["a.png"] and (tmp_path / "a.png").is_dir()


def test_output_inside_a_file_is_one_line(tmp_path):
    (tmp_path / "out").write_bytes(b"a file")
    with pytest.raises(InputError, match=r"a\.png: cannot write \(.*out is a file, not a folder"):
        write_image(tmp_path / "out" / "a.png", FRAMES[0])
    assert (tmp_path / "out").read_bytes() == b"a file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_one_line(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    with pytest.raises(InputError, match=r"a\.png: cannot write \(Permission denied\)"):
        write_image(folder / "a.png", FRAMES[0])


@pytest.mark.parametrize("writer", [write_gif, write_mp4])
@pytest.mark.parametrize("fps", [float("inf"), float("nan"), 0.0, -8.0, 1e6])
def test_video_frame_rate_is_bounded(tmp_path, writer, fps):
    with pytest.raises(UsageError, match="fps must be a finite number"):
        writer(tmp_path / "clip", FRAMES, fps=fps)
    assert os.listdir(tmp_path) == []
