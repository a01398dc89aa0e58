"""Loading weights into a Deblurrer (clear errors) and tiled restoration."""

import pytest
import torch

from facedeblur.errors import FaceDeblurError


@pytest.mark.slow
def test_weights_that_do_not_fit_are_an_error(trained_run, tmp_path):
    from facedeblur import load_model
    from facedeblur.models import build_model
    from facedeblur.models.weights import save_weights

    wrong = tmp_path / "wrong.safetensors"
    save_weights(
        wrong, build_model("deblurgan", n_blocks=2, ngf=8), "deblurgan", {"n_blocks": 1, "ngf": 8}
    )
    with pytest.raises(FaceDeblurError, match="do not fit"):
        load_model(wrong)
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(FaceDeblurError, match="not a safetensors"):
        load_model(tmp_path / "junk.safetensors")
    with pytest.raises(FaceDeblurError, match="no such weights file"):
        load_model(tmp_path / "missing.safetensors")


def test_tiles_blend_without_seams():
    from facedeblur.models import build_model
    from facedeblur.restore.deblurrer import Deblurrer

    net = build_model("deblurgan", n_blocks=1, ngf=4)
    last = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    image = torch.rand(3, 150, 211)
    tiled = Deblurrer(net, tile=64, overlap=16).deblur(image)
    assert tiled.shape == image.shape
    assert torch.allclose(tiled, image, atol=1e-6)
