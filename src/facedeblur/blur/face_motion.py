"""Facial motion from one still face: a drawn head and expression motion, rendered as sub-frames.

A talking face moves in two ways during one exposure: the head as a whole (in-plane rotation,
translation, scale and a turn about the vertical axis, which squashes the face horizontally and
shifts the nose against the cheeks) and the expression (lips parting, the jaw dropping, the lip
corners stretching, the eyelids closing). Each is a smooth function of time with a drawn
amplitude, frequency and phase. The 68 dlib landmarks of the still carry the motion; a
piecewise-affine field on a triangulation of the landmarks, points above the brows that move
with the head, and a fixed ring around the head warps the face, so that the background beyond
the ring stays exactly still, as it does in the talking-face clips.

Times are fractions of a unit window; the exposure covers the middle ``exposure`` of it, and N
sub-frames sample it evenly. Head motion is zero at the window's middle, so the middle sub-frame
keeps the still's pose (and framing) and serves as the sharp target, as the middle frame does in
frames mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.sparse import csr_matrix
from scipy.spatial import Delaunay

from ..errors import NoFaceError
from ..faces.detect import Detection, DlibHOGDetector, largest_face
from ..faces.dlib_faces import landmarks68
from ..faces.motion_order import LEFT_EYE_POINTS
from .checks import check_range

OVERSAMPLE = 2
"""Sub-frames are warped at this multiple of the output size, then area-averaged down."""
LANDMARK_SIDE = 240
"""Images whose shorter side is below this are enlarged (bicubic, by a whole factor) before dlib
looks for the face and its landmarks: CelebA's 89x109 faces are searched at 3x."""
MAX_AMPLITUDE = 4.0
"""Largest multiple of the default motion amplitudes."""

JAW = tuple(range(0, 17))
BROWS = tuple(range(17, 27))
NOSE = tuple(range(27, 36))
RIGHT_EYE_POINTS = tuple(range(42, 48))
OUTER_LIPS = tuple(range(48, 60))
INNER_LIPS = tuple(range(60, 68))
UPPER_LIDS = ((37, 41), (38, 40), (43, 47), (44, 46))
"""(upper lid point, the lower lid point below it) of both eyes."""

HEAD_CHANNELS = ("rotation", "shift_x", "shift_y", "scale", "yaw")
EXPRESSION_CHANNELS = ("lips", "jaw", "corners")
HEAD_AMPLITUDE = {"rotation": 3.0, "shift_x": 0.45, "shift_y": 0.3, "scale": 0.03, "yaw": 6.0}
"""Largest head motion at amplitude 1: degrees for rotation and yaw, fractions of the
inter-ocular distance (IOD) for the shifts, relative size change for scale. Tuned so that the
left eye's travel covers that of the held-out talking-face clips (docs/synthesis.md)."""
HEAD_SKEW = 3.0
"""Head amplitudes are ``HEAD_AMPLITUDE * u ** HEAD_SKEW`` with u ~ U(0, 1): most exposures see a
small head motion and a few a large one, as in the clips."""
EXPRESSION_AMPLITUDE = {"lips": 0.12, "jaw": 0.10, "corners": 0.05}
"""Largest expression motion at amplitude 1, in IODs: lower-lip drop of the lips parting, chin
drop of the jaw, sideways travel of each lip corner."""
BLINK_CHANCE = 0.3
"""Share of exposures with a blink (at eye amplitude > 0)."""
MAX_BLINK = 0.9
"""Largest fraction of the eyelid gap a blink closes (a full closure would fold the mesh)."""
FREQUENCY_RANGE = (0.25, 1.0)
"""Cycles of each periodic channel per unit window."""
BLINK_WIDTH_RANGE = (0.05, 0.15)
"""Standard deviation of a blink's Gaussian closure, in unit windows."""

DEPTH = {**dict.fromkeys(NOSE, 0.25), 30: 0.35, 29: 0.3, 28: 0.25, 27: 0.2}
"""Depth in front of the cheek plane (in IODs) of points that shift against the outline in a
yaw; eyes, brows and mouth sit at ``FACE_DEPTH``, the jaw outline at 0."""
FACE_DEPTH = 0.1
FOREHEAD_RISE = 0.7
"""Points 0.7 IOD above each brow point (0.35 above the jaw's ends) close the head at the top."""
RING_SCALE = 1.5
"""The fixed ring is the head outline scaled by this about the head's centre."""


@dataclass(frozen=True)
class FaceMotionSettings:
    """How much a still face moves (``facedeblur synth --mode face-motion``).

    Attributes:
        head: multiple of ``HEAD_AMPLITUDE`` (rotation, shifts, scale, yaw), in [0, 4].
        mouth: multiple of ``EXPRESSION_AMPLITUDE`` (lips, jaw, lip corners), in [0, 4].
        eyes: multiple of the blink closure ``MAX_BLINK`` (capped at it), in [0, 4].
        shake: add a camera shake on top (the kernel settings' trajectory, sampled at the
            sub-frame times): every pixel then moves, background included.

    Exposure (fraction of the unit window) comes from the kernel settings' ``exposure`` range,
    and N from ``SampleSettings.frame_counts``.
    """

    head: float = 1.0
    mouth: float = 1.0
    eyes: float = 1.0
    shake: bool = False

    def __post_init__(self):
        for name in ("head", "mouth", "eyes"):
            check_range(name, getattr(self, name), 0.0, MAX_AMPLITUDE)


def find_landmarks(img: np.ndarray, source: str | Path) -> tuple[Detection, np.ndarray]:
    """The largest face of an RGB (H, W, 3) image and its 68 dlib landmarks (68, 2) (x, y) px.

    Small images are enlarged by ``ceil(LANDMARK_SIDE / min(H, W))`` first; box and points are
    mapped back to the image's own pixels. Raises ``NoFaceError`` naming ``source``.
    """
    factor = max(1, math.ceil(LANDMARK_SIDE / min(img.shape[:2])))
    big = img
    if factor > 1:
        big = cv2.resize(
            img, (img.shape[1] * factor, img.shape[0] * factor), interpolation=cv2.INTER_CUBIC
        )
        big = np.clip(big, 0.0, 1.0) if big.dtype != np.uint8 else big
    face = largest_face(DlibHOGDetector(upsample=0 if factor > 1 else 1)(big))
    if face is None:
        raise NoFaceError(source, "no face found, so no landmarks to move (face-motion needs one)")
    points = (landmarks68(big, face.box).astype(np.float64) + 0.5) / factor - 0.5
    box = tuple(float((v + 0.5) / factor - 0.5) for v in face.box)
    return Detection(box, face.score), points


def interocular(points: np.ndarray) -> float:
    """Distance between the two eye centroids of (68, 2) landmarks, in their pixels."""
    left = points[list(LEFT_EYE_POINTS)].mean(axis=0)
    right = points[list(RIGHT_EYE_POINTS)].mean(axis=0)
    return float(np.linalg.norm(right - left))


def head_points(points: np.ndarray) -> np.ndarray:
    """(12, 2) points that close the head above the brows: each brow point raised by
    ``FOREHEAD_RISE`` IODs along the face's up axis (chin to nose bridge), the jaw's two ends
    raised by half that."""
    iod = interocular(points)
    up = points[27] - points[8]
    up = up / max(np.linalg.norm(up), 1e-6)
    brows = points[list(BROWS)] + FOREHEAD_RISE * iod * up
    ends = points[[0, 16]] + 0.5 * FOREHEAD_RISE * iod * up
    return np.concatenate([brows, ends])


def _periodic(rng: np.random.Generator, amplitude: float, signed: bool, skew: float = 1.0) -> dict:
    draw = {
        "amplitude": float(amplitude * rng.uniform(0.0, 1.0) ** skew),
        "frequency": float(rng.uniform(*FREQUENCY_RANGE)),
        "phase": float(rng.uniform(0.0, 2.0 * math.pi)),
    }
    if signed:
        draw["amplitude"] *= float(rng.choice((-1.0, 1.0)))
    return draw


def draw_motion(rng: np.random.Generator, settings: FaceMotionSettings) -> dict:
    """Every random number of one face motion, as a manifest-ready dict.

    Periodic channels hold ``amplitude`` (signed for the head and the lip corners), ``frequency``
    (cycles per window) and ``phase`` (radians); ``blink`` holds ``amplitude`` (fraction of the
    lid gap closed, 0 without a blink), ``centre`` and ``width`` (window fractions).
    """
    motion = {}
    for name in HEAD_CHANNELS:
        motion[name] = _periodic(
            rng, settings.head * HEAD_AMPLITUDE[name], signed=True, skew=HEAD_SKEW
        )
    for name in EXPRESSION_CHANNELS:
        motion[name] = _periodic(
            rng, settings.mouth * EXPRESSION_AMPLITUDE[name], signed=name == "corners"
        )
    blinks = bool(rng.uniform() < BLINK_CHANCE)
    closure = min(MAX_BLINK, MAX_BLINK * settings.eyes) * float(rng.uniform(0.0, 1.0))
    motion["blink"] = {
        "amplitude": closure if blinks else 0.0,
        "centre": float(rng.uniform(0.0, 1.0)),
        "width": float(rng.uniform(*BLINK_WIDTH_RANGE)),
    }
    return motion


def sample_times(n: int, exposure: float) -> np.ndarray:
    """(n,) times in [0, 1] of n sub-frames evenly covering the window's middle ``exposure``."""
    if n == 1:
        return np.array([0.5])
    return 0.5 + exposure * (np.arange(n) / (n - 1) - 0.5)


def channel_values(motion: dict, times: np.ndarray) -> dict[str, np.ndarray]:
    """Each channel of a drawn motion at ``times`` (T,): head channels are 0 at t = 0.5, lips and
    jaw open in [0, amplitude], corners swing in [-|a|, |a|], the blink closes in [0, amplitude]."""
    values = {}
    for name in HEAD_CHANNELS:
        c = motion[name]
        angle = 2.0 * math.pi * c["frequency"] * times + c["phase"]
        mid = 2.0 * math.pi * c["frequency"] * 0.5 + c["phase"]
        values[name] = c["amplitude"] * (np.sin(angle) - math.sin(mid))
    for name in EXPRESSION_CHANNELS:
        c = motion[name]
        angle = 2.0 * math.pi * c["frequency"] * times + c["phase"]
        if name == "corners":
            values[name] = c["amplitude"] * np.sin(angle)
        else:
            values[name] = c["amplitude"] * 0.5 * (1.0 - np.cos(angle))
    b = motion["blink"]
    values["blink"] = b["amplitude"] * np.exp(-0.5 * ((times - b["centre"]) / b["width"]) ** 2)
    return values


def _expression(points: np.ndarray, iod: float, values: dict, k: int) -> np.ndarray:
    """Landmarks (68, 2) after the expression of time step ``k``, before the head moves.

    Lips part (lower lip down, upper lip a quarter as far up), the jaw drops (chin and lower lip
    down, tapering along the jaw), the lip corners stretch outwards and up (or purse inwards), the
    upper lids close towards the lower ones.
    """
    moved = points.copy()
    down = points[8] - points[27]
    down = down / max(np.linalg.norm(down), 1e-6)
    side = np.array([-down[1], down[0]])
    if side @ (points[54] - points[48]) < 0:
        side = -side
    lips, jaw, corners = (values[name][k] * iod for name in EXPRESSION_CHANNELS)
    moved[[55, 56, 57, 58, 59, 65, 66, 67]] += (lips + jaw) * down
    moved[[49, 50, 51, 52, 53, 61, 62, 63]] -= 0.25 * lips * down
    for index, weight in zip(range(4, 13), (0.2, 0.45, 0.7, 0.9, 1.0, 0.9, 0.7, 0.45, 0.2)):
        moved[index] += weight * jaw * down
    moved[[48, 54, 60, 64]] += 0.5 * (lips + jaw) * down
    for left, right, weight in ((48, 54, 1.0), (60, 64, 1.0), (49, 53, 0.4), (59, 55, 0.4)):
        moved[left] -= weight * corners * side
        moved[right] += weight * corners * side
        moved[[left, right]] -= 0.4 * weight * max(corners, 0.0) * down
    for upper, lower in UPPER_LIDS:
        moved[upper] += values["blink"][k] * (points[lower] - points[upper])
    return moved


def _depths() -> np.ndarray:
    depth = np.full(68 + 12, FACE_DEPTH)
    depth[list(JAW)] = 0.0
    for index, value in DEPTH.items():
        depth[index] = value
    return depth


def _head(points: np.ndarray, centre: np.ndarray, iod: float, values: dict, k: int) -> np.ndarray:
    """Head points (P, 2) after the head pose of time step ``k`` (yaw, then rotation, scale and
    shift about ``centre``); image axes, y down."""
    yaw = math.radians(values["yaw"][k])
    rel = points - centre
    x = rel[:, 0] * math.cos(yaw) + _depths()[: len(points)] * iod * math.sin(yaw)
    rel = np.stack([x, rel[:, 1]], axis=1)
    angle = math.radians(values["rotation"][k])
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    shift = np.array([values["shift_x"][k], values["shift_y"][k]]) * iod
    return centre + (1.0 + values["scale"][k]) * rel @ rotation.T + shift


def motion_tracks(points: np.ndarray, motion: dict, times: np.ndarray) -> np.ndarray:
    """Where the head points go: (T, 80, 2), the 68 landmarks then the 12 ``head_points``.

    Args:
        points: (68, 2) landmarks (x, y) of the still, in pixels.
        motion: a ``draw_motion`` result.
        times: (T,) times in [0, 1].
    """
    points = np.asarray(points, dtype=np.float64)
    iod = interocular(points)
    values = channel_values(motion, np.asarray(times, dtype=np.float64))
    top = head_points(points)
    centre = np.concatenate([points[list(JAW)], top]).mean(axis=0)
    tracks = []
    for k in range(len(times)):
        moved = np.concatenate([_expression(points, iod, values, k), top])
        tracks.append(_head(moved, centre, iod, values, k))
    return np.stack(tracks)


def ring_points(points: np.ndarray, reach: float = 0.0) -> np.ndarray:
    """The fixed points around a head, (58, 2): its outline (jaw, then ``head_points`` over the
    top) scaled by ``RING_SCALE`` about its centre and pushed ``reach`` px further out, with the
    midpoint of every outline edge."""
    top = head_points(points)
    outline = np.concatenate([points[list(JAW)], top[[11]], top[9::-1], top[[10]]])
    centre = outline.mean(axis=0)
    radial = outline - centre
    outward = radial / np.maximum(np.linalg.norm(radial, axis=1, keepdims=True), 1e-6)
    ring = centre + RING_SCALE * radial + reach * outward
    middles = 0.5 * (ring + np.roll(ring, -1, axis=0))
    return np.concatenate([ring, middles])


class PiecewiseAffineWarp:
    """Dense warps of a (side, side) image driven by moved control points.

    The control points (the 68 landmarks without the inner lips, whose closed-mouth points
    coincide, plus the 12 head points) and fixed points (``ring_points`` and the image's frame)
    are triangulated once (Delaunay, on the still); the ring lies beyond the farthest any head
    point travels, so the mesh does not fold there. A moved image is drawn triangle by triangle:
    each pixel of a moved triangle comes from the same barycentric place in the still's triangle,
    so pixels outside the ring do not move at all.

    Args:
        points: (68, 2) landmarks of the still, in pixels of the (side, side) image.
        side: image side in pixels.
        tracks: (T, 80, 2) the head points' positions over the motion (``motion_tracks``);
            None for a ring at ``RING_SCALE``.
    """

    def __init__(self, points: np.ndarray, side: int, tracks: np.ndarray | None = None):
        points = np.asarray(points, dtype=np.float64)
        self.side = side
        self.moving = [i for i in range(80) if i not in INNER_LIPS]
        self.still = np.concatenate([points, head_points(points)])
        pad = 2.0 * side
        frame = np.array(
            [[-pad, -pad], [side + pad, -pad], [-pad, side + pad], [side + pad, side + pad]]
        )
        reach = 0.0
        if tracks is not None:
            reach = float(np.linalg.norm(np.asarray(tracks) - self.still, axis=-1).max())
        self.ring = ring_points(points, reach)
        fixed = np.concatenate([self.ring, frame])
        self.triangulation = Delaunay(np.concatenate([self.still[self.moving], fixed]))
        ys, xs = np.mgrid[0:side, 0:side].astype(np.float64)
        self.grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        self.landmark_weights = self._weights(self.still[:68], self.triangulation.points)

    def vertices(self, moved: np.ndarray) -> np.ndarray:
        """(V, 2) triangulation vertices when the 80 head points move to ``moved`` (80, 2)."""
        vertices = self.triangulation.points.copy()
        vertices[: len(self.moving)] = np.asarray(moved, dtype=np.float64)[self.moving]
        return vertices

    def _raster(self, vertices: np.ndarray) -> np.ndarray:
        """(side * side,) index of the triangle (of the mesh at ``vertices``) under each pixel,
        drawn with OpenCV at 1/16 px; -1 where none is (only where the mesh folds)."""
        canvas = np.full((self.side, self.side), -1, dtype=np.int32)
        corners = np.rint(vertices * 16).astype(np.int32)
        for index, simplex in enumerate(self.triangulation.simplices):
            cv2.fillConvexPoly(canvas, corners[simplex], index, cv2.LINE_8, 4)
        return canvas.ravel()

    def _weights(
        self, where: np.ndarray, vertices: np.ndarray, simplex: np.ndarray | None = None
    ) -> csr_matrix:
        """(M, V) sparse barycentric weights of M points in the mesh at ``vertices`` (V, 2);
        ``simplex`` is each point's triangle when it is known, else the triangle where the
        point's smallest barycentric coordinate is largest."""
        simplices = self.triangulation.simplices
        corners = vertices[simplices]
        edges = (corners[:, :2] - corners[:, 2:]).transpose(0, 2, 1)
        inverse = np.linalg.pinv(edges)
        if simplex is None:
            every = np.einsum("sij,msj->msi", inverse, where[:, None] - corners[None, :, 2])
            every = np.concatenate([every, 1.0 - every.sum(axis=2, keepdims=True)], axis=2)
            simplex = every.min(axis=2).argmax(axis=1)
        bary = np.einsum("mij,mj->mi", inverse[simplex], where - corners[simplex, 2])
        bary = np.concatenate([bary, 1.0 - bary.sum(axis=1, keepdims=True)], axis=1)
        rows = np.repeat(np.arange(len(where)), 3)
        cols = simplices[simplex].ravel()
        return csr_matrix((bary.ravel(), (rows, cols)), shape=(len(where), len(vertices)))

    def backward_map(self, moved: np.ndarray) -> np.ndarray:
        """(side, side, 2) float32 map for ``cv2.remap``: where each pixel of the moved image
        comes from in the still (itself, where a folded mesh leaves it uncovered)."""
        vertices = self.vertices(moved)
        simplex = self._raster(vertices)
        covered = simplex >= 0
        source = self.grid.copy()
        weights = self._weights(self.grid[covered], vertices, simplex[covered])
        source[covered] = weights @ self.triangulation.points
        return source.reshape(self.side, self.side, 2).astype(np.float32)

    def moved_landmarks(self, moved: np.ndarray) -> np.ndarray:
        """(68, 2) positions of all 68 landmarks under the warp of ``moved`` (the inner lips
        follow the mesh; every other landmark is exactly where it was moved)."""
        return self.landmark_weights @ self.vertices(moved)


def render_subframes(
    still: np.ndarray, warp: PiecewiseAffineWarp, tracks: np.ndarray, shifts: np.ndarray | None
) -> list[np.ndarray]:
    """Warp a float (side, side, 3) still into one sub-frame per track.

    Args:
        still: the oversampled face, float32 in [0, 1], side ``warp.side``.
        warp: the still's ``PiecewiseAffineWarp``.
        tracks: (T, 80, 2) moved head points (``motion_tracks``), in the still's pixels.
        shifts: (T, 2) camera-shake translations (x, y) in the still's pixels, or None.

    Returns:
        T float32 (side, side, 3) images; content entering from outside repeats the border.
    """
    frames = []
    grid = warp.grid.reshape(warp.side, warp.side, 2).astype(np.float32)
    for k, moved in enumerate(tracks):
        source = warp.backward_map(moved)
        if shifts is not None:
            shifted = grid - np.asarray(shifts[k], dtype=np.float32)
            source = cv2.remap(
                source,
                shifted[..., 0],
                shifted[..., 1],
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
        frames.append(
            cv2.remap(
                still,
                source[..., 0],
                source[..., 1],
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
        )
    return frames
