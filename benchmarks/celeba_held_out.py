"""Shared by the CelebA benchmarks: a trained network and the held-out faces its weights header
names.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from facedeblur.data import CelebAFaces, celeba_split
from facedeblur.models.weights import load_network, pretrained_path


def load_held_out(
    description: str, shipped_file: str, what: str
) -> tuple[Path, torch.nn.Module, dict, CelebAFaces, CelebAFaces]:
    """Parse ``--weights``, ``--celeba`` and ``--landmarks``; return (weights path, network,
    header, training faces, held-out faces).

    The split is rebuilt from the header (CelebA root, crop size, identity split fraction and
    seed), so the held-out faces are exactly those training held out. Without ``--weights``,
    ``shipped_file`` from ``facedeblur/pretrained`` (``what`` names it in errors).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--weights", type=Path, default=None, help=f"{what} weights (default: the shipped ones)"
    )
    parser.add_argument(
        "--celeba",
        type=Path,
        default=None,
        help="CelebA root (default: the one in the weights header)",
    )
    parser.add_argument(
        "--landmarks", type=Path, default=Path("runs/celeba-landmarks.npz"), help="landmark cache"
    )
    args = parser.parse_args()
    weights = args.weights or pretrained_path(shipped_file, what, "--weights")
    net, header = load_network(weights)
    data, split = header["data"], header["data"]["validation"]
    train, val = celeba_split(
        args.celeba or data["train"],
        split["val_fraction"],
        split["split_seed"],
        data["size"],
        args.landmarks,
    )
    print(
        f"{weights}: {len(val)} held-out faces ({len(train)} training faces), identity split "
        f"{split['val_fraction']} seed {split['split_seed']}, {data['size']} px\n"
    )
    return weights, net, header, train, val
