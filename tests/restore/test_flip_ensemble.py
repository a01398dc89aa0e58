"""The flip ensemble: each result averaged with the mirror image's, through the API and CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facedeblur import load_model, load_moments_model
from facedeblur.cli import main
from facedeblur.errors import UsageError
from facedeblur.evaluate.moments_protocol import evaluate_moments
from facedeblur.evaluate.protocol import build_method
from facedeblur.io import read_image, write_image
from facedeblur.models import build_model
from facedeblur.models.weights import save_weights
from facedeblur.restore.deblurrer import Deblurrer
from facedeblur.restore.moments import MomentRestorer


@pytest.fixture(scope="module")
def lopsided_weights(tmp_path_factory):
    """A tiny DeblurGAN with random weights: it treats an image and its mirror differently."""
    torch.manual_seed(3)
    args = {"n_blocks": 1, "ngf": 4}
    path = tmp_path_factory.mktemp("flip") / "lopsided.safetensors"
    return save_weights(path, build_model("deblurgan", **args), "deblurgan", args)


def test_deblurrer_averages_an_image_and_its_mirror(lopsided_weights):
    image = torch.rand(1, 3, 40, 50)  # 50 is not a multiple of the pad: the mirror pads too
    plain = load_model(lopsided_weights, device="cpu")
    ensemble = load_model(lopsided_weights, device="cpu", flip_ensemble=True)
    once = plain.deblur(image)
    mirrored = plain.deblur(image.flip(-1)).flip(-1)
    assert (once - mirrored).abs().max() > 1e-3  # the network alone is not mirror-symmetric
    out = ensemble.deblur(image)
    assert torch.allclose(out, (once + mirrored) / 2, atol=1e-6)
    assert torch.allclose(ensemble.deblur(image.flip(-1)), out.flip(-1), atol=1e-6)


def test_moments_ensemble_mirrors_the_motion(tiny_weights):
    blur = torch.rand(3, 3, 32, 32)
    u = torch.tensor([0.0, 0.25, 1.0])
    plain = load_moments_model(tiny_weights, device="cpu")
    ensemble = load_moments_model(tiny_weights, device="cpu", flip_ensemble=True)
    expected = (plain.run(blur, u) + plain.run(blur.flip(-1), 1 - u).flip(-1)) / 2
    out = ensemble.run(blur, u)
    assert not torch.allclose(out, plain.run(blur, u), atol=1e-4)
    assert torch.allclose(out, expected, atol=1e-6)
    # Mirroring the face reverses its motion: the moment at u becomes the one at 1 - u.
    assert torch.allclose(ensemble.run(blur.flip(-1), 1 - u), out.flip(-1), atol=1e-6)
    # Whole photos restore each moment through a Deblurrer: the same ensemble.
    crop = blur[1].permute(1, 2, 0).numpy()
    via_photo_path = ensemble.at(0.25).deblur(crop)
    assert np.allclose(via_photo_path, out[1].permute(1, 2, 0).numpy(), atol=1e-5)


def test_one_face_over_many_u_stays_one_face_for_the_mirror_pass():
    class Recording(torch.nn.Module):
        """Records whether each call gets one face expanded over its batch (stride 0)."""

        pad_multiple = 1

        def __init__(self):
            super().__init__()
            self.one_face = []

        def forward(self, x, u):
            self.one_face.append(x.stride(0) == 0)
            return [x]

    generator = Recording()
    image = np.random.default_rng(0).random((16, 20, 3), dtype=np.float32)
    moments = MomentRestorer(generator, flip_ensemble=True).restore(image, [0.0, 0.5, 1.0])
    assert generator.one_face == [True, True]
    assert np.allclose(moments[0], image, atol=1e-6)  # the identity network, mirrored and back


def test_flip_methods_in_evaluate(moments_root, tiny_weights):
    assert build_method("flip:default").name == "default model, flip ensemble"
    for spec in ("flip:blurry", "flip:wiener", "flip:nonsense"):
        with pytest.raises(UsageError, match="only a network has a flip ensemble"):
            build_method(spec)
    result = evaluate_moments(
        moments_root / "val",
        [f"moments:{tiny_weights}", f"flip:moments:{tiny_weights}"],
        identity=False,
        progress=False,
    )
    plain, flipped = result.methods
    assert flipped == f"{plain}, flip ensemble"
    scores = {m: [r["psnr"] for r in result.rows if r["method"] == m] for m in result.methods}
    assert len(scores[plain]) == len(scores[flipped]) > 0
    assert scores[plain] != pytest.approx(scores[flipped], abs=1e-3)


def test_deblur_command_flip_ensemble(lopsided_weights, tmp_path):
    face = np.random.default_rng(0).random((48, 40, 3)).astype(np.float32)
    write_image(tmp_path / "face.png", face)
    args = ["deblur", str(tmp_path / "face.png"), "--model", str(lopsided_weights), "--quiet"]
    assert main([*args, "-o", str(tmp_path / "plain.png")]) == 0
    assert main([*args, "-o", str(tmp_path / "ens.png"), "--flip-ensemble"]) == 0
    expected = Deblurrer(
        load_model(lopsided_weights, device="cpu").model, flip_ensemble=True, fold=False
    ).deblur(read_image(tmp_path / "face.png"))
    written = read_image(tmp_path / "ens.png")
    assert np.abs(written - expected).max() <= 1.0 / 255 + 1e-6
    assert np.abs(written - read_image(tmp_path / "plain.png")).max() > 2.0 / 255
