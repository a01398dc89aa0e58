"""Image files: reading with validation, colour order, atomic writes, tensor conversion.

Everything outside ``facedeblur.io`` sees float32 RGB images in [0, 1] (HWC numpy arrays or
CHW/NCHW tensors). uint8 and OpenCV's BGR order exist only in this package.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io as _bytes_io
import os
import re
import secrets
import warnings
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from ..errors import InputError

IMAGE_EXTENSIONS = (
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".tif",
    ".tiff",
    ".webp",
    ".ppm",
    ".pgm",
    ".gif",
)
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
# Larger images are refused: one is 1.2 GB as float32 RGB, far beyond any face photo.
MAX_IMAGE_PIXELS = 100_000_000
# JPEG start-of-frame markers (they carry the image size): C0-CF except DHT, JPG and DAC.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# In entropy-coded JPEG data 0xFF is followed by 0x00 (a stuffed byte) or a restart marker.
_JPEG_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7]")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*")
# TIFF tag 338, ExtraSamples: 1 says the alpha channel is associated (colour premultiplied).
_TIFF_EXTRA_SAMPLES, _ASSOCIATED_ALPHA = 338, 1
_UNREADABLE = "not a readable image (corrupt file or unsupported format)"


class ImageConversionWarning(UserWarning):
    """An image was usable only after a conversion (grayscale, alpha, 16-bit)."""


@dataclasses.dataclass(frozen=True)
class ImageData:
    """An image as its file holds it: colour, alpha channel and bits per channel.

    Attributes:
        rgb: float32 (H, W, 3) in [0, 1], the colour as stored beneath any alpha (not
            composited); a grey image is replicated to three channels.
        alpha: float32 (H, W) in [0, 1] (1 is opaque), or None when the file has no alpha.
        bit_depth: 8 or 16, the file's bits per channel.
        grey: the file's image is grey (one colour channel).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    bit_depth: int = 8
    grey: bool = False

    def on_white(self) -> np.ndarray:
        """The colour composited on white as viewers show it, float32 (H, W, 3) in [0, 1]."""
        if self.alpha is None:
            return self.rgb
        alpha = self.alpha[:, :, None]
        return self.rgb * alpha + (1.0 - alpha)

    def with_rgb(self, rgb: np.ndarray) -> ImageData:
        """The same alpha and bit depth under new colour of the same size (a restored image)."""
        if rgb.shape != self.rgb.shape:
            raise ValueError(f"new colour of shape {rgb.shape} for an image of {self.rgb.shape}")
        return dataclasses.replace(self, rgb=rgb)


def is_image_file(path: Path) -> bool:
    """True when the file name has an image extension."""
    return path.suffix.lower() in IMAGE_EXTENSIONS


def is_video_file(path: Path) -> bool:
    """True when the file name has a video extension."""
    return path.suffix.lower() in VIDEO_EXTENSIONS


def list_images(folder: str | Path, recursive: bool = True) -> list[Path]:
    """Image files under ``folder``, sorted by path (hidden files skipped)."""
    folder = Path(folder)
    pattern = folder.rglob("*") if recursive else folder.glob("*")
    return sorted(
        p
        for p in pattern
        if p.is_file()
        and is_image_file(p)
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _png_complete(data: bytes) -> bool:
    """True when the PNG's chunks, followed by their lengths, reach a whole IEND chunk."""
    pos = len(_PNG_SIGNATURE)
    while pos + 12 <= len(data):
        if data[pos + 4 : pos + 8] == b"IEND":
            return True
        pos += 12 + int.from_bytes(data[pos : pos + 4], "big")
    return False


def _jpeg_complete(data: bytes) -> bool:
    """True when the JPEG's markers lead to an end-of-image marker.

    Segments are skipped by their length (an EXIF thumbnail holds an end marker of its own) and
    entropy-coded data is searched for the next marker.
    """
    pos = 2
    while pos + 1 < len(data):
        if data[pos] != 0xFF:
            found = _JPEG_NEXT_MARKER.search(data, pos)
            if found is None:
                return False
            pos = found.start()
            continue
        marker = data[pos + 1]
        if marker == 0xD9:
            return True
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker in (0x00, 0x01) or 0xD0 <= marker <= 0xD8:  # no length field
            pos += 2
        else:
            pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return False


def _check_complete(path: Path, data: bytes) -> None:
    """Reject truncated JPEG and PNG files, which decoders would silently pad with grey.

    Bytes after the end of a complete image (the video of a phone's motion photo) are allowed.
    """
    if data.startswith(b"\xff\xd8") and not _jpeg_complete(data):
        raise InputError(path, "truncated JPEG (no end-of-image marker)")
    if data.startswith(_PNG_SIGNATURE) and not _png_complete(data):
        raise InputError(path, "truncated PNG (no IEND chunk)")


def _webp_size(data: bytes) -> tuple[int, int] | None:
    """(height, width) from a WebP's first chunk (extended, lossless or lossy); None otherwise."""
    kind = data[12:16]
    if kind == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[27:30], "little") + 1, int.from_bytes(data[24:27], "little") + 1
    if kind == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return ((bits >> 14) & 0x3FFF) + 1, (bits & 0x3FFF) + 1
    if kind == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        return (
            int.from_bytes(data[28:30], "little") & 0x3FFF,
            int.from_bytes(data[26:28], "little") & 0x3FFF,
        )
    return None


def _header_size(data: bytes) -> tuple[int, int] | None:
    """(height, width) from a PNG, JPEG or WebP header without decoding; None for other formats.

    WebP is read here because Pillow opens only WebP files whose image data it can decode.
    """
    if data.startswith(_PNG_SIGNATURE) and data[12:16] == b"IHDR":
        return int.from_bytes(data[20:24], "big"), int.from_bytes(data[16:20], "big")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_size(data)
    if data[:2] != b"\xff\xd8":
        return None
    pos = 2
    while pos + 9 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in _JPEG_SOF:
            return int.from_bytes(data[pos + 5 : pos + 7], "big"), int.from_bytes(
                data[pos + 7 : pos + 9], "big"
            )
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length field
            pos += 2
        else:
            pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return None


def _check_pixels(path: Path, height: int, width: int, max_pixels: int | None) -> None:
    if max_pixels is not None and height * width > max_pixels:
        raise InputError(
            path,
            f"{width}x{height} image ({height * width / 1e6:.0f} megapixels) is over the "
            f"{max_pixels / 1e6:.0f} megapixel limit; downscale it first",
        )


def _pillow_header_size(path: Path, data: bytes, max_pixels: int) -> tuple[int, int] | None:
    """(height, width) from the header as Pillow reads it, without decoding the pixels.

    None when Pillow's own decompression-bomb limit stops it below ``max_pixels``; the size is
    then checked after decoding.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(_bytes_io.BytesIO(data)) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        pillow_limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        if max_pixels >= pillow_limit:
            return None
        raise InputError(
            path,
            f"image of more than {pillow_limit / 1e6:.0f} megapixels is over the "
            f"{max_pixels / 1e6:.0f} megapixel limit; downscale it first",
        ) from None
    except Exception:  # Pillow's plugins raise many kinds of errors on files that are not images
        raise InputError(path, _UNREADABLE) from None
    return height, width


EXIF_ORIENTATION = 0x0112
"""The EXIF tag that says how a camera held the picture (1 upright, 2-8 flipped or turned)."""


def exif_orientation(data: bytes) -> int:
    """The EXIF orientation (1-8) of encoded image bytes; 1 without EXIF or a readable tag."""
    try:
        with Image.open(_bytes_io.BytesIO(data)) as image:
            value = image.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:  # Pillow raises many kinds on odd headers; no readable EXIF means upright
        return 1
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1


def apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an (H, W, ...) array as EXIF ``orientation`` (1-8) says, so it shows upright.

    Mirrors Pillow's ``ImageOps.exif_transpose``: 2 mirrors left-right, 3 turns 180 degrees,
    4 mirrors top-bottom, 5 transposes, 6 turns 90 degrees clockwise, 7 transverses,
    8 turns 90 degrees counter-clockwise.
    """
    if orientation == 2:
        return img[:, ::-1]
    if orientation == 3:
        return img[::-1, ::-1]
    if orientation == 4:
        return img[::-1]
    if orientation == 5:
        return img.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(img, -1)
    if orientation == 7:
        return np.rot90(img, 2).swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(img, 1)
    return img


def _tiff_with_alpha(path: Path, data: bytes, raw: np.ndarray) -> tuple[np.ndarray, bool]:
    """A 4-channel TIFF (BGRA order, upright) and whether its colour is premultiplied.

    OpenCV reads 8-bit TIFFs through libtiff's RGBA interface, which premultiplies colour by an
    unassociated alpha and gives CMYK an alpha channel of its own; Pillow reads those files as
    they are (and, as OpenCV, turns them by their orientation tag). 16-bit files come from
    OpenCV as stored, premultiplied where the file says its alpha is associated.
    """
    try:
        with Image.open(_bytes_io.BytesIO(data)) as image:
            if raw.dtype == np.uint16:
                extra = image.tag_v2.get(_TIFF_EXTRA_SAMPLES)
                return raw, tuple(extra or ())[:1] == (_ASSOCIATED_ALPHA,)
            has_alpha = image.mode in ("RGBA", "RGBa", "LA", "La", "PA")
            pixels = np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
    except Exception:  # Pillow's plugins raise many kinds of errors on files they cannot read
        raise InputError(path, _UNREADABLE) from None
    order = [2, 1, 0, 3] if has_alpha else [2, 1, 0]
    return np.ascontiguousarray(pixels[:, :, order]), False


def _pixels(raw: np.ndarray, path: Path, premultiplied: bool) -> ImageData:
    """OpenCV's decoded array (grey, BGR or BGRA; uint8 or uint16) as ``ImageData``."""
    if raw.dtype == np.uint8 and raw.ndim == 3 and raw.shape[2] == 3:
        # The common case, converted with one float32 array alive (large photos).
        img = np.ascontiguousarray(raw[:, :, ::-1]).astype(np.float32)
        img /= 255.0
        return ImageData(img)
    if raw.dtype not in (np.uint8, np.uint16):
        raise InputError(path, f"unsupported pixel type {raw.dtype}")
    bit_depth = 8 if raw.dtype == np.uint8 else 16
    img = raw.astype(np.float32) / float(np.iinfo(raw.dtype).max)
    channels = 1 if img.ndim == 2 else img.shape[2]
    if channels == 1:
        rgb = np.repeat(img.reshape(img.shape[0], img.shape[1], 1), 3, axis=2)
        return ImageData(rgb, None, bit_depth, grey=True)
    if channels not in (3, 4):
        raise InputError(path, f"unsupported image with {channels} channels")
    rgb = np.ascontiguousarray(img[:, :, 2::-1])
    if channels == 3:
        return ImageData(rgb, None, bit_depth)
    alpha = np.ascontiguousarray(img[:, :, 3])
    if premultiplied:
        np.divide(rgb, alpha[:, :, None], out=rgb, where=alpha[:, :, None] > 0)
        np.clip(rgb, 0.0, 1.0, out=rgb)
    return ImageData(rgb, alpha, bit_depth)


def decode_image_data(
    data: bytes, path: str | Path = "<bytes>", max_pixels: int | None = MAX_IMAGE_PIXELS
) -> ImageData:
    """Decode encoded image bytes to their colour, alpha channel and bit depth (``ImageData``).

    Nothing is lost that the library keeps: 16-bit samples stay at their precision in float32,
    alpha stays beside the colour (not composited), grey is replicated to three channels. An
    EXIF orientation (phone photos) is applied, so the image is upright as viewers show it. An
    animated GIF or WebP gives its first frame. Images of more than ``max_pixels`` pixels
    (None: no limit beyond OpenCV's own) are refused from their header, before decoding, so
    only formats whose header this module or Pillow reads are accepted then. Bytes after the
    end of a complete image are ignored. Raises ``InputError`` naming ``path``.
    """
    path = Path(path)
    _check_complete(path, data)
    if max_pixels is not None:
        size = _header_size(data) or _pillow_header_size(path, data, max_pixels)
        if size is not None:
            _check_pixels(path, *size, max_pixels)
    raw = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if raw is None or raw.size == 0:
        raise InputError(path, _UNREADABLE)
    _check_pixels(path, raw.shape[0], raw.shape[1], max_pixels)
    premultiplied = False
    # OpenCV (and Pillow) turn TIFFs by their orientation tag themselves; other formats here.
    if data[:4] not in _TIFF_SIGNATURES:
        raw = apply_orientation(raw, exif_orientation(data))
    elif raw.ndim == 3 and raw.shape[2] == 4:
        raw, premultiplied = _tiff_with_alpha(path, data, raw)
    return _pixels(raw, path, premultiplied)


def decode_image(
    data: bytes, path: str | Path = "<bytes>", max_pixels: int | None = MAX_IMAGE_PIXELS
) -> np.ndarray:
    """Decode encoded image bytes to float32 RGB in [0, 1], shape (H, W, 3).

    As ``decode_image_data``, then alpha is composited on white. Grayscale, alpha and 16-bit
    images each emit an ``ImageConversionWarning``.
    """
    picture = decode_image_data(data, path, max_pixels)
    if picture.bit_depth == 16:
        warnings.warn(
            f"{path}: 16-bit image converted to 8-bit precision",
            ImageConversionWarning,
            stacklevel=2,
        )
    if picture.grey:
        warnings.warn(
            f"{path}: grayscale image converted to RGB", ImageConversionWarning, stacklevel=2
        )
    if picture.alpha is not None:
        warnings.warn(
            f"{path}: alpha channel composited on white", ImageConversionWarning, stacklevel=2
        )
    return np.ascontiguousarray(picture.on_white(), dtype=np.float32)


def _read_bytes(path: Path) -> bytes:
    """The bytes of an image file; ``InputError`` naming it when it cannot be read or is empty."""
    if path.is_dir():
        raise InputError(path, "is a folder, not an image file")
    if path.exists() and not path.is_file():
        raise InputError(path, "not a regular file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror or exc})") from None
    if not data:
        raise InputError(path, "empty file")
    return data


def read_image(path: str | Path, max_pixels: int | None = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Read an image file as float32 RGB in [0, 1], shape (H, W, 3) (``decode_image``).

    Raises ``InputError`` naming the file when it is missing, unreadable, not an image or
    larger than ``max_pixels`` pixels (None: no limit beyond OpenCV's own).
    """
    path = Path(path)
    return decode_image(_read_bytes(path), path, max_pixels)


def read_image_data(path: str | Path, max_pixels: int | None = MAX_IMAGE_PIXELS) -> ImageData:
    """Read an image file with its alpha channel and bit depth (``decode_image_data``).

    Raises ``InputError`` as ``read_image`` does.
    """
    path = Path(path)
    return decode_image_data(_read_bytes(path), path, max_pixels)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] to uint8 with rounding; uint8 passes through.

    Values outside [0, 1] are clipped.
    """
    if img.dtype == np.uint8:
        return np.ascontiguousarray(img)
    scaled = np.asarray(img, dtype=np.float32) * 255.0
    # In place: one float32 copy alive, not three (large photos).
    np.rint(scaled, out=scaled)
    np.clip(scaled, 0, 255, out=scaled)
    return scaled.astype(np.uint8)


def to_float32(img: np.ndarray) -> np.ndarray:
    """uint8 image to float32 in [0, 1]; a float image is returned as float32.

    It is not copied when it is already float32.
    """
    if img.dtype == np.uint8:
        return img.astype(np.float32) / 255.0
    return img.astype(np.float32, copy=False)


def _to_uint16(img: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] to uint16 with rounding (clipped); uint8 is scaled by 257."""
    if img.dtype == np.uint8:
        return img.astype(np.uint16) * 257
    scaled = np.asarray(img, dtype=np.float32) * 65535.0
    np.rint(scaled, out=scaled)
    np.clip(scaled, 0, 65535, out=scaled)
    return scaled.astype(np.uint16)


def encode_png(img: np.ndarray, alpha: np.ndarray | None = None, bit_depth: int = 8) -> bytes:
    """Encode an image as PNG bytes.

    Args:
        img: float RGB (H, W, 3) or grayscale (H, W) in [0, 1], or uint8.
        alpha: float (H, W) in [0, 1] (1 opaque) or uint8, written as the alpha channel of an
            RGB image; None writes no alpha.
        bit_depth: 8 or 16 bits per channel.
    """
    if bit_depth not in (8, 16):
        raise ValueError(f"PNG bit depth must be 8 or 16, got {bit_depth}")
    convert = to_uint8 if bit_depth == 8 else _to_uint16
    arr = convert(img)
    if arr.ndim == 3:
        arr = arr[:, :, ::-1]
    if alpha is not None:
        if arr.ndim != 3 or alpha.shape != arr.shape[:2]:
            raise ValueError(f"alpha of shape {alpha.shape} for an image of shape {arr.shape}")
        arr = np.dstack([arr, convert(alpha)])
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def _write_error(path: Path, exc: OSError) -> InputError:
    return InputError(path, f"cannot write ({exc.strerror or exc})")


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """A new temporary file beside ``path`` to write, renamed to ``path`` when the block succeeds.

    The temporary file never outlives the block, however it ends (Ctrl-C included). Files get
    the usual mode of new files (0666 less the umask). An ``OSError`` (full disk, read-only
    folder, ``path`` a folder) becomes an ``InputError`` naming ``path`` and the reason.
    """
    path = Path(path)
    # A short stem keeps the name within the file system's limit; the suffix tells writers
    # such as OpenCV's the format.
    tmp = path.with_name(f".{path.stem[:32]}.{secrets.token_hex(8)}.tmp{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(path, f"cannot write ({path.parent} is a file, not a folder)") from None
    except OSError as exc:
        raise _write_error(path, exc) from None
    # Created inside the try: a Ctrl-C right after the file appears still reaches the unlink.
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise _write_error(path, exc) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename (never half-written).

    Raises ``InputError`` naming ``path`` when the file cannot be written.
    """
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_image(path: str | Path, img: np.ndarray | ImageData, jpeg_quality: int = 95) -> Path:
    """Write an image as PNG or JPEG (by extension), atomically.

    ``img`` is float RGB (H, W, 3) in [0, 1], uint8, or an ``ImageData``, whose alpha channel
    and 16-bit depth a PNG keeps; a JPEG, which has neither, gets the colour composited on
    white in 8 bits.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    picture = img if isinstance(img, ImageData) else None
    if suffix == ".png":
        if picture is None:
            return atomic_write_bytes(path, encode_png(img))
        return atomic_write_bytes(path, encode_png(picture.rgb, picture.alpha, picture.bit_depth))
    if suffix in (".jpg", ".jpeg"):
        arr = to_uint8(img if picture is None else picture.on_white())
        ok, buf = cv2.imencode(
            ".jpg", np.ascontiguousarray(arr[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
        )
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        return atomic_write_bytes(path, buf.tobytes())
    raise ValueError(f"{path}: only PNG and JPEG output are supported")


def save_array(path: str | Path, array: np.ndarray) -> Path:
    """Save a numpy array as ``.npy``, atomically."""
    buf = _bytes_io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return atomic_write_bytes(path, buf.getvalue())


def image_to_tensor(img: np.ndarray) -> torch.Tensor:
    """HWC float image to a CHW float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32))


def tensor_to_image(tensor: torch.Tensor) -> np.ndarray:
    """CHW tensor to an HWC float32 numpy image."""
    return tensor.detach().to(torch.float32).cpu().numpy().transpose(1, 2, 0).copy()
