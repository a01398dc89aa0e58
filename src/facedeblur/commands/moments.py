"""``facedeblur moments``: every sharp moment of blurry faces, as frames, a GIF, an MP4, a strip.

For each input image the output folder receives ``moment_00.png`` ... (one per control factor u,
in u order), ``moments.gif`` and ``moments.mp4`` (the moments played in order and, by default,
back again), ``strip.png`` (blurry | moments, captioned with u) and ``moments.json`` (u per file).
One input file writes into ``-o`` itself; several inputs or folders write one sub-folder per image.

A video file (``restore.video_moments``) gives, by default, the whole clip in slow motion:
``moments.mp4`` (H.264) holds every frame's moments in u order, played at the clip's frame rate
(or ``--fps``), so it runs N times slower; ``moments.json`` records the source, u, the frame
count and the rate. The audio cannot follow the new timing and is left out. With ``time``
(``--time SECONDS``), the frame shown then gets the image layout above, and ``moments.json``
also names the frame and its time. Faces are tracked through the clip in both cases.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import NoFaceError, check_number
from ..faces.pasteback import DEFAULT_MARGIN
from ..faces.registry import build_detector
from ..io import atomic_write_text, is_video_file, write_image
from ..io.outputs import check_output
from ..io.sheets import contact_sheet
from ..io.video import MAX_FPS, write_gif, write_mp4
from ..restore.faces import DEFAULT_MIN_FACE
from ..restore.moments import (
    MomentRestorer,
    load_moments_model,
    moment_factors,
    restore_face_moments,
)
from ..restore.video_moments import frame_moments, moments_video
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
# Playback rate of the moments of one image or frame (a clip plays at its own rate).
IMAGE_FPS = 8.0


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
    source: dict | None = None,
) -> list[Path]:
    """Write restored moments into ``folder``; returns the files.

    The layout is in the module docstring; ``source`` (e.g. the clip and frame the moments come
    from) is added to ``moments.json``.
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
    listing = {**(source or {}), "u": u, "files": [p.name for p in written[: len(frames)]]}
    written.append(atomic_write_text(folder / "moments.json", json.dumps(listing, indent=2) + "\n"))
    return written


def _clip_moments(
    src: Path,
    folder: Path,
    restorer: MomentRestorer,
    factors: list[float],
    detect,
    margin: float,
    min_face: int,
    fps: float | None,
    time: float | None,
    bounce: bool = True,
    progress: bool = False,
) -> None:
    """The moments of a clip into ``folder`` (module docstring): the whole clip or one frame.

    ``detect`` is a detector, or None to restore whole frames.
    """
    faces = detect is not None
    if time is not None:
        found = frame_moments(
            src, time, restorer, factors, faces, detect, margin=margin, min_face=min_face
        )
        source = {"source": str(src), "frame": found.index, "time": round(found.seconds, 4)}
        write_moments(
            folder, found.frame, found.moments, factors, fps or IMAGE_FPS, bounce, source=source
        )
        return
    result = moments_video(
        src,
        folder / "moments.mp4",
        restorer,
        factors,
        faces,
        detect,
        margin=margin,
        min_face=min_face,
        fps=fps,
        progress=progress,
    )
    listing = {
        "source": str(src),
        "u": result.u,
        "frames": result.frames,
        "moments_per_frame": len(result.u),
        "fps": float(result.frame_rate),
        "files": ["moments.mp4"],
    }
    atomic_write_text(folder / "moments.json", json.dumps(listing, indent=2) + "\n")


def moments_files(
    inputs: list[str | Path],
    out: str | Path,
    n: int = 7,
    u: list[float] | None = None,
    model: str | Path | None = None,
    device: str = "auto",
    faces: bool = False,
    detector: str = "mtcnn",
    margin: float = DEFAULT_MARGIN,
    min_face: int = DEFAULT_MIN_FACE,
    fps: float | None = None,
    bounce: bool = True,
    gif: bool = True,
    mp4: bool = True,
    progress: bool = True,
    skip_existing: bool = False,
    overwrite: bool = False,
    time: float | None = None,
    flip_ensemble: bool = False,
) -> BatchReport:
    """Restore the moments of every image of ``inputs`` (files or folders) into ``out``.

    ``n`` moments at u = 0 .. 1, or the given ``u`` values. With ``faces`` each detected face
    of a photo is restored and pasted back for every moment; a photo without a usable face is
    reported and nothing is written for it. Inputs are never overwritten; a bad file is reported
    in ``BatchReport.skipped`` (``written`` holds the output folders) and the batch goes on.
    ``out`` follows ``io.outputs.check_output`` (not empty: refused unless ``overwrite`` or
    ``skip_existing``). With ``skip_existing`` a folder that holds ``moments.json`` (written
    last) is left as it is (``BatchReport.existing``). ``fps`` is in (0, 120], ``margin``
    0 .. 4, ``min_face`` 1 .. 4096 px.

    A video file gives its moments as the module docstring says: the whole clip in slow
    motion, or with ``time`` (seconds) the frame shown then. ``fps`` is the playback rate
    (default ``IMAGE_FPS`` for an image or a frame, the clip's own rate for a whole clip). A
    single video that fails raises its error instead of being reported. ``flip_ensemble``
    averages each moment with the mirror image's (``restore.moments.run_moments``).
    """
    inputs, out = [Path(p) for p in inputs], Path(out)
    factors = moment_factors(n, u)
    if fps is not None:
        check_number("--fps", fps, 0.0, MAX_FPS, low_open=True)
    check_face_options(margin, min_face)
    pairs = _plan(inputs, out)
    check_output(out, inputs, overwrite=overwrite, keep=skip_existing)
    detect = build_detector(detector) if faces else None
    restorer = load_moments_model(model, device=device, flip_ensemble=flip_ensemble)

    def restore_one(src: Path, folder: Path) -> None:
        if is_video_file(src):
            options = (detect, margin, min_face, fps, time, bounce, progress)
            _clip_moments(src, folder, restorer, factors, *options)
            return
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
        rate = fps or IMAGE_FPS
        write_moments(folder, image, frames, factors, fps=rate, bounce=bounce, gif=gif, mp4=mp4)

    def outputs(folder: Path) -> list[Path]:
        return [folder / name for name in output_names(len(factors))]

    return run_batch(
        pairs,
        restore_one,
        BatchReport(),
        "moments",
        progress,
        outputs=outputs,
        # One video alone fails on one line, as in deblur and obfuscate.
        raise_single=is_video_file(pairs[0][0]),
        skip_existing=skip_existing,
    )
