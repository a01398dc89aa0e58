"""The deblurring networks: sizes, ranges, the global skip, receptive fields, the model table."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from facedeblur.errors import UsageError
from facedeblur.models import (
    MODELS,
    DeblurGANGenerator,
    DeepDeblur,
    NahDiscriminator,
    PatchGANDiscriminator,
    build_model,
    receptive_field,
)


def _image(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_deblurgan_parameter_count_matches_paper():
    count = _n_params(DeblurGANGenerator(n_blocks=9, ngf=64))
    print(f"DeblurGAN generator (9 blocks, ngf 64): {count} parameters")
    assert count == 11_378_179
    assert abs(count - 11.4e6) < 0.1e6


@pytest.mark.parametrize("upsample", ["transpose", "resize", "pixelshuffle"])
def test_deblurgan_keeps_shape_and_range(upsample):
    torch.manual_seed(0)
    model = DeblurGANGenerator(n_blocks=2, ngf=8, upsample=upsample).eval()
    x = _image(2, 3, 32, 48)
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert y.min() >= 0.0 and y.max() <= 1.0
    assert DeblurGANGenerator.pad_multiple == 4 and DeblurGANGenerator.multiscale is False


def test_deblurgan_zero_residual_returns_input():
    model = DeblurGANGenerator(n_blocks=2, ngf=8).eval()
    last_conv = model.model[-2]
    assert isinstance(last_conv, nn.Conv2d) and last_conv.out_channels == 3
    with torch.no_grad():
        last_conv.weight.zero_()
        last_conv.bias.zero_()
        x = _image(1, 3, 32, 32)
        assert torch.equal(model(x), x)
        out_of_range = torch.tensor([-0.25, 0.5, 1.25]).view(1, 3, 1, 1).expand(1, 3, 32, 32)
        assert torch.equal(model(out_of_range), out_of_range.clamp(0.0, 1.0))


def test_unknown_upsample_mode_is_a_usage_error():
    with pytest.raises(UsageError, match="upsample"):
        DeblurGANGenerator(upsample="bilinear")


def test_patchgan_receptive_field_formula():
    assert receptive_field(3) == 70
    assert receptive_field(1) == 16
    assert receptive_field(2) == 34


def test_patchgan_logit_depends_on_a_70px_window_only():
    torch.manual_seed(0)
    # Batch norm in eval mode is a per-channel affine map; instance norm would mix the whole image.
    model = PatchGANDiscriminator(ndf=4, n_layers=3, norm="batch").eval()
    x = _image(1, 3, 128, 128).requires_grad_(True)
    logits = model(x)
    assert logits.shape == (1, 1, 14, 14)
    logits[0, 0, 7, 7].backward()
    touched = x.grad.abs().sum(dim=(0, 1)) > 0
    rows = touched.any(dim=1).nonzero().flatten()
    cols = touched.any(dim=0).nonzero().flatten()
    for idx in (rows, cols):
        assert idx.numel() == 70 and int(idx.max() - idx.min()) + 1 == 70
        # Output 7 maps back through strides 1,1,2,2,2 with padding 1 to input pixel 33.
        assert int(idx.min()) == 33


def test_patchgan_sigmoid_option_and_norms():
    x = _image(2, 3, 64, 64)
    with torch.no_grad():
        probs = PatchGANDiscriminator(ndf=4, sigmoid=True)(x)
    assert probs.shape == (2, 1, 6, 6) and probs.min() >= 0 and probs.max() <= 1
    for norm in ("instance", "batch", "none"):
        assert PatchGANDiscriminator(ndf=4, norm=norm)(x).shape == (2, 1, 6, 6)
    with pytest.raises(UsageError, match="norm"):
        PatchGANDiscriminator(norm="layer")


def test_deepdeblur_has_120_convs_at_three_scales():
    # Conv2d only (40 per scale: in-conv, 19 x 2 ResBlock convs, out-conv); the two
    # ConvTranspose2d up-convolutions are not Conv2d and are not counted.
    model = DeepDeblur(scales=3, n_resblocks=19, n_feats=8)
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 120
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in model.modules()) == 2
    assert model.pad_multiple == 4 and model.multiscale is True


def test_deepdeblur_outputs_a_coarse_to_fine_list():
    torch.manual_seed(0)
    model = DeepDeblur(scales=3, n_resblocks=2, n_feats=8).eval()
    x = _image(2, 3, 32, 48)
    with torch.no_grad():
        outputs = model(x)
    assert isinstance(outputs, list) and len(outputs) == 3
    assert [tuple(o.shape) for o in outputs] == [(2, 3, 8, 12), (2, 3, 16, 24), (2, 3, 32, 48)]
    for o in outputs:
        assert o.min() >= 0.0 and o.max() <= 1.0
    assert DeepDeblur(scales=4, n_resblocks=1, n_feats=4).pad_multiple == 8


@pytest.mark.parametrize("size", [64, 128])
def test_nah_discriminator_gives_one_logit_per_image(size):
    model = NahDiscriminator().eval()
    with torch.no_grad():
        logits = model(_image(2, 3, size, size))
    assert logits.shape == (2, 1)
    assert torch.isfinite(logits).all()


def test_model_table_and_build_model():
    assert set(MODELS) == {
        "deblurgan",
        "patchgan",
        "deepdeblur",
        "nah_discriminator",
        "nafnet",
        "cfmd",
        "unet_discriminator",
        "resnet_attributes",
        "rebuild_unet",
    }
    model = build_model("deblurgan", n_blocks=1, ngf=4)
    assert isinstance(model, DeblurGANGenerator)
    valid = (
        "cfmd, deblurgan, deepdeblur, nafnet, nah_discriminator, patchgan, rebuild_unet, "
        "resnet_attributes, unet_discriminator"
    )
    with pytest.raises(UsageError, match=valid):
        build_model("unet")
    with pytest.raises(UsageError, match="'deepdeblur'") as info:
        build_model("deepdeblur", n_blocks=3)
    assert "\n" not in str(info.value)


def _sum_outputs(output) -> torch.Tensor:
    return sum(o.sum() for o in output) if isinstance(output, list) else output.sum()


@pytest.mark.parametrize(
    "name, kwargs, size, only_weights",
    [
        # A conv bias right before an instance norm without affine is removed by the norm's mean
        # subtraction (as in DeblurGAN and pix2pix), so its gradient is zero up to rounding.
        ("deblurgan", {"n_blocks": 2, "ngf": 8}, 32, True),
        ("patchgan", {"ndf": 8}, 64, True),
        ("deepdeblur", {"n_resblocks": 2, "n_feats": 8}, 32, False),
        ("nah_discriminator", {}, 64, False),
    ],
)
def test_gradients_reach_every_parameter(name, kwargs, size, only_weights):
    torch.manual_seed(0)
    model = build_model(name, **kwargs).train()
    _sum_outputs(model(_image(2, 3, size, size))).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
        if not only_weights or p.dim() > 1:
            assert p.grad.abs().sum() > 0, pname


def test_nafnet_keeps_shape_and_starts_with_identity_blocks():
    torch.manual_seed(0)
    model = build_model(
        "nafnet", width=8, enc_blocks=(1, 1), middle_blocks=1, dec_blocks=(1, 1)
    ).eval()
    assert model.pad_multiple == 4
    x = _image(2, 3, 36, 44)
    with torch.no_grad():
        y = model(x)
        features = torch.randn(1, 8, 12, 12)
        block = model.encoders[0][0]
        assert torch.equal(block(features), features), (
            "zero branch scales make a fresh block the identity"
        )
    assert y.shape == x.shape


def test_nafnet_layer_norm_normalises_each_pixel_over_channels():
    from facedeblur.models.nafnet import LayerNorm2d

    x = torch.randn(2, 6, 5, 7) * 3 + 2
    y = LayerNorm2d(6)(x)
    assert torch.allclose(y.mean(1), torch.zeros(2, 5, 7), atol=1e-5)
    assert torch.allclose(y.var(1, unbiased=False), torch.ones(2, 5, 7), atol=1e-3)


def test_nafnet_gradients_reach_every_parameter_once_branches_open():
    torch.manual_seed(0)
    model = build_model(
        "nafnet", width=8, enc_blocks=(1,), middle_blocks=1, dec_blocks=(1,)
    ).train()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("beta", "gamma")):
                p.fill_(0.5)
    model(_image(2, 3, 16, 16)).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
