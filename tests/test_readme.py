"""The documentation runs as written: README's quick start, the Python snippets of README and
docs/python.md, and the script that makes the shipped example photo.

The quick start's ``facedeblur`` lines run in a fresh folder holding a copy of ``examples/``;
its venv, pip and make lines are left to CI, which runs exactly those. A line of any other
kind fails the test, so the quick start cannot grow a step nobody checks.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
PYTHON_DOC = REPO / "docs" / "python.md"
EXAMPLES = REPO / "examples"
# What CI runs itself (.ci/run, the Makefile): the quick start's set-up lines.
SET_UP_COMMANDS = {"python", "python3", "source", ".", "pip", "make"}
OUTPUT_OPTIONS = {"-o", "--out", "--save-crops"}

pytestmark = pytest.mark.slow


def fenced_blocks(markdown: str, language: str) -> list[str]:
    """The bodies of the fenced code blocks of ``language``, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", markdown, flags=re.S | re.M)


def quick_start_block(markdown: str) -> str:
    """The first shell block under the ``## Quick start`` heading."""
    match = re.search(r"^## Quick start\n(.*?)(?=^## )", markdown, flags=re.S | re.M)
    assert match, "README.md has no '## Quick start' section"
    blocks = fenced_blocks(match.group(1), "sh")
    assert blocks, "README.md's quick start has no ```sh block"
    return blocks[0]


def shell_lines(block: str) -> list[str]:
    """The block's lines, with backslash continuations joined."""
    return block.replace("\\\n", " ").splitlines()


def output_paths(args: list[str]) -> list[str]:
    """The values of the options that name what a command writes."""
    return [value for option, value in zip(args, args[1:]) if option in OUTPUT_OPTIONS]


def holds_output(path: Path) -> bool:
    """A non-empty file, or a folder with at least one non-empty file below it."""
    if path.is_file():
        return path.stat().st_size > 0
    return path.is_dir() and any(p.is_file() and p.stat().st_size > 0 for p in path.rglob("*"))


def workspace(tmp_path: Path) -> Path:
    """A fresh folder holding a copy of the repository's ``examples/``."""
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    return tmp_path


def run(command: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_quick_start_runs_as_written(tmp_path):
    cwd = workspace(tmp_path)
    commands, looked_at = [], []
    for line in shell_lines(quick_start_block(README.read_text())):
        args = shlex.split(line, comments=True)
        if not args:
            looked_at += re.findall(r"[\w./-]+\.(?:jpg|png|gif|mp4)", line)
            continue
        if args[0] in SET_UP_COMMANDS:
            continue
        assert args[0] == "facedeblur", f"quick start line not checked by this test: {line}"
        commands.append(args)
    assert commands, "README.md's quick start runs no facedeblur command"

    for args in commands:
        done = run([sys.executable, "-m", "facedeblur", *args[1:]], cwd)
        assert done.returncode == 0, f"{shlex.join(args)} exited {done.returncode}:\n{done.stderr}"
        outputs = output_paths(args)
        assert outputs, f"{shlex.join(args)}: names no output to check"
        for out in outputs:
            assert holds_output(cwd / out), f"{shlex.join(args)} wrote nothing to {out}"
    for path in looked_at:
        assert (cwd / path).is_file(), f"the quick start points at {path}, which no command wrote"


@pytest.mark.parametrize("doc", [README, PYTHON_DOC], ids=lambda p: p.name)
def test_python_snippets_run_as_written(doc, tmp_path):
    blocks = fenced_blocks(doc.read_text(), "python")
    assert blocks, f"{doc.name} has no Python snippet"
    script = tmp_path / "snippets.py"
    script.write_text("\n".join(blocks))
    done = run([sys.executable, str(script)], workspace(tmp_path / "work"))
    assert done.returncode == 0, f"{doc.name}'s snippets failed:\n{done.stderr[-4000:]}"


def test_example_photo_is_rebuilt_by_its_script():
    done = run([sys.executable, str(EXAMPLES / "make_examples.py"), "--check"], REPO)
    assert done.returncode == 0, done.stdout + done.stderr
