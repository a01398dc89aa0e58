"""Reading images: complete files with trailing bytes accepted, truncated ones and decompression
bombs of every format refused (bombs from their header, before decoding), files as users have
them (animated GIF, folders named like images, unusual names).
"""

from __future__ import annotations

import io
import os
import struct
import warnings

import numpy as np
import pytest
from PIL import Image, ImageOps

from facedeblur.errors import InputError
from facedeblur.io import decode_image, encode_png, read_image, to_uint8, write_image
from tests.helpers import PEOPLE

# The start of an MP4 as phones append it to a "motion photo" JPEG (no JPEG end marker in it).
MOTION_PHOTO_VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8


@pytest.fixture()
def jpeg(data_dir) -> bytes:
    """A real LFW photo, as its JPEG bytes."""
    return (data_dir / "lfw" / "images" / PEOPLE[0]).read_bytes()


def test_huge_jpeg_is_refused_before_decoding(jpeg, tmp_path):
    data = bytearray(jpeg)
    sof = next(
        i for i in range(2, len(data) - 9) if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC2)
    )
    data[sof + 5 : sof + 9] = (30000).to_bytes(2, "big") + (40000).to_bytes(2, "big")
    (tmp_path / "huge.jpg").write_bytes(bytes(data))
    with pytest.raises(InputError, match="40000x30000 image"):
        read_image(tmp_path / "huge.jpg")


def test_jpeg_with_a_video_after_its_end_marker_is_read(jpeg, tmp_path):
    (tmp_path / "plain.jpg").write_bytes(jpeg)
    (tmp_path / "motion.jpg").write_bytes(jpeg + MOTION_PHOTO_VIDEO)
    np.testing.assert_array_equal(
        read_image(tmp_path / "motion.jpg"), read_image(tmp_path / "plain.jpg")
    )


def test_png_with_data_after_iend_is_read(jpeg, tmp_path):
    png = encode_png(decode_image(jpeg))
    (tmp_path / "trailing.png").write_bytes(png + b"tEXt after the end" * 10)
    np.testing.assert_array_equal(read_image(tmp_path / "trailing.png"), decode_image(png))


def _with_thumbnail(jpeg: bytes) -> bytes:
    """The JPEG with an APP1 segment holding a small JPEG thumbnail (end marker included)."""
    thumb = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(thumb, format="JPEG")
    payload = b"Exif\x00\x00" + thumb.getvalue()
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda d: d[:-2], id="end-marker-missing"),
        pytest.param(lambda d: d[: len(d) // 2], id="half"),
        pytest.param(lambda d: _with_thumbnail(d)[: len(d) // 2], id="half-with-thumbnail"),
        pytest.param(lambda d: d[:-2] + MOTION_PHOTO_VIDEO, id="cut-then-other-bytes"),
    ],
)
def test_truncated_jpeg_is_refused(jpeg, tmp_path, cut):
    (tmp_path / "cut.jpg").write_bytes(cut(jpeg))
    with pytest.raises(InputError, match=r"cut\.jpg: truncated JPEG"):
        read_image(tmp_path / "cut.jpg")


def test_jpeg_with_a_thumbnail_is_read(jpeg):
    np.testing.assert_array_equal(decode_image(_with_thumbnail(jpeg)), decode_image(jpeg))


def test_truncated_png_is_refused_whatever_its_name(jpeg, tmp_path):
    png = encode_png(decode_image(jpeg))
    for name, data in [("cut.png", png[:-12]), ("cut.jpg", png[: len(png) // 2])]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(InputError, match=f"{name}: truncated PNG"):
            read_image(tmp_path / name)


def _tiff_header(width: int, height: int) -> bytes:
    """A one-strip uncompressed greyscale TIFF that claims ``width`` x ``height`` pixels."""
    tags = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1)]
    tags += [(273, 4, 0), (277, 3, 1), (278, 4, height), (279, 4, width * height)]
    entries = b"".join(struct.pack("<HHII", tag, kind, 1, value) for tag, kind, value in tags)
    ifd = struct.pack("<H", len(tags)) + entries + struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + bytes(64)


def _bmp_header(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + 64, 0, 0, 54) + info + bytes(64)


def _gif_header(width: int, height: int) -> bytes:
    screen = struct.pack("<HHBBB", width, height, 0x80, 0, 0) + bytes(6)
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x01\x02\x4c\x01\x00"
    return b"GIF89a" + screen + frame + b"\x3b"


def _webp_header(width: int, height: int) -> bytes:
    payload = b"\x2f" + struct.pack("<I", (width - 1) | ((height - 1) << 14)) + bytes(16)
    chunk = b"VP8L" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


BOMBS = {
    "tiff": _tiff_header,
    "bmp": _bmp_header,
    "gif": _gif_header,
    "ppm": lambda w, h: f"P6\n{w} {h}\n255\n".encode() + bytes(64),
    "webp": _webp_header,
}


@pytest.fixture()
def no_decoding(monkeypatch):
    """Fail the test if any image is decoded."""

    def refuse(*args, **kwargs):
        raise AssertionError("the image was decoded")

    monkeypatch.setattr("facedeblur.io.images.cv2.imdecode", refuse)


@pytest.mark.parametrize("fmt", sorted(BOMBS))
def test_decompression_bomb_is_refused_from_its_header(fmt, tmp_path, no_decoding):
    width, height = (20000, 20000) if fmt != "webp" else (16384, 16384)
    path = tmp_path / f"bomb.{fmt}"
    path.write_bytes(BOMBS[fmt](width, height))
    with pytest.raises(InputError) as caught:
        read_image(path)
    # WebP's size is read by facedeblur itself (Pillow opens only WebP data it can decode).
    what = (
        "16384x16384 image (268 megapixels)"
        if fmt == "webp"
        else "image of more than 179 megapixels"
    )
    assert str(caught.value) == (
        f"{path}: {what} is over the 100 megapixel limit; downscale it first"
    )


@pytest.mark.parametrize("fmt", ["tiff", "bmp", "gif", "ppm"])
def test_size_just_over_the_limit_is_named(fmt, tmp_path, no_decoding):
    path = tmp_path / f"big.{fmt}"
    path.write_bytes(BOMBS[fmt](12000, 10000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning stays inside io
        with pytest.raises(InputError, match=r"12000x10000 image \(120 megapixels\) is over"):
            read_image(path)


def test_a_limit_above_pillows_leaves_the_check_to_decoding(tmp_path, monkeypatch):
    monkeypatch.setattr("facedeblur.io.images.cv2.imdecode", lambda *args: None)
    with pytest.raises(InputError, match="not a readable image"):
        decode_image(_tiff_header(20000, 20000), "bomb.tiff", max_pixels=10**9)


def test_text_named_like_an_image_is_one_line(tmp_path):
    (tmp_path / "text.tiff").write_text("not an image\n" * 20)
    with pytest.raises(InputError, match=r"text\.tiff: not a readable image"):
        read_image(tmp_path / "text.tiff")


def test_animated_gif_gives_its_first_frame(data_dir, tmp_path):
    face = Image.open(data_dir / "lfw" / "images" / PEOPLE[0]).convert("RGB")
    frames = [face, face.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], loop=0)
    first = np.asarray(Image.open(tmp_path / "a.gif").convert("RGB"), dtype=np.float32) / 255
    np.testing.assert_array_equal(read_image(tmp_path / "a.gif"), first)


def test_folder_named_like_an_image_is_one_line(tmp_path):
    (tmp_path / "x.jpg").mkdir()
    with pytest.raises(InputError, match=r"x\.jpg: is a folder, not an image file"):
        read_image(tmp_path / "x.jpg")


def test_symlink_loop_is_one_line(tmp_path):
    os.symlink(tmp_path / "b.jpg", tmp_path / "a.jpg")
    os.symlink(tmp_path / "a.jpg", tmp_path / "b.jpg")
    with pytest.raises(InputError, match=r"a\.jpg: cannot read \(Too many levels"):
        read_image(tmp_path / "a.jpg")


@pytest.mark.parametrize("name", ["ünïcode fäce.jpg", "-leading-dash.png", "--help.jpg"])
def test_unusual_file_names_work(jpeg, tmp_path, name):
    img = decode_image(jpeg)
    write_image(tmp_path / name, img)
    assert [p.name for p in tmp_path.iterdir()] == [name]
    assert read_image(tmp_path / name).shape == img.shape


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_as_viewers_apply_it(tmp_path, orientation):
    rng = np.random.default_rng(orientation)
    pixels = rng.integers(0, 256, size=(20, 32, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.png"
    Image.fromarray(pixels).save(path, exif=exif)
    with Image.open(path) as image:
        upright = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    decoded = read_image(path)
    assert decoded.shape[:2] == upright.shape[:2]
    assert np.array_equal(to_uint8(decoded), upright)


def test_a_phone_jpeg_turned_by_exif_comes_out_upright(tmp_path):
    tall = np.zeros((60, 40, 3), dtype=np.uint8)
    tall[:10] = 255  # a white band at the top of the upright picture
    stored = np.rot90(tall, 1)  # the camera stored it turned 90 degrees counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    Image.fromarray(np.ascontiguousarray(stored)).save(path, exif=exif, quality=95)
    img = read_image(path)
    assert img.shape[:2] == (60, 40)
    assert img[:8].mean() > 0.9 and img[15:].mean() < 0.1
