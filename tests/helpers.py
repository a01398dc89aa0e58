"""Plain helpers (not fixtures) shared by test modules in several folders:
``from tests.helpers import ...``.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import yaml

# Two LFW faces (relative to lfw/images) of different people: the whole-photo restoration tests.
PEOPLE = ("Aaron_Eckhart/Aaron_Eckhart_0001.jpg", "Colin_Powell/Colin_Powell_0001.jpg")

REBUILT_COLOUR = (0.2, 0.9, 0.3)


def tiny_config(
    tmp_path: Path, data: Path, adversarial: str = "wgan-gp", **train_overrides
) -> Path:
    """A seconds-long run on a few real LFW faces (32 px, one residual block)."""
    config = {
        "name": "tiny",
        "out_dir": str(tmp_path / "runs"),
        "data": {
            "kind": "onthefly",
            "train": str(data),
            "size": 32,
            "crop": 32,
            "val_fraction": 0.34,
            "val_count": 4,
            "augment": ["flip"],
        },
        "generator": {"name": "deblurgan", "args": {"n_blocks": 1, "ngf": 8}},
        "discriminator": {"name": "patchgan", "args": {"n_layers": 3, "ndf": 8}},
        "loss": {
            "content": "charbonnier",
            "content_weight": 100.0,
            "adversarial": adversarial,
            "critic_steps": 2,
        },
        "optim": {"lr": 1e-3, "schedule": "linear", "decay_start": 0.5},
        "train": {
            "steps": 6,
            "batch_size": 2,
            "val_every": 3,
            "ckpt_every": 3,
            "log_every": 1,
            "seed": 1,
            **train_overrides,
        },
    }
    path = tmp_path / f"tiny-{adversarial}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def background(height: int, width: int, seed: int) -> np.ndarray:
    """Smooth random texture, float RGB in [0, 1]."""
    from facedeblur.io.geometry import resize

    noise = (
        np.random.default_rng(seed)
        .uniform(0.2, 0.8, (height // 8, width // 8, 3))
        .astype(np.float32)
    )
    return resize(noise, (height, width))


class ConstantRebuild:
    """Stands in for ``AttributeObfuscator``: the rebuilt face is one colour over the whole
    photo.
    """

    size = 64

    def __init__(self):
        self.calls = []

    def rebuild(self, image, points68, flips):
        self.calls.append(flips)
        before = np.linspace(0.05, 0.95, 40, dtype=np.float32)
        after = np.round(before)
        after[list(flips)] = 1.0 - after[list(flips)]
        layer = np.broadcast_to(np.array(REBUILT_COLOUR, np.float32), image.shape).copy()
        return SimpleNamespace(
            layer=layer, before=before, after=after, covered=np.ones(image.shape[:2], dtype=bool)
        )
