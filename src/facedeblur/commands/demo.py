"""``facedeblur demo``: blur a real face photo with the project's synthesis, restore it, measure it.

The photo is scikit-image's astronaut portrait (Eileen Collins, public domain), which the
installed packages carry. Its face is found with MTCNN, the whole photo is blurred with a
camera-shake kernel drawn with a fixed seed at the strength the default model trained on
(L_max 60 px at a 512 px face crop, scaled to this photo's crop), in linear light, with sensor
noise; then the faces are restored with ``restore_faces`` exactly as ``facedeblur deblur
--faces`` does.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..blur.degrade import blur_image
from ..blur.kernels import camera_shake_kernel
from ..blur.pipeline import KernelBlurSettings, add_noise_and_jpeg
from ..errors import FaceDeblurError
from ..faces.dlib_faces import FaceDescriptor
from ..faces.pasteback import crop_with_padding, face_crop_box
from ..faces.registry import build_detector
from ..io import image_to_tensor, read_image, tensor_to_image
from ..io.outputs import check_output
from ..io.sheets import contact_sheet
from ..metrics import psnr
from ..metrics.identity import identity_distances
from ..restore.faces import detect_faces, restore_faces
from ..restore.loading import load_model
from .batch import write_all

DEMO_SEED = 2


def example_face_path() -> Path:
    """Path of scikit-image's astronaut portrait, a bundled example.

    The portrait is of Eileen Collins, public domain.
    """
    path = Path(str(importlib.resources.files("skimage.data") / "astronaut.png"))
    if not path.is_file():
        raise FaceDeblurError(
            f"{path}: scikit-image's example photo is missing; reinstall scikit-image"
        )
    return path


@dataclass
class DemoResult:
    """What the demo wrote and measured on the face crop (PSNR in dB, dlib identity distance)."""

    sheet: Path
    blurry: Path
    restored: Path
    blurry_psnr: float
    restored_psnr: float
    blurry_identity: float
    restored_identity: float


def blur_photo(photo: np.ndarray, crop_side: int, seed: int = DEMO_SEED) -> np.ndarray:
    """Blur a whole photo as the default model's training blurred a face crop.

    The crop is ``crop_side`` px.
    """
    rng = np.random.default_rng(seed)
    settings = KernelBlurSettings()
    kernel, _ = camera_shake_kernel(
        rng, max_length=settings.max_length, output_size=crop_side, exposure=settings.exposure
    )
    blurred = blur_image(image_to_tensor(photo), kernel)
    blurred, _ = add_noise_and_jpeg(blurred, rng, settings)
    return tensor_to_image(blurred)


def run_demo(
    out: str | Path = "demo",
    model: str | Path | None = None,
    seed: int = DEMO_SEED,
    device: str = "auto",
    overwrite: bool = False,
) -> DemoResult:
    """Blur the astronaut photo, restore its face with ``model``, write ``out/``.

    ``model`` defaults to the shipped one; ``device`` is ``auto``, ``cpu`` or ``cuda``.

    Writes ``astronaut_blurry.png``, ``astronaut_restored.png`` and ``sheet.png`` (face crops
    sharp | blurry | restored with PSNR and identity distance printed on them, and the photos):
    all three or, when a write fails, none. An ``out`` that is not empty is refused unless
    ``overwrite`` (``io.outputs.check_output``).
    """
    out = check_output(out, [model] if model else [], overwrite=overwrite, keep_option="")
    deblurrer = load_model(model, device=device)
    photo = read_image(example_face_path())
    detector = build_detector("mtcnn")
    faces = detect_faces(photo, detector)
    if not faces:
        raise FaceDeblurError("demo: MTCNN found no face in the example photo")
    face = max(faces, key=lambda d: d.width * d.height)
    box = face_crop_box(face)
    blurry = blur_photo(photo, box[2], seed)
    result = restore_faces(blurry, deblurrer, detector)
    if result.problem:
        raise FaceDeblurError(f"demo: {result.problem} in the blurred example photo")

    crops = [crop_with_padding(img, box) for img in (photo, blurry, result.image)]
    describe = FaceDescriptor()
    face_box = describe.face_box(crops[0])
    target = describe(crops[0], face_box)
    scores = [
        (_psnr(c, crops[0]), float(identity_distances(describe(c, face_box), target)))
        for c in crops[1:]
    ]
    captions = [["sharp"] + [f"{p:.2f} dB, id {d:.3f}" for p, d in scores], ["", "", ""]]
    sheet = contact_sheet(
        [crops, [photo, blurry, result.image]],
        ["sharp", "blurry", "restored"],
        cell=320,
        captions=captions,
    )
    paths = [out / "astronaut_blurry.png", out / "astronaut_restored.png", out / "sheet.png"]
    write_all(list(zip(paths, (blurry, result.image, sheet))))
    return DemoResult(
        paths[2], paths[0], paths[1], scores[0][0], scores[1][0], scores[0][1], scores[1][1]
    )


def _psnr(image: np.ndarray, reference: np.ndarray) -> float:
    return float(psnr(image_to_tensor(image), image_to_tensor(reference))[0])
