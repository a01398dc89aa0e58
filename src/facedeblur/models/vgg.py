"""VGG-19 (configuration E of Simonyan & Zisserman) with torchvision's state-dict layout.

``features``, ``avgpool`` and ``classifier`` are numbered exactly as in torchvision's ``vgg19``,
so torchvision's ImageNet file ``vgg19-dcbb9e9d.pth`` loads strictly. Feature indices by name
are in ``VGG19_LAYERS``; for instance ``conv3_3`` is ``features[14]`` and its ReLU ``features[15]``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn

from ..errors import FaceDeblurError, InputError, UsageError
from .statedicts import state_dict_problems

VGG19_WEIGHTS_FILE = "vgg19-dcbb9e9d.pth"

# Channel widths, "M" for a 2x2 max-pool.
_CFG_E = [
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
    "M",
]


def _layer_names() -> dict[str, int]:
    names, index, block, conv = {}, 0, 1, 1
    for v in _CFG_E:
        if v == "M":
            names[f"pool{block}"] = index
            index, block, conv = index + 1, block + 1, 1
        else:
            names[f"conv{block}_{conv}"] = index
            names[f"relu{block}_{conv}"] = index + 1
            index, conv = index + 2, conv + 1
    return names


# Index in ``VGG19.features`` of every layer: conv1_1 = 0, relu1_1 = 1, ..., conv3_3 = 14, ...,
# pool5 = 36.
VGG19_LAYERS: dict[str, int] = _layer_names()


def _features(last: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 3
    for v in _CFG_E:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = v
    return nn.Sequential(*layers[: last + 1])


class VGG19(nn.Module):
    """VGG-19 without batch norm, laid out like torchvision's ``vgg19``.

    The input is what the ImageNet weights expect: (N, 3, H, W) RGB in [0, 1] normalised with
    mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225); normalising is the caller's job.

    Args:
        truncate_at: ``None`` for the whole network (``features``, ``avgpool`` and the
            1000-class ``classifier``); otherwise the last feature layer to keep, as a name of
            ``VGG19_LAYERS`` (e.g. ``"conv3_3"``) or an index into ``features``. A truncated
            network keeps ``features[:index + 1]`` only and returns that layer's feature map.

    Forward: (N, 3, H, W) -> (N, 1000) logits, or (N, C, H', W') features when truncated.
    """

    def __init__(self, truncate_at: str | int | None = None):
        super().__init__()
        last = len(VGG19_LAYERS) - 1 if truncate_at is None else _layer_index(truncate_at)
        self.truncate_at = truncate_at
        self.features = _features(last)
        if truncate_at is None:
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 4096),
                nn.ReLU(True),
                nn.Dropout(),
                nn.Linear(4096, 4096),
                nn.ReLU(True),
                nn.Dropout(),
                nn.Linear(4096, 1000),
            )
        self._init_weights()

    def _init_weights(self) -> None:
        # torchvision's initialisation; any real use loads ImageNet weights over it.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        if self.truncate_at is not None:
            return x
        return self.classifier(torch.flatten(self.avgpool(x), 1))


def _layer_index(layer: str | int) -> int:
    if isinstance(layer, str):
        if layer not in VGG19_LAYERS:
            raise UsageError(
                f"unknown VGG-19 layer {layer!r}; choose one of {', '.join(VGG19_LAYERS)}"
            )
        return VGG19_LAYERS[layer]
    if not 0 <= layer < len(VGG19_LAYERS):
        raise UsageError(f"VGG-19 layer index {layer} out of range 0..{len(VGG19_LAYERS) - 1}")
    return int(layer)


def _reference_shapes() -> dict[str, torch.Size]:
    with torch.device("meta"):
        full = VGG19()
    return {k: v.shape for k, v in full.state_dict().items()}


def load_vgg19_weights(model: VGG19, path: str | Path) -> VGG19:
    """Load a torchvision-format VGG-19 state dict (e.g. ``vgg19-dcbb9e9d.pth``) into ``model``.

    The file must hold exactly the keys and shapes of the whole VGG-19; a truncated ``model``
    then takes the subset it has. Nothing is ever left at random initialisation.

    Args:
        model: a ``VGG19``, whole or truncated.
        path: the ``.pth`` file, read with ``torch.load(weights_only=True)`` on the CPU.

    Returns:
        ``model``, with its weights replaced.

    Raises:
        InputError (a FaceDeblurError): the file cannot be read, or its keys or shapes differ
            from VGG-19's; the message names the file and the first offending keys.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(path, "VGG-19 weights file not found") from None
    except Exception as exc:  # a corrupt file can fail in many ways inside the unpickler
        raise InputError(path, f"cannot read VGG-19 weights: {type(exc).__name__}: {exc}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(
            path, f"not a VGG-19 state dict (expected a dict of tensors, as {VGG19_WEIGHTS_FILE})"
        )
    expected = _reference_shapes()
    problems = state_dict_problems(state, expected)
    if problems:
        raise InputError(path, "not torchvision's VGG-19 state dict: " + "; ".join(problems))
    own = model.state_dict()
    model.load_state_dict({k: state[k] for k in own}, strict=True)
    return model


def find_vgg19_weights(path: str | Path | None = None) -> Path:
    """Where the ImageNet VGG-19 weights are.

    Args:
        path: a configured file; returned as is when it exists.

    Returns:
        ``path`` if given, else ``torch.hub.get_dir()/checkpoints/vgg19-dcbb9e9d.pth`` (where
        torchvision caches it; ``$TORCH_HOME`` moves it).

    Raises:
        InputError: ``path`` was given but does not exist.
        FaceDeblurError: no path was given and the hub cache has no copy; nothing is downloaded.
    """
    if path is not None:
        path = Path(os.path.expanduser(str(path)))
        if not path.is_file():
            raise InputError(
                path,
                "VGG-19 weights file not found (the perceptual loss needs "
                f"torchvision's {VGG19_WEIGHTS_FILE})",
            )
        return path
    cached = Path(torch.hub.get_dir()) / "checkpoints" / VGG19_WEIGHTS_FILE
    if cached.is_file():
        return cached
    raise FaceDeblurError(
        "the perceptual loss needs torchvision's ImageNet VGG-19 weights "
        f"{VGG19_WEIGHTS_FILE}: put the file in {cached.parent} or give its path with "
        "loss.content_args.weights_path (nothing is downloaded)"
    )
