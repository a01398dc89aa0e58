"""The memory a restoration will take, estimated before the work starts, and the budget it must fit.

``facedeblur deblur`` checks each image against ``--memory-budget`` (``DEFAULT_MEMORY_BUDGET``
GB) once the image is decoded and, with ``--faces``, once its faces are found: an image whose
estimate is over the budget is refused with one line instead of running the machine out of
memory. The estimates add up the arrays the code keeps alive (float32 RGB is 12 bytes a pixel)
and the measured cost of the shipped model (``NETWORK_BYTES_PER_PIXEL``); docs/errors.md gives
the estimates next to the measured peaks.
"""

from __future__ import annotations

import math

from ..errors import FaceDeblurError, check_number

GB = 1e9
# Default budget (GB): every image up to the 100 MP read limit fits it, in tiles or with --faces
# and faces of ordinary size; a whole-image run (--tile 0) fits it up to about 6 MP.
DEFAULT_MEMORY_BUDGET = 8.0
MIN_MEMORY_BUDGET, MAX_MEMORY_BUDGET = 0.5, 1024.0
# Python, torch, the model and a face detector loaded and run: 0.35 GB peak RSS for a 128 px
# photo with --faces, and more with MTCNN on a 1600 px copy of a large photo.
PROCESS_BYTES = 450_000_000
# One float32 RGB pixel.
IMAGE_BYTES_PER_PIXEL = 12
# One pixel through the shipped model in one call on the CPU, input and output included
# (peak RSS 1.47 GB at 1 MP, 4.22 GB at 4.2 MP, 0.31 GB of it before the call).
NETWORK_BYTES_PER_PIXEL = 1100
# Writing a float image: its uint8 copy made through one float32 array, and the encoded bytes
# (an 86 MP PNG: 1.36 GB on top of the photo and the process).
WRITE_BYTES_PER_PIXEL = 17
# Tiled restoration keeps the input, its tensor, the blended sum, its weights and the result.
TILED_BYTES_PER_PIXEL = 52


def faces_peak(
    height: int,
    width: int,
    crop_sides: list[int],
    network_pixels: int,
    copy_image: bool = True,
    keep_crops: bool = True,
) -> int:
    """Estimated peak bytes of ``restore_faces`` on a ``height`` x ``width`` photo, then writing
    the result.

    Args:
        crop_sides: the side of each face crop to restore (``face_crop_box``), in pixels.
        network_pixels: pixels of the largest network call (crops in a batch x face size²).
        copy_image: the photo is pasted into a copy (False: into itself, ``in_place``).
        keep_crops: the records keep each face's crop before and after.
    """
    pixels = height * width
    crops = [side * side for side in crop_sides]
    image = IMAGE_BYTES_PER_PIXEL * pixels * (2 if copy_image else 1)
    kept = 2 * IMAGE_BYTES_PER_PIXEL * sum(crops) if keep_crops else 0
    # Every face's change is kept for the paste; the largest crop and its resized change are
    # alive while its change is made.
    faces = IMAGE_BYTES_PER_PIXEL * (sum(crops) + 2 * max(crops, default=0))
    network = NETWORK_BYTES_PER_PIXEL * network_pixels
    write = WRITE_BYTES_PER_PIXEL * pixels
    return PROCESS_BYTES + image + kept + max(faces, network, write)


def whole_image_peak(height: int, width: int, tile: int) -> int:
    """Estimated peak bytes of restoring a whole ``height`` x ``width`` image with the shipped
    model, in ``tile`` px tiles (0: in one call), then writing it."""
    pixels = height * width
    if tile and max(height, width) > tile:
        work = TILED_BYTES_PER_PIXEL * pixels + NETWORK_BYTES_PER_PIXEL * tile * tile
    else:
        work = (NETWORK_BYTES_PER_PIXEL + IMAGE_BYTES_PER_PIXEL) * pixels
    write = (2 * IMAGE_BYTES_PER_PIXEL + WRITE_BYTES_PER_PIXEL) * pixels
    return PROCESS_BYTES + max(work, write)


def network_pixel_budget(budget: float) -> int:
    """Most pixels one network call may take within ``budget`` GB (``Deblurrer.max_pixels``)."""
    return max(1, int((budget * GB - PROCESS_BYTES) / NETWORK_BYTES_PER_PIXEL))


def check_memory_budget(budget: float) -> None:
    """``UsageError`` unless ``budget`` is a finite number of GB in [0.5, 1024]."""
    check_number("--memory-budget", budget, MIN_MEMORY_BUDGET, MAX_MEMORY_BUDGET)


def check_memory(needed: int, budget: float | None, what: str) -> None:
    """Refuse work estimated at ``needed`` bytes when it is over ``budget`` GB (None: no limit).

    Raises a one-line ``FaceDeblurError`` that says what ``what`` needs and how to raise the
    budget.
    """
    if budget is None or needed <= budget * GB:
        return
    raise FaceDeblurError(
        f"{what} needs about {needed / GB:.1f} GB of memory, over the {budget:g} GB budget; "
        f"raise it with --memory-budget {math.ceil(needed / GB)} (memory_budget= in Python)"
    )
