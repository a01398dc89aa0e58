"""A corpus of bad and unusual inputs, built at test time from one real face photo.

``build_corpus(folder, face)`` writes the files and returns what each one is: ``GOOD`` files
every image command must process, ``BAD`` files every command must refuse with one line (and go
on), and ``EITHER`` files a command may process or refuse, but never crash on. Nothing here is
committed as a binary; run ``python -m tests.corpus.build FACE OUT`` to look at the corpus.
"""

from __future__ import annotations

import io
import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

GOOD, BAD, EITHER = "good", "bad", "either"


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, with one tiny compressed row."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * (1 + 3 * min(width, 64)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _save(image: Image.Image, path: Path, **options) -> None:
    buffer = io.BytesIO()
    image.save(buffer, **options)
    path.write_bytes(buffer.getvalue())


def build_corpus(folder: str | Path, face: str | Path, side: int = 128) -> dict[str, str]:
    """Write the corpus into ``folder`` from the RGB photo ``face`` brought to ``side`` pixels.

    Returns {file name: GOOD, BAD or EITHER}.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    photo = Image.open(face).convert("RGB").resize((side, side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=92)
    data = buffer.getvalue()
    kinds: dict[str, str] = {}

    def write(name: str, kind: str, content: bytes) -> None:
        (folder / name).write_bytes(content)
        kinds[name] = kind

    write("good.jpg", GOOD, data)
    write("ünïcode face.jpg", GOOD, data)
    write("-leading-dash.jpg", GOOD, data)
    write("jpeg_named.png", GOOD, data)
    for name, mode, options in [
        ("grey.png", "L", {"format": "PNG"}),
        ("rgba.png", "RGBA", {"format": "PNG"}),
        ("palette.png", "P", {"format": "PNG"}),
        ("cmyk.jpg", "CMYK", {"format": "JPEG", "quality": 90}),
        ("face.webp", "RGB", {"format": "WEBP", "quality": 90}),
        ("scan.tiff", "RGB", {"format": "TIFF"}),
    ]:
        _save(photo.convert(mode), folder / name, **options)
        kinds[name] = GOOD
    deep = np.asarray(photo.convert("L"), dtype=np.uint16) * 257
    _save(Image.fromarray(deep), folder / "grey16.png", format="PNG")
    kinds["grey16.png"] = GOOD
    exif = Image.Exif()
    exif[0x0112] = 6
    # As a phone stores a portrait: pixels turned 90 degrees counter-clockwise, tag 6 to undo it.
    turned = photo.transpose(Image.Transpose.ROTATE_90)
    _save(turned, folder / "exif_rotated.jpg", format="JPEG", quality=90, exif=exif.tobytes())
    kinds["exif_rotated.jpg"] = GOOD
    frames = [photo, photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    _save(frames[0], folder / "animated.gif", format="GIF", save_all=True, append_images=frames[1:])
    kinds["animated.gif"] = EITHER
    write("motion_photo.jpg", EITHER, data + b"\x00\x00\x00\x18ftypmp42" + os.urandom(256))

    write("empty.jpg", BAD, b"")
    write("truncated.jpg", BAD, data[: len(data) // 2])
    write("text.jpg", BAD, b"this is not an image\n" * 20)
    write("bomb.png", BAD, _png_header_only(40000, 40000))
    (folder / "folder.jpg").mkdir()
    kinds["folder.jpg"] = BAD
    os.symlink(folder / "loop_b.jpg", folder / "loop_a.jpg")
    os.symlink(folder / "loop_a.jpg", folder / "loop_b.jpg")
    kinds["loop_a.jpg"] = kinds["loop_b.jpg"] = BAD
    _save(photo.resize((1, 1)), folder / "tiny_1x1.png", format="PNG")
    kinds["tiny_1x1.png"] = BAD
    _save(photo.resize((8, 8)), folder / "tiny_8x8.png", format="PNG")
    kinds["tiny_8x8.png"] = EITHER
    return kinds


def build_large(path: str | Path, face: str | Path, width: int, height: int) -> Path:
    """A ``width`` x ``height`` JPEG holding the photo ``face`` at 250 px on a smooth background,
    for the memory budget (a few megapixels are enough to go over a small one)."""
    rng = np.random.default_rng(0)
    coarse = rng.integers(60, 200, size=(height // 64 + 1, width // 64 + 1, 3), dtype=np.uint8)
    canvas = Image.fromarray(coarse).resize((width, height), Image.Resampling.BILINEAR)
    canvas.paste(Image.open(face).convert("RGB").resize((250, 250)), (width // 3, height // 3))
    _save(canvas, Path(path), format="JPEG", quality=85)
    return Path(path)


if __name__ == "__main__":
    for name, kind in sorted(build_corpus(sys.argv[2], sys.argv[1]).items()):
        print(f"{kind:6} {name}")
