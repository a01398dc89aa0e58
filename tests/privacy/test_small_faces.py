"""Obfuscation never claims what it did not do: small faces, wide feathers, unchanged faces."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import facedeblur
from facedeblur.faces.detect import Detection
from facedeblur.privacy import face_ellipse, obfuscate_photo
from facedeblur.privacy.obfuscate import MAX_FEATHER_FRACTION, MIN_FACE, FacesLeftVisibleWarning
from tests.privacy.crowd import CROWD, SMALL_FACES, crowd_photo


@pytest.fixture(scope="module")
def crowd(data_dir):
    """The crowd photo, its blackout by the default detector, and that run's detections."""
    photo = crowd_photo(data_dir)
    result = obfuscate_photo(photo, "blackout")
    found = [Detection(face.box, face.score) for face in result.faces]
    return photo, result, found


def _changed(photo, result, face) -> float:
    x0, y0, x1, y1 = (int(v) for v in face.box)
    return float(np.abs(result.image[y0:y1, x0:x1] - photo[y0:y1, x0:x1]).mean())


def test_the_default_detector_finds_and_hides_faces_below_min_face(crowd):
    photo, result, _ = crowd
    assert (result.found, result.hidden, result.too_small) == (len(CROWD), len(CROWD), SMALL_FACES)
    assert result.visible == [] and result.min_face == MIN_FACE
    for face in result.faces:
        small = max(face.box[2] - face.box[0], face.box[3] - face.box[1]) < MIN_FACE
        assert face.too_small == small and face.hidden
        assert face.treatment == ("pixelate" if small else "blackout")
        assert (face.points68 is None) == small
        assert _changed(photo, result, face) > 0.05
    outside = ~result.mask
    assert np.array_equal(result.image[outside], photo[outside])


@pytest.mark.parametrize("small_faces", ["blur", "blackout"])
def test_small_faces_are_hidden_by_the_chosen_method(crowd, small_faces):
    photo, _, found = crowd
    result = obfuscate_photo(
        photo, "pixelate", detector=lambda image: found, small_faces=small_faces
    )
    assert result.hidden == result.found and result.small_faces == small_faces
    small = [face for face in result.faces if face.too_small]
    assert len(small) == SMALL_FACES and {face.treatment for face in small} == {small_faces}


def test_leaving_small_faces_counts_them_visible(crowd):
    photo, _, found = crowd
    result = obfuscate_photo(photo, "blur", detector=lambda image: found, small_faces="leave")
    assert (result.found, result.hidden, result.too_small) == (len(CROWD), 2, SMALL_FACES)
    assert [face.treatment for face in result.visible] == ["leave"] * SMALL_FACES
    for face in result.visible:
        assert not face.hidden and _changed(photo, result, face) == 0.0
    with pytest.warns(FacesLeftVisibleWarning, match="2 of 4 face"):
        facedeblur.obfuscate(photo, "blur", detector=lambda image: found, small_faces="leave")


def test_min_face_moves_faces_between_landmarks_and_boxes(crowd):
    photo, _, found = crowd
    result = obfuscate_photo(photo, "blur", detector=lambda image: found, min_face=1000)
    assert result.too_small == result.found == result.hidden == len(CROWD)


def test_a_huge_feather_is_cut_so_the_face_is_still_hidden(crowd):
    photo, _, found = crowd
    result = obfuscate_photo(photo, "blackout", feather=1e9, detector=lambda image: found)
    assert result.hidden == result.found
    for face in result.faces:
        if face.too_small:
            continue
        _, axes, _ = face_ellipse(face.points68)
        assert face.feather == pytest.approx(MAX_FEATHER_FRACTION * min(axes))
        nose = np.rint(face.points68[30]).astype(int)
        assert np.all(result.image[nose[1], nose[0]] == 0.0)


class UnchangedRebuild:
    """An attribute obfuscator whose rebuilt face is the photo itself: nothing gets hidden."""

    size = 64

    def rebuild(self, image, points68, flips):
        values = np.full(40, 0.5, np.float32)
        return SimpleNamespace(
            layer=image.copy(), before=values, after=values, covered=np.ones(image.shape[:2], bool)
        )


def test_a_face_that_did_not_change_is_not_counted_as_hidden(crowd):
    photo, _, found = crowd
    result = obfuscate_photo(
        photo, obfuscator=UnchangedRebuild(), detector=lambda image: found, small_faces="blur"
    )
    assert result.found == len(CROWD) and result.hidden == SMALL_FACES
    assert all(not face.too_small for face in result.visible)
