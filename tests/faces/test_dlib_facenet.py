"""dlib's face-recognition network in PyTorch: the same descriptors as dlib, from dlib's file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facedeblur.errors import InputError
from facedeblur.faces.align import dlib_chip_matrix, extract_chips
from facedeblur.faces.dlib_facenet import DlibFaceNet, shipped_facenet
from facedeblur.faces.dlib_faces import FaceDescriptor, landmarks5
from facedeblur.faces.dlib_models import load_dlib, model_path
from facedeblur.io import read_image, to_uint8
from facedeblur.metrics.identity import identity_distances

FACES = (
    "Aaron_Eckhart/Aaron_Eckhart_0001.jpg",
    "Colin_Powell/Colin_Powell_0001.jpg",
    "Colin_Powell/Colin_Powell_0002.jpg",
    "George_W_Bush/George_W_Bush_0001.jpg",
)


@pytest.fixture(scope="module")
def faces(data_dir):
    """Four real LFW faces (three people) with their 5-point landmarks and dlib's chips."""
    dlib = load_dlib()
    describe = FaceDescriptor(backend="dlib")
    found = []
    for name in FACES:
        image = to_uint8(read_image(data_dir / "lfw" / "images" / name))
        points = landmarks5(image, describe.face_box(image))
        shape = dlib.full_object_detection(
            dlib.rectangle(0, 0, image.shape[1] - 1, image.shape[0] - 1),
            [dlib.point(int(x), int(y)) for x, y in points],
        )
        found.append((image, points, dlib.get_face_chip(image, shape, 150, 0.25)))
    return found


def _as_batch(images) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0


def test_descriptors_and_distances_match_dlib_on_real_faces(faces):
    recognizer = load_dlib().face_recognition_model_v1(str(model_path("face_descriptor")))
    chips = [chip for _, _, chip in faces]
    reference = np.stack([np.asarray(recognizer.compute_face_descriptor(c)) for c in chips])
    with torch.no_grad():
        mine = shipped_facenet()(_as_batch(chips)).numpy()
    assert mine.shape == (len(FACES), 128)
    assert np.abs(mine - reference).max() < 1e-3
    pairs = [(i, j) for i in range(len(FACES)) for j in range(i + 1, len(FACES))]
    ours = [float(identity_distances(mine[i], mine[j])) for i, j in pairs]
    theirs = [float(identity_distances(reference[i], reference[j])) for i, j in pairs]
    assert np.abs(np.subtract(ours, theirs)).max() < 1e-3
    same_person = ours[pairs.index((1, 2))]
    assert same_person < 0.6 < min(d for p, d in zip(pairs, ours) if p != (1, 2))


def test_torch_backend_gives_dlibs_descriptors(faces):
    images = [image for image, _, _ in faces]
    dlib_side = FaceDescriptor(backend="dlib").descriptors(images)
    torch_side = FaceDescriptor(backend="torch").descriptors(images)
    assert np.abs(dlib_side - torch_side).max() < 1e-3


def test_differentiable_chips_cut_where_dlib_cuts(faces):
    for image, points, chip in faces:
        mine = extract_chips(
            _as_batch([image]), torch.from_numpy(dlib_chip_matrix(points))[None], 150
        )
        # dlib truncates its interpolated values to 8 bits.
        truncated = torch.floor(mine[0] * 255.0 + 1e-3).permute(1, 2, 0).numpy()
        diff = np.abs(truncated - chip.astype(np.float32))
        assert diff.max() <= 1.0 and (diff == 0).mean() > 0.99


def test_gradients_reach_the_image_through_alignment_and_network(faces):
    image, points, _ = faces[0]
    x = _as_batch([image]).requires_grad_(True)
    net = shipped_facenet()
    chips = extract_chips(x, torch.from_numpy(dlib_chip_matrix(points))[None], 150)
    net(chips).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    face = x.grad[0, :, 80:170, 80:170].abs().sum()
    assert face > 0 and all(p.grad is None for p in net.parameters())


def test_truncated_or_wrong_files_give_one_line(tmp_path):
    source = model_path("face_descriptor").read_bytes()
    cases = {
        "truncated.dat": source[: len(source) // 2],
        "empty.dat": b"",
        "other_model.dat": model_path("landmarks5").read_bytes(),
        "noise.dat": np.random.default_rng(0).bytes(4096),
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(InputError) as caught:
            DlibFaceNet.from_dlib_file(path)
        message = str(caught.value)
        assert message.startswith(str(path)) and "\n" not in message, message
    with pytest.raises(InputError, match="no such dlib model file"):
        DlibFaceNet.from_dlib_file(tmp_path / "missing.dat")


def test_loading_draws_no_random_numbers():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    DlibFaceNet.from_dlib_file()
    assert torch.equal(torch.rand(3), expected)
