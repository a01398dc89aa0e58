"""Face tracks through a clip: detections joined across frames, gaps filled, boxes smoothed.

A detector run frame by frame misses a face now and then (motion blur, a turned head) and its
boxes jitter by a few pixels. Restoring or hiding faces from raw detections therefore flickers,
and a missed frame shows the face untouched. ``track_faces`` turns the detections of every frame
into tracks:

1. **Association.** Each detection joins the track whose predicted box (its last box moved on
   at the track's velocity, a constant-velocity model) overlaps it most, if that overlap (IoU)
   is at least ``iou_threshold``; pairs are taken greedily, best overlap first. A detection
   left over starts a new track; a track not seen for more than ``max_gap`` frames ends.
2. **Gap filling.** Frames a track missed between two detections get boxes by linear
   interpolation, so no face is lost for a frame inside its track.
3. **Smoothing.** Every box coordinate is averaged over a centred window of ``window`` frames,
   narrowed symmetrically near the ends of the track. A centred average has no lag: a face
   moving at constant speed keeps its boxes exactly, while detector jitter is averaged away.

Boxes are (x0, y0, x1, y1) in pixels, as ``Detection.box``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .detect import Detection

# Least overlap (intersection over union) of a detection with a track's predicted box to join it.
IOU_THRESHOLD = 0.3
# Most frames in a row a track may miss and still continue (the gap is filled).
MAX_GAP = 5
# Frames in the centred smoothing window (odd; 1 turns smoothing off).
SMOOTH_WINDOW = 5
# Weight of the newest step in a track's velocity: damps detector jitter in the prediction.
VELOCITY_WEIGHT = 0.5


@dataclass(eq=False)
class Track:
    """One face followed through a clip, in every frame from ``first`` to ``last``.

    ``boxes`` (n, 4) and ``scores`` (n,) hold a box and a detector score per frame (filled and
    smoothed); ``detected`` (n,) is True where the detector found the face, False where the
    box was filled in. ``id`` numbers tracks in order of appearance.
    """

    id: int
    first: int
    boxes: np.ndarray
    scores: np.ndarray
    detected: np.ndarray

    @property
    def last(self) -> int:
        """The last frame of the track (inclusive)."""
        return self.first + len(self.boxes) - 1

    @property
    def filled(self) -> int:
        """How many frames of the track were filled in between detections."""
        return int((~self.detected).sum())

    @property
    def size(self) -> float:
        """The median larger side of its boxes, in pixels."""
        sides = np.maximum(self.boxes[:, 2] - self.boxes[:, 0], self.boxes[:, 3] - self.boxes[:, 1])
        return float(np.median(sides))

    def detection(self, frame: int) -> Detection | None:
        """The track's face at ``frame`` as a ``Detection`` (no landmarks), or None outside it."""
        if not self.first <= frame <= self.last:
            return None
        k = frame - self.first
        return Detection(tuple(float(v) for v in self.boxes[k]), float(self.scores[k]))


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes, in [0, 1]."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


@dataclass
class _Open:
    """A track being built: its detections by frame, and the state that predicts its next box."""

    id: int
    seen: dict[int, tuple[np.ndarray, float]]
    last_frame: int
    last_box: np.ndarray
    velocity: np.ndarray

    def predict(self, frame: int) -> np.ndarray:
        return self.last_box + self.velocity * (frame - self.last_frame)

    def add(self, frame: int, box: np.ndarray, score: float) -> None:
        step = (box - self.last_box) / (frame - self.last_frame)
        weight = VELOCITY_WEIGHT if len(self.seen) > 1 else 1.0  # the first step is all we know
        self.velocity = weight * step + (1.0 - weight) * self.velocity
        self.seen[frame] = (box, score)
        self.last_frame, self.last_box = frame, box


def _associate(
    detections: Sequence[Sequence[Detection]], iou_threshold: float, max_gap: int
) -> list[_Open]:
    """Join the detections of consecutive frames into tracks (step 1 of the module docstring)."""
    open_tracks: list[_Open] = []
    done: list[_Open] = []
    for frame, found in enumerate(detections):
        still = []
        for track in open_tracks:
            (still if frame - track.last_frame <= max_gap + 1 else done).append(track)
        open_tracks = still
        boxes = [np.asarray(d.box, dtype=np.float64) for d in found]
        pairs = sorted(
            (
                (overlap, t, d)
                for t, track in enumerate(open_tracks)
                for d, box in enumerate(boxes)
                if (overlap := iou(track.predict(frame), box)) >= iou_threshold
            ),
            key=lambda pair: -pair[0],
        )
        used_tracks, used_boxes = set(), set()
        for _, t, d in pairs:
            if t in used_tracks or d in used_boxes:
                continue
            used_tracks.add(t)
            used_boxes.add(d)
            open_tracks[t].add(frame, boxes[d], float(found[d].score))
        for d, box in enumerate(boxes):
            if d not in used_boxes:
                number = len(open_tracks) + len(done)
                seen = {frame: (box, float(found[d].score))}
                open_tracks.append(_Open(number, seen, frame, box, np.zeros(4)))
    return sorted(done + open_tracks, key=lambda track: track.id)


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average of (n, ...) ``values`` along axis 0 over ``window`` frames.

    Near the ends the window narrows symmetrically (frame k averages frames k - h .. k + h with
    h = min(window // 2, k, n - 1 - k)), so the average never lags: values that change
    linearly come back unchanged.
    """
    values = np.asarray(values, dtype=np.float64)
    count = len(values)
    half = max(0, window // 2)
    if half == 0 or count < 3:
        return values.copy()
    cumulative = np.concatenate([np.zeros((1, *values.shape[1:])), np.cumsum(values, axis=0)])
    k = np.arange(count)
    h = np.minimum(half, np.minimum(k, count - 1 - k))
    sums = cumulative[k + h + 1] - cumulative[k - h]
    return sums / (2 * h + 1).reshape(-1, *([1] * (values.ndim - 1)))


def _finish(track: _Open, number: int, window: int) -> Track:
    """A built track with its gaps filled by linear interpolation and its boxes smoothed."""
    frames = np.array(sorted(track.seen))
    boxes = np.stack([track.seen[f][0] for f in frames])
    scores = np.array([track.seen[f][1] for f in frames])
    every = np.arange(frames[0], frames[-1] + 1)
    filled = np.stack([np.interp(every, frames, boxes[:, c]) for c in range(4)], axis=1)
    return Track(
        id=number,
        first=int(frames[0]),
        boxes=smooth(filled, window),
        scores=np.interp(every, frames, scores),
        detected=np.isin(every, frames),
    )


def track_faces(
    detections: Sequence[Sequence[Detection]],
    iou_threshold: float = IOU_THRESHOLD,
    max_gap: int = MAX_GAP,
    window: int = SMOOTH_WINDOW,
    min_detections: int = 1,
) -> list[Track]:
    """Face tracks from the detections of consecutive frames (see the module docstring).

    Args:
        detections: per frame, in order, the faces the detector found there.
        iou_threshold: least IoU, in (0, 1], of a detection with a track's predicted box.
        max_gap: most frames in a row a track may miss; shorter gaps are filled.
        window: frames in the centred smoothing window (1: no smoothing).
        min_detections: tracks with fewer detections are dropped (1 keeps every face found,
            the safe choice when faces must be hidden).

    Returns:
        The tracks, numbered 0, 1, ... in order of their first detection.
    """
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    if max_gap < 0 or window < 1 or min_detections < 1:
        raise ValueError(
            "max_gap must be >= 0, window and min_detections >= 1; got "
            f"{max_gap}, {window}, {min_detections}"
        )
    built = [
        t for t in _associate(detections, iou_threshold, max_gap) if len(t.seen) >= min_detections
    ]
    return [_finish(track, number, window) for number, track in enumerate(built)]


def faces_by_frame(tracks: Sequence[Track], count: int) -> list[list[tuple[Track, Detection]]]:
    """Per frame 0 .. count - 1, the (track, smoothed face) pairs present there, left to right."""
    table: list[list[tuple[Track, Detection]]] = [[] for _ in range(count)]
    for track in tracks:
        for frame in range(track.first, min(track.last, count - 1) + 1):
            table[frame].append((track, track.detection(frame)))
    for row in table:
        row.sort(key=lambda pair: pair[1].box[0])
    return table
