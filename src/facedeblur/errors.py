"""Exceptions of facedeblur: each carries one line a person can act on."""

from __future__ import annotations

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
