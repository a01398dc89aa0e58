"""Training CFMD-GAN: one generator for every sharp moment of a blurry face, steered by u.

Each step takes (blurry face, control factor u, the sharp moment at u) triples and follows Lee,
Han and Heo: the U-Net discriminator D sees the blurry face concatenated with a sharp or restored
one and is trained with its encoder (global) loss + decoder (per-pixel) loss + ``q_weight`` times
its u regression on real and restored faces; the generator with the multi-scale Charbonnier
content loss + ``adversarial_weight`` times the encoder and decoder adversarial terms +
``aux_weight`` times D's u regression on its output + ``perceptual_weight`` times the perceptual
term. The u regression is an L1 distance between D's per-pixel u map and u.
"""

from __future__ import annotations

import numpy as np
import torch

from ...io import tensor_to_image
from ...losses import AdversarialLoss, build_perceptual_term
from ...metrics import psnr, ssim
from ..data import blur_header, face_motion_header
from .base import Task
from .restore import GRID_ROWS


def u_regression_loss(u_map: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Mean absolute error between a per-pixel u map (N, 1, H, W) and the true u (N,)."""
    return (u_map.float() - u.view(-1, 1, 1, 1).float()).abs().mean()


class MomentsTask(Task):
    """CFMD-GAN (``data.kind: moments``): restore the sharp moment at u of a blurry face."""

    def __init__(self, config, device):
        super().__init__(config, device)
        self.adversarial = (
            AdversarialLoss(config.loss.adversarial) if self.discriminator is not None else None
        )
        self.perceptual = None

    def prepare(self, train_set, val: list[dict]) -> None:
        """Build the perceptual term (after the optimisers, as the seeds' RNG order expects)."""
        lc = self.cfg.loss
        term = build_perceptual_term(lc.perceptual, **lc.perceptual_args)
        self.perceptual = term.to(self.device) if term is not None else None

    def train_step(self, batch: dict, loop) -> tuple[torch.Tensor, dict]:
        """One discriminator step, then the generator's loss.

        The batch holds (blur, u, sharp moment).
        """
        blur = batch["blur"].to(self.device, non_blocking=True)
        sharp = batch["sharp"].to(self.device, non_blocking=True)
        u = batch["u"].to(self.device, non_blocking=True).float()
        lc = self.cfg.loss
        losses = {}
        with loop.autocast():
            outputs = loop.g_train(blur, u)
        restored = outputs[-1]
        if self.discriminator is not None:
            with loop.autocast():
                real = self.discriminator(blur, sharp)
                fake = self.discriminator(blur, restored.detach())
                d_global = self.adversarial.discriminator_loss(
                    real.global_logits, fake.global_logits
                )
                d_pixel = self.adversarial.discriminator_loss(real.pixel_logits, fake.pixel_logits)
                d_u = u_regression_loss(real.u, u) + u_regression_loss(fake.u, u)
                d_loss = d_global + d_pixel + lc.q_weight * d_u
            loop.step_discriminator(d_loss)
            losses.update(
                d=d_loss.item(), d_global=d_global.item(), d_pixel=d_pixel.item(), d_u=d_u.item()
            )
        with loop.autocast():
            content = self.content_loss(outputs, sharp)
            g_loss = lc.content_weight * content
            if self.discriminator is not None:
                judged = self.discriminator(blur, restored)
                adv = self.adversarial.generator_loss(
                    judged.global_logits
                ) + self.adversarial.generator_loss(judged.pixel_logits)
                aux = u_regression_loss(judged.u, u)
                g_loss = g_loss + lc.adversarial_weight * adv + lc.aux_weight * aux
                losses.update(g_adv=adv.item(), g_u=aux.item())
            if self.perceptual is not None:
                perceptual = self.perceptual(restored.float(), sharp.float())
                g_loss = g_loss + lc.perceptual_weight * perceptual
                losses["perceptual"] = perceptual.item()
        g_loss = self.add_face_losses(g_loss, restored, sharp, losses)
        losses["content"] = content.item()
        return g_loss, losses

    @torch.no_grad()
    def validate(self, net, val: list[dict], loop) -> dict:
        """Every moment of every held-out sample against its frame in control-factor order.

        ``val_psnr``/``val_ssim``: the N restored moments against the N ordered sharp frames;
        ``val_center_psnr``: u = 0.5 against the middle frame; ``repeat_psnr``: the u = 0.5 result
        repeated N times (what ignoring u would score); ``blurry_*``: the blurry face against the
        N frames. Writes a grid: blurry | u = 0, 0.5, 1 | the first, middle and last ordered frame.
        """
        scores: dict[str, list[float]] = {
            k: []
            for k in (
                "val_psnr",
                "val_ssim",
                "val_center_psnr",
                "repeat_psnr",
                "blurry_psnr",
                "blurry_ssim",
            )
        }
        rows = []
        for item in val:
            frames = item["frames"][item["order"]].to(self.device)
            n = frames.shape[0]
            blur = item["blur"][None].to(self.device).expand(n, -1, -1, -1)
            with loop.autocast():
                moments = net(blur, item["u"].to(self.device))[-1]
                center = net(blur[:1], 0.5)[-1]
            moments, center = moments.float().clamp(0, 1), center.float().clamp(0, 1)
            scores["val_psnr"].append(float(psnr(moments, frames).mean()))
            scores["val_ssim"].append(float(ssim(moments, frames).mean()))
            scores["val_center_psnr"].append(
                float(psnr(center, item["sharp"][None].to(self.device))[0])
            )
            scores["repeat_psnr"].append(float(psnr(center.expand(n, -1, -1, -1), frames).mean()))
            scores["blurry_psnr"].append(float(psnr(blur, frames).mean()))
            scores["blurry_ssim"].append(float(ssim(blur, frames).mean()))
            if len(rows) < GRID_ROWS:
                # u runs from 0 to 1, so the first and last moments are u = 0 and u = 1.
                picks = [
                    blur[0],
                    moments[0],
                    center[0],
                    moments[-1],
                    frames[0],
                    frames[n // 2],
                    frames[-1],
                ]
                rows.append([tensor_to_image(t.cpu()) for t in picks])
        loop.write_samples(
            rows, ["blurry", "u = 0", "u = 0.5", "u = 1", "first (FMR)", "middle", "last (FMR)"]
        )
        return {k: float(np.mean(v)) for k, v in scores.items()}

    def describe(self, step: int, metrics: dict) -> str:
        """One progress line.

        N-moment PSNR against the blurry face and the repeated centre moment.
        """
        return (
            f"step {step}: moments PSNR {metrics['val_psnr']:.2f} dB "
            f"(blurry {metrics['blurry_psnr']:.2f}, "
            f"centre repeated {metrics['repeat_psnr']:.2f}), "
            f"centre {metrics['val_center_psnr']:.2f} dB, "
            f"SSIM {metrics['val_ssim']:.4f}"
        )

    def data_header(self, train_set, val: list[dict]) -> dict:
        """Frames-mode data.

        The synth folders, crop and frame order, and any camera-shake moments.
        """
        d = self.cfg.data
        data = {
            "kind": d.kind,
            "train": d.train,
            "val": d.val,
            "size": d.size,
            "crop": d.crop,
            "augment": list(d.augment),
            "frame_order": d.frame_order,
        }
        if d.extra_train:
            data["extra_train"] = list(d.extra_train)
        if d.centre_fraction:
            data["centre_fraction"] = d.centre_fraction
        if d.shake_train:
            data["shake_moments"] = {
                "train": d.shake_train,
                "fraction": d.shake_fraction,
                "val_fraction": d.val_fraction,
                "split_seed": self.cfg.train.seed,
                "jitter": d.jitter,
                "blur": blur_header(d),
                "stills": d.stills,
            }
            if d.stills == "face-motion":
                data["shake_moments"]["face_motion"] = face_motion_header(d)
        return data
