"""What the web tests need beyond the project: Gradio, Selenium, Debian's chromium.

Missing, a test is skipped; with CI=true it fails instead, so a CI machine where ``make setup``
did not install them cannot pass by skipping.
"""

from __future__ import annotations

import importlib
import os
import shutil

import pytest

INSTALL = {
    "gradio": "pip install -e '.[web]'",
    "selenium": "pip install -e '.[dev]'",
    "chromium": "apt-get install chromium chromium-driver (make setup does it)",
    "chromedriver": "apt-get install chromium chromium-driver (make setup does it)",
}


def _missing(what: str) -> None:
    reason = f"{what} is not installed: {INSTALL[what]}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_module(name: str):
    """The imported module ``name``; skips (or under CI fails) the test module without it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        _missing(name)


def require_program(name: str) -> str:
    """The path of the program ``name`` on PATH; skips (or under CI fails) without it."""
    path = shutil.which(name)
    if path is None:
        _missing(name)
    return path
