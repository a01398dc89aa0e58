"""``facedeblur obfuscate``: hide the faces of image files and folders, as a batch.

Each output image gets a JSON sidecar beside it, ``<output name>.json`` (``a.png`` ->
``a.png.json``): the source, the method and its settings, the number of faces found, hidden and
too small, and per face its box, how it was treated, whether it is hidden, its feather radius
and, for the attribute method, each flipped attribute's value before and after. The sidecar
describes the original faces (boxes, predicted attributes): keep it private, do not publish it
with the image.

An image in which some found face is left visible (too small with ``small_faces="leave"``, or
not changed enough) is still written, with its sidecar, and named in ``report.visible``.

A video file becomes an H.264 MP4 with its audio (``privacy.video.obfuscate_video``: faces
tracked through the clip and hidden in every frame), with a sidecar that has one entry per
face track instead of per face (``commands.video`` says where each clip goes).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..io import atomic_write_text, write_image
from ..io.outputs import check_output
from ..privacy.attribute_model import AttributeObfuscator, load_attribute_obfuscator
from ..privacy.attribute_names import attribute_index
from ..privacy.obfuscate import (
    ATTRIBUTES,
    DEFAULT_SMALL_FACES,
    MIN_FACE,
    ObfuscationResult,
    obfuscate_photo,
    resolve_options,
)
from ..privacy.video import VideoObfuscation, obfuscate_video
from .batch import BatchReport, plan_outputs, read_input, run_batch
from .video import check_mixed_output, frames_note, plan_videos, split_videos


@dataclass
class ObfuscationReport(BatchReport):
    """``BatchReport`` (images written, problems, notes) with the faces of the images written.

    ``found``, ``hidden`` and ``too_small`` count faces over all images; ``visible`` has one
    line per image with faces left visible.
    """

    found: int = 0
    hidden: int = 0
    too_small: int = 0
    visible: list[str] = field(default_factory=list)


def visible_line(src: Path, result: ObfuscationResult) -> str | None:
    """One line naming the faces of ``src`` left visible, or None when every face is hidden."""
    if not result.visible:
        return None
    small = sum(face.too_small for face in result.visible)
    why = []
    if small:
        why.append(f"{small} smaller than {result.min_face} px left as asked")
    if len(result.visible) > small:
        why.append(f"{len(result.visible) - small} changed too little to count as hidden")
    return f"{src}: {len(result.visible)} of {result.found} face(s) left visible ({'; '.join(why)})"


def sidecar_path(image_path: Path) -> Path:
    """Where the JSON record of an output image goes: its name with ``.json`` appended."""
    return image_path.with_name(image_path.name + ".json")


def face_summary(result: ObfuscationResult) -> list[dict]:
    """One JSON-ready dict per face.

    Each holds the box, detector score, treatment (the method, or for a face below ``min_face``
    the small-face method or ``leave``), whether it is too small and hidden, the feather, and
    the flipped attributes' values.
    """
    summary = []
    for face in result.faces:
        entry = {
            "box": [round(v, 1) for v in face.box],
            "score": round(face.score, 3),
            "treatment": face.treatment,
            "too_small": face.too_small,
            "hidden": face.hidden,
            "feather_px": round(face.feather, 2),
        }
        if face.flipped:
            entry["flipped"] = {
                name: {
                    "before": round(float(face.before[attribute_index(name)]), 4),
                    "after": round(float(face.after[attribute_index(name)]), 4),
                }
                for name in face.flipped
            }
        summary.append(entry)
    return summary


def video_visible_line(src: Path, result: VideoObfuscation) -> str | None:
    """One line naming the face tracks of a video left visible in some frame, or None."""
    if not result.visible:
        return None
    frames = sum(record.visible_frames for record in result.visible)
    return (
        f"{src}: {len(result.visible)} of {len(result.tracks)} face track(s) left visible "
        f"in {frames} face-frame(s) (too small with --small-faces leave, or changed too little)"
    )


def obfuscate_files(
    inputs: list[str | Path],
    out: str | Path,
    method: str = ATTRIBUTES,
    attributes: Iterable[str] | None = None,
    allow_protected: bool = False,
    strength: float = 1.0,
    feather: float | None = None,
    seed: int = 0,
    obfuscator: AttributeObfuscator | None = None,
    classifier: str | Path | None = None,
    rebuilder: str | Path | None = None,
    device: str = "auto",
    progress: bool = True,
    min_face: int = MIN_FACE,
    small_faces: str = DEFAULT_SMALL_FACES,
    skip_existing: bool = False,
    overwrite: bool = False,
) -> ObfuscationReport:
    """Hide every face of every image of ``inputs`` (files or folders) into ``out``.

    Inputs are never overwritten. ``out`` is a file for one input image, else a folder
    (``commands.batch.plan_outputs``). The options are ``obfuscate_photo``'s; ``classifier`` and
    ``rebuilder`` are weight files for the attribute method when no ``obfuscator`` is given
    (None: the shipped ones). Options are checked and the networks loaded before any image is
    read. ``out`` follows ``io.outputs.check_output`` (not empty: refused unless ``overwrite``
    or ``skip_existing``). With ``skip_existing`` an image whose sidecar exists already is
    left as it is (``report.existing``).

    A bad file (not an image, corrupt, no face) is reported in ``skipped`` and the batch goes
    on; when the batch is a single image, its error is raised instead. Faces left visible are
    counted and each such image named in ``report.visible`` (``visible_line``).

    A video file is hidden frame by frame with tracked faces into an H.264 MP4 with its audio:
    the ``out`` file for one video named ``.mp4``, else ``out/<name>.mp4``; its sidecar lists
    the face tracks, and its faces count per track in ``found``, ``hidden`` (hidden in every
    frame) and ``too_small``. With ``progress`` its frames show on progress bars.
    """
    inputs, out = [Path(p) for p in inputs], Path(out)
    resolve_options(method, attributes, allow_protected, strength, feather, min_face, small_faces)
    videos, images = split_videos(inputs)
    check_mixed_output(videos, images, out)
    pairs = plan_outputs(images, out) if images else []
    video_pairs = plan_videos(videos, out, alone=len(inputs) == 1) if videos else []
    check_output(out, inputs, overwrite=overwrite, keep=skip_existing)
    if method == ATTRIBUTES and obfuscator is None:
        obfuscator = load_attribute_obfuscator(classifier, rebuilder, device=device)
    settings = {
        "method": method,
        "strength": strength,
        "feather": feather,
        "seed": seed,
        "min_face": min_face,
        "small_faces": small_faces,
    }
    report = ObfuscationReport()

    def hide_one(src: Path, dst: Path) -> None:
        result = obfuscate_photo(
            read_input(src),
            method,
            attributes,
            allow_protected,
            strength,
            feather,
            seed,
            obfuscator,
            label=str(src),
            min_face=min_face,
            small_faces=small_faces,
        )
        write_image(dst, result.image)
        counts = {"found": result.found, "hidden": result.hidden, "too_small": result.too_small}
        record = {"source": str(src), **settings, **counts, "faces": face_summary(result)}
        atomic_write_text(sidecar_path(dst), json.dumps(record, indent=2) + "\n")
        report.found += result.found
        report.hidden += result.hidden
        report.too_small += result.too_small
        line = visible_line(src, result)
        if line:
            report.visible.append(line)

    def hide_video(src: Path, dst: Path) -> None:
        result = obfuscate_video(
            src,
            dst,
            method,
            attributes,
            allow_protected,
            strength,
            feather,
            seed,
            obfuscator,
            device=device,
            min_face=min_face,
            small_faces=small_faces,
            progress=progress,
        )
        small = sum(record.too_small for record in result.tracks)
        hidden = sum(not record.visible_frames for record in result.tracks)
        found = len(result.tracks)
        counts = {"frames": result.frames, "found": found, "hidden": hidden, "too_small": small}
        tracks = [record.summary() for record in result.tracks]
        record = {"source": str(src), **settings, **counts, "tracks": tracks}
        atomic_write_text(sidecar_path(dst), json.dumps(record, indent=2) + "\n")
        report.found += found
        report.hidden += hidden
        report.too_small += small
        what = f"{found} face track(s), {hidden} hidden in every frame"
        fps = float(result.frame_rate)
        report.notes.append(frames_note(src, result.frames, fps, what, result.fps, result.audio))
        line = video_visible_line(src, result)
        if line:
            report.visible.append(line)

    for batch, work, bar in ((pairs, hide_one, progress), (video_pairs, hide_video, False)):
        if batch:
            run_batch(
                batch,
                work,
                report,
                "obfuscate",
                bar,
                outputs=lambda dst: [dst, sidecar_path(dst)],
                raise_single=len(pairs) + len(video_pairs) == 1,
                skip_existing=skip_existing,
            )
    return report
