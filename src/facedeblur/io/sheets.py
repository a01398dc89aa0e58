"""Contact sheets: grids of images with column titles, for people to look at."""

from __future__ import annotations

import cv2
import numpy as np

from .geometry import resize
from .images import to_uint8


def heatmap(values: np.ndarray, vmax: float) -> np.ndarray:
    """A 2-D array as a float RGB image: inferno colour map over [0, vmax]."""
    norm = values / vmax if vmax > 0 else values
    gray = np.clip(np.rint(norm * 255.0), 0, 255).astype(np.uint8)
    return cv2.applyColorMap(gray, cv2.COLORMAP_INFERNO)[:, :, ::-1].astype(np.float32) / 255.0


def kernel_to_image(kernel: np.ndarray, size: int | None = None) -> np.ndarray:
    """A kernel as a float RGB image: scaled to its peak, inferno colour map, nearest upscaling."""
    rgb = heatmap(kernel, kernel.max())
    if size is not None and size != kernel.shape[0]:
        rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_NEAREST)
    return rgb


def _put_text(canvas: np.ndarray, text: str, x: int, y: int, scale: float) -> None:
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(
        canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA
    )


def contact_sheet(
    rows: list[list[np.ndarray]],
    titles: list[str] | None = None,
    cell: int = 160,
    gap: int = 4,
    captions: list[list[str]] | None = None,
) -> np.ndarray:
    """Lay out rows of float RGB images as one sheet with optional column titles.

    Every image is resized to ``cell`` x ``cell``; ``captions`` (one list per row, one text per
    image) are written across the bottom of the images. The result is a uint8 RGB image.
    """
    if not rows:
        raise ValueError("a contact sheet needs at least one row")
    ncols = max(len(r) for r in rows)
    header = 28 if titles else 0
    height = header + len(rows) * cell + (len(rows) + 1) * gap
    width = ncols * cell + (ncols + 1) * gap
    sheet = np.full((height, width, 3), 38, dtype=np.uint8)
    scale = max(0.35, cell / 320.0)
    for c, title in enumerate(titles or []):
        _put_text(sheet, title, gap + c * (cell + gap) + 4, 20, scale)
    for r, row in enumerate(rows):
        top = header + gap + r * (cell + gap)
        for c, img in enumerate(row):
            left = gap + c * (cell + gap)
            sheet[top : top + cell, left : left + cell] = to_uint8(
                resize(np.asarray(img, dtype=np.float32), cell)[:, :, :3]
            )
            if captions and r < len(captions) and c < len(captions[r]):
                _put_text(sheet, captions[r][c], left + 4, top + cell - 8, 0.8 * scale)
    return sheet
