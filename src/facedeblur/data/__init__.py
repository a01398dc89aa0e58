"""Torch datasets and paired augmentations.

Datasets: paired folders, on-the-fly blur, face motion of stills, video moments, CelebA
attributes.
"""

from .augment import (
    AUGMENTATIONS,
    ChannelPermute,
    Compose,
    GaussianNoise,
    RandomCrop,
    RandomFlip,
    RandomRescale,
    RandomRot90,
    SaturationJitter,
    build_augmentations,
    scale_saturation,
)
from .celeba import (
    CelebAFaces,
    celeba_landmarks,
    celeba_split,
    identity_split,
    read_attributes,
    read_identities,
)
from .face_motion import FaceMotionBlur
from .mixed import MixedDataset
from .moments import FRAME_ORDERS, MomentPairs, VideoMoments, frame_order, read_manifest
from .onthefly import OnTheFlyBlur
from .paired import PairedFolder, find_pairs
from .seeding import DrawSeeder
from .shake_moments import ShakeMomentPairs

__all__ = [
    "AUGMENTATIONS",
    "FRAME_ORDERS",
    "MomentPairs",
    "frame_order",
    "ChannelPermute",
    "Compose",
    "DrawSeeder",
    "FaceMotionBlur",
    "GaussianNoise",
    "MixedDataset",
    "OnTheFlyBlur",
    "PairedFolder",
    "RandomCrop",
    "RandomFlip",
    "RandomRescale",
    "RandomRot90",
    "SaturationJitter",
    "ShakeMomentPairs",
    "VideoMoments",
    "build_augmentations",
    "find_pairs",
    "read_manifest",
    "scale_saturation",
    "CelebAFaces",
    "celeba_landmarks",
    "celeba_split",
    "identity_split",
    "read_attributes",
    "read_identities",
]
