"""dlib's face-recognition ResNet rebuilt in PyTorch, with its weights read from dlib's own file.

The network is ``anet_type`` of dlib's ``dnn_face_recognition_ex.cpp`` (the one behind
``face_recognition`` and ``dlib.face_recognition_model_v1``): a 7x7/2 convolution, 3x3/2 max
pooling, 14 residual blocks of two 3x3 convolutions (32, 64, 128, 256, 256 channels; the first
block of each of the last four levels strides by 2), global average pooling and a 128-d linear
map without bias: 29 convolutions in all. Each batch normalisation was frozen into a per-channel
affine transform when dlib saved the file.

Three details of dlib's layers are reproduced exactly, since they change the numbers:

- Strided convolutions and poolings have no padding (``con<..., 2, 2>`` pads 0, stride-1 ones
  pad 1), so a 150 px chip shrinks 150 -> 72 -> 35 -> 17 -> 8 -> 3 (4) -> 1 (2).
- A downsampling block adds its 2x2/2 average-pooled input to its output; where they differ in
  size (channels, or 3 vs 4 pixels at the 4th level), dlib adds them top-left aligned and fills
  the rest with the larger one's values (zero padding of the smaller).
- The input is 8-bit RGB with dlib's stored channel means subtracted, divided by 256.

``DlibFaceNet.from_dlib_file`` reads the ``.dat`` of ``face-recognition-models`` directly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from .dlib_models import model_path
from .dlib_serialization import DlibFormatError, DlibReader

CHIP_SIZE = 150
"""Side of the aligned face chip the network takes, in px."""
DESCRIPTOR_SIZE = 128
LEVELS = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))
"""(channels, blocks, first block downsamples) per level, input side first."""
STAGE_NAMES = ("stem", "level1", "level2", "level3", "level4", "level5")


def _pad_add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev``: the sum of (N, C, H, W) tensors of possibly different C, H, W,
    top-left aligned, each zero-padded to the larger size."""
    if a.shape == b.shape:
        return a + b
    size = [max(x, y) for x, y in zip(a.shape[1:], b.shape[1:])]

    def pad(t: torch.Tensor) -> torch.Tensor:
        c, h, w = t.shape[1:]
        return F.pad(t, (0, size[2] - w, 0, size[1] - h, 0, size[0] - c))

    return pad(a) + pad(b)


class _Affine(nn.Module):
    """A per-channel ``x * weight + bias`` (dlib's ``affine`` layer: a frozen batch norm)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class _Block(nn.Module):
    """conv3x3(stride) - affine - relu - conv3x3 - affine, plus the (pooled) input, then relu."""

    def __init__(self, in_channels: int, channels: int, downsample: bool):
        super().__init__()
        stride = 2 if downsample else 1
        self.downsample = downsample
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 0 if downsample else 1)
        self.affine1 = _Affine(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.affine2 = _Affine(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2, 2) if self.downsample else x
        return F.relu(_pad_add(y, shortcut))


class DlibFaceNet(nn.Module):
    """dlib's face-recognition ResNet (29 convolutions, 128-d descriptors) in PyTorch.

    ``forward(chips)``: (N, 3, 150, 150) RGB face chips in [0, 1], aligned as dlib aligns them
    (``faces.align.dlib_chip_matrix`` and ``extract_chips``) -> (N, 128) descriptors (not unit
    vectors); two faces of one person lie closer than 0.6 (Euclidean). Other sizes run too (the
    network is convolutional) but only 150 px chips give dlib's descriptors.

    ``features(chips)`` returns the activations after the stem and after each of the five
    residual levels (``STAGE_NAMES``), for feature losses.

    Build it with :meth:`from_dlib_file`; a fresh instance has untrained weights.
    """

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.zeros(3), persistent=True)
        self.conv = nn.Conv2d(3, 32, 7, 2, 0)
        self.affine = _Affine(32)
        levels = []
        in_channels = 32
        for channels, blocks, downsample in LEVELS:
            level = [_Block(in_channels, channels, downsample)]
            level += [_Block(channels, channels, False) for _ in range(blocks - 1)]
            levels.append(nn.Sequential(*level))
            in_channels = channels
        self.levels = nn.ModuleList(levels)
        self.fc = nn.Linear(in_channels, DESCRIPTOR_SIZE, bias=False)

    def _normalise(self, chips: torch.Tensor) -> torch.Tensor:
        if chips.dim() != 4 or chips.shape[1] != 3:
            raise ValueError(f"face chips must be (N, 3, H, W), got {tuple(chips.shape)}")
        return (chips * 255.0 - self.mean.view(1, 3, 1, 1)) / 256.0

    def features(self, chips: torch.Tensor) -> list[torch.Tensor]:
        """Activations after the stem and each residual level, input side first (6 tensors)."""
        x = F.max_pool2d(F.relu(self.affine(self.conv(self._normalise(chips)))), 3, 2)
        feats = [x]
        for level in self.levels:
            x = level(x)
            feats.append(x)
        return feats

    def describe(self, features: list[torch.Tensor]) -> torch.Tensor:
        """(N, 128) descriptors from the activations ``features`` returns."""
        return self.fc(features[-1].mean(dim=(2, 3)))

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        return self.describe(self.features(chips))

    @classmethod
    def from_dlib_file(cls, path: str | Path | None = None) -> DlibFaceNet:
        """The network with the weights of dlib's ``dlib_face_recognition_resnet_model_v1.dat``.

        ``path`` None reads the file shipped by ``face-recognition-models``. The result is
        frozen (no gradients to its weights) and in eval mode. Building it draws no random
        numbers, so a training run's seeded initialisation does not depend on it.

        Raises:
            InputError: the file is missing, truncated or not this network.
        """
        path = Path(path) if path is not None else model_path("face_descriptor")
        if not path.is_file():
            raise InputError(path, "no such dlib model file")
        state = _read_weights(path)
        with torch.device("meta"):
            net = cls()
        net.load_state_dict(state, assign=True)
        net.requires_grad_(False)
        return net.eval()


@functools.cache
def shipped_facenet() -> DlibFaceNet:
    """The shipped dlib network, read once per process (CPU; move a copy to other devices)."""
    return DlibFaceNet.from_dlib_file()


@dataclass
class _Layer:
    kind: str
    channels: int = 0
    kernel: int = 0
    stride: int = 1


def _layer_plan() -> list[_Layer]:
    """Every layer wrapper of dlib's network, input side first, as dlib nests them.

    ``tag`` and ``skip`` wrappers hold no layer: they write only their version number.
    """
    plan = [_Layer("con", 32, 7, 2), _Layer("affine"), _Layer("relu"), _Layer("max_pool")]
    for channels, blocks, downsample in LEVELS:
        for b in range(blocks):
            down = downsample and b == 0
            plan += [
                _Layer("tag"),
                _Layer("con", channels, 3, 2 if down else 1),
                _Layer("affine"),
                _Layer("relu"),
                _Layer("con", channels, 3, 1),
                _Layer("affine"),
            ]
            if down:
                plan += [_Layer("tag"), _Layer("skip"), _Layer("avg_pool")]
            plan += [_Layer("add_prev"), _Layer("relu")]
    plan += [_Layer("avg_pool_everything"), _Layer("fc", DESCRIPTOR_SIZE)]
    return plan


def _read_con(reader: DlibReader, layer: _Layer) -> tuple[np.ndarray, np.ndarray]:
    tag = reader.read_tag(("con_4", "con_5", "con_6"), "convolution")
    params = reader.read_tensor().ravel()
    num_filters = reader.read_int()
    nr, nc, stride_y, stride_x, pad_y, pad_x = (reader.read_int() for _ in range(6))
    filters = reader.read_alias_tensor()
    reader.read_alias_tensor()
    for _ in range(4):
        reader.read_float()
    use_bias = reader.read_bool() if tag in ("con_5", "con_6") else True
    if tag == "con_6":
        reader.read_bool()
    want_pad = 0 if layer.stride > 1 else layer.kernel // 2
    found = (num_filters, nr, nc, stride_y, stride_x, pad_y, pad_x)
    want = (layer.channels, layer.kernel, layer.kernel, layer.stride, layer.stride) + (
        want_pad,
    ) * 2
    if found != want or filters[0] != num_filters or not use_bias:
        raise reader.fail(f"convolution {found} where {want} was expected")
    weight_count = int(np.prod(filters))
    if params.size != weight_count + num_filters:
        raise reader.fail(f"convolution holds {params.size} numbers, expected {weight_count}+bias")
    return params[:weight_count].reshape(filters), params[weight_count:]


def _read_affine(reader: DlibReader) -> tuple[np.ndarray, np.ndarray]:
    tag = reader.read_tag(("affine_", "affine_2"), "affine")
    params = reader.read_tensor().ravel()
    gamma = reader.read_alias_tensor()
    reader.read_alias_tensor()
    reader.read_int()
    if tag == "affine_2":
        reader.read_bool()
    count = int(np.prod(gamma))
    if params.size != 2 * count:
        raise reader.fail(f"affine layer holds {params.size} numbers for {count} channels")
    return params[:count], params[count:]


def _read_pool(reader: DlibReader, what: str, want: tuple[int, ...]) -> None:
    reader.read_tag((f"{what}_2",), what)
    found = tuple(reader.read_int() for _ in range(6))
    if found != want:
        raise reader.fail(f"{what} {found} where {want} was expected")


def _read_fc(reader: DlibReader) -> np.ndarray:
    tag = reader.read_tag(("fc_2", "fc_3"), "fully connected")
    outputs, inputs = reader.read_int(), reader.read_int()
    params = reader.read_tensor()
    reader.read_alias_tensor()
    reader.read_alias_tensor()
    bias_mode = reader.read_int()
    for _ in range(4):
        reader.read_float()
    if tag == "fc_3":
        reader.read_bool()
    if (outputs, inputs, bias_mode) != (DESCRIPTOR_SIZE, LEVELS[-1][0], 1) or params.size != (
        outputs * inputs
    ):
        raise reader.fail(f"fully connected layer {inputs}->{outputs} (bias mode {bias_mode})")
    return params.reshape(inputs, outputs).T


def _read_layer_trailer(reader: DlibReader, version: int, input_level: bool) -> None:
    """What ``add_layer`` writes after its layer: 3 flags, then cached tensors (ignored)."""
    for _ in range(3):
        reader.read_bool()
    for _ in range(3 if input_level or version == 2 else 2):
        reader.read_tensor()
    if input_level and version == 3:
        reader.read_int()


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The state dict of :class:`DlibFaceNet` from dlib's serialized ``anet_type``."""
    reader = DlibReader(path.read_bytes(), path)
    reader.read_version((1,), "loss layer")
    if reader.read_tag(("loss_metric_", "loss_metric_2"), "loss") == "loss_metric_2":
        reader.read_float()
        reader.read_float()
    plan = _layer_plan()
    versions = {}
    for i in reversed(range(len(plan))):
        if plan[i].kind in ("tag", "skip"):
            reader.read_version((1,), f"{plan[i].kind} layer")
        else:
            versions[i] = reader.read_version((2, 3) if i == 0 else (1, 2), "layer")
    reader.read_tag(("input_rgb_image_sized",), "input layer")
    mean = [reader.read_float() for _ in range(3)]
    size = (reader.read_int(), reader.read_int())
    if size != (CHIP_SIZE, CHIP_SIZE):
        raise reader.fail(f"input size {size}, expected {CHIP_SIZE}x{CHIP_SIZE}")

    convs: list[tuple[np.ndarray, np.ndarray]] = []
    affines: list[tuple[np.ndarray, np.ndarray]] = []
    fc = None
    for i, layer in enumerate(plan):
        if layer.kind in ("tag", "skip"):
            continue
        if layer.kind == "con":
            convs.append(_read_con(reader, layer))
        elif layer.kind == "affine":
            affines.append(_read_affine(reader))
        elif layer.kind == "relu":
            if reader.read_tag(("relu_", "relu_2"), "relu") == "relu_2":
                reader.read_bool()
        elif layer.kind == "max_pool":
            _read_pool(reader, "max_pool", (3, 3, 2, 2, 0, 0))
        elif layer.kind == "avg_pool":
            _read_pool(reader, "avg_pool", (2, 2, 2, 2, 0, 0))
        elif layer.kind == "avg_pool_everything":
            _read_pool(reader, "avg_pool", (0, 0, 1, 1, 0, 0))
        elif layer.kind == "add_prev":
            reader.read_tag(("add_prev_",), "add_prev")
        else:
            fc = _read_fc(reader)
        _read_layer_trailer(reader, versions[i], input_level=i == 0)
    if reader.remaining:
        raise reader.fail(f"{reader.remaining} bytes left after the network")
    return _state_dict(mean, convs, affines, fc)


def _state_dict(mean, convs, affines, fc) -> dict[str, torch.Tensor]:
    names = ["conv"]
    affine_names = ["affine"]
    for li, (_, blocks, _) in enumerate(LEVELS):
        for b in range(blocks):
            names += [f"levels.{li}.{b}.conv1", f"levels.{li}.{b}.conv2"]
            affine_names += [f"levels.{li}.{b}.affine1", f"levels.{li}.{b}.affine2"]
    state = {"mean": torch.tensor(mean, dtype=torch.float32), "fc.weight": torch.from_numpy(fc)}
    for name, (weight, bias) in zip(names, convs, strict=True):
        state[f"{name}.weight"] = torch.from_numpy(weight)
        state[f"{name}.bias"] = torch.from_numpy(bias)
    for name, (gamma, beta) in zip(affine_names, affines, strict=True):
        state[f"{name}.weight"] = torch.from_numpy(gamma)
        state[f"{name}.bias"] = torch.from_numpy(beta)
    for key, value in state.items():
        if not torch.isfinite(value).all():
            raise DlibFormatError("dlib model", f"{key} holds non-finite weights")
    return {k: v.contiguous() for k, v in state.items()}
