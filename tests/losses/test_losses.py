import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from facedeblur.errors import FaceDeblurError, InputError, UsageError
from facedeblur.losses import (
    ADVERSARIAL_KINDS,
    CONTENT_LOSSES,
    AdversarialLoss,
    CharbonnierLoss,
    FFTLoss,
    L1Loss,
    LPIPSLoss,
    MSELoss,
    MultiScaleContentLoss,
    OnetFeatureLoss,
    PerceptualLoss,
    SSIMLoss,
    build_content_loss,
    build_perceptual_term,
    gradient_penalty,
)
from facedeblur.models.ops import gaussian_pyramid
from facedeblur.models.vgg import (
    VGG19,
    VGG19_LAYERS,
    VGG19_WEIGHTS_FILE,
    find_vgg19_weights,
    load_vgg19_weights,
)

REAL = torch.tensor([[2.0], [-1.0]])
FAKE = torch.tensor([[0.5], [-3.0]])


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


# D and G losses for REAL, FAKE worked out by hand from each kind's formula.
CLOSED_FORM = {
    "gan": (
        (softplus(-2.0) + softplus(1.0)) / 2 + (softplus(0.5) + softplus(-3.0)) / 2,
        (softplus(-0.5) + softplus(3.0)) / 2,
    ),
    "lsgan": (0.5 * (1.0 + 4.0) / 2 + 0.5 * (0.25 + 9.0) / 2, 0.5 * (0.25 + 16.0) / 2),
    "wgan-gp": (-1.25 - 0.5, 1.25),
    "hinge": ((0.0 + 2.0) / 2 + (1.5 + 0.0) / 2, 1.25),
}


@pytest.mark.parametrize("kind", ADVERSARIAL_KINDS)
def test_adversarial_losses_equal_their_closed_form(kind):
    loss = AdversarialLoss(kind)
    d_expected, g_expected = CLOSED_FORM[kind]
    assert loss.discriminator_loss(REAL, FAKE).item() == pytest.approx(d_expected, rel=1e-6)
    assert loss.generator_loss(FAKE).item() == pytest.approx(g_expected, rel=1e-6)
    # Patch maps are averaged over every element; a list of critic outputs over the list.
    patch_real, patch_fake = REAL.view(1, 1, 2, 1), FAKE.view(1, 1, 1, 2)
    assert loss.discriminator_loss(patch_real, patch_fake).item() == pytest.approx(
        d_expected, rel=1e-6
    )
    other_real, other_fake = torch.randn(2, 1, 3, 3), torch.randn(2, 1, 3, 3)
    both = loss.discriminator_loss([REAL, other_real], [FAKE, other_fake])
    alone = (
        loss.discriminator_loss(REAL, FAKE) + loss.discriminator_loss(other_real, other_fake)
    ) / 2
    assert both.item() == pytest.approx(alone.item(), rel=1e-6)
    assert loss.generator_loss([FAKE, other_fake]).item() == pytest.approx(
        (loss.generator_loss(FAKE) + loss.generator_loss(other_fake)).item() / 2, rel=1e-6
    )
    assert loss.uses_gradient_penalty == (kind == "wgan-gp")


@pytest.mark.parametrize("kind", ADVERSARIAL_KINDS)
def test_generator_loss_falls_as_fake_logits_approach_real(kind):
    loss = AdversarialLoss(kind)
    values = [
        loss.generator_loss(torch.full((2, 1, 4, 4), t)).item() for t in (-2.0, -1.0, 0.0, 0.5, 0.9)
    ]
    assert all(a > b for a, b in zip(values, values[1:]))


def test_unknown_adversarial_kind_lists_the_valid_ones():
    with pytest.raises(UsageError, match="gan, lsgan, wgan-gp, hinge"):
        AdversarialLoss("wgan")


class LinearCritic(nn.Module):
    """critic(x)_i = sum over CHW of w * x_i, whose gradient in x is w for every sample."""

    def __init__(self, norm: float):
        super().__init__()
        w = torch.randn(3, 4, 4, generator=torch.Generator().manual_seed(0))
        self.w = nn.Parameter(w * (norm / w.norm()))

    def forward(self, x):
        return (self.w * x).sum(dim=(1, 2, 3)).unsqueeze(1)


@pytest.mark.parametrize("norm", [2.5, 1.0, 0.25])
def test_gradient_penalty_of_a_critic_with_known_gradient(norm):
    critic = LinearCritic(norm)
    real, fake = torch.rand(5, 3, 4, 4), torch.rand(5, 3, 4, 4)
    penalty = gradient_penalty(critic, real, fake, weight=10.0)
    assert penalty.item() == pytest.approx(10.0 * (norm - 1.0) ** 2, abs=1e-4)
    # create_graph=True: the penalty backpropagates into the critic, d/dw 10 (|w| - 1)^2.
    penalty.backward()
    expected = 2 * 10.0 * (norm - 1.0) * critic.w.detach() / norm
    torch.testing.assert_close(critic.w.grad, expected, atol=1e-4, rtol=1e-4)


def test_gradient_penalty_draws_eps_from_the_given_generator():
    def critic(x):  # gradient 2x depends on where the interpolate lies
        return (x**2).flatten(1).sum(1)

    real, fake = torch.rand(4, 3, 8, 8), torch.rand(4, 3, 8, 8)
    a = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(3))
    b = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(3))
    c = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(4))
    assert a.item() == b.item() != c.item()


def test_pixel_losses():
    x, y = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    assert L1Loss()(x, y).item() == pytest.approx(F.l1_loss(x, y).item())
    assert MSELoss()(x, y).item() == pytest.approx(F.mse_loss(x, y).item())
    assert CharbonnierLoss(eps=1e-3)(x, x).item() == pytest.approx(1e-3, rel=1e-4)
    assert CharbonnierLoss(eps=0.1)(x + 0.3, x).item() == pytest.approx(
        math.sqrt(0.09 + 0.01), rel=1e-4
    )
    # A list of outputs (coarsest first) is scored on its last, full-resolution member.
    assert L1Loss()([x[..., ::2, ::2], x], y).item() == pytest.approx(F.l1_loss(x, y).item())
    with pytest.raises(UsageError, match="differ in shape"):
        MSELoss()(x[..., :4], y)


def test_fft_loss():
    x = torch.rand(2, 3, 16, 12)
    y = x.clone().requires_grad_(True)
    assert FFTLoss()(y, x).item() == 0.0
    z = (x + 0.05 * torch.randn_like(x)).requires_grad_(True)
    value = FFTLoss()(z, x)
    manual = torch.fft.rfft2(z.detach()) - torch.fft.rfft2(x)
    expected = torch.cat([manual.real.abs().flatten(), manual.imag.abs().flatten()]).mean()
    assert value.item() > 0 and value.item() == pytest.approx(expected.item(), rel=1e-5)
    value.backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_multiscale_loss_is_the_mean_of_per_scale_mse():
    target = torch.rand(2, 3, 32, 32)
    outputs = [torch.rand(2, 3, s, s) for s in (8, 16, 32)]
    pyramid = gaussian_pyramid(target, 3)
    manual = sum(((o - t) ** 2).mean() for o, t in zip(outputs, pyramid)) / 3
    assert MultiScaleContentLoss()(outputs, target).item() == pytest.approx(manual.item(), rel=1e-6)
    assert MultiScaleContentLoss()(outputs[-1], target).item() == pytest.approx(
        F.mse_loss(outputs[-1], target).item()
    )
    l1 = sum((o - t).abs().mean() for o, t in zip(outputs, pyramid)) / 3
    assert MultiScaleContentLoss("l1")(outputs, target).item() == pytest.approx(l1.item(), rel=1e-6)
    with pytest.raises(UsageError, match="output 0 of 2"):
        MultiScaleContentLoss()([outputs[0], outputs[2]], target)
    with pytest.raises(UsageError, match="l1, mse, charbonnier"):
        MultiScaleContentLoss("ssim")


def test_build_content_loss():
    assert set(CONTENT_LOSSES) == {
        "l1",
        "mse",
        "charbonnier",
        "fft",
        "multiscale",
        "perceptual",
        "ssim",
    }
    assert isinstance(build_content_loss("fft"), FFTLoss)
    assert isinstance(build_content_loss("ssim", window=7), SSIMLoss)
    assert build_content_loss("charbonnier", eps=0.01).eps == 0.01
    assert build_content_loss("multiscale", base="l1").base == "l1"
    with pytest.raises(UsageError, match="l1, mse, charbonnier, fft, multiscale, perceptual, ssim"):
        build_content_loss("l2")
    with pytest.raises(UsageError, match="'l1' takes no arguments; got eps"):
        build_content_loss("l1", eps=0.1)
    with pytest.raises(UsageError, match="takes eps; got epsilon"):
        build_content_loss("charbonnier", epsilon=0.1)


def test_vgg19_layout_matches_torchvision():
    with torch.device("meta"):
        full = VGG19()
    assert sum(p.numel() for p in full.parameters()) == 143_667_240
    assert (VGG19_LAYERS["conv3_3"], VGG19_LAYERS["relu3_3"], VGG19_LAYERS["pool5"]) == (14, 15, 36)
    assert list(full.classifier.state_dict()) == [
        f"{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias")
    ]
    truncated = VGG19(truncate_at="conv3_3")
    assert len(truncated.features) == 15 and not hasattr(truncated, "classifier")
    convs = [m for m in truncated.features if isinstance(m, nn.Conv2d)]
    assert len(convs) == 7 and truncated.features[14] is convs[-1] and convs[-1].in_channels == 256
    assert set(truncated.state_dict()) <= set(full.state_dict())
    assert truncated(torch.rand(1, 3, 32, 32)).shape == (1, 256, 8, 8)
    with pytest.raises(UsageError, match="conv3_3"):
        VGG19(truncate_at="conv3_5")


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    """A randomly initialised full VGG-19 saved as torchvision saves vgg19: stands in for ImageNet
    weights.
    """
    path = tmp_path_factory.mktemp("vgg") / "random-vgg19.pth"
    torch.save(VGG19().state_dict(), path)
    return path


def _cheap_state(**shapes):
    """A VGG-19-shaped state dict of stride-0 zeros (a few bytes on disk), with ``shapes``
    overriding.
    """
    with torch.device("meta"):
        reference = {k: v.shape for k, v in VGG19().state_dict().items()}
    reference.update(shapes)
    return {k: torch.zeros(()).expand(s) for k, s in reference.items() if s is not None}


@pytest.mark.slow
def test_load_vgg19_weights_strictly(vgg_file):
    model = load_vgg19_weights(VGG19(), vgg_file)
    saved = torch.load(vgg_file, weights_only=True)
    loaded = model.state_dict()
    assert list(loaded) == list(saved)
    assert all(torch.equal(loaded[k], saved[k]) for k in saved)
    assert model.eval()(torch.rand(1, 3, 32, 32)).shape == (1, 1000)


@pytest.mark.parametrize(
    "change, named",
    [
        ({"classifier.6.bias": None}, "missing keys classifier.6.bias"),
        ({"features.14.weight": (256, 128, 3, 3)}, "wrong shapes features.14.weight"),
        ({"features.37.weight": (3,)}, "unexpected keys features.37.weight"),
    ],
)
def test_mismatched_weights_file_is_an_error(tmp_path, change, named):
    path = tmp_path / "bad.pth"
    torch.save(_cheap_state(**change), path)
    for model in (VGG19(truncate_at="conv3_3"), VGG19(truncate_at="relu1_1")):
        with pytest.raises(InputError, match=named) as info:
            load_vgg19_weights(model, path)
        assert str(path) in str(info.value)
    with pytest.raises(FaceDeblurError, match=named):
        PerceptualLoss(weights_path=path)


def test_unreadable_weights_file_is_an_error(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("not weights")
    with pytest.raises(InputError, match="cannot read VGG-19 weights"):
        load_vgg19_weights(VGG19(truncate_at="conv1_1"), path)
    torch.save([torch.zeros(3)], path)
    with pytest.raises(InputError, match="not a VGG-19 state dict"):
        load_vgg19_weights(VGG19(truncate_at="conv1_1"), path)


@pytest.mark.slow
def test_find_vgg19_weights(tmp_path, monkeypatch, vgg_file):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(FaceDeblurError, match=VGG19_WEIGHTS_FILE.replace(".", r"\.")) as info:
        find_vgg19_weights()
    assert "loss.content_args.weights_path" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(FaceDeblurError, match=VGG19_WEIGHTS_FILE):
        build_content_loss("perceptual")
    with pytest.raises(InputError, match="not found") as info:
        find_vgg19_weights(tmp_path / "nowhere.pth")
    assert str(tmp_path / "nowhere.pth") in str(info.value)
    cached = tmp_path / "hub" / "checkpoints" / VGG19_WEIGHTS_FILE
    cached.parent.mkdir(parents=True)
    cached.symlink_to(vgg_file)
    assert find_vgg19_weights() == cached
    assert find_vgg19_weights(vgg_file) == vgg_file


@pytest.mark.slow
def test_perceptual_loss(vgg_file):
    loss = build_content_loss("perceptual", weights_path=str(vgg_file))
    saved = torch.load(vgg_file, weights_only=True)
    assert len(loss.vgg) == 15 and isinstance(loss.vgg[14], nn.Conv2d)
    assert all(torch.equal(v, saved[f"features.{k}"]) for k, v in loss.vgg.state_dict().items())
    loss.train()
    assert not loss.vgg.training and not any(p.requires_grad for p in loss.vgg.parameters())
    target = torch.rand(1, 3, 32, 32)
    output = target.clone().requires_grad_(True)
    assert loss(output, target).item() == 0.0
    output = (target + 0.1 * torch.randn_like(target)).clamp(0, 1).requires_grad_(True)
    value = loss(output, target)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        manual = F.mse_loss(loss.vgg((output - mean) / std), loss.vgg((target - mean) / std))
    assert (
        torch.isfinite(value)
        and value.item() > 0
        and value.item() == pytest.approx(manual.item(), rel=1e-5)
    )
    value.backward()
    assert output.grad is not None and output.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.vgg.parameters())


def test_onet_substitute_and_lpips_path(lpips_files):
    torch.manual_seed(0)
    target = torch.rand(2, 3, 48, 48)
    output = (target + 0.1 * torch.randn_like(target)).clamp(0, 1).requires_grad_()
    onet = OnetFeatureLoss()
    assert float(onet(target, target)) == 0.0
    loss = onet(output, target)
    loss.backward()
    assert loss.item() > 0 and output.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in onet.parameters())
    lpips = LPIPSLoss(*lpips_files)
    assert float(lpips(target, target)) == pytest.approx(0.0, abs=1e-6)
    assert float(lpips(output.detach(), target)) > 0
    assert build_perceptual_term("none") is None
    with pytest.raises(UsageError, match="unknown perceptual term"):
        build_perceptual_term("vgg")
    with pytest.raises(FaceDeblurError):
        build_perceptual_term("lpips")
