"""Every sharp moment of a blurry face: running a trained CFMD-GAN generator for chosen u.

A CFMD generator restores the sharp moment at control factor u in [0, 1] of a blurry face; u = 0
and u = 1 are the two ends of the facial motion (the frames whose image-left eye lies furthest
left and furthest right), u = 0.5 the centre moment. ``moments(image, n=7)`` gives N moments at
u = 0, 1/(N-1), ..., 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import InputError, NoFaceError, UsageError
from ..faces.motion_order import control_factors
from ..faces.pasteback import DEFAULT_MARGIN
from ..faces.registry import build_detector
from ..io import image_to_tensor, tensor_to_image, to_float32
from ..io.kinds import from_array, to_array
from ..models import ROLES
from ..models.runtime import resolve_device
from ..models.weights import load_network, pretrained_path, read_header
from .deblurrer import MAX_PIXELS, MIN_SIDE, Deblurrer, check_finite, check_size
from .faces import DEFAULT_MIN_FACE, FaceRestoreResult, detect_faces, restore_faces

DEFAULT_MOMENTS_FILE = "moments.safetensors"
# Moments restored per network call (one image repeated with different u).
MOMENT_BATCH = 8
MAX_FRAMES = 64


class FixedMoment(nn.Module):
    """A CFMD generator with u fixed: a plain deblurring network for ``Deblurrer`` and friends.

    With ``flip_ensemble`` it averages the moment at u of the image and the moment at 1 - u
    of its mirror image, flipped back (mirroring reverses the motion, so u = 0 becomes u = 1).
    """

    def __init__(self, generator: nn.Module, u: float, flip_ensemble: bool = False):
        super().__init__()
        self.generator, self.u, self.flip_ensemble = generator, float(u), flip_ensemble
        self.pad_multiple = getattr(generator, "pad_multiple", 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = torch.full((x.shape[0],), self.u, dtype=torch.float32, device=x.device)
        return run_moments(self.generator, x, u, self.flip_ensemble)


def run_moments(
    generator: nn.Module, blur: torch.Tensor, u: torch.Tensor, flip_ensemble: bool = False
) -> torch.Tensor:
    """The moments at ``u`` (N,) of the blurry faces ``blur`` (N, 3, H, W) in [0, 1]: (N, 3, H, W)
    in [0, 1].

    ``flip_ensemble`` averages them with the moments at 1 - u of the mirror images, flipped
    back: twice the network time, and moments that do not depend on which way a face was
    mirrored. NaN or infinite network outputs raise ``FaceDeblurError`` (one line).
    """

    def checked(x: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
        y = generator(x, at)[-1].float()
        return check_finite(y, x.shape[-1], x.shape[-2]).clamp(0.0, 1.0)

    out = checked(blur, u)
    if flip_ensemble:
        out = (out + checked(_per_face(blur, lambda x: x.flip(-1)), 1.0 - u).flip(-1)) / 2
    return out


def _per_face(blur: torch.Tensor, change: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``change`` (flip, device move) applied to a batch of faces; one face expanded over many
    u stays one expanded face, so the generator still runs its base deblurrer once for it
    (``CFMDGenerator.forward``) instead of once per moment."""
    if blur.shape[0] > 1 and blur.stride(0) == 0:
        return change(blur[:1]).expand_as(blur)
    return change(blur)


class MomentRestorer:
    """A CFMD generator ready to restore moments of faces.

    Args:
        generator: a ``CFMDGenerator`` (``forward(blur, u)``).
        device: ``cpu`` or ``cuda``.
        header: the weights header (architecture, training data, metrics).
        max_pixels: most pixels (moments x height x width) one network call may take; moments
            are restored fewer at a time to stay under it, and a larger image is refused.
        flip_ensemble: average each moment with the mirror image's moment at 1 - u
            (``run_moments``).
    """

    def __init__(
        self,
        generator: nn.Module,
        device: str = "cpu",
        header: dict | None = None,
        max_pixels: int = MAX_PIXELS,
        flip_ensemble: bool = False,
    ):
        self.device = torch.device(device)
        self.generator = generator.to(self.device).eval()
        self.flip_ensemble = flip_ensemble
        self.header = header or {}
        self.multiple = int(getattr(generator, "pad_multiple", 1))
        self.min_side = max(MIN_SIDE, self.multiple)
        self.max_pixels = max_pixels

    @torch.no_grad()
    def restore(self, image: np.ndarray, u: Sequence[float]) -> list[np.ndarray]:
        """The moments of ``image`` at each u: float32 images.

        ``image`` is RGB (H, W, 3), float in [0, 1] or uint8, with sides of at least
        ``min_side`` and at most ``max_pixels`` pixels; else, or when the network returns NaN
        or infinite values, a one-line ``FaceDeblurError``.
        """
        x = image_to_tensor(to_float32(image))[None].to(self.device)
        height, width = x.shape[-2:]
        check_size(x.shape, self.min_side, self.max_pixels, self.multiple)
        padded = -(-height // self.multiple) * -(-width // self.multiple) * self.multiple**2
        per_call = max(1, min(MOMENT_BATCH, self.max_pixels // padded))
        out = []
        for start in range(0, len(u), per_call):
            chunk = torch.tensor(
                list(u[start : start + per_call]), dtype=torch.float32, device=self.device
            )
            restored = self.run(x.expand(len(chunk), -1, -1, -1), chunk).cpu()
            out += [tensor_to_image(t) for t in restored]
        return out

    @torch.no_grad()
    def run(self, blur: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Moments of a batch: ``blur`` (N, 3, H, W) in [0, 1] with sides a multiple of
        ``multiple``, ``u`` (N,) in [0, 1]; (N, 3, H, W) in [0, 1] on the restorer's device."""
        blur = _per_face(blur, lambda x: x.to(self.device))
        return run_moments(self.generator, blur, u.to(self.device), self.flip_ensemble)

    def at(self, u: float) -> Deblurrer:
        """A ``Deblurrer`` restoring the moment at ``u``.

        For whole photos through ``restore_faces``.
        """
        # Not folded: folding copies the generator, and this runs once per moment.
        return Deblurrer(
            FixedMoment(self.generator, u, self.flip_ensemble),
            device=str(self.device),
            header=self.header,
            fold=False,
        )


def moments_model_path() -> Path:
    """The shipped CFMD-GAN weights (``facedeblur/pretrained/moments.safetensors``).

    Raises ``FaceDeblurError`` when this installation lacks the file.
    """
    return pretrained_path(DEFAULT_MOMENTS_FILE, "moments model")


def load_moments_model(
    path: str | Path | None = None, device: str = "auto", flip_ensemble: bool = False
) -> MomentRestorer:
    """Load CFMD-GAN weights (default: the shipped ones) on ``device`` (``auto``, ``cpu`` or
    ``cuda``, as ``models.runtime.resolve_device`` reads it).

    Other architectures are refused clearly. ``flip_ensemble``: see ``MomentRestorer``.
    """
    device = resolve_device(device)
    path = moments_model_path() if path is None else Path(path)
    architecture = read_header(path)["architecture"]
    if ROLES.get(architecture) == "deblurrer":
        raise InputError(
            path,
            f"a {architecture!r} model restores one moment only; "
            "facedeblur moments needs CFMD-GAN weights (architecture 'cfmd')",
        )
    model, header = load_network(path, role="moments model")
    return MomentRestorer(model, device=device, header=header, flip_ensemble=flip_ensemble)


def moment_factors(n: int | None = None, u: Sequence[float] | None = None) -> list[float]:
    """The control factors to restore: the given ``u`` values, or N evenly spaced from 0 to 1."""
    if u is not None and len(u) > 0:
        bad = [v for v in u if not 0.0 <= v <= 1.0]
        if bad:
            raise UsageError(f"u must lie in [0, 1], got {bad[0]}")
        return [float(v) for v in u]
    if n is None or not 1 <= n <= MAX_FRAMES:
        raise UsageError(f"the number of frames must be between 1 and {MAX_FRAMES}, got {n}")
    return [float(v) for v in control_factors(n)]


def restore_face_moments(
    image: np.ndarray,
    restorer: MomentRestorer,
    u: Sequence[float],
    detector: str | Callable = "mtcnn",
    margin: float = DEFAULT_MARGIN,
    min_face: int = DEFAULT_MIN_FACE,
) -> list[FaceRestoreResult]:
    """Every face of a photo restored at each u and pasted back: one ``FaceRestoreResult`` per u.

    Faces are detected once; each moment goes through ``photo.restore_faces`` with those faces.
    """
    image = to_float32(image)
    detect = build_detector(detector) if isinstance(detector, str) else detector
    faces = detect_faces(image, detect)
    return [
        restore_faces(image, restorer.at(v), lambda _img: faces, margin=margin, min_face=min_face)
        for v in u
    ]


def moments(
    image,
    n: int = 7,
    u: Sequence[float] | None = None,
    model: str | Path | MomentRestorer | None = None,
    faces: bool = False,
    detector: str | Callable = "mtcnn",
    margin: float = DEFAULT_MARGIN,
    device: str = "auto",
    flip_ensemble: bool = False,
) -> list:
    """The sharp moments of a blurry face: images of the input's size, one per u.

    Args:
        image: a face crop, or with ``faces`` a photo: a path, a PIL image, an RGB (H, W, 3)
            array (float in [0, 1] or uint8) or a CHW / 1CHW tensor. Each moment is the same
            kind (``io.kinds``: an array for a path), float in [0, 1].
        n: how many moments, at u = 0, 1/(n-1), ..., 1 (ignored when ``u`` is given).
        u: explicit control factors in [0, 1], e.g. ``[0.5]`` for the centre moment only.
        model: weights path, a loaded ``MomentRestorer``, or None for the shipped CFMD-GAN.
        faces: restore each detected face of a photo and paste it back (the rest is untouched);
            raises ``NoFaceError`` when there is none big enough.
        detector, margin: as in ``restore_faces``.
        device: ``auto``, ``cpu`` or ``cuda`` when ``model`` is not already loaded.
        flip_ensemble: average each moment with the mirror image's (``MomentRestorer``) when
            ``model`` is not already loaded; twice the time.
    """
    image, kind = to_array(image)
    restorer = (
        model
        if isinstance(model, MomentRestorer)
        else load_moments_model(model, device=device, flip_ensemble=flip_ensemble)
    )
    factors = moment_factors(n, u)
    if not faces:
        return [from_array(frame, kind) for frame in restorer.restore(image, factors)]
    results = restore_face_moments(image, restorer, factors, detector=detector, margin=margin)
    if results[0].problem:
        raise NoFaceError("<image>", f"{results[0].problem}; faces=False restores the whole image")
    return [from_array(r.image, kind) for r in results]
