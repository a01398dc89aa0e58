"""Making one synthetic training pair: crop a face, then blur it (kernel or frame averaging).

These functions hold no state: given a source, a seed and the settings they always produce
the same pixels, which is what lets a manifest line reproduce its sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError, NoFaceError
from ..faces.detect import Detection, DlibHOGDetector, largest_face, square_face_box
from ..faces.motion_order import LEFT_EYE_POINTS, motion_order, order_frames
from ..io import image_to_tensor, tensor_to_image, to_float32, to_uint8
from ..io.geometry import center_square_box, crop_square, resize
from .checks import SettingError, check_range
from .face_motion import (
    OVERSAMPLE,
    FaceMotionSettings,
    PiecewiseAffineWarp,
    draw_motion,
    find_landmarks,
    motion_tracks,
    render_subframes,
    sample_times,
)
from .frames import DEFAULT_FRAME_COUNTS, average_frames
from .pipeline import KernelBlurSettings, add_noise_and_jpeg, random_kernel_blur
from .shake_moments import moment_offsets

MODES = ("kernel", "frames", "face-motion")
CROP_TYPES = ("center", "face")
SIZE_RANGE = (16, 1024)
"""Output sides allowed, in px."""
MAX_MARGIN = 4.0
"""Largest face margin: four face sizes on each side is already a whole-scene crop."""
MAX_FRAMES = 64
"""Most frames averaged into one sample (all of them are held in memory and written)."""
MAX_FRAME_STEP = 100


@dataclass(frozen=True)
class SampleSettings:
    """Everything that shapes a sample besides its source and seed.

    Attributes:
        mode: ``kernel`` (camera-shake or other kernels), ``frames`` (video frame averaging) or
            ``face-motion`` (a still face moved by its landmarks, sub-frames averaged).
        size: side of the square output images in pixels, 16..1024.
        crop: ``center`` (largest centred square) or ``face`` (detected face with margin).
        margin: extra space around a detected face (dlib HOG's box) on each side, as a fraction
            of its larger side, in [0, 4]. The default frames faces as MTCNN's box with
            ``faces.pasteback.DEFAULT_MARGIN`` (0.5) does, the framing ``deblur --faces`` cuts and
            the shipped models were trained on: HOG's box is tighter than MTCNN's.
        blur: kernel, noise and JPEG settings (frames mode uses its gamma, noise and JPEG;
            face-motion also its exposure range, and its trajectory with ``motion.shake``); a
            fixed kernel support must be below 2 * size.
        frame_counts: the N to draw from in frames and face-motion modes, each in 1..64.
        frame_step: frames mode averages every ``frame_step``-th frame (1..100), so a window of N
            frames spans (N - 1) * frame_step + 1 frames of the clip: a longer exposure
            sampled as sparsely as N frames allow (more motion, more ghosting).
        min_motion: frames mode leaves out windows in which the left eye travels less than
            this many pixels (at ``size``, at most 2 * size), so that every kept sample has
            facial motion to order; 0 keeps all.
        motion: face-motion amplitudes and the optional camera shake on top.

    Every number must be finite and in its range, else ``SettingError`` (a ``ValueError``).
    """

    mode: str = "kernel"
    size: int = 128
    crop: str = "center"
    margin: float = 0.7
    blur: KernelBlurSettings = field(default_factory=KernelBlurSettings)
    frame_counts: tuple[int, ...] = DEFAULT_FRAME_COUNTS
    frame_step: int = 1
    min_motion: float = 0.0
    motion: FaceMotionSettings = field(default_factory=FaceMotionSettings)

    def __post_init__(self):
        if self.mode not in MODES:
            raise SettingError("mode", f"must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.crop not in CROP_TYPES:
            raise SettingError("crop", f"must be one of {', '.join(CROP_TYPES)}, got {self.crop!r}")
        check_range("size", self.size, *SIZE_RANGE, integer=True)
        check_range("margin", self.margin, 0.0, MAX_MARGIN)
        if not isinstance(self.frame_counts, (tuple, list)) or not self.frame_counts:
            raise SettingError(
                "frame_counts", f"must be a non-empty tuple, got {self.frame_counts!r}"
            )
        for n in self.frame_counts:
            check_range("frame_counts", n, 1, MAX_FRAMES, integer=True)
        check_range("frame_step", self.frame_step, 1, MAX_FRAME_STEP, integer=True)
        check_range("min_motion", self.min_motion, 0.0, 2.0 * self.size)
        if self.blur.support is not None and self.blur.support >= 2 * self.size:
            raise SettingError(
                "support",
                f"must be smaller than twice the output size ({2 * self.size} px), "
                f"got {self.blur.support}",
            )


class LowMotionError(InputError):
    """A frames-mode window whose face moves less than ``SampleSettings.min_motion``."""


@dataclass
class Sample:
    """One synthesized pair, as uint8 RGB arrays, with what was drawn to make it."""

    blur: np.ndarray
    sharp: np.ndarray
    record: dict
    kernel: np.ndarray | None = None
    frames: list[np.ndarray] | None = None


def detect_face(img: np.ndarray, source: str | Path) -> Detection:
    """The largest face found by dlib's HOG detector (upsampled once below 400 px)."""
    upsample = 0 if min(img.shape[:2]) >= 400 else 1
    face = largest_face(DlibHOGDetector(upsample=upsample)(img))
    if face is None:
        raise NoFaceError(source, "no face found")
    return face


def choose_crop(
    img: np.ndarray, settings: SampleSettings, source: str | Path, face: Detection | None = None
) -> dict:
    """The crop of an image (or a clip's middle frame) as a manifest-ready dict.

    ``face`` is the face to crop around when it was already found (else it is detected).
    """
    if settings.crop == "center":
        box, crop = center_square_box(img.shape[0], img.shape[1]), {"type": "center"}
    else:
        face = face or detect_face(img, source)
        box = square_face_box(face, settings.margin, img.shape[0], img.shape[1])
        crop = {
            "type": "face",
            "margin": settings.margin,
            "face_score": round(face.score, 6),
            "face_box": [round(float(v), 2) for v in face.box],
        }
    if box[2] < settings.size:
        what = "image" if settings.crop == "center" else "face crop"
        raise InputError(
            source,
            f"{what} is {box[2]} px ({img.shape[1]}x{img.shape[0]} image), "
            f"smaller than the {settings.size} px output (a --size of {box[2]} or less fits it)",
        )
    crop["box"] = [int(v) for v in box]
    return crop


def _quantized(img: np.ndarray) -> np.ndarray:
    """The image exactly as it will be stored (8-bit), back in float."""
    return to_uint8(img).astype(np.float32) / 255.0


def kernel_sample(
    img: np.ndarray, source: str | Path, seed: int, settings: SampleSettings
) -> Sample:
    """Crop a sharp image to the output size and blur it with a random kernel."""
    crop = choose_crop(img, settings, source)
    sharp = _quantized(resize(crop_square(img, crop["box"]), settings.size))
    rng = np.random.default_rng(seed)
    blurred, kernel, record = random_kernel_blur(image_to_tensor(sharp), rng, settings.blur)
    record = {"crop": crop, **record}
    return Sample(to_uint8(tensor_to_image(blurred)), to_uint8(sharp), record, kernel=kernel)


def window_span(n: int, settings: SampleSettings) -> int:
    """How many clip frames a window of ``n`` averaged frames covers."""
    return (n - 1) * settings.frame_step + 1


def window_frames(start: int, n: int, settings: SampleSettings) -> list[int]:
    """Clip indices of the ``n`` frames a window starting at ``start`` averages, in time order."""
    return [start + k * settings.frame_step for k in range(n)]


def plan_window(
    num_frames: int, seed: int, settings: SampleSettings, source: str | Path
) -> tuple[int, int]:
    """Draw (start, N) for a clip of ``num_frames`` frames; N only among windows that fit."""
    feasible = sorted(n for n in settings.frame_counts if window_span(n, settings) <= num_frames)
    if not feasible:
        smallest = min(settings.frame_counts)
        stepped = ""
        if settings.frame_step > 1:
            stepped = (
                f" at frame step {settings.frame_step} ({window_span(smallest, settings)} frames)"
            )
        raise InputError(
            source,
            f"clip has {num_frames} frames, fewer than the smallest window N={smallest}{stepped}",
        )
    rng = np.random.default_rng(seed)
    n = int(rng.choice(feasible))
    start = int(rng.integers(0, num_frames - window_span(n, settings) + 1))
    return start, n


def eye_travel(fmr: dict, crop: dict, size: int) -> float:
    """Largest distance between two of a sample's left-eye positions, in output pixels."""
    eyes = np.asarray(fmr["eyes"], dtype=np.float64)
    gaps = np.linalg.norm(eyes[:, None, :] - eyes[None, :, :], axis=-1)
    return float(gaps.max()) * size / crop["box"][2]


def motion_record(frames: list[np.ndarray], crop: dict) -> dict | None:
    """The facial motion-based order (FMR) of a sample's frames, as a manifest-ready dict.

    Landmarks are found on the full-resolution frames, inside the middle frame's face box (the
    face moves little within one exposure); without a face box (``--crop center``) each frame is
    searched for a face, and a window where one frame has none gets no order (None): it is still
    a blurred/sharp pair, but not a CFMD-GAN training sample. ``order[k]`` is the time index of
    the frame at place k, whose control factor is k / (N - 1).
    """
    try:
        order = order_frames(frames, box=crop.get("face_box"))
    except NoFaceError:
        return None
    return {
        "order": order.order,
        "eyes": np.round(order.eyes.astype(np.float64), 2).tolist(),
        "eye_points": list(LEFT_EYE_POINTS),
        "key": "x, then y, then time",
    }


def window_crop(
    frames: list[np.ndarray], source: str | Path, start: int, settings: SampleSettings
) -> dict:
    """The crop of a window: ``choose_crop`` of its middle frame, which alone decides it."""
    middle = len(frames) // 2
    return choose_crop(
        frames[middle], settings, f"{source} frame {start + middle * settings.frame_step}"
    )


def analyse_window(
    frames: list[np.ndarray],
    source: str | Path,
    start: int,
    settings: SampleSettings,
    crop: dict | None = None,
) -> tuple[dict, dict | None]:
    """The crop and FMR record of a window: all that face detection and landmarks decide.

    ``frames`` are the window's N RGB (H, W, 3) frames in time order, uint8 or float32 in [0, 1].
    The crop is around the middle frame's (index N // 2) face; the frames' facial motion-based
    order (FMR) and the left eye's travel go into the FMR record. Nothing is drawn from a seed, so
    windows with the same frames share the result, and ``crop`` is the window's ``window_crop``
    when already known (windows with the same middle frame share it). ``render_frames_sample``
    makes the sample from the result.

    Raises:
        LowMotionError: the eye travels less than ``settings.min_motion``.
    """
    if crop is None:
        crop = window_crop(frames, source, start, settings)
    fmr = motion_record(frames, crop)
    if fmr is not None:
        fmr["travel"] = round(eye_travel(fmr, crop, settings.size), 2)
    if settings.min_motion > 0 and fmr is None:
        raise LowMotionError(
            source,
            "windows without a face in every frame have no motion to measure and were left out",
        )
    if settings.min_motion > 0 and fmr["travel"] < settings.min_motion:
        raise LowMotionError(
            source,
            f"windows whose left eye moves less than {settings.min_motion:g} px were left out",
        )
    return crop, fmr


def render_frames_sample(
    frames: list[np.ndarray],
    crop: dict,
    fmr: dict | None,
    start: int,
    seed: int,
    settings: SampleSettings,
) -> Sample:
    """The sample of a window whose crop and FMR record are already known (found by
    ``analyse_window``, or read back from a manifest line): crop, average, add noise and JPEG.

    The middle frame (index N // 2) is the ground truth; all N cropped frames are kept.

    ``frames`` are uint8 or float32 in [0, 1]; each is converted to float after cropping, which
    gives the same pixels as converting the whole frame first."""
    n = len(frames)
    middle = n // 2
    sharp_frames = [
        _quantized(resize(to_float32(crop_square(f, crop["box"])), settings.size)) for f in frames
    ]
    stack = torch.stack([image_to_tensor(f) for f in sharp_frames])
    blurred = average_frames(stack, settings.blur.gamma)
    # The draw for (start, N) used the same seed; this generator only feeds the noise.
    rng = np.random.default_rng([seed, 1])
    blurred, degradation = add_noise_and_jpeg(blurred, rng, settings.blur)
    record = {
        "crop": crop,
        "start": start,
        "num_frames": n,
        "frame_step": settings.frame_step,
        "middle": start + middle * settings.frame_step,
        "fmr": fmr,
        **degradation,
    }
    return Sample(
        to_uint8(tensor_to_image(blurred)),
        to_uint8(sharp_frames[middle]),
        record,
        frames=[to_uint8(f) for f in sharp_frames],
    )


def face_motion_sample(
    img: np.ndarray, source: str | Path, seed: int, settings: SampleSettings
) -> Sample:
    """Move a still face by a drawn head and expression motion; average its N sub-frames.

    The face's 68 landmarks (``face_motion.find_landmarks``, rounded to 1/100 px as the manifest
    keeps them) place the crop (``--crop face``) and drive the warp. Raises ``NoFaceError`` for
    an image without a face.
    """
    crop, landmarks = locate_face(img, settings, source)
    return render_face_motion_sample(img, crop, landmarks, seed, settings)


def locate_face(img: np.ndarray, settings: SampleSettings, source: str | Path) -> tuple[dict, list]:
    """The crop (``choose_crop``) and the 68 landmarks (source px, rounded to 1/100 px) of the
    largest face of an image; ``NoFaceError`` naming ``source`` when there is none."""
    face, points = find_landmarks(img, source)
    return choose_crop(img, settings, source, face=face), np.round(points, 2).tolist()


def render_face_motion_sample(
    img: np.ndarray,
    crop: dict,
    landmarks: list,
    seed: int | np.random.Generator,
    settings: SampleSettings,
) -> Sample:
    """The face-motion sample of an image whose crop and landmarks are known (found by
    ``face_motion_sample`` or read back from a manifest line).

    From ``seed`` in this order: N (from ``frame_counts``), the exposure, the motion
    (``draw_motion``), the camera shake (``motion.shake``), then noise and JPEG. The sub-frames are
    warped at ``OVERSAMPLE`` times the output size, area-averaged down and quantized to 8 bits,
    then averaged in linear light; the sharp image is the middle one (index N // 2). The record
    keeps every draw, the landmarks of each sub-frame (output px) and their FMR order (left-eye
    centroids in source px under ``fmr.eyes``, as frames mode keeps them).
    """
    rng = np.random.default_rng(seed)
    n = int(rng.choice(settings.frame_counts))
    exposure = float(rng.uniform(*settings.blur.exposure))
    motion = draw_motion(rng, settings.motion)
    x0, y0, side = crop["box"]
    big = settings.size * OVERSAMPLE
    to_big = big / side
    points = (np.asarray(landmarks, dtype=np.float64) - (x0, y0) + 0.5) * to_big - 0.5
    times = sample_times(n, exposure)
    tracks = motion_tracks(points, motion, times)
    shifts, shake = np.zeros((n, 2)), None
    if settings.motion.shake:
        fixed = replace(settings.blur, exposure=(exposure, exposure))
        offsets, shake = moment_offsets(rng, n, settings.size, fixed)
        shifts = offsets * OVERSAMPLE
    warp = PiecewiseAffineWarp(points, big, tracks)
    still = resize(crop_square(img, crop["box"]), big)
    rendered = render_subframes(still, warp, tracks, shifts if shake else None)
    frames = [_quantized(resize(f, settings.size)) for f in rendered]
    stack = torch.stack([image_to_tensor(f) for f in frames])
    blurred, degradation = add_noise_and_jpeg(
        average_frames(stack, settings.blur.gamma), rng, settings.blur
    )
    moved = np.stack(
        [(warp.moved_landmarks(m) + s + 0.5) / OVERSAMPLE - 0.5 for m, s in zip(tracks, shifts)]
    )
    eyes = moved[:, list(LEFT_EYE_POINTS)].mean(axis=1)
    gaps = np.linalg.norm(eyes[:, None] - eyes[None], axis=-1)
    record = {
        "crop": crop,
        "landmarks": landmarks,
        "num_frames": n,
        "exposure": exposure,
        "times": np.round(times, 6).tolist(),
        "motion": motion,
        "shake": shake,
        "frame_landmarks": np.round(moved, 2).tolist(),
        "fmr": {
            "order": motion_order(eyes),
            "eyes": np.round((eyes + 0.5) * side / settings.size - 0.5 + (x0, y0), 2).tolist(),
            "eye_points": list(LEFT_EYE_POINTS),
            "key": "x, then y, then time",
            "travel": round(float(gaps.max()), 2),
        },
        **degradation,
    }
    return Sample(
        to_uint8(tensor_to_image(blurred)),
        to_uint8(frames[n // 2]),
        record,
        frames=[to_uint8(f) for f in frames],
    )
