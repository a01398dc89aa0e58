"""Metrics: image quality (PSNR, SSIM, MS-SSIM, LPIPS), identity (descriptor distances, Fréchet
descriptor distance), face detection bookkeeping, and FID."""

from .detection import DetectionTally, greedy_match, iou, match_face
from .fid import FID, FIDInceptionV3, load_fid_inception
from .identity import (
    frechet_distance,
    frechet_distance_from_stats,
    gaussian_stats,
    identity_distances,
    verification_accuracy,
)
from .image import psnr, region_ssim, ssim
from .lpips import LPIPS
from .msssim import MS_SSIM_WEIGHTS, ms_ssim

__all__ = [
    "FID",
    "FIDInceptionV3",
    "LPIPS",
    "MS_SSIM_WEIGHTS",
    "DetectionTally",
    "frechet_distance",
    "frechet_distance_from_stats",
    "gaussian_stats",
    "greedy_match",
    "identity_distances",
    "iou",
    "load_fid_inception",
    "match_face",
    "ms_ssim",
    "psnr",
    "region_ssim",
    "ssim",
    "verification_accuracy",
]
