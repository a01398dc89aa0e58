"""The privacy networks: ResNet attribute classifier, the rebuild network's input and training
step.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facedeblur.errors import UsageError
from facedeblur.losses import SSIMLoss
from facedeblur.models import (
    RebuildUNet,
    ResNet,
    build_model,
    landmark_heatmaps,
    rebuild_input,
    resnet18_attributes,
)
from facedeblur.models.privacy import BasicBlock, Bottleneck


def test_resnet_matches_torchvision_layout():
    # torchvision's resnet18 / resnet50: 11,689,512 / 25,557,032 parameters, 122 / 320 state-dict
    # entries.
    for block, layers, params, entries in [
        (BasicBlock, (2, 2, 2, 2), 11_689_512, 122),
        (Bottleneck, (3, 4, 6, 3), 25_557_032, 320),
    ]:
        model = ResNet(block, layers)
        state = model.state_dict()
        assert sum(p.numel() for p in model.parameters()) == params
        assert len(state) == entries
        assert {
            "conv1.weight",
            "bn1.running_mean",
            "layer4.0.downsample.1.weight",
            "fc.bias",
        } <= set(state)
        assert state["fc.weight"].shape[0] == 1000
    assert "layer1.2.conv3.weight" in state and "layer1.0.downsample.0.weight" in state


def test_attribute_head_gives_logits_per_attribute():
    torch.manual_seed(0)
    model = resnet18_attributes().eval()
    with torch.no_grad():
        logits = model(torch.rand(2, 3, 64, 64))
    assert logits.shape == (2, 40) and torch.isfinite(logits).all()
    assert (logits < 0).any() and (logits > 0).any()  # raw logits, no sigmoid in the model
    assert build_model("resnet_attributes", depth=18, num_attributes=5).fc.out_features == 5
    with pytest.raises(UsageError, match="depth 20"):
        build_model("resnet_attributes", depth=20)
    half = build_model("resnet_attributes", depth=18, width=32)
    assert (
        sum(p.numel() for p in half.parameters())
        < sum(p.numel() for p in resnet18_attributes().parameters()) / 3
    )
    assert half(torch.rand(1, 3, 64, 64)).shape == (1, 40)


def test_rebuild_input_channel_order():
    gen = torch.Generator().manual_seed(0)
    heatmaps = landmark_heatmaps(torch.rand(2, 68, 2, generator=gen) * 16, 16, sigma=1.0)
    image = torch.rand(2, 3, 16, 16, generator=gen)
    attrs = (torch.rand(2, 40, generator=gen) > 0.5).float()
    x = rebuild_input(heatmaps, image, attrs)
    assert x.shape == (2, 111, 16, 16)
    assert torch.equal(x[:, :68], heatmaps) and torch.equal(x[:, 68:71], image)
    for k in (0, 7, 39):
        flipped = attrs.clone()
        flipped[:, k] = 1 - flipped[:, k]
        changed = (rebuild_input(heatmaps, image, flipped) != x).flatten(2).any(dim=2).any(dim=0)
        assert changed.nonzero().flatten().tolist() == [71 + k]
    with pytest.raises(UsageError):
        rebuild_input(heatmaps, image[:, :, :8], attrs)


def test_landmark_heatmaps_peak_at_the_points():
    points = np.array([[3.0, 5.0], [10.0, 2.0]], np.float32)
    maps = landmark_heatmaps(points, (8, 12), sigma=1.0)
    assert maps.shape == (2, 8, 12) and maps.dtype == torch.float32
    assert maps[0, 5, 3] == 1.0 and maps[1, 2, 10] == 1.0
    assert maps[0].argmax() == 5 * 12 + 3


def test_rebuild_unet_trains_a_step_with_the_ssim_loss():
    torch.manual_seed(0)
    model = RebuildUNet(in_channels=111, base=8, levels=3)
    x = torch.rand(2, 111, 32, 32)
    target = torch.rand(2, 3, 32, 32)
    out = model(x)
    assert out.shape == (2, 3, 32, 32) and out.min() >= 0.0 and out.max() <= 1.0
    loss = SSIMLoss()(out, target)
    assert torch.isfinite(loss) and 0.0 < loss.item() < 2.0
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert all(g.abs().sum() > 0 for g in grads)
    torch.optim.Adam(model.parameters(), lr=1e-3).step()
    assert SSIMLoss()(target, target).item() == pytest.approx(0.0, abs=1e-6)
    assert isinstance(build_model("rebuild_unet", base=4, levels=2), RebuildUNet)
