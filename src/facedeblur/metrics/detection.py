"""Face detection metrics: IoU, matching a detection to a reference face, and a running tally.

The *reference* box of a face is either the detection found on the sharp image (the usual case
when evaluating deblurring: does the detector still find, on the blurred or restored image, the
face it found on the sharp one?) or a given annotation (e.g. a dataset's ground-truth box).
Boxes are (x0, y0, x1, y1) in pixels with x1 > x0 and y1 > y0; a ``Detection`` may be given
wherever a box is expected.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..faces.detect import Detection

Box = Sequence[float]


def _box(b: Box | Detection) -> tuple[float, float, float, float]:
    if isinstance(b, Detection):
        b = b.box
    x0, y0, x1, y1 = (float(v) for v in b)
    return x0, y0, x1, y1


def iou(a: Box | Detection, b: Box | Detection) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes, in [0, 1].

    Boxes that do not overlap, or only touch along an edge, give 0; a degenerate box (zero or
    negative width or height) gives 0 as well.
    """
    ax0, ay0, ax1, ay1 = _box(a)
    bx0, by0, bx1, by1 = _box(b)
    area_a = (ax1 - ax0) * (ay1 - ay0)
    area_b = (bx1 - bx0) * (by1 - by0)
    if ax1 <= ax0 or ay1 <= ay0 or bx1 <= bx0 or by1 <= by0:
        return 0.0
    iw = min(ax1, bx1) - max(ax0, bx0)
    ih = min(ay1, by1) - max(ay0, by0)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / (area_a + area_b - inter)


def match_face(
    detections: Sequence[Detection], reference_box: Box | Detection, iou_threshold: float = 0.5
) -> Detection | None:
    """The detection with the highest IoU with ``reference_box`` if that IoU >= ``iou_threshold``.

    Ties go to the earlier detection (detectors list the best score first). Returns None when
    no detection overlaps the reference enough.
    """
    best, best_iou = None, -1.0
    for det in detections:
        value = iou(det, reference_box)
        if value > best_iou:
            best, best_iou = det, value
    return best if best is not None and best_iou >= iou_threshold else None


def greedy_match(
    detections: Sequence[Detection],
    references: Sequence[Box | Detection],
    iou_threshold: float = 0.5,
) -> list[tuple[int, int, float]]:
    """One-to-one matching of detections to reference boxes, greedily by decreasing IoU.

    Returns (detection index, reference index, IoU) for each matched pair with IoU >= threshold.
    """
    pairs = sorted(
        ((iou(d, r), i, j) for i, d in enumerate(detections) for j, r in enumerate(references)),
        key=lambda p: (-p[0], p[1], p[2]),
    )
    used_d, used_r, matches = set(), set(), []
    for value, i, j in pairs:
        if value < iou_threshold:
            break
        if i in used_d or j in used_r:
            continue
        used_d.add(i)
        used_r.add(j)
        matches.append((i, j, value))
    return matches


class DetectionTally:
    """Detection results accumulated over images.

    Each ``add`` takes one image's detections and its reference face boxes (from the sharp
    image's detections or from annotations; see the module docstring). Detections and references
    are matched one-to-one, greedily by IoU, at ``iou_threshold``.

    ``summary()`` returns a dict:
        images, faces (reference faces), detections, matched: counts;
        recall: matched / faces; failure_rate: 1 - recall (share of reference faces without a
        detection at IoU >= threshold); mean_confidence: mean score of the matched detections;
        mean_iou: mean IoU of the matched pairs; false_positives: detections matching no
        reference; seconds: accumulated elapsed time; faces_per_second: faces / seconds and
        images_per_second: images / seconds.
    Ratios that are undefined (no faces, no matches, no time recorded) are None.
    """

    def __init__(self, iou_threshold: float = 0.5):
        self.iou_threshold = float(iou_threshold)
        self.images = 0
        self.faces = 0
        self.detections = 0
        self.matched = 0
        self.false_positives = 0
        self.seconds = 0.0
        self._score_sum = 0.0
        self._iou_sum = 0.0

    def add(
        self,
        detections: Sequence[Detection],
        references: Sequence[Box | Detection],
        seconds: float = 0.0,
    ) -> list[tuple[int, int, float]]:
        """Record one image; ``seconds`` is the time the detector took on it.

        Returns the matches.
        """
        matches = greedy_match(detections, references, self.iou_threshold)
        self.images += 1
        self.faces += len(references)
        self.detections += len(detections)
        self.matched += len(matches)
        self.false_positives += len(detections) - len(matches)
        self.seconds += float(seconds)
        self._score_sum += sum(float(detections[i].score) for i, _, _ in matches)
        self._iou_sum += sum(v for _, _, v in matches)
        return matches

    def add_time(self, seconds: float) -> None:
        """Add elapsed detector time measured apart from ``add``."""
        self.seconds += float(seconds)

    def summary(self) -> dict:
        """The tally as a dict (keys in the class docstring)."""
        recall = self.matched / self.faces if self.faces else None
        return {
            "images": self.images,
            "faces": self.faces,
            "detections": self.detections,
            "matched": self.matched,
            "recall": recall,
            "failure_rate": None if recall is None else 1.0 - recall,
            "mean_confidence": self._score_sum / self.matched if self.matched else None,
            "mean_iou": self._iou_sum / self.matched if self.matched else None,
            "false_positives": self.false_positives,
            "seconds": self.seconds,
            "faces_per_second": self.faces / self.seconds if self.seconds > 0 else None,
            "images_per_second": self.images / self.seconds if self.seconds > 0 else None,
        }
