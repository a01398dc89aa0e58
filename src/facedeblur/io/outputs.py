"""The output policy of every command: where OUT may be, and when it may hold files already.

- OUT is never an input, never inside an input folder, and never a folder that holds an input.
- An OUT that exists and is not empty (a folder with anything in it, or a file) is refused
  unless ``overwrite`` (replace what an earlier run wrote) or ``keep`` (leave what is there,
  as ``--skip-existing`` does to finish a stopped batch).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..errors import InputError

OVERWRITE_HINT = "pass --overwrite to replace what an earlier run wrote there, or choose a new"


def output_problem(out: Path, inputs: Iterable[Path]) -> str | None:
    """Why ``out`` may not be written next to ``inputs``, or None when it may."""
    out_r = out.resolve()
    for item in inputs:
        item_r = Path(item).resolve()
        if out_r == item_r:
            return "output would overwrite an input; choose another -o"
        if item_r.is_dir() and item_r in out_r.parents:
            return f"is inside the input folder {item}; outputs never go into an input folder"
        if out_r in item_r.parents:
            return f"holds the input {item}; outputs could replace it, choose a separate folder"
    return None


def is_empty(out: Path) -> bool:
    """Whether ``out`` is absent or an empty folder."""
    if not out.exists() and not out.is_symlink():
        return True
    return out.is_dir() and not any(out.iterdir())


def check_output(
    out: str | Path,
    inputs: Iterable[str | Path] = (),
    overwrite: bool = False,
    keep: bool = False,
    keep_option: str = "--skip-existing",
) -> Path:
    """Refuse an output path the policy above does not allow; returns it as a ``Path``.

    Args:
        out: the output folder or file.
        inputs: the files and folders the command reads.
        overwrite: allow an ``out`` that is not empty; the caller replaces what it writes.
        keep: allow an ``out`` that is not empty; the caller leaves finished outputs alone.
        keep_option: the option that sets ``keep``, named in the refusal.

    Raises:
        InputError: naming ``out`` and what is wrong with it.
    """
    out = Path(out)
    problem = output_problem(out, [Path(p) for p in inputs])
    if problem:
        raise InputError(out, problem)
    if overwrite or keep or is_empty(out):
        return out
    if out.is_dir():
        resume = f" ({keep_option} keeps it and finishes a stopped run)" if keep_option else ""
        raise InputError(out, f"folder is not empty; {OVERWRITE_HINT} folder{resume}")
    raise InputError(out, f"exists; {OVERWRITE_HINT} file name")
