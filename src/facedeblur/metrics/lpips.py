"""LPIPS (Zhang et al., 2018), AlexNet-lin variant, with weights from configured files only.

The backbone is torchvision's AlexNet ``features`` (state-dict keys ``features.0.weight`` ...,
as in torchvision's ``alexnet-owt-7be5be79.pth``; that file's ``classifier.*`` keys are
accepted and ignored). The linear heads are the lpips package's ``weights/v0.1/alex.pth`` (keys
``lin0.model.1.weight`` ... ``lin4.model.1.weight``). Images in [0, 1] are mapped to [-1, 1],
shifted and scaled by the lpips package's constants, passed through AlexNet; the five ReLU
outputs are unit-normalised over channels, their squared differences weighted by the linear
heads, averaged over space and summed over layers. Nothing is downloaded and nothing is ever left
at random initialisation: a missing or mismatched file raises ``FaceDeblurError``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from ..errors import FaceDeblurError
from ..models.statedicts import state_dict_problems

ALEXNET_WEIGHTS_FILE = "alexnet-owt-7be5be79.pth"
LPIPS_ALEX_WEIGHTS_FILE = "alex.pth (lpips package, weights/v0.1/alex.pth)"
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)
ALEX_CHANNELS = (64, 192, 384, 256, 256)
# Slices of AlexNet.features ending at relu1 .. relu5 (as in the lpips package).
_SLICES = ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12))


def load_state_file(
    path: str | Path | None,
    expected: dict[str, torch.Size],
    what: str,
    expected_file: str,
    ignore_prefixes: tuple[str, ...] = (),
    optional_suffixes: tuple[str, ...] = (),
) -> dict[str, torch.Tensor]:
    """Read a state dict and check it holds exactly the ``expected`` keys and shapes.

    Keys starting with ``ignore_prefixes`` are dropped; expected keys ending with
    ``optional_suffixes`` may be missing (the caller keeps its own value). Any other difference
    raises ``FaceDeblurError`` with one line naming the file and the expected file.
    """
    if path is None:
        raise FaceDeblurError(
            f"{what} needs the weights file {expected_file}: give its path (nothing is downloaded)"
        )
    path = Path(path).expanduser()
    if not path.is_file():
        raise FaceDeblurError(f"{path}: {what} weights file not found (expected {expected_file})")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt file can fail in many ways inside the unpickler
        raise FaceDeblurError(
            f"{path}: cannot read {what} weights ({type(exc).__name__}: {exc}); "
            f"expected {expected_file}"
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise FaceDeblurError(
            f"{path}: not a {what} state dict (a dict of tensors as in {expected_file})"
        )
    state = {k: v for k, v in state.items() if not k.startswith(ignore_prefixes)}
    problems = state_dict_problems(state, expected, optional_suffixes)
    if problems:
        raise FaceDeblurError(
            f"{path}: not the {what} weights {expected_file}: " + "; ".join(problems)
        )
    return state


def _strict_load(module: nn.Module, state: dict[str, torch.Tensor]) -> None:
    full = dict(module.state_dict())
    full.update(state)
    module.load_state_dict(full, strict=True)


class AlexNetFeatures(nn.Module):
    """torchvision's AlexNet convolutional part; ``features.*`` keys match torchvision's file."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The five ReLU outputs (relu1 .. relu5) of (N, 3, H, W) input."""
        outs = []
        for start, stop in _SLICES:
            for layer in self.features[start:stop]:
                x = layer(x)
            outs.append(x)
        return outs


class NetLinLayer(nn.Module):
    """A 1x1 convolution to one channel, keyed ``model.1.weight`` as in the lpips package."""

    def __init__(self, channels: int):
        super().__init__()
        self.model = nn.Sequential(
            nn.Dropout(), nn.Conv2d(channels, 1, kernel_size=1, stride=1, padding=0, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class LPIPS(nn.Module):
    """Learned perceptual image patch similarity, AlexNet-lin (version 0.1).

    ``forward(output, target)``: (N, 3, H, W) tensors in [0, 1] (at least ~32 px per side);
    returns the per-image distance, shape (N,); 0 for identical images, symmetric. The network is
    frozen and always in eval mode; gradients flow to the inputs.

    Args:
        backbone_path: torchvision's ImageNet AlexNet weights ``alexnet-owt-7be5be79.pth``.
        linear_path: the lpips package's ``weights/v0.1/alex.pth``.

    Raises:
        FaceDeblurError: a path is missing, or its file is unreadable or does not hold the
            expected keys and shapes.
    """

    def __init__(
        self, backbone_path: str | Path | None = None, linear_path: str | Path | None = None
    ):
        super().__init__()
        self.net = AlexNetFeatures()
        self.lins = nn.ModuleList(NetLinLayer(c) for c in ALEX_CHANNELS)
        expected = {k: v.shape for k, v in self.net.state_dict().items()}
        _strict_load(
            self.net,
            load_state_file(
                backbone_path,
                expected,
                "LPIPS AlexNet backbone",
                ALEXNET_WEIGHTS_FILE,
                ignore_prefixes=("classifier.",),
            ),
        )
        lin_expected = {
            f"lin{i}.model.1.weight": torch.Size((1, c, 1, 1)) for i, c in enumerate(ALEX_CHANNELS)
        }
        lin_state = load_state_file(
            linear_path, lin_expected, "LPIPS linear heads", LPIPS_ALEX_WEIGHTS_FILE
        )
        for i, lin in enumerate(self.lins):
            lin.load_state_dict(
                {"model.1.weight": lin_state[f"lin{i}.model.1.weight"]}, strict=True
            )
        self.register_buffer("shift", torch.tensor(LPIPS_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(LPIPS_SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> LPIPS:
        """Always stays in eval mode (no dropout)."""
        return super().train(False)

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (2.0 * x - 1.0 - self.shift) / self.scale
        feats = self.net(x)
        return [f / (torch.sqrt((f * f).sum(dim=1, keepdim=True)) + 1e-10) for f in feats]

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if output.dim() == 3:
            output, target = output.unsqueeze(0), target.unsqueeze(0)
        if output.shape != target.shape:
            raise ValueError(
                f"LPIPS needs images of the same shape, got {tuple(output.shape)} "
                f"and {tuple(target.shape)}"
            )
        fa, fb = self._features(output.float()), self._features(target.float())
        total = 0
        for lin, a, b in zip(self.lins, fa, fb):
            total = total + lin((a - b) ** 2).mean(dim=(2, 3))
        return total.view(-1)
