"""Folding NAF blocks for inference: the same outputs with fewer operations, any width."""

from __future__ import annotations

import pytest
import torch

from facedeblur.io import image_to_tensor, read_image
from facedeblur.models import build_model
from facedeblur.models.nafnet import NAFBlock, fold_for_inference
from facedeblur.models.weights import default_model_path, load_network
from facedeblur.restore.deblurrer import Deblurrer

TOLERANCE = 1e-5
OTHER_WIDTH = {"width": 12, "enc_blocks": [1, 2], "middle_blocks": 1, "dec_blocks": [2, 1]}


@pytest.fixture(scope="module")
def face(lfw_people) -> torch.Tensor:
    """A real LFW face, area-resized to (1, 3, 64, 64), in [0, 1]."""
    image = image_to_tensor(read_image(sorted(lfw_people[0].glob("*.jpg"))[0]))[None]
    return torch.nn.functional.interpolate(image, size=64, mode="area")


def _random_nafnet() -> torch.nn.Module:
    """A NAFNet of another width whose norms and branch scales are far from their start
    values (ones, zeros), so every folded term matters."""
    generator = torch.Generator().manual_seed(0)
    model = build_model("nafnet", **OTHER_WIDTH).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("beta", "gamma", "norm1.bias", "norm2.bias")):
                p.copy_(torch.randn(p.shape, generator=generator) * 0.5)
            elif name.endswith(("norm1.weight", "norm2.weight")):
                p.copy_(1.0 + torch.randn(p.shape, generator=generator) * 0.5)
    return model


def _shipped_nafnet() -> torch.nn.Module:
    return load_network(default_model_path())[0]


@pytest.mark.parametrize("build", [_shipped_nafnet, _random_nafnet], ids=["shipped", "width12"])
def test_folded_network_gives_the_same_output_on_noise_and_on_a_face(build, face):
    model = build()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folded = fold_for_inference(model)
    noise = torch.rand(2, 3, 48, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for x in (noise, face):
            assert (folded(x) - model(x)).abs().max().item() <= TOLERANCE
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), (
        "folding changed the network it was given"
    )
    blocks = [m for m in folded.modules() if isinstance(m, NAFBlock)]
    assert blocks and all(
        b.beta is None and b.gamma is None and b.norm1.weight is None and b.norm2.bias is None
        for b in blocks
    )
    # Six (1, C, 1, 1) tensors fewer per block: beta, gamma and two norms' weight and bias.
    removed = sum(6 * b.expand.in_channels for b in blocks)
    count = sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for p in folded.parameters()) == count - removed


def test_folding_twice_and_folding_other_families_changes_nothing():
    torch.manual_seed(0)
    model = build_model("nafnet", width=4, enc_blocks=[1], middle_blocks=1, dec_blocks=[1])
    folded = fold_for_inference(model)
    assert folded is not model and not folded.training
    assert fold_for_inference(folded) is folded
    deblurgan = build_model("deblurgan", n_blocks=1, ngf=8)
    assert fold_for_inference(deblurgan) is deblurgan


def test_deblurrer_runs_the_folded_network_unless_told_not_to():
    model = _random_nafnet()
    folded, as_given = Deblurrer(model), Deblurrer(model, fold=False)
    assert as_given.model is model and folded.model is not model
    assert all(b.beta is None for b in folded.model.modules() if isinstance(b, NAFBlock))
    x = torch.rand(1, 3, 30, 37, generator=torch.Generator().manual_seed(2))
    assert (folded.deblur(x) - as_given.deblur(x)).abs().max().item() <= TOLERANCE
