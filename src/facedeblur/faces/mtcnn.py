"""MTCNN face detector (Zhang et al., 2016) in plain PyTorch, with facenet-pytorch's weights.

The three networks (P-Net, R-Net, O-Net) have the state-dict keys of the plain state dicts of the
facenet-pytorch 2.6.0 wheel (``facenet_pytorch/data/{pnet,rnet,onet}.pt``). Those weights ship in
this package as safetensors (``pretrained/third_party/mtcnn``, MIT, with their licence notices), so
loading them never unpickles; facenet-pytorch is neither needed nor imported.
The cascade follows facenet-pytorch's ``detect_face``: an image pyramid (factor 0.709, smallest face
``min_face_size``), P-Net proposals with per-scale and global NMS, R-Net refinement on 24x24 crops,
O-Net scoring, box regression and five landmarks on 48x48 crops, and a final "Min" NMS.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from ..errors import FaceDeblurError
from ..models.statedicts import state_dict_problems
from .detect import Detection

_FILES = ("pnet.safetensors", "rnet.safetensors", "onet.safetensors")


# --------------------------------------------------------------------------------------------
# Networks
# --------------------------------------------------------------------------------------------


class PNet(nn.Module):
    """Proposal network: fully convolutional, 12x12 receptive field, stride 2.

    Input (N, 3, H, W) normalised as ``(x * 255 - 127.5) / 128``. Returns box regression
    (N, 4, H', W') and face probabilities (N, 2, H', W') (softmax over dim 1; channel 1 = face).
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu2(self.conv2(x))
        x = self.prelu3(self.conv3(x))
        return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)


class RNet(nn.Module):
    """Refinement network on 24x24 crops. Returns box regression (N, 4) and probabilities (N, 2)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, kernel_size=3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, kernel_size=3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, kernel_size=2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        # The Caffe port flattens in (W, H, C) order: keep it so the dense weights fit.
        x = x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)
        x = self.prelu4(self.dense4(x))
        return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)


class ONet(nn.Module):
    """Output network on 48x48 crops.

    Returns box regression (N, 4), landmarks (N, 10) as (x1..x5, y1..y5) relative to the box,
    and probabilities (N, 2).
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, kernel_size=2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)
        x = self.prelu5(self.dense5(x))
        return self.dense6_2(x), self.dense6_3(x), torch.softmax(self.dense6_1(x), dim=1)


# --------------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------------


def mtcnn_weights_dir() -> Path:
    """The folder of the shipped MTCNN weights: ``pnet``, ``rnet`` and ``onet.safetensors``.

    Raises ``FaceDeblurError`` when a file is missing from this installation.
    """
    folder = Path(
        str(importlib.resources.files("facedeblur") / "pretrained" / "third_party" / "mtcnn")
    )
    missing = [name for name in _FILES if not (folder / name).is_file()]
    if missing:
        raise FaceDeblurError(
            f"{folder}: the shipped MTCNN weights are missing ({', '.join(missing)}); "
            "reinstall facedeblur"
        )
    return folder


def load_net_weights(net: nn.Module, path: Path) -> nn.Module:
    """Load an MTCNN weights file (safetensors, facenet-pytorch's keys) into ``net`` (eval mode).

    The keys and shapes must fit ``net`` exactly; ``FaceDeblurError`` names the file otherwise.
    """
    if not path.is_file():
        raise FaceDeblurError(f"{path}: MTCNN weights file not found")
    try:
        state = load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise FaceDeblurError(f"{path}: MTCNN weights file cannot be read ({exc})") from None
    problems = state_dict_problems(state, {k: v.shape for k, v in net.state_dict().items()})
    if problems:
        raise FaceDeblurError(
            f"{path}: MTCNN weights file does not fit {type(net).__name__} ({'; '.join(problems)})"
        )
    net.load_state_dict(state)
    return net.eval()


# --------------------------------------------------------------------------------------------
# Box helpers (boxes are float tensors (N, >=4) of x0, y0, x1, y1, ...)
# --------------------------------------------------------------------------------------------


def nms(
    boxes: torch.Tensor, scores: torch.Tensor, threshold: float, method: str = "Union"
) -> torch.Tensor:
    """Greedy non-maximum suppression; indices kept, best score first.

    ``method="Union"`` uses intersection over union with continuous areas (as torchvision);
    ``method="Min"`` uses intersection over the smaller area with the +1 pixel convention of the
    original MTCNN code. Boxes overlapping a kept one by more than ``threshold`` are dropped.
    """
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long)
    b = boxes[:, :4].detach().cpu().double().numpy()
    s = scores.detach().cpu().double().numpy()
    plus = 1.0 if method == "Min" else 0.0
    x0, y0, x1, y1 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    area = (x1 - x0 + plus) * (y1 - y0 + plus)
    order = np.argsort(-s, kind="stable")
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]) + plus)
        h = np.maximum(0.0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]) + plus)
        inter = w * h
        if method == "Min":
            denom = np.minimum(area[i], area[rest])
        else:
            denom = area[i] + area[rest] - inter
        with np.errstate(divide="ignore", invalid="ignore"):
            overlap = np.where(denom > 0, inter / np.where(denom > 0, denom, 1.0), 0.0)
        order = rest[overlap <= threshold]
    return torch.as_tensor(np.asarray(keep, dtype=np.int64))


def _batched_nms(boxes, scores, image_inds, threshold, method="Union"):
    """NMS run separately per image index; kept indices in ascending image, then score order."""
    keep = []
    for i in torch.unique(image_inds).tolist():
        idx = torch.nonzero(image_inds == i).flatten()
        keep.append(idx[nms(boxes[idx], scores[idx], threshold, method)])
    if not keep:
        return torch.empty(0, dtype=torch.long)
    return torch.cat(keep)


def _bbreg(boxes: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    """Apply box regression (offsets in units of the box side, +1 pixel convention)."""
    boxes = boxes.clone()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    boxes[:, 0] = boxes[:, 0] + reg[:, 0] * w
    boxes[:, 1] = boxes[:, 1] + reg[:, 1] * h
    boxes[:, 2] = boxes[:, 2] + reg[:, 2] * w
    boxes[:, 3] = boxes[:, 3] + reg[:, 3] * h
    return boxes


def _rerec(boxes: torch.Tensor) -> torch.Tensor:
    """Turn boxes into squares of the larger side around the same centre."""
    boxes = boxes.clone()
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    side = torch.maximum(w, h)
    boxes[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    boxes[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def _generate_boxes(reg, probs, scale, threshold):
    """P-Net map cells scoring >= threshold -> boxes and image indices.

    Boxes are (x0, y0, x1, y1, score, 4 reg).
    """
    stride, cell = 2, 12
    mask = probs >= threshold
    inds = mask.nonzero()
    image_inds = inds[:, 0]
    score = probs[mask]
    reg = reg.permute(1, 0, 2, 3)[:, mask].permute(1, 0)
    xy = inds[:, 1:].to(reg.dtype).flip(1)  # (x, y) cell positions
    q1 = torch.floor((stride * xy + 1) / scale)
    q2 = torch.floor((stride * xy + cell) / scale)
    return torch.cat([q1, q2, score.unsqueeze(1), reg], dim=1), image_inds


# --------------------------------------------------------------------------------------------
# Detector
# --------------------------------------------------------------------------------------------


class MTCNN:
    """Multi-task cascaded CNN face detector with five landmarks.

    Args:
        weights_dir: folder with ``pnet.safetensors``, ``rnet.safetensors`` and
            ``onet.safetensors`` (facenet-pytorch's state dicts); ``None`` uses the shipped ones.
        min_face_size: smallest face side in pixels searched for.
        thresholds: face-probability thresholds of P-Net, R-Net and O-Net.
        factor: scale step of the image pyramid.
        device: torch device the networks run on.

    Raises ``FaceDeblurError`` when a weights file is missing or does not fit its network.
    """

    name = "mtcnn"

    def __init__(
        self,
        weights_dir: str | Path | None = None,
        min_face_size: int = 20,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        factor: float = 0.709,
        device: str | torch.device = "cpu",
    ):
        folder = mtcnn_weights_dir() if weights_dir is None else Path(weights_dir)
        if not folder.is_dir():
            raise FaceDeblurError(f"{folder}: MTCNN weights folder not found")
        self.device = torch.device(device)
        self.pnet = load_net_weights(PNet(), folder / "pnet.safetensors").to(self.device)
        self.rnet = load_net_weights(RNet(), folder / "rnet.safetensors").to(self.device)
        self.onet = load_net_weights(ONet(), folder / "onet.safetensors").to(self.device)
        self.min_face_size = min_face_size
        self.thresholds = tuple(float(t) for t in thresholds)
        self.factor = factor

    # -- public -------------------------------------------------------------------------------

    def __call__(self, img: np.ndarray) -> list[Detection]:
        """Detect faces in one RGB (H, W, 3) image (float in [0, 1] or uint8), best score first."""
        return self.detect_batch([img])[0]

    @torch.inference_mode()
    def detect_batch(self, images: list[np.ndarray]) -> list[list[Detection]]:
        """Detect faces in several RGB images; one list of detections (best first) per image.

        Images of equal size share P-Net passes; R-Net and O-Net run once over all candidates.
        """
        tensors = [self._to_tensor(img) for img in images]
        if not tensors:
            return []
        boxes, image_inds = self._stage1(tensors)
        boxes, image_inds = self._stage2(tensors, boxes, image_inds)
        boxes, points, image_inds = self._stage3(tensors, boxes, image_inds)
        return self._to_detections(tensors, boxes, points, image_inds)

    # -- stages -------------------------------------------------------------------------------

    def _to_tensor(self, img: np.ndarray) -> torch.Tensor:
        arr = np.asarray(img)
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise FaceDeblurError(f"MTCNN expects an RGB (H, W, 3) image, got shape {arr.shape}")
        if arr.dtype == np.uint8:
            t = torch.from_numpy(np.ascontiguousarray(arr)).float()
        else:
            t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)) * 255.0
        return t.permute(2, 0, 1).to(self.device)  # (3, H, W), values in [0, 255]

    def _scales(self, h: int, w: int) -> list[float]:
        m = 12.0 / self.min_face_size
        minl = min(h, w) * m
        scales, scale = [], m
        while minl >= 12:
            scales.append(scale)
            scale *= self.factor
            minl *= self.factor
        return scales

    def _stage1(self, tensors):
        groups: dict[tuple[int, int], list[int]] = {}
        for i, t in enumerate(tensors):
            groups.setdefault(tuple(t.shape[1:]), []).append(i)
        all_boxes, all_inds = [], []
        for (h, w), members in groups.items():
            batch = torch.stack([tensors[i] for i in members])
            members_t = torch.as_tensor(members, dtype=torch.long, device=self.device)
            for scale in self._scales(h, w):
                data = F.interpolate(
                    batch, size=(int(h * scale + 1), int(w * scale + 1)), mode="area"
                )
                reg, probs = self.pnet((data - 127.5) * 0.0078125)
                boxes, local = _generate_boxes(reg, probs[:, 1], scale, self.thresholds[0])
                if boxes.shape[0] == 0:
                    continue
                inds = members_t[local]
                keep = _batched_nms(boxes, boxes[:, 4], inds, 0.5).to(self.device)
                all_boxes.append(boxes[keep])
                all_inds.append(inds[keep])
        if not all_boxes:
            return torch.zeros(0, 9, device=self.device), torch.zeros(
                0, dtype=torch.long, device=self.device
            )
        boxes = torch.cat(all_boxes)
        inds = torch.cat(all_inds)
        keep = _batched_nms(boxes, boxes[:, 4], inds, 0.7).to(self.device)
        boxes, inds = boxes[keep], inds[keep]
        regw = boxes[:, 2] - boxes[:, 0]
        regh = boxes[:, 3] - boxes[:, 1]
        refined = torch.stack(
            [
                boxes[:, 0] + boxes[:, 5] * regw,
                boxes[:, 1] + boxes[:, 6] * regh,
                boxes[:, 2] + boxes[:, 7] * regw,
                boxes[:, 3] + boxes[:, 8] * regh,
                boxes[:, 4],
            ],
            dim=1,
        )
        return _rerec(refined), inds

    def _crops(self, tensors, boxes, image_inds, size):
        """Resample the (clipped) box regions to size x size; also the mask of usable boxes."""
        b = boxes[:, :4].trunc().long().cpu().numpy()
        crops, valid = [], []
        for k in range(b.shape[0]):
            img = tensors[int(image_inds[k])]
            h, w = img.shape[1:]
            x0, y0 = max(int(b[k, 0]), 1), max(int(b[k, 1]), 1)
            x1, y1 = min(int(b[k, 2]), w), min(int(b[k, 3]), h)
            if x1 > x0 - 1 and y1 > y0 - 1:
                patch = img[:, y0 - 1 : y1, x0 - 1 : x1].unsqueeze(0)
                crops.append(F.interpolate(patch, size=(size, size), mode="area"))
                valid.append(True)
            else:
                valid.append(False)
        mask = torch.as_tensor(valid, dtype=torch.bool, device=self.device)
        if not crops:
            return torch.zeros(0, 3, size, size, device=self.device), mask
        return (torch.cat(crops) - 127.5) * 0.0078125, mask

    @staticmethod
    def _run(net, data, chunk=512):
        outs = [net(data[i : i + chunk]) for i in range(0, data.shape[0], chunk)]
        return tuple(torch.cat(v) for v in zip(*outs))

    def _stage2(self, tensors, boxes, image_inds):
        if boxes.shape[0] == 0:
            return boxes, image_inds
        data, valid = self._crops(tensors, boxes, image_inds, 24)
        boxes, image_inds = boxes[valid], image_inds[valid]
        if boxes.shape[0] == 0:
            return boxes, image_inds
        reg, probs = self._run(self.rnet, data)
        score = probs[:, 1]
        ok = score > self.thresholds[1]
        boxes = torch.cat([boxes[ok, :4], score[ok].unsqueeze(1)], dim=1)
        image_inds, reg = image_inds[ok], reg[ok]
        keep = _batched_nms(boxes, boxes[:, 4], image_inds, 0.7).to(self.device)
        boxes, image_inds, reg = boxes[keep], image_inds[keep], reg[keep]
        return _rerec(_bbreg(boxes, reg)), image_inds

    def _stage3(self, tensors, boxes, image_inds):
        empty_points = torch.zeros(0, 5, 2, device=self.device)
        if boxes.shape[0] == 0:
            return boxes, empty_points, image_inds
        data, valid = self._crops(tensors, boxes, image_inds, 48)
        boxes, image_inds = boxes[valid], image_inds[valid]
        if boxes.shape[0] == 0:
            return boxes, empty_points, image_inds
        reg, marks, probs = self._run(self.onet, data)
        score = probs[:, 1]
        ok = score > self.thresholds[2]
        boxes = torch.cat([boxes[ok, :4], score[ok].unsqueeze(1)], dim=1)
        image_inds, reg, marks = image_inds[ok], reg[ok], marks[ok]
        w = (boxes[:, 2] - boxes[:, 0] + 1).unsqueeze(1)
        h = (boxes[:, 3] - boxes[:, 1] + 1).unsqueeze(1)
        px = w * marks[:, :5] + boxes[:, 0:1] - 1
        py = h * marks[:, 5:10] + boxes[:, 1:2] - 1
        points = torch.stack([px, py], dim=2)  # (N, 5, 2)
        boxes = _bbreg(boxes, reg)
        keep = _batched_nms(boxes, boxes[:, 4], image_inds, 0.7, "Min").to(self.device)
        return boxes[keep], points[keep], image_inds[keep]

    def _to_detections(self, tensors, boxes, points, image_inds):
        boxes = boxes.detach().cpu().double().numpy()
        points = points.detach().cpu().float().numpy()
        inds = image_inds.cpu().numpy()
        result: list[list[Detection]] = [[] for _ in tensors]
        for k in range(boxes.shape[0]):
            i = int(inds[k])
            h, w = tensors[i].shape[1:]
            x0, y0, x1, y1, s = boxes[k]
            box = (
                float(np.clip(x0, 0, w)),
                float(np.clip(y0, 0, h)),
                float(np.clip(x1, 0, w)),
                float(np.clip(y1, 0, h)),
            )
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            result[i].append(Detection(box, float(s), points[k].copy()))
        return [sorted(r, key=lambda d: -d.score) for r in result]
