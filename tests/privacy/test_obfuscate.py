"""Photo-level identity obfuscation: every method hides the faces and nothing else."""

from __future__ import annotations

import numpy as np
import pytest

import facedeblur
from facedeblur.errors import NoFaceError, UsageError
from facedeblur.faces.detect import DlibHOGDetector
from facedeblur.faces.mask import feathered_inside
from facedeblur.io import read_image, to_uint8
from facedeblur.privacy import OBFUSCATION_METHODS, face_ellipse, obfuscate_photo
from facedeblur.privacy.obfuscate import default_feather
from tests.helpers import REBUILT_COLOUR, ConstantRebuild

ECKHART = "Aaron_Eckhart/Aaron_Eckhart_0001.jpg"
COOK = "AJ_Cook/AJ_Cook_0001.jpg"


@pytest.fixture(scope="module")
def two_faces(data_dir):
    """Two real LFW faces side by side (250 x 500) and their HOG detections, found once."""
    images = data_dir / "lfw" / "images"
    photo = np.concatenate([read_image(images / ECKHART), read_image(images / COOK)], axis=1)
    return photo, DlibHOGDetector()(photo)


@pytest.mark.parametrize("method", OBFUSCATION_METHODS)
def test_every_method_hides_each_face_and_keeps_every_other_pixel(two_faces, method):
    photo, found = two_faces
    obfuscator = ConstantRebuild() if method == "attributes" else None
    result = obfuscate_photo(
        photo, method, obfuscator=obfuscator, detector=lambda image: found, seed=1
    )
    assert result.image.shape == photo.shape and result.image.dtype == np.float32
    assert len(result.faces) == 2 and result.faces[0].box[0] < result.faces[1].box[0]
    outside = ~result.mask
    assert 0.05 < result.mask.mean() < 0.5
    assert np.array_equal(result.image[outside], photo[outside])
    for face in result.faces:
        inside = face.full_mask(photo.shape[:2])
        assert inside[
            np.rint(face.points68[30, 1]).astype(int), np.rint(face.points68[30, 0]).astype(int)
        ]
        assert np.abs(result.image[inside] - photo[inside]).mean() > 0.02


def test_attribute_method_pastes_the_rebuilt_face_and_records_the_flips(two_faces):
    photo, found = two_faces
    fake = ConstantRebuild()
    result = obfuscate_photo(
        photo, attributes=["smiling", "Big_Nose"], obfuscator=fake, detector=lambda image: found
    )
    assert fake.calls == [(7, 31), (7, 31)]
    for face in result.faces:
        assert face.flipped == ("Big_Nose", "Smiling")
        assert face.after[31] == 1.0 - np.round(face.before[31]) and face.after[0] == np.round(
            face.before[0]
        )
        nose = np.rint(face.points68[30]).astype(int)
        assert np.allclose(result.image[nose[1], nose[0]], REBUILT_COLOUR)


def test_classical_faces_carry_no_attributes(two_faces):
    photo, found = two_faces
    face = obfuscate_photo(photo, "pixelate", detector=lambda image: found).faces[0]
    assert face.flipped == () and face.before is None and face.after is None


def test_a_wide_feather_still_stays_inside_the_mask(two_faces):
    photo, found = two_faces
    result = obfuscate_photo(photo, "blackout", feather=25, detector=lambda image: found)
    outside = ~result.mask
    assert np.array_equal(result.image[outside], photo[outside])
    inside = result.mask & (result.image.sum(axis=2) > 0)
    assert (
        inside.sum() > 0.2 * result.mask.sum()
    )  # the soft edge leaves part of the face showing through


def test_feathered_inside_ramps_from_the_edge_inwards():
    mask = np.zeros((80, 80), np.float32)
    mask[10:70, 10:70] = 1.0
    soft = feathered_inside(mask, 8)
    assert np.array_equal(soft[mask == 0], np.zeros(int((mask == 0).sum()), np.float32))
    assert np.all(soft[18:62, 18:62] == 1.0)
    row = soft[40, 10:18]  # 1 to 8 pixels inside the edge
    assert 0.0 < row[0] < 0.1 and np.all(np.diff(row) > 0) and row[-1] == 1.0
    assert np.array_equal(feathered_inside(mask, 0), mask)
    with pytest.raises(UsageError, match="feather radius"):
        feathered_inside(mask, -1)


def test_default_feather_is_five_percent_of_the_face(two_faces):
    photo, found = two_faces
    points = obfuscate_photo(photo, "blur", detector=lambda image: found).faces[0].points68
    _, axes, _ = face_ellipse(points)
    assert default_feather(points) == pytest.approx(0.05 * 2 * max(axes))
    # Not exactly twice: the ellipse has a fixed 2 px pad beyond the landmarks.
    assert default_feather(points * 2) == pytest.approx(2 * default_feather(points), rel=0.03)


@pytest.mark.parametrize(
    "options, message",
    [
        (
            {"method": "sepia"},
            "unknown obfuscation method 'sepia'; valid methods: attributes, blur",
        ),
        ({"attributes": ["wings"]}, "unknown attribute 'wings'"),
        ({"attributes": ["smiling", "goatee"]}, "goatee: gender-linked attribute(s) are protected"),
        (
            {"method": "blur", "attributes": ["smiling"]},
            "attributes are flipped by the attributes method only",
        ),
        ({"method": "swirl", "strength": 0}, "strength must be between 0.5 and 4"),
        ({"method": "blur", "strength": 0.1}, "strength must be between 0.5 and 4"),
        ({"method": "pixelate", "strength": 1e9}, "strength must be between 0.5 and 4"),
        ({"method": "blur", "strength": float("nan")}, "strength must be between 0.5 and 4"),
        ({"method": "blur", "feather": -2}, "feather radius must be >= 0"),
        ({"method": "blur", "feather": float("inf")}, "feather radius must be >= 0"),
        ({"method": "blur", "min_face": 0}, "min_face must be a whole number"),
        ({"method": "blur", "small_faces": "swirl"}, "unknown small-face method 'swirl'"),
    ],
)
def test_bad_options_are_refused_before_looking_for_faces(options, message):
    with pytest.raises(UsageError) as info:
        obfuscate_photo(np.full((40, 40, 3), 0.5, np.float32), **options)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_protected_attributes_flip_when_allowed(two_faces):
    photo, found = two_faces
    result = obfuscate_photo(
        photo,
        attributes=["male"],
        allow_protected=True,
        obfuscator=ConstantRebuild(),
        detector=lambda image: found,
    )
    assert result.faces[0].flipped == ("Male",)


def test_no_face_is_a_clear_error():
    with pytest.raises(NoFaceError, match="^grey.png: no face found$"):
        obfuscate_photo(np.full((120, 120, 3), 0.5, np.float32), "blur", label="grey.png")


def test_public_api_returns_the_image(two_faces):
    photo, found = two_faces
    hidden = facedeblur.obfuscate(to_uint8(photo), "pixelate", detector=lambda image: found)
    assert np.array_equal(
        hidden, obfuscate_photo(photo, "pixelate", detector=lambda image: found).image
    )
