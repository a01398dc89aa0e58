"""Blur synthesis: camera-shake trajectories and kernels, blur in linear light, frame averaging,
camera-shake moments and facial motion of still faces, datasets on disk."""

from ..splits import parse_split
from .degrade import (
    add_gaussian_noise,
    blur_image,
    convolve,
    jpeg_compress,
    linear_to_srgb,
    sample_noise_sigma,
    srgb_to_linear,
)
from .face_motion import FaceMotionSettings
from .frames import DEFAULT_FRAME_COUNTS, Clip, average_frames, find_clips, open_clip
from .kernels import (
    LENGTH_DISTRIBUTIONS,
    REFERENCE_SIZE,
    camera_shake_kernel,
    delta_kernel,
    draw_exposure,
    gaussian_kernel,
    kernel_centroid,
    linear_kernel,
    points_to_kernel,
    trajectory_kernel,
)
from .pipeline import FULL_SHAKE_RANGE, KernelBlurSettings, draw_kernel, random_kernel_blur
from .samples import Sample, SampleSettings
from .shake_moments import ShakeMoments, moment_offsets, shake_moments, shifted_frames
from .synth import SynthReport, resynthesize, synthesize
from .trajectory import Trajectory, TrajectoryParams, random_trajectory

__all__ = [
    "DEFAULT_FRAME_COUNTS",
    "FULL_SHAKE_RANGE",
    "LENGTH_DISTRIBUTIONS",
    "REFERENCE_SIZE",
    "Clip",
    "FaceMotionSettings",
    "KernelBlurSettings",
    "Sample",
    "SampleSettings",
    "ShakeMoments",
    "SynthReport",
    "Trajectory",
    "TrajectoryParams",
    "add_gaussian_noise",
    "average_frames",
    "blur_image",
    "camera_shake_kernel",
    "convolve",
    "delta_kernel",
    "draw_exposure",
    "draw_kernel",
    "find_clips",
    "gaussian_kernel",
    "jpeg_compress",
    "kernel_centroid",
    "linear_kernel",
    "linear_to_srgb",
    "moment_offsets",
    "open_clip",
    "parse_split",
    "points_to_kernel",
    "random_kernel_blur",
    "random_trajectory",
    "resynthesize",
    "sample_noise_sigma",
    "shake_moments",
    "shifted_frames",
    "srgb_to_linear",
    "synthesize",
    "trajectory_kernel",
]
