"""A reader of dlib's binary serialization format, enough to read its DNN ``.dat`` files.

dlib writes integers as a control byte (bit 7: negative; bits 0-3: byte count) followed by the
absolute value in little-endian bytes; bools as the ASCII bytes ``'0'``/``'1'``; strings as an
integer length and the bytes; floating-point scalars as two integers, mantissa then exponent
(value = mantissa * 2**exponent); tensors as a version (2), four integer dimensions (samples,
channels, rows, columns) and little-endian float32 data. ``alias_tensor`` records (version 1)
hold only the four dimensions.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import InputError


class DlibFormatError(InputError):
    """A file that is not (or no longer) the dlib serialization it should be."""


class DlibReader:
    """Sequential reader of dlib-serialized values from bytes.

    Every ``read_*`` method raises ``DlibFormatError`` naming the file and the byte offset
    when the data ends early or does not have the expected form.
    """

    def __init__(self, data: bytes, path: str | Path):
        self.data = memoryview(data)
        self.path = Path(path)
        self.offset = 0

    def fail(self, problem: str) -> DlibFormatError:
        """The error for ``problem`` at the current offset."""
        return DlibFormatError(self.path, f"{problem} at byte {self.offset} (not a dlib model?)")

    def _take(self, count: int) -> memoryview:
        if count < 0 or self.offset + count > len(self.data):
            raise self.fail("file ends early")
        chunk = self.data[self.offset : self.offset + count]
        self.offset += count
        return chunk

    @property
    def remaining(self) -> int:
        """Bytes not read yet."""
        return len(self.data) - self.offset

    def read_int(self) -> int:
        """One integer of any C++ integral type."""
        control = self._take(1)[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise self.fail(f"bad integer control byte {control:#04x}")
        value = int.from_bytes(self._take(size), "little")
        return -value if control & 0x80 else value

    def read_bool(self) -> bool:
        """One bool (ASCII ``'0'`` or ``'1'``)."""
        byte = self._take(1)[0]
        if byte not in (ord("0"), ord("1")):
            raise self.fail(f"bad bool byte {byte:#04x}")
        return byte == ord("1")

    def read_string(self, max_length: int = 256) -> str:
        """One string (dlib's version tags are short; longer ones mean a wrong file)."""
        length = self.read_int()
        if not 0 <= length <= max_length:
            raise self.fail(f"string length {length} out of range")
        try:
            return bytes(self._take(length)).decode("ascii")
        except UnicodeDecodeError:
            raise self.fail("string is not ASCII") from None

    def read_float(self) -> float:
        """One float or double (mantissa and exponent)."""
        mantissa, exponent = self.read_int(), self.read_int()
        if abs(exponent) > 2000:
            raise self.fail(f"float exponent {exponent} out of range")
        return math.ldexp(float(mantissa), exponent)

    def read_version(self, expected: tuple[int, ...], what: str) -> int:
        """An integer version, which must be one of ``expected``."""
        version = self.read_int()
        if version not in expected:
            raise self.fail(f"{what} version {version}, expected {expected}")
        return version

    def read_tag(self, expected: tuple[str, ...], what: str) -> str:
        """A layer's string version tag, which must be one of ``expected``."""
        tag = self.read_string()
        if tag not in expected:
            raise self.fail(f"{what}: found {tag!r}, expected one of {', '.join(expected)}")
        return tag

    def _dims(self) -> tuple[int, int, int, int]:
        dims = tuple(self.read_int() for _ in range(4))
        if any(d < 0 for d in dims):
            raise self.fail(f"negative tensor dimension {dims}")
        return dims

    def read_tensor(self) -> np.ndarray:
        """A ``resizable_tensor`` as a float32 array shaped (samples, channels, rows, columns)."""
        self.read_version((2,), "tensor")
        dims = self._dims()
        count = math.prod(dims)
        if count * 4 > self.remaining:
            raise self.fail(f"tensor of shape {dims} is larger than the rest of the file")
        return np.frombuffer(self._take(count * 4), dtype="<f4").reshape(dims).astype(np.float32)

    def read_alias_tensor(self) -> tuple[int, int, int, int]:
        """An ``alias_tensor`` (a shape only)."""
        self.read_version((1,), "alias tensor")
        return self._dims()
