"""What a training method brings to the loop: its networks, losses, step, validation and header."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from ...losses import build_content_loss
from ...losses.identity import build_face_losses
from ...models import build_model
from ..config import RunConfig
from ..data import build_datasets
from ..generator import build_generator


class Task(ABC):
    """One training method for ``train.loop.Trainer``.

    The loop owns everything every method shares (devices, seeds, optimisers, schedules, EMA,
    DDP, checkpoints, logging); a task owns its networks and losses and says what one step and
    one validation are. Networks are built in a fixed order (generator, discriminator, content
    loss) so that a seed gives the same initial weights.

    Args:
        config: the run's configuration.
        device: where the networks run.

    Attributes:
        generator: the network whose weights are exported (``generator.safetensors``).
        generator_args: the keyword arguments its weights header keeps.
        origin: header entries saying which weights files the generator's frozen base
            (``base``) and its starting weights (``init``) came from; empty for neither.
        discriminator: the critic, or None when the method trains without one.
        content_loss: the content term between outputs and targets.
        face_losses: the identity and face-feature terms with a positive weight, or None.
    """

    score = "val_psnr"
    """The validation metric (higher is better) that picks ``checkpoints/best.pt``."""

    def __init__(self, config: RunConfig, device: torch.device):
        self.cfg, self.device = config, device
        generator, self.generator_args, self.origin = build_generator(config.generator)
        self.generator: nn.Module = generator.to(device)
        self.discriminator: nn.Module | None = None
        if self.uses_discriminator():
            self.discriminator = build_model(
                config.discriminator.name, **config.discriminator.args
            ).to(device)
        self.content_loss = build_content_loss(config.loss.content, **config.loss.content_args).to(
            device
        )
        self.face_weights = {
            "identity": config.loss.identity_weight,
            "face_feature": config.loss.face_feature_weight,
        }
        face_losses = build_face_losses(self.face_weights)
        self.face_losses = face_losses.to(device) if face_losses is not None else None

    def add_face_losses(
        self, total: torch.Tensor, output: torch.Tensor, target: torch.Tensor, losses: dict
    ) -> torch.Tensor:
        """``total`` plus the weighted face terms of ``output`` against ``target``.

        (..., 3, H, W) images in [0, 1]. Each term's value goes into ``losses``, and so does
        ``face_skipped``, the targets of this step in which no face was found.
        """
        if self.face_losses is None:
            return total
        values = self.face_losses(output.float(), target.float())
        for name in self.face_losses.terms:
            total = total + self.face_weights[name] * values[name]
            losses[name] = values[name].item()
        losses["face_skipped"] = output[..., 0, 0, 0].numel() - values["faces"]
        return total

    def uses_discriminator(self) -> bool:
        """Whether this method trains a discriminator (an adversarial term is configured)."""
        return self.cfg.loss.adversarial != "none"

    def datasets(self, seed: int) -> tuple[torch.utils.data.Dataset, list[dict]]:
        """The training dataset and the fixed list of validation samples."""
        return build_datasets(self.cfg.data, seed)

    def prepare(self, train_set, val: list[dict]) -> None:
        """Anything that needs the data or must be built after the optimisers (RNG order).

        Most tasks need nothing here; this default does nothing.
        """
        return None

    @abstractmethod
    def train_step(self, batch: dict, loop) -> tuple[torch.Tensor, dict]:
        """Discriminator steps (through ``loop.step_discriminator``) and the generator's loss.

        Returns the generator's total loss (the loop steps the generator on it) and the
        step's loss values to log, ``content`` last.
        """

    @abstractmethod
    def validate(self, net: nn.Module, val: list[dict], loop) -> dict:
        """Metrics of ``net`` (in eval mode) on the validation samples; may write pictures
        through ``loop.write_samples``."""

    @abstractmethod
    def describe(self, step: int, metrics: dict) -> str:
        """One progress line for validation metrics."""

    @abstractmethod
    def data_header(self, train_set, val: list[dict]) -> dict:
        """What the exported weights were trained on, for their header."""
