"""Reading images: sizes are checked before decoding."""

from __future__ import annotations

import pytest

from facedeblur.errors import InputError
from facedeblur.io import read_image
from tests.helpers import PEOPLE


def test_huge_jpeg_is_refused_before_decoding(data_dir, tmp_path):
    data = bytearray((data_dir / "lfw" / "images" / PEOPLE[0]).read_bytes())
    sof = next(
        i for i in range(2, len(data) - 9) if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC2)
    )
    data[sof + 5 : sof + 9] = (30000).to_bytes(2, "big") + (40000).to_bytes(2, "big")
    (tmp_path / "huge.jpg").write_bytes(bytes(data))
    with pytest.raises(InputError, match="40000x30000 image"):
        read_image(tmp_path / "huge.jpg")
