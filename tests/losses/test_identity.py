"""Identity and face-feature losses through dlib's recognition network."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facedeblur.blur.degrade import convolve
from facedeblur.blur.kernels import gaussian_kernel
from facedeblur.errors import UsageError
from facedeblur.io import image_to_tensor, read_image
from facedeblur.io.geometry import resize
from facedeblur.losses.identity import FACE_TERMS, FaceLosses, build_face_losses
from tests.helpers import PEOPLE


@pytest.fixture(scope="module")
def sharp(data_dir) -> torch.Tensor:
    """Two real 128 px LFW faces, (2, 3, 128, 128)."""
    images = [resize(read_image(data_dir / "lfw" / "images" / p), 128) for p in PEOPLE]
    return torch.stack([image_to_tensor(i) for i in images])


@pytest.fixture(scope="module")
def losses() -> FaceLosses:
    return FaceLosses()


def _blurred(images: torch.Tensor, sigma: float) -> torch.Tensor:
    return convolve(images, gaussian_kernel(sigma))


def test_zero_for_identical_faces_and_growing_with_blur(sharp, losses):
    same = losses(sharp, sharp)
    assert same["faces"] == 2
    for term in FACE_TERMS:
        assert float(same[term]) == 0.0
    mild, strong = losses(_blurred(sharp, 1.0), sharp), losses(_blurred(sharp, 3.0), sharp)
    for term in FACE_TERMS:
        assert 0.0 < float(mild[term]) < float(strong[term])


def test_gradients_reach_the_output_only(sharp, losses):
    output = _blurred(sharp, 2.0).requires_grad_(True)
    values = losses(output, sharp)
    (values["identity"] + values["face_feature"]).backward()
    assert output.grad.abs().sum() > 0 and torch.isfinite(output.grad).all()
    assert all(p.grad is None for p in losses.net.parameters())


def test_identical_faces_give_finite_zero_gradients(sharp, losses):
    output = sharp.clone().requires_grad_(True)
    losses(output, sharp)["identity"].backward()
    assert torch.isfinite(output.grad).all()


def test_faces_without_landmarks_are_counted_not_fatal(sharp):
    losses = FaceLosses(("identity",))
    flat = torch.full_like(sharp[:1], 0.5)
    mixed_target = torch.cat([sharp[:1], flat])
    values = losses(_blurred(mixed_target, 2.0), mixed_target)
    assert values["faces"] == 1 and losses.skipped == 1 and float(values["identity"]) > 0
    nothing = losses(flat.clone().requires_grad_(True), flat)
    assert nothing["faces"] == 0 and float(nothing["identity"]) == 0.0 and losses.skipped == 2


def test_moment_stacks_and_shapes(sharp, losses):
    stack = torch.stack([sharp, sharp])
    assert losses(stack, stack)["faces"] == 4
    with pytest.raises(ValueError, match="one shape"):
        losses(sharp, sharp[:1])


def test_built_by_name_and_weight():
    assert build_face_losses({"identity": 0.0, "face_feature": 0.0}) is None
    assert build_face_losses({"identity": 0.1}).terms == ("identity",)
    with pytest.raises(UsageError, match="unknown face loss 'arcface'"):
        build_face_losses({"arcface": 1.0})
    with pytest.raises(UsageError, match="face loss terms"):
        FaceLosses(("vgg",))


def test_runs_on_the_losses_device(sharp):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device here")
    losses = FaceLosses().cuda()
    values = losses(_blurred(sharp, 2.0).cuda(), sharp.cuda())
    assert values["identity"].device.type == "cuda" and np.isfinite(float(values["identity"]))
