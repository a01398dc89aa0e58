"""Adversarial objectives (gan, lsgan, wgan-gp, hinge) and the WGAN-GP gradient penalty.

Logits are critic outputs of any shape: a PatchGAN map (N, 1, h, w), a vector (N, 1), or a
list of such tensors (a multi-scale critic), in which case the loss is averaged over the list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from ..errors import UsageError

ADVERSARIAL_KINDS = ("gan", "lsgan", "wgan-gp", "hinge")

Logits = torch.Tensor | Sequence[torch.Tensor]


def _as_list(logits: Logits) -> list[torch.Tensor]:
    # Losses are computed in float32 even when the critic ran under bf16 autocast.
    if isinstance(logits, torch.Tensor):
        return [logits.float()]
    return [x.float() for x in logits]


def _d_term(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    if kind == "gan":
        return F.binary_cross_entropy_with_logits(
            real, torch.ones_like(real)
        ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    if kind == "lsgan":
        return 0.5 * ((real - 1.0) ** 2).mean() + 0.5 * (fake**2).mean()
    if kind == "wgan-gp":
        return fake.mean() - real.mean()
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def _g_term(kind: str, fake: torch.Tensor) -> torch.Tensor:
    if kind == "gan":
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    if kind == "lsgan":
        return 0.5 * ((fake - 1.0) ** 2).mean()
    return -fake.mean()


class AdversarialLoss:
    """The discriminator and generator terms of one adversarial objective.

    Kinds (D = critic logits, means over all elements):

    - ``gan``: binary cross-entropy with logits. D loss ``BCE(D(real), 1) + BCE(D(fake), 0)``;
      G loss is the non-saturating ``BCE(D(fake), 1)``.
    - ``lsgan``: least squares with targets a=0 (fake), b=1 (real), c=1 (what G wants), with the
      factor 0.5 of Mao et al. on every term: D loss
      ``0.5 mean((D(real)-1)^2) + 0.5 mean(D(fake)^2)``, G loss ``0.5 mean((D(fake)-1)^2)``.
    - ``wgan-gp``: D loss ``mean(D(fake)) - mean(D(real))`` (add ``gradient_penalty``),
      G loss ``-mean(D(fake))``.
    - ``hinge``: D loss ``mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))``,
      G loss ``-mean(D(fake))``.

    Args:
        kind: one of ``ADVERSARIAL_KINDS``.

    Raises:
        UsageError: for an unknown kind.
    """

    def __init__(self, kind: str):
        if kind not in ADVERSARIAL_KINDS:
            raise UsageError(
                f"unknown adversarial loss {kind!r}; choose one of {', '.join(ADVERSARIAL_KINDS)}"
            )
        self.kind = kind

    @property
    def uses_gradient_penalty(self) -> bool:
        """True when discriminator loss must be completed with ``gradient_penalty`` (wgan-gp)."""
        return self.kind == "wgan-gp"

    def discriminator_loss(self, real_logits: Logits, fake_logits: Logits) -> torch.Tensor:
        """Scalar loss of the critic.

        Args:
            real_logits: critic output on real images, any shape, or a list of such tensors.
            fake_logits: critic output on generated images, matching ``real_logits`` (same list
                length).
        """
        real, fake = _as_list(real_logits), _as_list(fake_logits)
        if len(real) != len(fake):
            raise UsageError(
                f"discriminator_loss: {len(real)} real logit tensors but {len(fake)} fake ones"
            )
        return torch.stack([_d_term(self.kind, r, f) for r, f in zip(real, fake)]).mean()

    def generator_loss(self, fake_logits: Logits) -> torch.Tensor:
        """Scalar adversarial loss of the generator, from the critic output on its images."""
        return torch.stack([_g_term(self.kind, f) for f in _as_list(fake_logits)]).mean()

    def __repr__(self) -> str:
        return f"AdversarialLoss({self.kind!r})"


def gradient_penalty(
    critic: Callable[[torch.Tensor], Logits],
    real: torch.Tensor,
    fake: torch.Tensor,
    weight: float = 10.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP penalty of Gulrajani et al.: ``weight * mean_i (||grad_x critic(x_i)||_2 - 1)^2``.

    ``x_i = eps_i * real_i + (1 - eps_i) * fake_i`` with one ``eps_i ~ U(0, 1)`` per sample. A
    critic with a patch map (or a list of maps) is differentiated through the sum of its outputs,
    so each sample's gradient is that of the sum of its own logits. The graph is kept
    (``create_graph=True``), so the result can be backpropagated into the critic's parameters.

    Args:
        critic: maps (N, C, H, W) to logits of any shape, or a list of them.
        real: (N, C, H, W) real images.
        fake: (N, C, H, W) generated images (detach them from the generator first).
        weight: lambda, 10 in the paper.
        generator: draws ``eps`` from this generator when given.

    Returns:
        A scalar tensor.
    """
    if real.shape != fake.shape:
        raise UsageError(
            f"gradient_penalty: real {tuple(real.shape)} and fake {tuple(fake.shape)} "
            "differ in shape"
        )
    n = real.shape[0]
    if generator is not None:
        eps = torch.rand(n, generator=generator, device=generator.device, dtype=real.dtype).to(
            real.device
        )
    else:
        eps = torch.rand(n, device=real.device, dtype=real.dtype)
    eps = eps.view(n, *([1] * (real.dim() - 1)))
    x = (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)
    out = critic(x)
    total = sum(o.sum() for o in _as_list(out))
    (grad,) = torch.autograd.grad(total, x, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    return weight * ((norms - 1.0) ** 2).mean()
