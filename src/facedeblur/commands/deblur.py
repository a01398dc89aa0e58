"""``facedeblur deblur``: restore image files and folders with a trained model, as a batch."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError, NoFaceError, UsageError, check_number
from ..faces.pasteback import DEFAULT_MARGIN
from ..faces.registry import build_detector
from ..io import write_image
from ..io.sheets import contact_sheet
from ..restore.faces import DEFAULT_MIN_FACE, FaceRestoreResult, restore_faces
from ..restore.loading import load_model
from .batch import (
    BatchReport,
    check_face_options,
    input_paths,
    plan_outputs,
    read_input,
    run_batch,
    write_all,
)

MIN_TILE, MAX_TILE = 64, 8192
MAX_THREADS = 256


def _crops_folder(save_crops: Path, dst: Path, out: Path) -> Path:
    """Where the face crops of the image written to ``dst`` go.

    The folder is its path under ``out``, suffix as ``_jpg``.
    """
    rel = dst.relative_to(out) if dst != out and dst.is_relative_to(out) else Path(dst.name)
    return save_crops / rel.with_name(rel.name.replace(".", "_"))


def _face_crops(
    folder: Path, result: FaceRestoreResult, sources: set[Path]
) -> list[tuple[Path, object]]:
    """(path, picture) of faceN_before.png, faceN_after.png, faceN_side_by_side.png per face.

    One set per restored face.
    """
    planned = []
    for number, face in enumerate(result.faces, start=1):
        if face.before is None:
            continue
        side = face.crop_box[2]
        pictures = {
            "before": face.before,
            "after": face.after,
            "side_by_side": contact_sheet(
                [[face.before, face.after]], ["before", "after"], cell=min(max(side, 128), 512)
            ),
        }
        for kind, picture in pictures.items():
            path = folder / f"face{number}_{kind}.png"
            if path.resolve() in sources:
                raise InputError(
                    path, "face crop would overwrite an input; choose another --save-crops"
                )
            planned.append((path, picture))
    return planned


def _faces_restored(
    src: Path, result: FaceRestoreResult, min_face: int, report: BatchReport
) -> None:
    """Raise when a photo had no face to restore; note the faces left out of one that had."""
    if result.problem:
        raise NoFaceError(
            src, f"{result.problem}; nothing written (without --faces the whole image is restored)"
        )
    if result.skipped:
        report.notes.append(
            f"{src}: left {len(result.skipped)} of {len(result.faces)} faces as they were "
            f"(smaller than --min-face {min_face} px)"
        )


def deblur_files(
    inputs: list[str | Path],
    out: str | Path,
    model: str | Path | None,
    device: str = "cpu",
    tile: int = 512,
    progress: bool = True,
    faces: bool = False,
    detector: str = "mtcnn",
    margin: float = DEFAULT_MARGIN,
    min_face: int = DEFAULT_MIN_FACE,
    save_crops: str | Path | None = None,
    backend: str = "torch",
    threads: int | None = None,
    skip_existing: bool = False,
) -> BatchReport:
    """Restore every image of ``inputs`` (files or folders) into ``out``.

    Inputs are never overwritten. Outputs are planned by ``batch.plan_outputs`` (names made
    unique); with ``skip_existing`` an output that exists already is left as it is
    (``BatchReport.existing``). ``tile`` is 0 (whole image) or 64 .. 8192 px, ``threads``
    1 .. 256, ``margin`` 0 .. 4, ``min_face`` 1 .. 4096 px.

    With ``faces``, only the detected faces of each photo are restored and pasted back
    (``restore.faces.restore_faces``); a photo without a usable face is reported and nothing is
    written for it. ``save_crops`` (with ``faces``) is a folder that receives, per photo, each
    face's crop before and after restoration and the two side by side. ``backend`` and
    ``threads`` go to ``restore.load_model``.
    """
    inputs, out = [Path(p) for p in inputs], Path(out)
    if save_crops is not None and not faces:
        raise UsageError(
            "--save-crops needs --faces (face crops exist only when faces are restored)"
        )
    check_face_options(margin, min_face)
    if tile:
        check_number("--tile", tile, MIN_TILE, MAX_TILE)
    if threads is not None:
        check_number("--threads", threads, 1, MAX_THREADS)
    pairs = plan_outputs(inputs, out)
    sources = input_paths(pairs)
    # The detector first: a wrong name is reported before a model is loaded (or exported to ONNX).
    detect = build_detector(detector) if faces else None
    deblurrer = load_model(model, device=device, tile=tile, backend=backend, threads=threads)
    report = BatchReport()

    def restore_one(src: Path, dst: Path) -> None:
        image = read_input(src)
        if not faces:
            write_image(dst, deblurrer.deblur(image))
            return
        result = restore_faces(image, deblurrer, detect, margin=margin, min_face=min_face)
        _faces_restored(src, result, min_face, report)
        crops = (
            _face_crops(_crops_folder(Path(save_crops), dst, out), result, sources)
            if save_crops
            else []
        )
        write_all([*crops, (dst, result.image)])

    return run_batch(pairs, restore_one, report, "deblur", progress, skip_existing=skip_existing)
