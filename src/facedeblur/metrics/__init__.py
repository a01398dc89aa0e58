"""Metrics: image quality (identity and detection metrics come with the evaluation)."""

from .image import psnr, ssim

__all__ = ["psnr", "ssim"]
