"""Image formats as users have them, through ``read_image`` / ``read_image_data`` / ``write_image``.

16-bit PNG and TIFF keep their precision (and are written back in 16 bits), grey is replicated to
RGB, alpha (RGBA, grey + alpha, palette transparency) stays beside the colour and is written back
to PNG, CMYK becomes RGB, WebP and TIFF read as Pillow reads them, and an EXIF orientation is
applied in every format that carries one. Pillow is the reference decoder throughout. Last,
``facedeblur deblur --faces`` over a real face photo in each of these formats: the face is still
found where it was, alpha and 16-bit depth come out as they went in.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from facedeblur.cli import main
from facedeblur.errors import InputError
from facedeblur.faces.mtcnn import MTCNN
from facedeblur.io import (
    ImageConversionWarning,
    ImageData,
    read_image,
    read_image_data,
    to_uint8,
    write_image,
)

H, W = 24, 32


@pytest.fixture()
def rgba() -> np.ndarray:
    """(H, W, 4) uint8: random colour, alpha 0 in the left quarter, 128 in the next, 255 after."""
    pixels = np.random.default_rng(0).integers(0, 256, size=(H, W, 4), dtype=np.uint8)
    pixels[:, :, 3] = 255
    pixels[:, : W // 4, 3] = 0
    pixels[:, W // 4 : W // 2, 3] = 128
    return pixels


def _save(image: Image.Image, path, **options):
    image.save(path, **options)
    return path


def _pillow_rgb(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def _deep(seed: int, channels: int) -> np.ndarray:
    """Random 16-bit samples whose low bytes matter (not 8-bit values times 257)."""
    shape = (H, W) if channels == 1 else (H, W, channels)
    return np.random.default_rng(seed).integers(0, 65536, size=shape, dtype=np.uint16)


@pytest.mark.parametrize("suffix", [".png", ".tiff"])
def test_16_bit_rgb_keeps_its_precision_and_is_written_back_in_16_bits(tmp_path, suffix):
    bgr = _deep(1, 3)
    path = tmp_path / f"deep{suffix}"
    path.write_bytes(cv2.imencode(suffix, bgr)[1].tobytes())
    picture = read_image_data(path)
    assert picture.bit_depth == 16 and picture.alpha is None and not picture.grey
    assert np.array_equal(np.rint(picture.rgb * 65535).astype(np.uint16), bgr[:, :, ::-1])
    write_image(tmp_path / "out.png", picture)
    back = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and np.array_equal(back, bgr)
    with pytest.warns(ImageConversionWarning, match="16-bit"):
        assert read_image(path).shape == (H, W, 3)


def test_16_bit_grey_png(tmp_path):
    grey = _deep(2, 1)
    path = _save(Image.fromarray(grey), tmp_path / "grey16.png")
    picture = read_image_data(path)
    assert picture.grey and picture.bit_depth == 16
    expected = grey / 65535.0
    assert all(np.allclose(picture.rgb[:, :, c], expected, atol=1e-6) for c in range(3))


def test_grey_is_replicated_to_rgb_with_a_warning(tmp_path):
    grey = np.random.default_rng(3).integers(0, 256, size=(H, W), dtype=np.uint8)
    path = _save(Image.fromarray(grey), tmp_path / "grey.png")
    with pytest.warns(ImageConversionWarning, match="grayscale"):
        img = read_image(path)
    assert np.array_equal(to_uint8(img), np.repeat(grey[:, :, None], 3, axis=2))
    assert read_image_data(path).grey


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
def test_alpha_stays_beside_the_colour_and_is_written_back(tmp_path, rgba, fmt):
    options = {"lossless": True, "exact": True} if fmt == "WEBP" else {}
    path = _save(Image.fromarray(rgba, "RGBA"), tmp_path / f"rgba.{fmt.lower()}", **options)
    picture = read_image_data(path)
    # The colour beneath the alpha is as stored, not premultiplied nor composited.
    assert np.array_equal(to_uint8(picture.rgb), rgba[:, :, :3])
    assert np.array_equal(to_uint8(picture.alpha), rgba[:, :, 3])
    out = write_image(tmp_path / "out.png", picture)
    with Image.open(out) as written:
        assert written.mode == "RGBA" and np.array_equal(np.asarray(written), rgba)
    # read_image shows it as viewers do: composited on white.
    with pytest.warns(ImageConversionWarning, match="alpha"):
        shown = read_image(path)
    alpha = rgba[:, :, 3:] / 255.0
    assert np.abs(shown - (rgba[:, :, :3] / 255.0 * alpha + 1 - alpha)).max() < 1e-6
    assert np.array_equal(to_uint8(shown[:, : W // 4]), np.full((H, W // 4, 3), 255, np.uint8))


def test_an_image_with_alpha_written_as_jpeg_is_composited_on_white(tmp_path, rgba):
    picture = read_image_data(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "rgba.png"))
    out = write_image(tmp_path / "out.jpg", picture)
    with Image.open(out) as written:
        assert written.mode == "RGB"
        assert np.asarray(written)[:, : W // 4 - 2].min() > 245  # transparent -> white


def test_16_bit_rgba_png_round_trips(tmp_path):
    bgra = _deep(4, 4)
    path = tmp_path / "deep_rgba.png"
    path.write_bytes(cv2.imencode(".png", bgra)[1].tobytes())
    picture = read_image_data(path)
    assert picture.bit_depth == 16 and picture.alpha is not None
    write_image(tmp_path / "out.png", picture)
    assert np.array_equal(cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED), bgra)


def test_grey_with_alpha(tmp_path, rgba):
    la = np.dstack([rgba[:, :, 0], rgba[:, :, 3]])
    picture = read_image_data(_save(Image.fromarray(la, "LA"), tmp_path / "la.png"))
    assert np.array_equal(to_uint8(picture.alpha), rgba[:, :, 3])
    assert np.array_equal(to_uint8(picture.rgb), np.repeat(rgba[:, :, :1], 3, axis=2))


@pytest.mark.parametrize("transparent", [False, True])
def test_palette_png(tmp_path, rgba, transparent):
    palette = Image.fromarray(rgba[:, :, :3]).quantize(16)
    options = {"transparency": 0} if transparent else {}
    path = _save(palette, tmp_path / "palette.png", **options)
    picture = read_image_data(path)
    with Image.open(path) as image:
        reference = np.asarray(image.convert("RGBA"))
    assert np.array_equal(to_uint8(picture.rgb), reference[:, :, :3])
    if transparent:
        assert np.array_equal(to_uint8(picture.alpha), reference[:, :, 3])
        assert (reference[:, :, 3] == 0).any()
    else:
        assert picture.alpha is None


@pytest.mark.parametrize(
    ("suffix", "tolerance"),
    # Measured: OpenCV's CMYK JPEG conversion rounds one level off Pillow's (max 1, mean 1.0).
    [(".jpg", 1), (".tiff", 0)],
)
def test_cmyk_becomes_rgb(tmp_path, rgba, suffix, tolerance):
    image = Image.fromarray(rgba[:, :, :3]).convert("CMYK")
    options = {"quality": 95} if suffix == ".jpg" else {}
    path = _save(image, tmp_path / f"cmyk{suffix}", **options)
    picture = read_image_data(path)
    assert picture.alpha is None
    diff = np.abs(to_uint8(picture.rgb).astype(int) - _pillow_rgb(path))
    assert diff.max() <= tolerance


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("WEBP", {"lossless": True}),
        ("WEBP", {"quality": 90}),
        ("TIFF", {}),
        ("TIFF", {"compression": "tiff_lzw"}),
    ],
)
def test_webp_and_tiff_read_as_pillow_reads_them(tmp_path, rgba, fmt, options):
    path = _save(Image.fromarray(rgba[:, :, :3]), tmp_path / f"x.{fmt.lower()}", **options)
    picture = read_image_data(path)
    assert picture.alpha is None and picture.bit_depth == 8
    # Lossy WebP: libwebp's decoder in both, measured identical.
    assert np.array_equal(to_uint8(picture.rgb), _pillow_rgb(path))


def test_tiff_with_associated_16_bit_alpha_is_unpremultiplied(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    colour = np.array([0.8, 0.4, 0.2])
    stored = np.empty((H, W, 4), np.uint16)
    stored[:, :, :3] = np.rint(colour * 0.5 * 65535)  # premultiplied by alpha 0.5
    stored[:, :, 3] = 32768
    path = tmp_path / "assoc.tiff"
    tifffile.imwrite(path, stored, photometric="rgb", extrasamples=["assocalpha"])
    picture = read_image_data(path)
    assert picture.bit_depth == 16
    assert np.abs(picture.rgb - colour).max() < 1e-3
    assert np.abs(picture.alpha - 0.5).max() < 1e-3


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exif_orientation_is_applied_in_every_format(tmp_path, rgba, fmt):
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / f"turned.{fmt.lower()}"
    options = {"lossless": True} if fmt == "WEBP" else {"quality": 95} if fmt == "JPEG" else {}
    Image.fromarray(rgba[:, :, :3]).save(path, format=fmt, exif=exif.tobytes(), **options)
    upright = _pillow_rgb(path)
    assert upright.shape == (W, H, 3)
    img = read_image(path)
    assert img.shape == upright.shape
    assert np.abs(to_uint8(img).astype(int) - upright).max() <= (1 if fmt == "JPEG" else 0)


# TIFF orientation 3 turns 180 degrees, 6 turns 90 degrees clockwise to view.
TURNS = {3: lambda a: np.rot90(a, 2), 6: lambda a: np.rot90(a, -1)}


@pytest.mark.parametrize("orientation", sorted(TURNS))
@pytest.mark.parametrize("kind", ["rgb8", "rgb16", "rgba8", "rgba16"])
def test_tiff_orientation_is_applied_once(tmp_path, rgba, kind, orientation):
    """OpenCV turns most TIFFs itself; those read through Pillow are turned here."""
    tifffile = pytest.importorskip("tifffile")
    channels = 4 if kind.startswith("rgba") else 3
    stored = rgba[:, :, :channels] if kind.endswith("8") else _deep(5, 3 if channels == 3 else 4)
    if channels == 4:
        stored = stored.copy()
        stored[:, :, 3] = np.iinfo(stored.dtype).max  # opaque: the colour reads back unchanged
    path = tmp_path / f"{kind}.tiff"
    options = {"extrasamples": ["unassalpha"]} if channels == 4 else {}
    tifffile.imwrite(
        path, stored, photometric="rgb", extratags=[(274, "H", 1, orientation, True)], **options
    )
    picture = read_image_data(path)
    scale = float(np.iinfo(stored.dtype).max)
    expected = TURNS[orientation](stored[:, :, :3]) / scale
    assert picture.rgb.shape == expected.shape
    assert np.abs(picture.rgb - expected).max() < 0.5 / scale


def test_a_float_tiff_is_refused_in_one_line(tmp_path):
    path = tmp_path / "float.tiff"
    Image.fromarray(np.zeros((H, W), np.float32)).save(path)
    with pytest.raises(InputError, match=r"float\.tiff: unsupported pixel type float32"):
        read_image_data(path)


def test_image_data_composites_and_keeps_its_alpha_under_new_colour(rgba):
    picture = ImageData(rgba[:, :, :3] / 255.0, rgba[:, :, 3] / 255.0)
    restored = picture.with_rgb(np.zeros((H, W, 3), np.float32))
    assert restored.alpha is picture.alpha and restored.bit_depth == 8
    assert np.allclose(restored.on_white()[:, : W // 4], 1.0)
    with pytest.raises(ValueError, match="shape"):
        picture.with_rgb(np.zeros((H, W + 1, 3), np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ImageData(np.zeros((2, 2, 3), np.float32)).on_white()


def _format_corpus(folder, face_photo) -> list[str]:
    """The same real face photo in every accepted kind of file; returns the names.

    The 200 x 250 portrait crop of ``face_photo`` is framed by 60 / 75 px of its edge pixels
    (320 x 400 in all), so rows above and below the face lie outside its restored crop.
    """
    folder.mkdir()
    portrait = np.asarray(Image.open(face_photo).convert("RGB").crop((25, 0, 225, 250)))
    pixels = cv2.copyMakeBorder(portrait, 75, 75, 60, 60, cv2.BORDER_REPLICATE)
    photo = Image.fromarray(pixels)
    alpha = np.full(pixels.shape[:2], 255, np.uint8)
    alpha[:, :20], alpha[:, 20:40] = 0, 128  # transparent and half-transparent columns
    with_alpha = Image.fromarray(np.dstack([pixels, alpha]), "RGBA")
    noise = np.random.default_rng(6).integers(-128, 129, size=pixels.shape)
    deep = np.clip(pixels.astype(np.int32) * 257 + noise, 0, 65535).astype(np.uint16)
    deep_bgr = np.ascontiguousarray(deep[:, :, ::-1])
    exif = Image.Exif()
    exif[0x0112] = 6
    files = {
        "deep.png": lambda p: p.write_bytes(cv2.imencode(".png", deep_bgr)[1].tobytes()),
        "deep_scan.tiff": lambda p: p.write_bytes(cv2.imencode(".tiff", deep_bgr)[1].tobytes()),
        "grey.png": lambda p: photo.convert("L").save(p),
        "grey16.png": lambda p: Image.fromarray(
            np.asarray(photo.convert("L")).astype(np.uint16) * 257
        ).save(p),
        "rgba.png": lambda p: with_alpha.save(p),
        "rgba_web.webp": lambda p: with_alpha.save(p, lossless=True, exact=True),
        "rgba_scan.tiff": lambda p: with_alpha.save(p),
        "palette.png": lambda p: photo.quantize(256).save(p),
        "cmyk.jpg": lambda p: photo.convert("CMYK").save(p, quality=95),
        "lossy.webp": lambda p: photo.save(p, quality=90),
        "scan.tiff": lambda p: photo.save(p),
        "phone.webp": lambda p: photo.transpose(Image.Transpose.ROTATE_90).save(
            p, lossless=True, exif=exif.tobytes()
        ),
    }
    for name, save in files.items():
        save(folder / name)
    return sorted(files)


@pytest.mark.slow
def test_deblur_faces_on_every_format_keeps_faces_alpha_and_depth(tmp_path, data_dir):
    folder = tmp_path / "formats"
    names = _format_corpus(
        folder, data_dir / "lfw" / "images" / "George_W_Bush" / "George_W_Bush_0001.jpg"
    )
    out = tmp_path / "out"
    assert main(["deblur", str(folder), "-o", str(out), "--faces", "--quiet"]) == 0
    detect = MTCNN()
    for name in names:
        before = read_image_data(folder / name)
        after = read_image_data(
            out / "formats" / (name if name.endswith(".jpg") else name.rsplit(".", 1)[0] + ".png")
        )
        assert after.rgb.shape == before.rgb.shape == (400, 320, 3), name
        assert after.bit_depth == before.bit_depth, name
        if before.alpha is None:
            assert after.alpha is None, name
        else:
            assert np.array_equal(after.alpha, before.alpha), name
        # The face is still a face, where it was.
        (face_before,) = detect(before.on_white())
        (face_after,) = detect(after.on_white())
        assert np.abs(np.subtract(face_after.box, face_before.box)).max() < 10, name
        # Away from the face (top and bottom bands) the pixels are as they were: to the bit in
        # PNG, within a JPEG re-encoding (quality 95, measured mean 0.0009) in JPEG.
        bands = np.r_[0:50, 350:400]
        change = np.abs(after.rgb[bands] - before.rgb[bands])
        if name.endswith(".jpg"):
            assert change.mean() < 0.003, name
        else:
            assert change.max() < 0.5 / (2**before.bit_depth - 1), name
