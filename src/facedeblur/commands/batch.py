"""The batch runner of the file commands.

Plan unique outputs, never overwrite inputs, go on past bad files and failed writes, and leave
finished outputs as they are when asked (resume).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import FaceDeblurError, InputError, UsageError, check_number
from ..io import (
    IMAGE_EXTENSIONS,
    ImageConversionWarning,
    ImageData,
    is_image_file,
    list_images,
    read_image,
    read_image_data,
    write_image,
)

log = logging.getLogger(__name__)

PNG_OR_JPEG = (".jpg", ".jpeg", ".png")
MAX_MARGIN = 4.0
MAX_MIN_FACE = 4096


@dataclass
class BatchReport:
    """Outputs written, outputs left as they were, one line per input not done, and notes.

    ``existing`` holds the outputs that were already there under ``skip_existing``; they count
    as done. Notes are e.g. faces left out.
    """

    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    existing: list[Path] = field(default_factory=list)

    @property
    def done(self) -> int:
        """How many inputs have their outputs now: written by this run or already there."""
        return len(self.written) + len(self.existing)


def check_face_options(margin: float, min_face: int) -> None:
    """Refuse a face margin outside [0, 4] or a smallest face outside [1, 4096] px (UsageError)."""
    check_number("--margin", margin, 0.0, MAX_MARGIN)
    check_number("--min-face", min_face, 1, MAX_MIN_FACE)


def check_inputs(inputs: list[Path]) -> None:
    """Raise ``InputError`` for the first input that does not exist."""
    missing = [p for p in inputs if not p.exists()]
    if missing:
        raise InputError(missing[0], "no such file or folder")


def check_output_folder(out: Path) -> None:
    """Raise ``UsageError`` when ``out``, which must be a folder, is an existing file."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file, not a folder; -o must name a folder here")


def plan_outputs(inputs: list[Path], out: Path) -> list[tuple[Path, Path]]:
    """(input, output image) pairs: one file to the file ``out``, or all into the ``out`` folder.

    A file input ``x.jpg`` goes to ``out/x.jpg``; a folder input keeps its name and inner layout
    under ``out``. JPEG stays JPEG and every other format becomes PNG. Outputs that would share
    a name are told apart as ``unique_outputs`` says.

    Raises:
        InputError: an input that does not exist, or a folder without images.
        UsageError: one output file named with a format other than PNG or JPEG; an ``out`` that
            is a folder where a file is meant, or a file where a folder is meant; two inputs
            whose outputs cannot be told apart.
    """
    check_inputs(inputs)
    if len(inputs) == 1 and inputs[0].is_file() and out.suffix.lower() in IMAGE_EXTENSIONS:
        if out.suffix.lower() not in PNG_OR_JPEG:
            raise UsageError(
                f"{out}: only PNG and JPEG files are written; name the output .png or .jpg"
            )
        if out.is_dir():
            raise UsageError(f"{out} is a folder; for one input image -o names the output file")
        return [(inputs[0], out)]
    check_output_folder(out)
    return unique_outputs(list_inputs(inputs), out, _png_or_jpeg)


def _png_or_jpeg(rel: Path) -> Path:
    return rel if rel.suffix.lower() in PNG_OR_JPEG else rel.with_suffix(".png")


def list_inputs(inputs: list[Path]) -> list[tuple[Path, Path, Path]]:
    """(image, the input it came from, its path under the output folder) for every image.

    A file input ``x.jpg`` gives ``x.jpg``; a folder input ``photos`` gives ``photos/<inner
    path>`` for each image inside it.

    Raises:
        InputError: a folder without images.
    """
    entries = []
    for item in inputs:
        if not item.is_dir():
            entries.append((item, item, Path(item.name)))
            continue
        files = list_images(item)
        if not files:
            raise InputError(item, "no images found")
        entries += [(f, item, Path(item.name) / f.relative_to(item)) for f in files]
    return entries


def unique_outputs(
    entries: list[tuple[Path, Path, Path]], out: Path, name: Callable[[Path], Path]
) -> list[tuple[Path, Path]]:
    """(image, ``out / name(path)``) pairs from ``list_inputs`` entries, all outputs different.

    An image given twice (a file and its folder, say) is done once. Images that would share an
    output and differ in extension get it in their names (``a.webp``, ``a.png`` -> ``a_webp.png``,
    ``a_png.png``); those that still share one go under the name of their input's parent folder
    (``A/x.jpg``, ``B/x.jpg`` -> ``out/A/x.jpg``, ``out/B/x.jpg``).

    Raises:
        UsageError: two images whose outputs these rules cannot tell apart.
    """
    once: dict[Path, tuple[Path, Path, Path]] = {}
    for entry in entries:
        once.setdefault(entry[0].resolve(), entry)
    entries = list(once.values())
    rels = [name(rel) for _, _, rel in entries]
    for group in _clashes(rels):
        if len({entries[i][0].suffix.lower() for i in group}) > 1:
            for i in group:
                ext = entries[i][0].suffix[1:].lower()
                rels[i] = rels[i].with_name(f"{rels[i].stem}_{ext}{rels[i].suffix}")
    for group in _clashes(rels):
        for i in group:
            rels[i] = Path(entries[i][1].resolve().parent.name) / rels[i]
    for first, second, *_ in _clashes(rels):
        raise UsageError(
            f"{entries[first][0]} and {entries[second][0]} would both be written to "
            f"{out / rels[first]}; rename one or run them separately"
        )
    return [(src, out / rel) for (src, _, _), rel in zip(entries, rels)]


def _clashes(rels: list[Path]) -> list[list[int]]:
    """The groups of indices (two or more) of equal paths."""
    groups: dict[Path, list[int]] = {}
    for i, rel in enumerate(rels):
        groups.setdefault(rel, []).append(i)
    return [group for group in groups.values() if len(group) > 1]


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


def read_input_data(src: Path) -> ImageData:
    """An input image of a batch with its alpha channel and bit depth (``io.read_image_data``).

    Raises:
        InputError: not an image file, or one that cannot be decoded.
    """
    if not is_image_file(src):
        raise InputError(src, "not an image file")
    return read_image_data(src)


def write_all(images: list[tuple[Path, np.ndarray | ImageData]]) -> list[Path]:
    """Write each (path, float RGB image in [0, 1] or ``ImageData``) in order, or none of them.

    When one write fails (or is interrupted), the files already written by this call are
    removed and the error is raised.
    """
    written: list[Path] = []
    try:
        for path, image in images:
            written.append(write_image(path, image))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written


def run_batch(
    pairs: list[tuple[Path, Path]],
    work: Callable[[Path, Path], None],
    report: BatchReport,
    desc: str,
    progress: bool = True,
    outputs: Callable[[Path], Iterable[Path]] = lambda dst: [dst],
    raise_single: bool = False,
    skip_existing: bool = False,
) -> BatchReport:
    """Call ``work(input, output)`` for every pair with a progress bar.

    A bad input or a failed write never stops the batch.

    ``outputs(dst)`` lists the files ``work`` writes for ``dst``, the one written last at the
    end. Before each call, an output that would overwrite an input of the batch is refused;
    with ``skip_existing``, a pair whose last output exists already is left as it is and goes
    to ``report.existing`` (so a killed batch restarts where it stopped). A ``FaceDeblurError``
    or ``OSError`` from ``work`` goes to ``report.skipped`` as one line, the files of
    ``outputs(dst)`` that the call created are removed, and the batch goes on; with
    ``raise_single`` a batch of one input raises it instead. ``report.written`` receives each
    output that ``work`` finished. Each input's time is logged at INFO level (``-v``).
    """
    sources = input_paths(pairs)
    for src, dst in tqdm(pairs, desc=desc, unit="image", disable=not progress):
        planned = list(outputs(dst))
        if skip_existing and planned[-1].is_file():
            report.existing.append(dst)
            continue
        try:
            clash = [p for p in planned if p.resolve() in sources]
            if clash:
                raise InputError(clash[0], "output would overwrite an input; choose another -o")
            start = time.perf_counter()
            _work_or_undo(src, dst, work, planned)
            log.info("%s -> %s: %.2f s", src, dst, time.perf_counter() - start)
            report.written.append(dst)
        except FaceDeblurError as exc:
            if raise_single and len(pairs) == 1:
                raise
            report.skipped.append(str(exc) if isinstance(exc, InputError) else f"{src}: {exc}")
    return report


def _work_or_undo(
    src: Path, dst: Path, work: Callable[[Path, Path], None], planned: list[Path]
) -> None:
    """``work(src, dst)``; if it fails, remove the planned files it created.

    An ``OSError`` becomes an ``InputError`` naming ``dst``.
    """
    try:
        before = {p for p in planned if p.exists()}
        try:
            work(src, dst)
        except BaseException:
            for path in planned:
                if path not in before:
                    path.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise InputError(dst, f"cannot write ({exc.strerror or exc})") from None


def input_paths(pairs: list[tuple[Path, Path]]) -> set[Path]:
    """The resolved input paths of a batch, which no output may overwrite."""
    return {src.resolve() for src, _ in pairs}
