"""CFMD-GAN building blocks: mapping network, channel attention and the ContAda block."""

from __future__ import annotations

import torch

from facedeblur.models.cfmd import ChannelAttention, ContAdaBlock, MappingNetwork


def _x(seed: int = 0, n: int = 2, c: int = 8, h: int = 12, w: int = 10) -> torch.Tensor:
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(seed))


def test_mapping_network_shape_and_dependence_on_u():
    torch.manual_seed(0)
    net = MappingNetwork(channels=16, layers=8)
    maps = net(torch.tensor([0.0, 1.0, 0.5, 0.5]), (6, 5))
    assert maps.shape == (4, 16, 6, 5)
    assert not torch.allclose(maps[0], maps[1])
    torch.testing.assert_close(maps[2], maps[3], rtol=0, atol=0)


def test_channel_attention_shape_and_range():
    torch.manual_seed(0)
    scale = ChannelAttention(8, reduction=4)(_x() * 10)
    assert scale.shape == (2, 8, 1, 1)
    assert bool(((scale > 0) & (scale < 1)).all())


def test_contada_block_shape_determinism_and_control():
    torch.manual_seed(0)
    block = ContAdaBlock(8, control_channels=16)
    mapping = MappingNetwork(channels=16, layers=2)
    x = _x(n=1)
    controls = mapping(torch.tensor([0.0, 1.0]), (3, 3)).split(1)
    out = block(x, controls[0])
    assert out.shape == x.shape
    torch.testing.assert_close(block(x, controls[0]), out, rtol=0, atol=0)
    assert not torch.allclose(block(x, controls[1]), out)


def test_contada_offsets_start_at_zero_and_masks_at_half():
    torch.manual_seed(0)
    block = ContAdaBlock(8, control_channels=16)
    fu = _x(seed=1) * 5
    offset = block.offset_conv(fu)
    mask = torch.sigmoid(block.mask_conv(fu))
    assert offset.shape == (2, 18, 12, 10) and mask.shape == (2, 9, 12, 10)
    assert bool((offset == 0).all())
    assert bool((mask == 0.5).all())


def test_contada_gradients_reach_every_parameter():
    torch.manual_seed(0)
    block = ContAdaBlock(8, control_channels=16)
    # With the zero-initialised offset/mask convs no gradient flows back through them into Fu,
    # and offsets of exactly 0 sample on the pixel grid; small random weights make every path
    # (and the bilinear interpolation between pixels) live, so the check covers all of them.
    with torch.no_grad():
        for conv in (block.offset_conv, block.mask_conv):
            conv.weight.normal_(0, 1e-2)
    control = MappingNetwork(channels=16, layers=2)(torch.tensor([0.3, 0.8]), (4, 4))
    block(_x(seed=2), control).square().mean().backward()
    for name, param in block.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name
