"""``facedeblur deblur``: restore image files, folders and videos with a trained model, as a batch.

Videos are restored frame by frame with tracked faces (``restore.video.deblur_video``) into H.264
MP4s (``commands.video`` says where each goes).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError, NoFaceError, UsageError, check_number
from ..faces.pasteback import DEFAULT_MARGIN
from ..faces.registry import build_detector
from ..io import write_image
from ..io.outputs import check_output
from ..io.sheets import contact_sheet
from ..models.runtime import MAX_THREADS
from ..restore.faces import DEFAULT_MIN_FACE, FaceRestoreResult, restore_faces
from ..restore.loading import load_model
from ..restore.memory import (
    DEFAULT_MEMORY_BUDGET,
    check_memory,
    check_memory_budget,
    network_pixel_budget,
    whole_image_peak,
)
from ..restore.video import VideoResult, deblur_video
from .batch import (
    BatchReport,
    check_face_options,
    input_paths,
    plan_outputs,
    read_input_data,
    run_batch,
    write_all,
)
from .video import check_mixed_output, frames_note, plan_videos, split_videos

MIN_TILE, MAX_TILE = 64, 8192


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


def _video_note(src: Path, result: VideoResult, faces: bool) -> str:
    """The note on a restored video: frames, tracks, faces restored, audio, speed."""
    if not faces:
        what = "every frame restored whole"
    else:
        big = len(result.tracks) - result.small_tracks
        what = (
            f"{big} face track(s), {result.face_frames} faces restored "
            f"({result.filled} filled in by tracking)"
        )
        if result.small_tracks:
            what += f", {result.small_tracks} track(s) under --min-face left"
    return frames_note(src, result.frames, float(result.frame_rate), what, result.fps, result.audio)


def deblur_files(
    inputs: list[str | Path],
    out: str | Path,
    model: str | Path | None,
    device: str = "auto",
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
    overwrite: bool = False,
    memory_budget: float | None = DEFAULT_MEMORY_BUDGET,
    flip_ensemble: bool = False,
) -> BatchReport:
    """Restore every image and video of ``inputs`` (image or video files, folders) into ``out``.

    Inputs are never overwritten. Outputs are planned by ``batch.plan_outputs`` (names made
    unique); ``out`` follows ``io.outputs.check_output`` (not empty: refused unless
    ``overwrite`` or ``skip_existing``); with ``skip_existing`` an output that exists already
    is left as it is (``BatchReport.existing``). ``tile`` is 0 (whole image) or 64 .. 8192
    px, ``threads`` 1 .. 256, ``margin`` 0 .. 4, ``min_face`` 1 .. 4096 px.

    With ``faces``, only the detected faces of each photo are restored and pasted back
    (``restore.faces.restore_faces``); a photo without a usable face is reported and nothing is
    written for it. ``save_crops`` (with ``faces``) is a folder that receives, per photo, each
    face's crop before and after restoration and the two side by side. ``backend`` and
    ``threads`` go to ``restore.load_model``, and so does ``flip_ensemble`` (each result
    averaged with the mirror image's).

    An image whose estimated peak memory (``restore.memory``) is over ``memory_budget`` GB
    (0.5 .. 1024; None: no limit) is skipped with one line before it is restored; with
    ``faces`` the estimate counts the faces found. The budget also bounds a whole-image
    network call (``tile`` 0).

    A video file becomes an H.264 MP4 with its audio (``restore.video.deblur_video``: faces
    tracked through the clip with ``faces``, whole frames without): the ``out`` file for one
    video named ``.mp4``, else ``out/<name>.mp4``. Each finished video gets a line in
    ``report.notes``; with ``progress`` its frames show on a progress bar. A single video that
    cannot be read raises its ``InputError``; in a larger batch it is skipped.
    """
    inputs, out = [Path(p) for p in inputs], Path(out)
    if save_crops is not None and not faces:
        raise UsageError(
            "--save-crops needs --faces (face crops exist only when faces are restored)"
        )
    videos, images = split_videos(inputs)
    check_mixed_output(videos, images, out)
    if videos and save_crops is not None:
        raise UsageError("--save-crops writes the faces of photos, not of videos")
    check_face_options(margin, min_face)
    if tile:
        check_number("--tile", tile, MIN_TILE, MAX_TILE)
    if threads is not None:
        check_number("--threads", threads, 1, MAX_THREADS)
    if memory_budget is not None:
        check_memory_budget(memory_budget)
    pairs = plan_outputs(images, out) if images else []
    video_pairs = plan_videos(videos, out, alone=len(inputs) == 1) if videos else []
    check_output(out, inputs, overwrite=overwrite, keep=skip_existing)
    sources = input_paths(pairs + video_pairs)
    # The detector first: a wrong name is reported before a model is loaded (or exported to ONNX).
    detect = build_detector(detector) if faces else None
    deblurrer = load_model(
        model,
        device=device,
        tile=tile,
        backend=backend,
        threads=threads,
        flip_ensemble=flip_ensemble,
    )
    if memory_budget is not None:
        deblurrer.max_pixels = network_pixel_budget(memory_budget)
    report = BatchReport()

    def restore_one(src: Path, dst: Path) -> None:
        # The colour is restored; the output keeps the input's alpha channel and 16-bit depth.
        picture = read_input_data(src)
        image = picture.rgb
        if not faces:
            height, width = image.shape[:2]
            needed = whole_image_peak(height, width, tile)
            check_memory(needed, memory_budget, f"a {width}x{height} image")
            write_image(dst, picture.with_rgb(deblurrer.deblur(image)))
            return
        result = restore_faces(
            image,
            deblurrer,
            detect,
            margin=margin,
            min_face=min_face,
            keep_crops=save_crops is not None,
            in_place=True,
            memory_budget=memory_budget,
        )
        _faces_restored(src, result, min_face, report)
        crops = (
            _face_crops(_crops_folder(Path(save_crops), dst, out), result, sources)
            if save_crops
            else []
        )
        write_all([*crops, (dst, picture.with_rgb(result.image))])

    def restore_video(src: Path, dst: Path) -> None:
        result = deblur_video(
            src,
            dst,
            deblurrer,
            faces=faces,
            detector=detect,
            margin=margin,
            min_face=min_face,
            progress=progress,
        )
        report.notes.append(_video_note(src, result, faces))

    if pairs:
        run_batch(pairs, restore_one, report, "deblur", progress, skip_existing=skip_existing)
    if video_pairs:
        run_batch(
            video_pairs,
            restore_video,
            report,
            "deblur",
            progress=False,
            raise_single=len(pairs) + len(video_pairs) == 1,
            skip_existing=skip_existing,
        )
    return report
