"""The batch runner of the file commands.

Plan outputs, never overwrite inputs, go on past bad files.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import FaceDeblurError, InputError, UsageError
from ..io import IMAGE_EXTENSIONS, ImageConversionWarning, is_image_file, list_images, read_image


@dataclass
class BatchReport:
    """Outputs written, one line per input that could not be done, and notes.

    Notes are e.g. faces left out.
    """

    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def plan_outputs(inputs: list[Path], out: Path) -> list[tuple[Path, Path]]:
    """(input, output image) pairs: one file to the file ``out``, or all into the ``out`` folder.

    A folder input keeps its name and inner layout under ``out``; JPEG stays JPEG and every
    other format becomes PNG.

    Raises:
        InputError: an input that does not exist, or a folder without images.
        UsageError: one output file named with a format other than PNG or JPEG.
    """
    missing = [p for p in inputs if not p.exists()]
    if missing:
        raise InputError(missing[0], "no such file or folder")
    if len(inputs) == 1 and inputs[0].is_file() and out.suffix.lower() in IMAGE_EXTENSIONS:
        if out.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            raise UsageError(
                f"{out}: only PNG and JPEG files are written; name the output .png or .jpg"
            )
        return [(inputs[0], out)]
    pairs = []
    for item in inputs:
        if item.is_dir():
            files = list_images(item)
            if not files:
                raise InputError(item, "no images found")
            pairs += [(f, out / item.name / f.relative_to(item)) for f in files]
        else:
            pairs.append((item, out / item.name))
    return [
        (src, dst if dst.suffix.lower() in (".jpg", ".jpeg", ".png") else dst.with_suffix(".png"))
        for src, dst in pairs
    ]


def read_input(src: Path) -> np.ndarray:
    """An input image of a batch as float32 RGB, without warnings about converted formats.

    Raises:
        InputError: not an image file, or one that cannot be decoded.
    """
    if not is_image_file(src):
        raise InputError(src, "not an image file")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImageConversionWarning)
        return read_image(src)


def run_batch(
    pairs: list[tuple[Path, Path]],
    work: Callable[[Path, Path], None],
    report: BatchReport,
    desc: str,
    progress: bool = True,
    outputs: Callable[[Path], Iterable[Path]] = lambda dst: [dst],
    raise_single: bool = False,
) -> BatchReport:
    """Call ``work(input, output)`` for every pair with a progress bar.

    A bad input never stops the batch.

    Before each call, an output that would overwrite an input of the batch (``outputs(dst)``
    lists what ``work`` writes for ``dst``) is refused. A ``FaceDeblurError`` from ``work`` goes
    to ``report.skipped`` and the batch goes on; with ``raise_single`` a batch of one input
    raises it instead. ``report.written`` receives each output that ``work`` finished.
    """
    sources = input_paths(pairs)
    for src, dst in tqdm(pairs, desc=desc, unit="image", disable=not progress):
        try:
            clash = [p for p in outputs(dst) if p.resolve() in sources]
            if clash:
                raise InputError(clash[0], "output would overwrite an input; choose another -o")
            work(src, dst)
            report.written.append(dst)
        except FaceDeblurError as exc:
            if raise_single and len(pairs) == 1:
                raise
            report.skipped.append(str(exc))
    return report


def input_paths(pairs: list[tuple[Path, Path]]) -> set[Path]:
    """The resolved input paths of a batch, which no output may overwrite."""
    return {src.resolve() for src, _ in pairs}
