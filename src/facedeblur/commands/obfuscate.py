"""``facedeblur obfuscate``: hide the faces of image files and folders, as a batch.

Each output image gets a JSON sidecar beside it, ``<output name>.json`` (``a.png`` ->
``a.png.json``): the source, the method and its settings, and per face its box, feather radius
and, for the attribute method, each flipped attribute's value before and after. The sidecar
describes the original faces (boxes, predicted attributes): keep it private, do not publish it
with the image.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..io import atomic_write_text, write_image
from ..privacy.attribute_model import AttributeObfuscator, load_attribute_obfuscator
from ..privacy.attribute_names import attribute_index
from ..privacy.obfuscate import ATTRIBUTES, ObfuscationResult, obfuscate_photo, resolve_options
from .batch import BatchReport, plan_outputs, read_input, run_batch


@dataclass
class ObfuscationReport(BatchReport):
    """``BatchReport`` (images written, problems, notes) with the number of faces hidden."""

    faces: int = 0


def sidecar_path(image_path: Path) -> Path:
    """Where the JSON record of an output image goes: its name with ``.json`` appended."""
    return image_path.with_name(image_path.name + ".json")


def face_summary(result: ObfuscationResult) -> list[dict]:
    """One JSON-ready dict per face.

    Each holds the box, detector score, feather, and the flipped attributes' values.
    """
    summary = []
    for face in result.faces:
        entry = {
            "box": [round(v, 1) for v in face.box],
            "score": round(face.score, 3),
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
    device: str = "cpu",
    progress: bool = True,
) -> ObfuscationReport:
    """Hide every face of every image of ``inputs`` (files or folders) into ``out``.

    Inputs are never overwritten. ``out`` is a file for one input image, else a folder
    (``commands.batch.plan_outputs``). The options are ``obfuscate_photo``'s; ``classifier`` and
    ``rebuilder`` are weight files for the attribute method when no ``obfuscator`` is given
    (None: the shipped ones). Options are checked and the networks loaded before any image is
    read.

    A bad file (not an image, corrupt, no face) is reported in ``skipped`` and the batch goes
    on; when the batch is a single image, its error is raised instead.
    """
    inputs, out = [Path(p) for p in inputs], Path(out)
    resolve_options(method, attributes, allow_protected, strength, feather)
    pairs = plan_outputs(inputs, out)
    if method == ATTRIBUTES and obfuscator is None:
        obfuscator = load_attribute_obfuscator(classifier, rebuilder, device=device)
    settings = {"method": method, "strength": strength, "feather": feather, "seed": seed}
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
        )
        write_image(dst, result.image)
        record = {"source": str(src), **settings, "faces": face_summary(result)}
        atomic_write_text(sidecar_path(dst), json.dumps(record, indent=2) + "\n")
        report.faces += len(result.faces)

    return run_batch(
        pairs,
        hide_one,
        report,
        "obfuscate",
        progress,
        outputs=lambda dst: [dst, sidecar_path(dst)],
        raise_single=True,
    )
