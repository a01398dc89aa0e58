"""Person- and clip-disjoint splits, and seeded spreads of indices.

Shared by synthesis (``facedeblur synth --split``), datasets, training and the audits, so that
every part of the project holds out the same people for the same seed.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .errors import InputError, UsageError
from .io import list_images


def parse_split(text: str) -> dict[str, float]:
    """Parse ``train=0.9,val=0.1`` into fractions that sum to 1."""
    fractions: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise UsageError(f"bad split {part!r}: expected name=fraction, e.g. train=0.9,val=0.1")
        try:
            frac = float(value)
        except ValueError:
            raise UsageError(f"bad split fraction {value!r} for {name!r}") from None
        if frac < 0 or name in fractions:
            raise UsageError(f"bad split {part!r}: fractions must be non-negative and names unique")
        fractions[name] = frac
    total = sum(fractions.values())
    if not fractions or abs(total - 1.0) > 1e-6:
        raise UsageError(f"split fractions must sum to 1, got {total:g}")
    return fractions


def assign_splits(groups: list[str], fractions: dict[str, float], seed: int) -> dict[str, str]:
    """Assign whole groups (people, clips) to splits in the given proportions, reproducibly."""
    order = sorted(set(groups))
    perm = np.random.default_rng([seed, 0x5B117]).permutation(len(order))
    shuffled = [order[i] for i in perm]
    assignment: dict[str, str] = {}
    start = 0
    cumulative = 0.0
    names = list(fractions)
    for k, name in enumerate(names):
        cumulative += fractions[name]
        end = len(shuffled) if k == len(names) - 1 else int(round(cumulative * len(shuffled)))
        for g in shuffled[start:end]:
            assignment[g] = name
        start = end
    return assignment


def sample_seed(seed: int, index: int) -> int:
    """The seed of sample ``index`` in a run seeded with ``seed``."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint64)[0] >> 1)


def spread_indices(count: int, limit: int | None) -> list[int]:
    """At most ``limit`` indices of ``range(count)``, evenly spaced (all of them without a limit),
    so a subset still covers every clip or person of a dataset stored in order."""
    if not limit or limit >= count:
        return list(range(count))
    return sorted({int(i) for i in np.linspace(0, count - 1, limit)})


def person_split(root: Path, fraction: float, seed: int) -> tuple[list[Path], list[Path]]:
    """(train, val) images of a folder of person sub-folders.

    About ``fraction`` of the people are held out.

    The split depends only on the set of person folders and ``seed``: the same call rebuilds
    the held-out people of a run from its config (e.g. for the privacy audit).
    """
    files = list_images(root)
    if not files:
        raise InputError(root, "no images found")
    groups = [str(p.parent.relative_to(root)) for p in files]
    assignment = assign_splits(groups, {"train": 1.0 - fraction, "val": fraction}, seed)
    train = [p for p, g in zip(files, groups) if assignment[g] == "train"]
    val = [p for p, g in zip(files, groups) if assignment[g] == "val"]
    return train, val
