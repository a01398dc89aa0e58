"""``facedeblur moments``: every sharp moment of blurry faces, as frames, a GIF, an MP4, a strip.

For each input image the output folder receives ``moment_00.png`` ... (one per control factor u,
in u order), ``moments.gif`` and ``moments.mp4`` (the moments played in order and, by default,
back again), ``strip.png`` (blurry | moments, captioned with u) and ``moments.json`` (u per file).
One input file writes into ``-o`` itself; several inputs or folders write one sub-folder per image.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import NoFaceError, check_number
from ..faces.pasteback import DEFAULT_MARGIN
from ..faces.registry import build_detector
from ..io import atomic_write_text, write_image
from ..io.sheets import contact_sheet
from ..io.video import MAX_FPS, write_gif, write_mp4
from ..restore.faces import DEFAULT_MIN_FACE
from ..restore.moments import load_moments_model, moment_factors, restore_face_moments
from .batch import (
    BatchReport,
    check_face_options,
    check_inputs,
    check_output_folder,
    list_inputs,
    read_input,
    run_batch,
    unique_outputs,
)

STRIP_CELL = 160


def _plan(inputs: list[Path], out: Path) -> list[tuple[Path, Path]]:
    """(image, output folder) pairs.

    The folder is ``out`` itself for one file, else ``out/<relative path>_<ext>``, told apart
    as ``batch.unique_outputs`` says when two images share one.
    """
    check_inputs(inputs)
    check_output_folder(out)
    if len(inputs) == 1 and inputs[0].is_file():
        return [(inputs[0], out)]
    return unique_outputs(
        list_inputs(inputs), out, lambda rel: rel.with_name(rel.name.replace(".", "_"))
    )


def output_names(count: int) -> list[str]:
    """The names ``write_moments`` may write for ``count`` moments, the one written last last."""
    return [f"moment_{k:02d}.png" for k in range(count)] + [
        "moments.gif",
        "moments.mp4",
        "strip.png",
        "moments.json",
    ]


def write_moments(
    folder: str | Path,
    blurry: np.ndarray,
    frames: list[np.ndarray],
    u: list[float],
    fps: float = 8.0,
    bounce: bool = True,
    gif: bool = True,
    mp4: bool = True,
) -> list[Path]:
    """Write restored moments into ``folder``; returns the files.

    The layout is in the module docstring.
    """
    folder = Path(folder)
    written = [write_image(folder / f"moment_{k:02d}.png", frame) for k, frame in enumerate(frames)]
    if gif and len(frames) > 1:
        written.append(write_gif(folder / "moments.gif", frames, fps, bounce))
    if mp4 and len(frames) > 1:
        written.append(write_mp4(folder / "moments.mp4", frames, fps, bounce))
    captions = [["blurry"] + [f"u={v:.2f}" for v in u]]
    written.append(
        write_image(
            folder / "strip.png",
            contact_sheet([[blurry, *frames]], captions=captions, cell=STRIP_CELL),
        )
    )
    listing = {"u": u, "files": [p.name for p in written[: len(frames)]]}
    written.append(atomic_write_text(folder / "moments.json", json.dumps(listing, indent=2) + "\n"))
    return written


def moments_files(
    inputs: list[str | Path],
    out: str | Path,
    n: int = 7,
    u: list[float] | None = None,
    model: str | Path | None = None,
    device: str = "cpu",
    faces: bool = False,
    detector: str = "mtcnn",
    margin: float = DEFAULT_MARGIN,
    min_face: int = DEFAULT_MIN_FACE,
    fps: float = 8.0,
    bounce: bool = True,
    gif: bool = True,
    mp4: bool = True,
    progress: bool = True,
    skip_existing: bool = False,
) -> BatchReport:
    """Restore the moments of every image of ``inputs`` (files or folders) into ``out``.

    ``n`` moments at u = 0 .. 1, or the given ``u`` values. With ``faces`` each detected face
    of a photo is restored and pasted back for every moment; a photo without a usable face is
    reported and nothing is written for it. Inputs are never overwritten; a bad file is reported
    in ``BatchReport.skipped`` (``written`` holds the output folders) and the batch goes on.
    With ``skip_existing`` a folder that holds ``moments.json`` (written last) is left as it is
    (``BatchReport.existing``). ``fps`` is in (0, 120], ``margin`` 0 .. 4, ``min_face``
    1 .. 4096 px.
    """
    inputs, out = [Path(p) for p in inputs], Path(out)
    factors = moment_factors(n, u)
    check_number("--fps", fps, 0.0, MAX_FPS, low_open=True)
    check_face_options(margin, min_face)
    pairs = _plan(inputs, out)
    detect = build_detector(detector) if faces else None
    restorer = load_moments_model(model, device=device)

    def restore_one(src: Path, folder: Path) -> None:
        image = read_input(src)
        if faces:
            results = restore_face_moments(
                image, restorer, factors, detect, margin=margin, min_face=min_face
            )
            if results[0].problem:
                raise NoFaceError(
                    src,
                    f"{results[0].problem}; nothing written "
                    "(without --faces the whole image is restored)",
                )
            frames = [r.image for r in results]
        else:
            frames = restorer.restore(image, factors)
        write_moments(folder, image, frames, factors, fps=fps, bounce=bounce, gif=gif, mp4=mp4)

    def outputs(folder: Path) -> list[Path]:
        return [folder / name for name in output_names(len(factors))]

    return run_batch(
        pairs,
        restore_one,
        BatchReport(),
        "moments",
        progress,
        outputs=outputs,
        skip_existing=skip_existing,
    )
