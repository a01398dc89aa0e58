"""``facedeblur deblur``: restore image files and folders with a trained model, as a batch."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from .errors import FaceDeblurError, InputError
from .inference import load_model
from .io import IMAGE_EXTENSIONS, ImageConversionWarning, is_image_file, list_images, read_image, write_image


@dataclass
class RestoreReport:
    """Files written and one line per input that could not be restored."""

    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _plan(inputs: list[Path], out: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs: one file to a file, or everything into the ``out`` folder."""
    if len(inputs) == 1 and inputs[0].is_file() and out.suffix.lower() in IMAGE_EXTENSIONS:
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
    # JPEG stays JPEG; every other format is written as lossless PNG.
    return [(src, dst if dst.suffix.lower() in (".jpg", ".jpeg", ".png") else dst.with_suffix(".png")) for src, dst in pairs]


def deblur_files(inputs: list[str | Path], out: str | Path, model: str | Path | None, device: str = "cpu",
                 tile: int = 512, progress: bool = True) -> RestoreReport:
    """Restore every image of ``inputs`` (files or folders) into ``out``; inputs are never overwritten."""
    inputs, out = [Path(p) for p in inputs], Path(out)
    missing = [p for p in inputs if not p.exists()]
    if missing:
        raise InputError(missing[0], "no such file or folder")
    pairs = _plan(inputs, out)
    sources = {p.resolve() for p, _ in pairs}
    deblurrer = load_model(model, device=device, tile=tile)
    report = RestoreReport()
    for src, dst in tqdm(pairs, desc="deblur", unit="image", disable=not progress):
        try:
            if dst.resolve() in sources:
                raise InputError(dst, "output would overwrite an input; choose another -o")
            if not is_image_file(src):
                raise InputError(src, "not an image file")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ImageConversionWarning)
                image = read_image(src)
            write_image(dst, deblurrer.deblur(image))
            report.written.append(dst)
        except (InputError, FaceDeblurError) as exc:
            report.skipped.append(str(exc))
    return report
