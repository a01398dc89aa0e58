"""MTCNN face detector: real LFW faces, no false alarms on blank images, batching, weight errors."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from facedeblur.errors import FaceDeblurError
from facedeblur.faces.detect import Detection
from facedeblur.faces.mtcnn import MTCNN, ONet, PNet, RNet, mtcnn_weights_dir, nms
from facedeblur.io import read_image

NAMES = [
    "Aaron_Eckhart/Aaron_Eckhart_0001.jpg",
    "AJ_Cook/AJ_Cook_0001.jpg",
    "Aaron_Patterson/Aaron_Patterson_0001.jpg",
]


@pytest.fixture(scope="module")
def detector() -> MTCNN:
    return MTCNN()


@pytest.fixture(scope="module")
def lfw_images(data_dir) -> list[np.ndarray]:
    return [read_image(data_dir / "lfw" / "images" / name) for name in NAMES]


def test_no_torchvision_or_facenet_import(detector):
    assert "torchvision" not in sys.modules
    assert "facenet_pytorch" not in sys.modules


def test_networks_match_shipped_state_dicts():
    folder = mtcnn_weights_dir()
    assert folder.parts[-3:] == ("pretrained", "third_party", "mtcnn")
    assert (folder / "LICENSE").is_file()
    for net, name in [(PNet(), "pnet"), (RNet(), "rnet"), (ONet(), "onet")]:
        state = load_file(folder / f"{name}.safetensors")
        assert set(state) == set(net.state_dict())
        net.load_state_dict(state)


@pytest.mark.parametrize("index", range(len(NAMES)))
def test_finds_the_centred_lfw_face(detector, lfw_images, index):
    img = lfw_images[index]
    h, w = img.shape[:2]
    found = detector(img)
    assert len(found) == 1, found
    face = found[0]
    assert isinstance(face, Detection)
    assert face.score > 0.95
    x0, y0, x1, y1 = face.box
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    assert abs(cx - w / 2) < 25 and abs(cy - h / 2) < 25, face.box
    assert 70 < face.width < 160 and 80 < face.height < 170, face.box
    marks = face.landmarks
    assert marks is not None and marks.shape == (5, 2)
    assert np.all(marks[:, 0] > x0) and np.all(marks[:, 0] < x1)
    assert np.all(marks[:, 1] > y0) and np.all(marks[:, 1] < y1)
    left_eye, right_eye, nose, mouth_l, mouth_r = marks
    assert left_eye[0] < right_eye[0]
    assert mouth_l[0] < mouth_r[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_l[1], mouth_r[1])


def test_uint8_and_float_inputs_agree(detector, lfw_images):
    img = lfw_images[0]
    u8 = np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)
    a, b = detector(img), detector(u8)
    assert len(a) == len(b) == 1
    assert np.allclose(a[0].box, b[0].box, atol=2.0)


def test_blank_and_gradient_images_have_no_face(detector):
    blank = np.full((200, 240, 3), 0.5, dtype=np.float32)
    ramp = np.linspace(0, 1, 240, dtype=np.float32)
    gradient = np.broadcast_to(ramp[None, :, None], (200, 240, 3)).copy()
    assert detector(blank) == []
    assert detector(gradient) == []


def test_detect_batch_equals_single(detector, lfw_images):
    # a fourth image of another size checks the per-size grouping
    images = lfw_images + [lfw_images[1][20:220, 10:230]]
    batch = detector.detect_batch(images)
    assert len(batch) == len(images)
    for img, dets in zip(images, batch):
        single = detector(img)
        assert len(single) == len(dets)
        for a, b in zip(single, dets):
            assert np.allclose(a.box, b.box, atol=1e-3)
            assert abs(a.score - b.score) < 1e-4
            assert np.allclose(a.landmarks, b.landmarks, atol=1e-3)
    assert detector.detect_batch([]) == []


def test_nms_union_and_min():
    boxes = torch.tensor(
        [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [2, 2, 6, 6]], dtype=torch.float32
    )
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])
    assert nms(boxes, scores, 0.5).tolist() == [3, 0, 2]
    # the small box lies inside box 0: "Min" overlap is 1 and suppresses box 0 and 1
    assert nms(boxes, scores, 0.7, "Min").tolist() == [3, 2]


def test_missing_weights_file(tmp_path):
    src = mtcnn_weights_dir()
    for name in ("pnet.safetensors", "rnet.safetensors"):
        shutil.copy(src / name, tmp_path / name)
    with pytest.raises(FaceDeblurError, match="onet.safetensors: MTCNN weights file not found"):
        MTCNN(weights_dir=tmp_path)


def test_missing_weights_folder(tmp_path):
    with pytest.raises(FaceDeblurError, match="not found"):
        MTCNN(weights_dir=tmp_path / "nowhere")


def test_wrong_keys_in_weights_file(tmp_path):
    src = mtcnn_weights_dir()
    for name in ("pnet.safetensors", "onet.safetensors"):
        shutil.copy(src / name, tmp_path / name)
    save_file(
        {"conv1.weight": torch.zeros(4, 3, 3, 3), "fc.bias": torch.zeros(2)},
        tmp_path / "rnet.safetensors",
    )
    with pytest.raises(FaceDeblurError, match="does not fit RNet") as info:
        MTCNN(weights_dir=tmp_path)
    message = str(info.value)
    assert (
        "rnet.safetensors" in message and "missing keys" in message and "unexpected keys" in message
    )


def test_garbage_weights_file(tmp_path):
    src = mtcnn_weights_dir()
    for name in ("rnet.safetensors", "onet.safetensors"):
        shutil.copy(src / name, tmp_path / name)
    (tmp_path / "pnet.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(FaceDeblurError, match="cannot be read"):
        MTCNN(weights_dir=tmp_path)


def test_shipped_weights_missing_from_an_installation(monkeypatch, tmp_path):
    import facedeblur.faces.mtcnn as mod

    monkeypatch.setattr(mod.importlib.resources, "files", lambda package: tmp_path)
    with pytest.raises(
        FaceDeblurError,
        match="shipped MTCNN weights are missing .*pnet.safetensors.*; reinstall facedeblur",
    ):
        mtcnn_weights_dir()
