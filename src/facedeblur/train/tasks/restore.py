"""Single-image restoration: a generator with a content loss and, optionally, a GAN critic.

One task for every single-image preset (DeblurGAN with GAN, LSGAN, WGAN-GP or hinge critics,
Nah et al.'s multi-scale network, content-only models): the critic takes ``critic_steps`` steps
per generator step, with the gradient penalty for WGAN-GP.
"""

from __future__ import annotations

import numpy as np
import torch

from ...io import tensor_to_image
from ...losses import AdversarialLoss, gradient_penalty
from ...metrics import psnr, ssim
from ...models.ops import final_output
from ..config import FaceMotionData, OnTheFlyData
from ..data import blur_header, face_motion_header
from .base import Task

GRID_ROWS = 4
"""Validation samples shown in each ``samples/val_*.png`` grid."""


class RestoreTask(Task):
    """Blurry -> sharp restoration (``data.kind`` onthefly or paired), validated by PSNR."""

    def __init__(self, config, device):
        super().__init__(config, device)
        self.adversarial = (
            AdversarialLoss(config.loss.adversarial) if self.discriminator is not None else None
        )

    def train_step(self, batch: dict, loop) -> tuple[torch.Tensor, dict]:
        """``critic_steps`` critic steps when adversarial, then the generator's loss."""
        blur = batch["blur"].to(self.device, non_blocking=True)
        sharp = batch["sharp"].to(self.device, non_blocking=True)
        lc = self.cfg.loss
        losses = {}
        with loop.autocast():
            fake = loop.g_train(blur)
        final = final_output(fake)
        if self.discriminator is not None:
            n = sharp.shape[0]
            for _ in range(lc.critic_steps):
                with loop.autocast():
                    logits = self.discriminator(torch.cat([sharp, final.detach()]))
                    d_loss = self.adversarial.discriminator_loss(logits[:n], logits[n:])
                if self.adversarial.uses_gradient_penalty:
                    gp = gradient_penalty(
                        self.discriminator, sharp, final.detach().float(), weight=lc.gp_weight
                    )
                    losses["gp"] = gp.item()
                    d_loss = d_loss + gp
                loop.step_discriminator(d_loss)
            losses["d"] = d_loss.item()
        with loop.autocast():
            content = self.content_loss(fake, sharp)
            g_loss = lc.content_weight * content
            if self.discriminator is not None:
                adv = self.adversarial.generator_loss(self.discriminator(final))
                losses["g_adv"] = adv.item()
                g_loss = g_loss + lc.adversarial_weight * adv
        g_loss = self.add_face_losses(g_loss, final, sharp, losses)
        losses["content"] = content.item()
        return g_loss, losses

    @torch.no_grad()
    def validate(self, net, val: list[dict], loop) -> dict:
        """PSNR/SSIM of restored and of blurry against sharp on the held-out faces.

        Writes a grid.
        """
        rows, restored_psnr, restored_ssim, blurry_psnr, blurry_ssim = [], [], [], [], []
        for item in val:
            blur, sharp = item["blur"][None].to(self.device), item["sharp"][None].to(self.device)
            with loop.autocast():
                out = final_output(net(blur))
            out = out.float().clamp(0, 1)
            restored_psnr.append(float(psnr(out, sharp)[0]))
            restored_ssim.append(float(ssim(out, sharp)[0]))
            blurry_psnr.append(float(psnr(blur, sharp)[0]))
            blurry_ssim.append(float(ssim(blur, sharp)[0]))
            if len(rows) < GRID_ROWS:
                rows.append([tensor_to_image(t[0].cpu()) for t in (blur, out, sharp)])
        loop.write_samples(rows, ["blurry", "restored", "sharp"])
        return {
            "val_psnr": float(np.mean(restored_psnr)),
            "val_ssim": float(np.mean(restored_ssim)),
            "blurry_psnr": float(np.mean(blurry_psnr)),
            "blurry_ssim": float(np.mean(blurry_ssim)),
        }

    def describe(self, step: int, metrics: dict) -> str:
        """One progress line for validation metrics."""
        return (
            f"step {step}: val PSNR {metrics['val_psnr']:.2f} dB "
            f"(blurry {metrics['blurry_psnr']:.2f}), "
            f"SSIM {metrics['val_ssim']:.4f} (blurry {metrics['blurry_ssim']:.4f})"
        )

    def data_header(self, train_set, val: list[dict]) -> dict:
        """Source, sizes, the validation split and, for on-the-fly blur, the blur settings."""
        d = self.cfg.data
        data = {"kind": d.kind, "train": d.train, "size": d.size, "crop": d.crop}
        if isinstance(d, OnTheFlyData):
            data["jitter"] = d.jitter
            data["validation"] = {
                "val": d.val,
                "val_fraction": d.val_fraction,
                "split_seed": self.cfg.train.seed,
            }
            data["blur"] = blur_header(d)
            if isinstance(d, FaceMotionData):
                data["face_motion"] = face_motion_header(d)
        else:
            data["validation"] = {"val": d.val}
        if d.mix_train:
            data["mix"] = {"train": d.mix_train, "fraction": d.mix_fraction}
        return data
