"""Table helpers shared by every report: cells, means over known values, CSV files and plots."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..io import atomic_write_text


def mean_of_known(values) -> float | None:
    """Mean of the values that are not None; None when there are none.

    None is a cell with nothing to average.
    """
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None


def format_value(value, digits: int = 2, percent: bool = False) -> str:
    """A table cell: ``n/a`` for None, else the number with ``digits`` decimals.

    The number is a percentage with ``percent``.
    """
    if value is None:
        return "n/a"
    return f"{100 * value:.{digits}f}%" if percent else f"{value:.{digits}f}"


def plot_png(fig) -> bytes:
    """A matplotlib figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def write_csv(path: Path, rows: list[dict], fields: list[str]) -> Path:
    """Rows as CSV with the given columns (other keys ignored), written atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_text(path, buffer.getvalue())
