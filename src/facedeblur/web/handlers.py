"""What the web page does with an upload: one handler per tab, returning what Gradio shows.

Each handler reads the uploaded file with the project's own decoder (EXIF orientation, the
formats and size limits of ``io``), runs the library (``restore_faces``, ``restore_face_moments``,
``obfuscate_photo``), writes the full-size results for download, and returns previews for the
page. A problem with the upload (no file, not an image, too large, no face) is raised as
``gradio.Error`` carrying one line that names the file; Gradio shows it in the page. Anything
else that fails is logged on the server with its traceback and shown as one line too.
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np

from ..commands.obfuscate import face_summary, sidecar_path, visible_line
from ..errors import FaceDeblurError, InputError, NoFaceError, UsageError
from ..faces.registry import build_detector
from ..io import ImageConversionWarning, atomic_write_text, decode_image, write_gif, write_image
from ..io.geometry import resize
from ..privacy.attribute_model import load_attribute_obfuscator
from ..privacy.obfuscate import ATTRIBUTES, DEFAULT_SMALL_FACES, MIN_FACE, obfuscate_photo
from ..restore import load_model, load_moments_model, restore_faces
from ..restore.moments import moment_factors, restore_face_moments

LOG = logging.getLogger(__name__)

MAX_UPLOAD_MB = 50
"""Largest upload accepted, in MB of 2**20 bytes: Gradio's unit, so that its refusal in the
browser and the handlers' own agree."""

MAX_PIXELS = 50_000_000
"""Largest image accepted (pixels), refused from the file's header before decoding."""

PREVIEW_SIDE = 1024
"""Longer side of the images shown in the page; downloads keep the full size."""

CROP_SIDE = 256
"""Side of each before and after face crop in the gallery."""

ANIMATION_SIDE = 640
"""Longer side of the moments animation."""

MOMENTS_FPS = 8.0

KEEP_SECONDS = 3600
"""Result folders older than this are deleted when a new result is written."""

DEFAULT_MOMENTS = 7

WHOLE_IMAGE_HINT = "for a face crop, tick 'Whole image' and run again"


def preview(image: np.ndarray, side: int = PREVIEW_SIDE) -> np.ndarray:
    """``image`` (H, W, 3) float in [0, 1] shrunk so that its longer side is at most ``side``."""
    scale = side / max(image.shape[:2])
    if scale >= 1.0:
        return image
    return resize(
        image, (max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale)))
    )


def _page_errors(handler: Callable) -> Callable:
    """Turn the library's errors into ``gradio.Error`` (one line in the page, no traceback)."""

    @functools.wraps(handler)
    def wrapped(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except FaceDeblurError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception as exc:
            LOG.exception("facedeblur serve: %s failed", handler.__name__)
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise gr.Error(
                f"the server failed ({type(exc).__name__}: {first}); its log has the details",
                print_exception=False,
            ) from None

    return wrapped


class Handlers:
    """The page's handlers and the networks they share, loaded on first use.

    Args:
        workdir: folder for the files offered for download (one sub-folder per result).
        model: deblurring weights (None: the shipped default model).
        moments_model: CFMD-GAN weights for the moments tab (None: the shipped ones).
        device: ``cpu`` or ``cuda``.
        max_upload_mb: larger uploads are refused.
        max_pixels: larger images are refused from their header, before decoding.
    """

    def __init__(
        self,
        workdir: str | Path,
        model: str | Path | None = None,
        moments_model: str | Path | None = None,
        device: str = "cpu",
        max_upload_mb: float = MAX_UPLOAD_MB,
        max_pixels: int = MAX_PIXELS,
    ):
        self.workdir = Path(workdir)
        self.model = model
        self.moments_model = moments_model
        self.device = device
        self.max_upload_mb = max_upload_mb
        self.max_pixels = max_pixels
        self._lock = threading.Lock()
        self._loaded: dict[str, object] = {}

    def _get(self, name: str, load: Callable[[], object]):
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = load()
            return self._loaded[name]

    def deblurrer(self, flip_ensemble: bool = False):
        """The deblurring model (``load_model``), with or without its flip ensemble."""
        return self._get(
            f"deblur-flip-{flip_ensemble}",
            lambda: load_model(
                self.model, device=self.device, tile=512, flip_ensemble=flip_ensemble
            ),
        )

    def detector(self):
        """The MTCNN face detector shared by the deblur and moments tabs."""
        return self._get("mtcnn", lambda: build_detector("mtcnn"))

    def read_upload(self, upload: str | Path | None) -> tuple[str, np.ndarray]:
        """The upload's file name and its pixels, float32 RGB (H, W, 3) in [0, 1].

        Raises ``UsageError`` without a file and ``InputError`` (naming the file) for an empty,
        too large or unreadable one. Conversions of the decoder (grey, alpha, 16-bit) are shown
        as warnings in the page.
        """
        if not upload:
            raise UsageError("no photo: upload one first")
        path = Path(upload)
        size_mb = path.stat().st_size / 2**20
        if size_mb > self.max_upload_mb:
            raise InputError(
                path.name, f"too large ({size_mb:.1f} MB; the limit is {self.max_upload_mb:g} MB)"
            )
        data = path.read_bytes()
        if not data:
            raise InputError(path.name, "empty file")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ImageConversionWarning)
            image = decode_image(data, path.name, self.max_pixels)
        for warning in caught:
            if issubclass(warning.category, ImageConversionWarning):
                gr.Warning(str(warning.message))
        return path.name, image

    def _result_folder(self) -> Path:
        """A new folder for one result's downloads; folders older than ``KEEP_SECONDS`` go."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        cutoff = time.time() - KEEP_SECONDS
        for old in self.workdir.iterdir():
            if old.is_dir() and old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        folder = self.workdir / uuid.uuid4().hex
        folder.mkdir()
        return folder

    @_page_errors
    def deblur(self, upload: str | None, whole_image: bool = False, flip_ensemble: bool = False):
        """Deblur tab: restore every face of the upload (or, with ``whole_image``, all of it);
        ``flip_ensemble`` averages each result with the mirror image's (twice the time).

        Returns:
            (before, after) previews for the slider; the gallery of faces, two (crop, caption)
            pairs per face, before then after; the full-size PNG's path; a summary line.
        """
        name, image = self.read_upload(upload)
        stem = Path(name).stem
        deblurrer = self.deblurrer(flip_ensemble)
        if whole_image:
            restored, faces = deblurrer.deblur(image), []
            summary = f"Restored all of **{name}** ({image.shape[1]} x {image.shape[0]} px)."
        else:
            result = restore_faces(image, deblurrer, detector=self.detector())
            if result.problem:
                raise NoFaceError(name, f"{result.problem}; {WHOLE_IMAGE_HINT}")
            restored = result.image
            faces = [
                (resize(crop, CROP_SIDE), f"face {k + 1}: {when}")
                for k, f in enumerate(result.restored)
                for crop, when in ((f.before, "before"), (f.after, "after"))
            ]
            summary = (
                f"Restored {len(result.restored)} face(s) of **{name}** "
                f"({image.shape[1]} x {image.shape[0]} px)."
            )
            if result.skipped:
                note = (
                    f"{len(result.skipped)} face(s) smaller than {result.min_face} px "
                    "left as they were"
                )
                gr.Warning(note)
                summary += f" {note}."
        download = write_image(self._result_folder() / f"{stem}_restored.png", restored)
        return (preview(image), preview(restored)), faces, str(download), summary

    @_page_errors
    def moments(
        self,
        upload: str | None,
        count: int = DEFAULT_MOMENTS,
        whole_image: bool = False,
        flip_ensemble: bool = False,
    ):
        """Moments tab: ``count`` sharp moments of the upload's faces (or of all of it), animated;
        ``flip_ensemble`` as in ``restore.moments.MomentRestorer``.

        Returns:
            the animated GIF's path (played forward and back, longer side at most
            ``ANIMATION_SIDE``); the gallery of moments, each (image, "u=..."); the GIF's path
            again for download; a summary line.
        """
        name, image = self.read_upload(upload)
        factors = moment_factors(int(count))
        restorer = self._get(
            f"moments-flip-{flip_ensemble}",
            lambda: load_moments_model(
                self.moments_model, device=self.device, flip_ensemble=flip_ensemble
            ),
        )
        if whole_image:
            frames = restorer.restore(image, factors)
        else:
            results = restore_face_moments(image, restorer, factors, detector=self.detector())
            if results[0].problem:
                raise NoFaceError(name, f"{results[0].problem}; {WHOLE_IMAGE_HINT}")
            frames = [r.image for r in results]
        small = [preview(frame, ANIMATION_SIDE) for frame in frames]
        folder = self._result_folder()
        animation = write_gif(folder / f"{Path(name).stem}_moments.gif", small, MOMENTS_FPS)
        gallery = [(frame, f"u={v:.2f}") for frame, v in zip(small, factors)]
        summary = (
            f"{len(frames)} moment(s) of **{name}**, u = {factors[0]:g} to {factors[-1]:g}, "
            "played forward and back."
        )
        return str(animation), gallery, str(animation), summary

    @_page_errors
    def obfuscate(self, upload: str | None, method: str = ATTRIBUTES):
        """Obfuscate tab: hide every face of the upload (``obfuscate_photo``).

        Returns:
            the result's preview; its JSON sidecar as a dict (the same record ``facedeblur
            obfuscate`` writes beside each image); the full-size PNG and the sidecar's paths; a
            summary line.
        """
        name, image = self.read_upload(upload)
        obfuscator = None
        if method == ATTRIBUTES:
            obfuscator = self._get(
                "attributes", lambda: load_attribute_obfuscator(device=self.device)
            )
        settings = {
            "method": method,
            "strength": 1.0,
            "feather": None,
            "seed": 0,
            "min_face": MIN_FACE,
            "small_faces": DEFAULT_SMALL_FACES,
        }
        result = obfuscate_photo(image, obfuscator=obfuscator, label=name, **settings)
        picture = write_image(
            self._result_folder() / f"{Path(name).stem}_obfuscated.png", result.image
        )
        counts = {"found": result.found, "hidden": result.hidden, "too_small": result.too_small}
        sidecar = {"source": name, **settings, **counts, "faces": face_summary(result)}
        record = atomic_write_text(sidecar_path(picture), json.dumps(sidecar, indent=2) + "\n")
        summary = f"Hid {result.hidden} of {result.found} face(s) of **{name}** ({method})."
        line = visible_line(Path(name), result)
        if line:
            gr.Warning(line)
            summary += f" {line}."
        return preview(result.image), sidecar, [str(picture), str(record)], summary
