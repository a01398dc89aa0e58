"""Exceptions of facedeblur: each carries one line a person can act on."""

from __future__ import annotations

import math
from pathlib import Path


class FaceDeblurError(Exception):
    """Base class of every error facedeblur raises on purpose."""


class UsageError(FaceDeblurError):
    """Arguments or options that cannot work together."""


class InputError(FaceDeblurError):
    """A file or folder given by the user that cannot be used.

    The message always starts with the path, so a batch can report it on one line.
    """

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class NoFaceError(InputError):
    """No face was found where one was needed."""


def number_problem(value: float, low: float, high: float, low_open: bool = False) -> str | None:
    """Why ``value`` is not a finite number in [low, high] ((low, high] with ``low_open``).

    None when it is.
    """
    below = value <= low if low_open else value < low
    if math.isfinite(value) and not below and value <= high:
        return None
    return f"must be a finite number in {'(' if low_open else '['}{low:g}, {high:g}], got {value}"


def check_number(name: str, value: float, low: float, high: float, low_open: bool = False) -> None:
    """Raise ``UsageError`` naming the option ``name`` unless ``number_problem`` finds nothing."""
    problem = number_problem(value, low, high, low_open)
    if problem:
        raise UsageError(f"{name} {problem}")
