"""The grid_sample modulated deformable convolution against F.conv2d and by its gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from facedeblur.models import ModulatedDeformConv2d, modulated_deform_conv2d


def _inputs(seed: int = 0, n: int = 2, c: int = 3, o: int = 4, h: int = 9, w: int = 11):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=g)
    weight = torch.randn(o, c, 3, 3, generator=g)
    bias = torch.randn(o, generator=g)
    offset = torch.zeros(n, 18, h, w)
    mask = torch.ones(n, 9, h, w)
    return x, weight, bias, offset, mask


@pytest.mark.parametrize("dilation", [1, 2])
def test_zero_offset_unit_mask_is_conv2d(dilation):
    x, weight, bias, offset, mask = _inputs()
    out = modulated_deform_conv2d(
        x, offset, mask, weight, bias, padding=dilation, dilation=dilation
    )
    ref = F.conv2d(x, weight, bias, padding=dilation, dilation=dilation)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_integer_offset_shifts_input():
    x, weight, bias, offset, mask = _inputs()
    offset[:, 1::2] = 1.0
    out = modulated_deform_conv2d(x, offset, mask, weight, bias)
    shifted = F.pad(x[..., 1:], (0, 1))
    ref = F.conv2d(shifted, weight, bias, padding=1)
    torch.testing.assert_close(out[..., 1:-1], ref[..., 1:-1], atol=1e-5, rtol=1e-5)


def test_half_mask_halves_output():
    x, weight, _, offset, mask = _inputs()
    offset = torch.rand(offset.shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
    full = modulated_deform_conv2d(x, offset, mask, weight)
    half = modulated_deform_conv2d(x, offset, mask * 0.5, weight)
    torch.testing.assert_close(half, full * 0.5, atol=1e-5, rtol=1e-5)


def test_gradients_reach_all_inputs():
    x, _, _, offset, mask = _inputs()
    g = torch.Generator().manual_seed(2)
    offset = (torch.rand(offset.shape, generator=g) * 3 - 1.5).requires_grad_()
    mask = torch.rand(mask.shape, generator=g).requires_grad_()
    x.requires_grad_()
    layer = ModulatedDeformConv2d(3, 4)
    layer(x, offset, mask).square().mean().backward()
    for grad in (x.grad, offset.grad, mask.grad, layer.weight.grad, layer.bias.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_layer_keeps_size():
    layer = ModulatedDeformConv2d(3, 5)
    x, _, _, offset, mask = _inputs()
    assert layer(x, offset, mask).shape == (2, 5, 9, 11)


@pytest.mark.parametrize(
    "offset_channels, mask_channels, match",
    [
        (16, 9, "offset must be"),
        (18, 8, "mask must be"),
    ],
)
def test_mismatched_channels_raise(offset_channels, mask_channels, match):
    x, weight, _, _, _ = _inputs()
    offset = torch.zeros(2, offset_channels, 9, 11)
    mask = torch.ones(2, mask_channels, 9, 11)
    with pytest.raises(ValueError, match=match):
        modulated_deform_conv2d(x, offset, mask, weight)


def test_one_pixel_wide_image():
    x, weight, bias, _, _ = _inputs(h=5, w=1)
    out = modulated_deform_conv2d(x, torch.zeros(2, 18, 5, 1), torch.ones(2, 9, 5, 1), weight, bias)
    torch.testing.assert_close(out, F.conv2d(x, weight, bias, padding=1), atol=1e-5, rtol=1e-5)
