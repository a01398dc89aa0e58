"""Table helpers shared by every report: cells, means over known values, CSV files and plots."""

from __future__ import annotations

import csv
import io
import math
import numbers
from pathlib import Path

import numpy as np
from PIL import Image

from ..io import atomic_write_text


def mean_of_known(values) -> float | None:
    """Mean of the values that are not None; None when there are none.

    None is a cell with nothing to average.
    """
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None


def all_finite(row: dict) -> bool:
    """True when every number in a row of scores is finite (None, text and flags are ignored)."""
    return all(
        math.isfinite(v)
        for v in row.values()
        if isinstance(v, numbers.Real) and not isinstance(v, bool)
    )


def format_value(value, digits: int = 2, percent: bool = False) -> str:
    """A table cell: ``n/a`` for None (or a number that is not finite), else the number with
    ``digits`` decimals; a percentage with ``percent``.
    """
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{100 * value:.{digits}f}%" if percent else f"{value:.{digits}f}"


def plot_png(fig) -> bytes:
    """A matplotlib figure as opaque RGB PNG bytes (matplotlib writes RGBA; the figure's own
    background is kept, so image readers need not composite an alpha channel)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    buffer.seek(0)
    rgb = io.BytesIO()
    Image.open(buffer).convert("RGB").save(rgb, format="PNG")
    return rgb.getvalue()


def write_csv(path: Path, rows: list[dict], fields: list[str]) -> Path:
    """Rows as CSV with the given columns (other keys ignored), written atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_text(path, buffer.getvalue())
