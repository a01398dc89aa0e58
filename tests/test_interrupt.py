"""Ctrl-C: a long command stops at once, exits 130 with one line, and leaves no temporary file
and no changed input. Each test runs the real command in a subprocess and sends it SIGINT once
its work has visibly started."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import tiny_config

BIN = Path(sys.executable).parent
# The promise of docs/errors.md; the commands measured 0.04 to 0.12 s on a busy 2-core machine.
STOP_SECONDS = 1.0
FACE = ("George_W_Bush", "George_W_Bush_0001.jpg")


def _default_sigint() -> None:
    # A terminal's foreground job gets SIGINT at its default. A test run started in the
    # background (`cmd &`, nohup) passes it on ignored, and Python then keeps ignoring Ctrl-C,
    # as a background job should; the command under test must start as a user's would.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt(args: list[str], started: Callable[[], bool]) -> tuple[int, str, float]:
    """Run ``facedeblur ARGS``, send SIGINT once ``started()``; (exit code, stderr, seconds
    from the signal to the exit)."""
    proc = subprocess.Popen(
        [str(BIN / "facedeblur"), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    deadline = time.monotonic() + 180
    while not started():
        if proc.poll() is not None:
            pytest.fail(f"ended before it was interrupted: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the work never started")
        time.sleep(0.05)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("Ctrl-C did not stop the command")
    return proc.returncode, proc.stderr.read(), time.monotonic() - sent


def check_stopped(command: str, code: int, err: str, seconds: float, out: Path) -> None:
    assert code == 130, err
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == f"facedeblur {command}: interrupted", err
    assert seconds < STOP_SECONDS, f"took {seconds:.2f} s to stop"
    leftovers = [p for p in out.rglob("*") if ".tmp" in p.name]
    assert not leftovers, f"temporary files left: {leftovers}"


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*.*")}


@pytest.fixture()
def faces(tmp_path, data_dir) -> Path:
    """A folder of 40 small face photos: a batch that runs for a while."""
    folder = tmp_path / "in"
    folder.mkdir()
    face = Image.open(data_dir / "lfw" / "images" / FACE[0] / FACE[1]).resize((128, 128))
    for i in range(40):
        face.save(folder / f"face_{i:02d}.png")
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("command", ["deblur", "moments"])
def test_ctrl_c_stops_a_batch_at_once_and_leaves_nothing_half_done(command, faces, tmp_path):
    before = digests(faces)
    out = tmp_path / "out"
    extra = ["--frames", "16"] if command == "moments" else []
    code, err, seconds = interrupt(
        [command, str(faces), "-o", str(out), "--quiet", *extra],
        lambda: any(out.rglob("*.png")),
    )
    check_stopped(command, code, err, seconds, out)
    assert digests(faces) == before


@pytest.mark.slow
def test_ctrl_c_stops_synth_and_marks_its_output_unfinished(lfw_tree, tmp_path):
    out = tmp_path / "synth"
    code, err, seconds = interrupt(
        ["synth", str(lfw_tree), "-o", str(out), "--count", "5000", "--size", "64", "--quiet"],
        lambda: any((out / "blur").glob("*.png")),
    )
    check_stopped("synth", code, err, seconds, out)
    marker = json.loads((out / ".facedeblur-synth").read_text())
    assert marker["complete"] is False
    assert not (out / "manifest.jsonl").exists()


@pytest.mark.slow
def test_ctrl_c_stops_training(tmp_path, lfw_tree):
    config = tiny_config(
        tmp_path, lfw_tree, "gan", steps=100_000, ckpt_every=5, val_every=100_000, log_every=1
    )
    run = tmp_path / "run"
    code, err, seconds = interrupt(
        ["train", str(config), "-o", str(run), "--quiet"],
        lambda: (run / "checkpoints" / "last.pt").exists(),
    )
    check_stopped("train", code, err, seconds, run)
