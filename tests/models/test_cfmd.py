"""CFMD-GAN networks: mapping network, channel attention, ContAda block, generator, U-Net
discriminator.
"""

from __future__ import annotations

import pytest
import torch

from facedeblur.models import UNetDiscriminator, build_model
from facedeblur.models.cfmd import (
    BLOCK_KINDS,
    CFMDGenerator,
    ChannelAttention,
    ContAdaBlock,
    MappingNetwork,
)


def _x(seed: int = 0, n: int = 2, c: int = 8, h: int = 12, w: int = 10) -> torch.Tensor:
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(seed))


def test_mapping_network_shape_and_dependence_on_u():
    torch.manual_seed(0)
    net = MappingNetwork(channels=16, layers=8)
    maps = net(torch.tensor([0.0, 1.0, 0.5, 0.5]), (6, 5))
    assert maps.shape == (4, 16, 6, 5)
    assert not torch.allclose(maps[0], maps[1])
    torch.testing.assert_close(maps[2], maps[3], rtol=0, atol=0)


def test_mapping_network_keeps_u_visible_through_its_layers():
    torch.manual_seed(0)
    with torch.no_grad():
        maps = MappingNetwork(channels=64, layers=8)(torch.linspace(0, 1, 11), (1, 1)).flatten(1)
    assert float(maps.std(dim=0).mean()) > 0.02, (
        "the control map must change with u from the first step"
    )


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


def test_contada_block_broadcasts_a_1x1_control_map_like_a_resized_one():
    torch.manual_seed(0)
    block = ContAdaBlock(8, control_channels=16)
    mapping = MappingNetwork(channels=16, layers=2)
    x, u = _x(n=2), torch.tensor([0.2, 0.9])
    from_1x1 = block(x, mapping(u, (1, 1)))
    torch.testing.assert_close(from_1x1, block(x, mapping(u, (5, 7))), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(from_1x1, block(x, mapping(u, x.shape[-2:])), rtol=1e-5, atol=1e-6)


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


# ---------------------------------------------------------------- generator and discriminator


def _tiny_generator(**kwargs) -> CFMDGenerator:
    torch.manual_seed(0)
    return CFMDGenerator(
        channels=8, blocks=1, control_channels=8, mapping_layers=2, **kwargs
    ).eval()


def _trained_like(net: torch.nn.Module) -> torch.nn.Module:
    """Give the zero-initialised offset/mask convs small weights, as training would."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "offset_conv" in name or "mask_conv" in name:
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
    return net


def test_generator_outputs_three_scales_for_any_size():
    net = _tiny_generator()
    blur = torch.rand(2, 3, 30, 22)
    outs = net(blur, torch.tensor([0.0, 1.0]))
    assert [tuple(o.shape) for o in outs] == [(2, 3, 8, 6), (2, 3, 15, 11), (2, 3, 30, 22)]
    assert net(blur)[-1].shape == blur.shape, "u defaults to the centre moment"


def test_generator_is_deterministic_for_a_fixed_u_and_differs_across_u():
    net = _trained_like(_tiny_generator())
    blur = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        a = net(blur, torch.tensor([0.2]))[-1]
        b = net(blur, torch.tensor([0.2]))[-1]
        c = net(blur, torch.tensor([0.9]))[-1]
        centre = net(blur)[-1]
        half = net(blur, 0.5)[-1]
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (a - c).abs().max() > 1e-4
    torch.testing.assert_close(centre, half, rtol=0, atol=0)


def test_generator_block_kinds_and_errors():
    sizes = {
        kind: sum(p.numel() for p in _tiny_generator(block=kind).parameters())
        for kind in BLOCK_KINDS
    }
    assert len(set(sizes.values())) == 3, "each ablation changes the blocks"
    blur = torch.rand(1, 3, 16, 16)
    for kind in BLOCK_KINDS:
        assert _tiny_generator(block=kind)(blur, 0.3)[-1].shape == blur.shape
    with pytest.raises(ValueError, match="unknown ContAda block kind"):
        _tiny_generator(block="dcn")
    with pytest.raises(ValueError, match="u must have shape"):
        _tiny_generator()(blur, torch.tensor([0.1, 0.2]))
    assert isinstance(build_model("cfmd", channels=8, blocks=1), CFMDGenerator)


def test_unet_discriminator_heads():
    torch.manual_seed(0)
    disc = UNetDiscriminator(channels=8, levels=3)
    blur, image = torch.rand(2, 3, 32, 24), torch.rand(2, 3, 32, 24)
    out = disc(blur, image)
    assert out.global_logits.shape == (2, 1)
    assert out.pixel_logits.shape == (2, 1, 32, 24)
    assert out.u.shape == (2, 1, 32, 24)
    assert bool(((out.u > 0) & (out.u < 1)).all())
    assert not torch.allclose(disc(blur, image.flip(-1)).pixel_logits, out.pixel_logits), (
        "the image matters"
    )
    with pytest.raises(ValueError, match="multiples of 8"):
        disc(torch.rand(1, 3, 20, 20), torch.rand(1, 3, 20, 20))


TINY_BASE = {
    "architecture": "nafnet",
    "args": {"width": 8, "enc_blocks": [1, 1, 1], "middle_blocks": 1, "dec_blocks": [1, 1, 1]},
}


def test_generator_on_a_base_deblurrer_starts_as_the_base_and_keeps_it_frozen():
    torch.manual_seed(0)
    net = _tiny_generator(base=TINY_BASE)
    assert net.pad_multiple == 8, "the base's padding multiple (NAFNet, 3 levels) rules"
    blur = torch.rand(3, 3, 24, 20)
    with torch.no_grad():
        base = net.base(torch.nn.functional.pad(blur, (0, 4, 0, 0), mode="reflect")).clamp(0, 1)[
            ..., :20
        ]
        outs = net(blur, torch.tensor([0.0, 0.5, 1.0]))
    torch.testing.assert_close(outs[-1], base, rtol=0, atol=1e-6)
    assert [tuple(o.shape) for o in outs] == [(3, 3, 6, 5), (3, 3, 12, 10), (3, 3, 24, 20)]

    _trained_like(net)
    with torch.no_grad():
        for layer in net.to_image:  # zero at the start; give them what training would
            layer[0].weight.normal_(0.0, 0.05)
    net.train()
    assert not net.base.training, "the base stays in evaluation mode"
    before = {k: v.clone() for k, v in net.base.state_dict().items()}
    outs = net(blur, torch.tensor([0.0, 0.5, 1.0]))
    sum(o.mean() for o in outs).backward()
    assert all(p.grad is None and not p.requires_grad for p in net.base.parameters())
    trainable = [p for p in net.parameters() if p.requires_grad]
    assert all(p.grad is not None for p in trainable)
    torch.optim.Adam(trainable, lr=1e-2).step()
    assert all(torch.equal(before[k], v) for k, v in net.base.state_dict().items())

    net.eval()
    one = blur[:1]
    u = torch.tensor([0.1, 0.9])
    with torch.no_grad():
        expanded = net(one.expand(2, -1, -1, -1), u)[-1]
        copied = net(one.repeat(2, 1, 1, 1), u)[-1]
    torch.testing.assert_close(expanded, copied, rtol=0, atol=1e-6)
    assert (expanded[0] - expanded[1]).abs().max() > 1e-4, "u still steers the moments"
    with pytest.raises(ValueError, match="base must be"):
        _tiny_generator(base="nafnet")


def test_anchored_generator_returns_the_base_at_the_centre_and_moves_elsewhere():
    net = _trained_like(_tiny_generator(base=TINY_BASE, anchored=True))
    with torch.no_grad():
        for layer in net.to_image:
            layer[0].weight.normal_(0.0, 0.05)
            layer[0].bias.normal_(0.0, 0.05)
    blur = torch.rand(2, 3, 24, 16)
    u = torch.tensor([0.5, 0.1])
    with torch.no_grad():
        base = net.base(blur).clamp(0, 1)
        outs = net(blur, u)
        one = blur[:1].expand(3, -1, -1, -1)
        expanded = net(one, torch.tensor([0.0, 0.5, 1.0]))[-1]
        singles = torch.cat([net(blur[:1], v)[-1] for v in (0.0, 0.5, 1.0)])
    torch.testing.assert_close(outs[-1][0], base[0], rtol=0, atol=1e-6)
    assert (outs[-1][1] - base[1]).abs().max() > 1e-3, (
        "the other moments are the base plus a residual"
    )
    assert [tuple(o.shape) for o in outs] == [(2, 3, 6, 4), (2, 3, 12, 8), (2, 3, 24, 16)]
    torch.testing.assert_close(expanded, singles, rtol=0, atol=1e-6)
    torch.testing.assert_close(expanded[1], base[0], rtol=0, atol=1e-6)

    net.train()
    sum(o.mean() for o in net(blur, u)).backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)
    with pytest.raises(ValueError, match="anchored needs a base"):
        _tiny_generator(anchored=True)
