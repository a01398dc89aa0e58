"""Building blocks of CFMD-GAN (Lee, Han and Heo, continuous facial motion deblurring).

A moment control factor u in [0, 1] picks which sharp moment of a blurry face's exposure the
generator restores. :class:`MappingNetwork` turns u into a *feature control map*, and each
:class:`ContAdaBlock` of the deblurring network injects that map into its features and processes
them with a control-adaptive deformable convolution (CADC) scaled by control-adaptive channel
attention (CACA). :class:`CFMDGenerator` puts these blocks into MIMO-UNet's multi-input
multi-output structure (Cho et al., 2021): shallow convolution modules (SCM) feed the half and
quarter scale blurry images to the encoder through feature attention modules (FAM), asymmetric
feature fusion (AFF) lets every decoder level see all encoder levels, and each decoder level
outputs a restored image at its scale. :class:`UNetDiscriminator` (Schonfeld et al., 2020) judges
a blurry face concatenated with a sharp or restored one globally and per pixel, and its auxiliary
Q head regresses, per pixel, the control factor u that the image shows.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .deform import ModulatedDeformConv2d
from .ops import gaussian_pyramid


class MappingNetwork(nn.Module):
    """Map the moment control factor u to a feature control map.

    ``forward(u, size)`` takes u of shape (N,) with values in [0, 1] and an output size (H, W),
    broadcasts u to an (N, 1, H, W) plane and applies ``layers`` 1x1 convolutions, each followed
    by LeakyReLU(0.2) (the first 1 -> ``channels``, the rest ``channels`` -> ``channels``).
    Returns the (N, channels, H, W) feature control map. Every pixel of the map is the same
    function of u, so the map is spatially constant.
    """

    def __init__(self, channels: int = 64, layers: int = 8):
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be at least 1, got {layers}")
        blocks: list[nn.Module] = []
        for i in range(layers):
            conv = nn.Conv2d(1 if i == 0 else channels, channels, 1)
            # He initialisation keeps u's signal through the 8 layers; PyTorch's default shrinks it
            # by about 0.58 per layer, leaving a control map that varies by 2e-4 over u in [0, 1],
            # so the generator could not tell the moments apart at the start of training.
            nn.init.kaiming_normal_(conv.weight, a=0.2, nonlinearity="leaky_relu")
            blocks += [conv, nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*blocks)

    def forward(self, u: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if u.dim() != 1:
            raise ValueError(f"u must have shape (N,), got {tuple(u.shape)}")
        h, w = size
        plane = u.view(-1, 1, 1, 1).expand(-1, 1, h, w)
        return self.body(plane)


class ChannelAttention(nn.Module):
    """Channel attention (the CACA branch): a per-channel scale in (0, 1).

    Global average pooling, a 1x1 conv C -> C/r, ReLU, a 1x1 conv C/r -> C and a sigmoid.
    ``forward(x)`` takes (N, C, H, W) and returns the (N, C, 1, 1) scale. The reduction r
    defaults to 4; the hidden width is ``max(1, C // r)``.
    """

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.body = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


BLOCK_KINDS = ("contada", "cadc", "caca")
"""ContAda block variants.

Both branches (the paper's), CADC without attention, CACA over a plain conv.
"""


class ContAdaBlock(nn.Module):
    """Control-adaptive residual block (ContAda block) of the CFMD-GAN generator.

    ``forward(x, control_map)`` takes features x (N, channels, H, W) and a feature control map
    (N, control_channels, h, w) of any spatial size (from :class:`MappingNetwork`), and returns
    (N, channels, H, W):

    * F0 = LeakyReLU(0.2)(conv3x3(x));
    * the control map is resized bilinearly to (H, W), projected by a 1x1 conv
      (control_channels -> channels), concatenated with F0 and fused by a 1x1 conv
      (2 * channels -> channels) into Fu;
    * CADC: a modulated deformable 3x3 conv of Fu whose 18 offsets (pixels, layout of
      :mod:`facedeblur.models.deform`) come from ``offset_conv`` and whose 9 masks in (0, 1) come
      from ``mask_conv`` followed by a sigmoid; both convs are zero-initialised, so offsets start
      at 0 and masks at 0.5;
    * CACA: :class:`ChannelAttention` of Fu scales the CADC output;
    * output = x + CADC(Fu) * CACA(Fu).

    ``kind`` picks the ablations of the paper: ``cadc`` drops CACA (output = x + CADC(Fu)),
    ``caca`` replaces CADC by a plain 3x3 conv (output = x + conv(Fu) * CACA(Fu)).
    """

    def __init__(
        self, channels: int, control_channels: int = 64, reduction: int = 4, kind: str = "contada"
    ):
        super().__init__()
        if kind not in BLOCK_KINDS:
            raise ValueError(
                f"unknown ContAda block kind {kind!r}; choose from {', '.join(BLOCK_KINDS)}"
            )
        self.kind = kind
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.LeakyReLU(0.2)
        self.control_proj = nn.Conv2d(control_channels, channels, 1)
        self.fuse = nn.Conv2d(2 * channels, channels, 1)
        if kind == "caca":
            self.plain = nn.Conv2d(channels, channels, 3, padding=1)
        else:
            self.offset_conv = nn.Conv2d(channels, 2 * 9, 3, padding=1)
            self.mask_conv = nn.Conv2d(channels, 9, 3, padding=1)
            for conv in (self.offset_conv, self.mask_conv):
                nn.init.zeros_(conv.weight)
                nn.init.zeros_(conv.bias)
            self.deform = ModulatedDeformConv2d(channels, channels, kernel_size=3)
        if kind != "cadc":
            self.attention = ChannelAttention(channels, reduction)

    def _control_at(self, control_map: torch.Tensor, size: torch.Size) -> torch.Tensor:
        # The 1x1 projection commutes with bilinear resizing, so it runs at the map's own size;
        # the generator's map is 1x1, which resizes to a plain broadcast (no interpolation).
        control = self.control_proj(control_map)
        if control.shape[-2:] == (1, 1):
            return control.expand(-1, -1, *size)
        return F.interpolate(control, size=size, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor, control_map: torch.Tensor) -> torch.Tensor:
        f0 = self.act(self.conv(x))
        fu = self.fuse(torch.cat((f0, self._control_at(control_map, x.shape[-2:])), dim=1))
        if self.kind == "caca":
            return x + self.plain(fu) * self.attention(fu)
        restored = self.deform(fu, self.offset_conv(fu), torch.sigmoid(self.mask_conv(fu)))
        if self.kind == "cadc":
            return x + restored
        return x + restored * self.attention(fu)


class ContAdaStage(nn.Module):
    """``blocks`` ContAda blocks in a row, all reading the same feature control map."""

    def __init__(self, channels: int, blocks: int, control_channels: int, kind: str):
        super().__init__()
        self.blocks = nn.ModuleList(
            ContAdaBlock(channels, control_channels, kind=kind) for _ in range(blocks)
        )

    def forward(self, x: torch.Tensor, control_map: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, control_map)
        return x


def _conv(cin: int, cout: int, k: int, stride: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class ShallowConvModule(nn.Module):
    """MIMO-UNet's SCM: features of a downscaled blurry image, concatenated with it and fused.

    ``in_channels`` is 3 (the blurry image), or 6 when a base deblurrer's result comes with it.
    """

    def __init__(self, channels: int, in_channels: int = 3):
        super().__init__()
        self.body = nn.Sequential(
            _conv(in_channels, channels // 4, 3),
            _conv(channels // 4, channels // 2, 1),
            _conv(channels // 2, channels // 2, 3),
            _conv(channels // 2, channels - in_channels, 1),
        )
        self.fuse = _conv(channels, channels, 1, act=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat((image, self.body(image)), dim=1))


class FeatureAttentionModule(nn.Module):
    """MIMO-UNet's FAM: encoder features plus a conv of their product with the SCM features."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = _conv(channels, channels, 3, act=False)

    def forward(self, x: torch.Tensor, scm: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x * scm)


class AsymmetricFeatureFusion(nn.Module):
    """MIMO-UNet's AFF: all encoder levels, resized to one level, concatenated and fused."""

    def __init__(self, in_channels: int, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            _conv(in_channels, channels, 1), _conv(channels, channels, 3, act=False)
        )

    def forward(self, features: list[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
        resized = [
            f
            if f.shape[-2:] == size
            else F.interpolate(f, size=size, mode="bilinear", align_corners=False)
            for f in features
        ]
        return self.body(torch.cat(resized, dim=1))


class CFMDGenerator(nn.Module):
    """The CFMD-GAN generator: MIMO-UNet with ContAda blocks, steered by the control factor u.

    ``forward(blur, u=None)`` takes blurry faces (N, 3, H, W) in [0, 1] and control factors u
    (N,) in [0, 1] (a float, or None for the centre moment 0.5) and returns the restored moment
    at three scales, coarsest first: [(N, 3, H/4, W/4), (N, 3, H/2, W/2), (N, 3, H, W)]. Each
    output is its scale's blurry input (a Gaussian pyramid level, as in the multi-scale loss),
    or with ``base`` the base deblurrer's result, plus a predicted residual. H and W are padded by
    reflection to a multiple of ``pad_multiple`` (4, or a multiple of the base's) inside and
    cropped back.

    Args:
        channels: features at full scale (2x and 4x at the half and quarter levels); MIMO-UNet
            uses 32.
        blocks: ContAda blocks per encoder and per decoder level (MIMO-UNet: 8).
        control_channels: channels of the feature control map (paper: 64).
        mapping_layers: 1x1 conv layers of the mapping network (paper: 8).
        block: ``contada`` (paper), or the ablations ``cadc`` / ``caca`` (see ``ContAdaBlock``).
        base: ``{"architecture": name, "args": {...}}`` of a single-image deblurrer (e.g. the
            shipped ``nafnet``) that becomes a frozen part of this generator (not in the paper).
            The network then sees the blurry face and the base's restored face, and predicts each
            moment as a residual of the base's result instead of the blurry input; its output
            convolutions start at zero, so an untrained generator returns the base's result for
            every u. The base's weights are part of this generator's state dict; training loads
            them from a weights file (``generator.base_weights``) and never updates them.
        anchored: with ``base``, predict each moment as the base's result plus the residual at u
            minus the residual at u = 0.5 (not in the paper), so the centre moment is exactly the
            base's result and the network only learns how the other moments differ from it. The
            residual network then runs once more per batch (once per face over many u), and not at
            all in evaluation mode when every u is 0.5.
    """

    def __init__(
        self,
        channels: int = 32,
        blocks: int = 8,
        control_channels: int = 64,
        mapping_layers: int = 8,
        block: str = "contada",
        base: dict | None = None,
        anchored: bool = False,
    ):
        super().__init__()
        if channels < 8 or channels % 4:
            raise ValueError(f"channels must be a multiple of 4 and at least 8, got {channels}")
        if anchored and base is None:
            raise ValueError(
                "anchored needs a base deblurrer (the centre moment is the base's result)"
            )
        self.anchored = anchored
        c = (channels, 2 * channels, 4 * channels)
        self.base = _frozen_base(base) if base is not None else None
        self.pad_multiple = math.lcm(4, getattr(self.base, "pad_multiple", 1))
        inputs = 3 if self.base is None else 6
        self.mapping = MappingNetwork(control_channels, mapping_layers)
        self.head = _conv(inputs, c[0], 3)
        self.down = nn.ModuleList([_conv(c[0], c[1], 3, stride=2), _conv(c[1], c[2], 3, stride=2)])
        self.scm = nn.ModuleList([ShallowConvModule(c[1], inputs), ShallowConvModule(c[2], inputs)])
        self.fam = nn.ModuleList([FeatureAttentionModule(c[1]), FeatureAttentionModule(c[2])])
        self.encoder = nn.ModuleList(ContAdaStage(ch, blocks, control_channels, block) for ch in c)
        self.aff = nn.ModuleList(
            [AsymmetricFeatureFusion(sum(c), c[0]), AsymmetricFeatureFusion(sum(c), c[1])]
        )
        self.decoder = nn.ModuleList(ContAdaStage(ch, blocks, control_channels, block) for ch in c)
        self.up = nn.ModuleList(
            [
                nn.ConvTranspose2d(c[1], c[0], 4, stride=2, padding=1),
                nn.ConvTranspose2d(c[2], c[1], 4, stride=2, padding=1),
            ]
        )
        self.merge = nn.ModuleList([_conv(2 * c[0], c[0], 1), _conv(2 * c[1], c[1], 1)])
        self.to_image = nn.ModuleList(_conv(ch, 3, 3, act=False) for ch in c)
        if self.base is not None:
            for layer in self.to_image:
                nn.init.zeros_(layer[0].weight)
                nn.init.zeros_(layer[0].bias)

    def train(self, mode: bool = True) -> CFMDGenerator:
        """Switch training mode; a base deblurrer stays in evaluation mode."""
        super().train(mode)
        if self.base is not None:
            self.base.eval()
        return self

    def _base_result(self, blur: torch.Tensor, one_face: bool) -> torch.Tensor:
        """The base deblurrer's result, run once when the batch is ``one_face`` repeated."""
        with torch.no_grad():
            restored = self.base(blur[:1] if one_face else blur).clamp(0.0, 1.0)
        return restored.expand_as(blur) if one_face else restored

    def _residuals(
        self, x1: torch.Tensor, x2: torch.Tensor, x4: torch.Tensor, u: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The residuals at 1/4, 1/2 and full scale for inputs x1, x2, x4 and factors u."""
        # The control map is spatially constant, so it is computed at 1x1 and resized per level.
        control = self.mapping(u, (1, 1))
        e1 = self.encoder[0](self.head(x1), control)
        e2 = self.encoder[1](self.fam[0](self.down[0](e1), self.scm[0](x2)), control)
        e3 = self.encoder[2](self.fam[1](self.down[1](e2), self.scm[1](x4)), control)
        a1 = self.aff[0]([e1, e2, e3], e1.shape[-2:])
        a2 = self.aff[1]([e1, e2, e3], e2.shape[-2:])
        d3 = self.decoder[2](e3, control)
        d2 = self.decoder[1](self.merge[1](torch.cat((self.up[1](d3), a2), dim=1)), control)
        d1 = self.decoder[0](self.merge[0](torch.cat((self.up[0](d2), a1), dim=1)), control)
        return self.to_image[2](d3), self.to_image[1](d2), self.to_image[0](d1)

    def _centred_residuals(
        self, x1: torch.Tensor, x2: torch.Tensor, x4: torch.Tensor, u: torch.Tensor, one_face: bool
    ) -> tuple[torch.Tensor, ...]:
        """The residuals at u minus those at u = 0.5 (``anchored``), in one batch.

        The batch has one extra row per face.
        """
        n = len(u)
        centre = slice(0, 1) if one_face else slice(0, n)
        x1, x2, x4 = (torch.cat((x, x[centre])) for x in (x1, x2, x4))
        residuals = self._residuals(x1, x2, x4, torch.cat((u, torch.full_like(u[centre], 0.5))))
        return tuple(res[:n] - res[n:] for res in residuals)

    def forward(
        self, blur: torch.Tensor, u: torch.Tensor | float | None = None
    ) -> list[torch.Tensor]:
        n, _, h, w = blur.shape
        if u is None or isinstance(u, (int, float)):
            u = torch.full(
                (n,), 0.5 if u is None else float(u), dtype=blur.dtype, device=blur.device
            )
        if u.shape != (n,):
            raise ValueError(f"u must have shape ({n},), got {tuple(u.shape)}")
        # One face expanded over many u (a zero batch stride) needs the base's result only once.
        one_face = n > 1 and blur.stride(0) == 0
        ph, pw = (-h) % self.pad_multiple, (-w) % self.pad_multiple
        x1 = F.pad(blur, (0, pw, 0, ph), mode="reflect") if ph or pw else blur
        # The same Gaussian pyramid as the multi-scale loss's targets, so each output is its
        # input plus a residual at one consistent scale.
        x4, x2, _ = gaussian_pyramid(x1, 3)
        # The outputs are residuals of r1, r2, r4: the blurry input, or the base deblurrer's result.
        r4, r2, r1 = x4, x2, x1
        if self.base is not None:
            r4, r2, r1 = gaussian_pyramid(self._base_result(x1, one_face), 3)
            x4, x2, x1 = (torch.cat(pair, dim=1) for pair in ((x4, r4), (x2, r2), (x1, r1)))
        u = u.to(blur.dtype)
        if self.anchored and not self.training and bool((u == 0.5).all()):
            residuals = (0.0, 0.0, 0.0)  # centre moments only: the base's result, no residual pass
        elif self.anchored:
            residuals = self._centred_residuals(x1, x2, x4, u, one_face)
        else:
            residuals = self._residuals(x1, x2, x4, u)
        out4, out2, out1 = (r + res for r, res in zip((r4, r2, r1), residuals))
        if ph or pw:
            out4, out2, out1 = (
                o[..., : (h + s - 1) // s, : (w + s - 1) // s]
                for o, s in ((out4, 4), (out2, 2), (out1, 1))
            )
        return [out4, out2, out1]


def _frozen_base(spec: dict) -> nn.Module:
    """The single-image deblurrer a ``base`` spec names, with its parameters frozen."""
    from . import build_model  # the model table imports this module

    if not isinstance(spec, dict) or "architecture" not in spec:
        raise ValueError(f"base must be {{'architecture': name, 'args': {{...}}}}, got {spec!r}")
    base = build_model(spec["architecture"], **spec.get("args", {}))
    base.requires_grad_(False)
    return base.eval()


class UNetDiscriminatorOutput(NamedTuple):
    """What :class:`UNetDiscriminator` returns: (N, 1) global logits, (N, 1, H, W) per-pixel
    logits and (N, 1, H, W) u estimates in (0, 1)."""

    global_logits: torch.Tensor
    pixel_logits: torch.Tensor
    u: torch.Tensor


def _sn_conv(cin: int, cout: int, k: int) -> nn.Module:
    return spectral_norm(nn.Conv2d(cin, cout, k, padding=k // 2))


class _DownBlock(nn.Module):
    """Residual block that halves the resolution (BigGAN-style, spectrally normalised)."""

    def __init__(self, cin: int, cout: int, first: bool = False):
        super().__init__()
        self.first = first
        self.conv1, self.conv2 = _sn_conv(cin, cout, 3), _sn_conv(cout, cout, 3)
        self.skip = _sn_conv(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.leaky_relu(x, 0.2)
        h = self.conv2(F.leaky_relu(self.conv1(h), 0.2))
        return F.avg_pool2d(h + self.skip(x), 2)


class _UpBlock(nn.Module):
    """Residual block that doubles the resolution."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1, self.conv2 = _sn_conv(cin, cout, 3), _sn_conv(cout, cout, 3)
        self.skip = _sn_conv(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        h = self.conv2(F.leaky_relu(self.conv1(F.leaky_relu(x, 0.2)), 0.2))
        return h + self.skip(x)


class UNetDiscriminator(nn.Module):
    """U-Net discriminator with global, per-pixel and control-factor heads.

    ``forward(blur, image)``: the blurry faces and the sharp or restored faces, both
    (N, 3, H, W) in [0, 1] with H and W multiples of ``2 ** levels``; returns a
    :class:`UNetDiscriminatorOutput`. The encoder has ``levels`` down blocks with ``channels``,
    2x, 4x, ... features (at most 8x); the global logit is a linear map of the sum-pooled deepest
    features; the decoder mirrors the encoder with skip connections, and 1x1 convolutions on its
    full-resolution features give the per-pixel logits and (through a sigmoid) the u map.
    """

    def __init__(self, channels: int = 64, levels: int = 4):
        super().__init__()
        if levels < 1:
            raise ValueError(f"levels must be at least 1, got {levels}")
        widths = [channels * min(2**i, 8) for i in range(levels)]
        self.levels = levels
        self.down = nn.ModuleList(
            _DownBlock(6 if i == 0 else widths[i - 1], widths[i], first=i == 0)
            for i in range(levels)
        )
        self.global_head = spectral_norm(nn.Linear(widths[-1], 1))
        ups = []
        for i in reversed(range(levels)):
            cin = widths[i] if i == levels - 1 else 2 * widths[i]
            ups.append(_UpBlock(cin, widths[i - 1] if i > 0 else channels))
        self.up = nn.ModuleList(ups)
        self.pixel_head = nn.Conv2d(channels, 1, 1)
        self.u_head = nn.Conv2d(channels, 1, 1)

    def forward(self, blur: torch.Tensor, image: torch.Tensor) -> UNetDiscriminatorOutput:
        multiple = 2**self.levels
        if blur.shape != image.shape or blur.shape[-1] % multiple or blur.shape[-2] % multiple:
            raise ValueError(
                f"blur and image must share one shape with H and W multiples of {multiple}, "
                f"got {tuple(blur.shape)} and {tuple(image.shape)}"
            )
        x = torch.cat((blur, image), dim=1) * 2.0 - 1.0
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        global_logits = self.global_head(F.leaky_relu(x, 0.2).sum(dim=(2, 3)))
        for k, block in enumerate(self.up):
            if k > 0:
                x = torch.cat((x, skips[self.levels - 1 - k]), dim=1)
            x = block(x)
        x = F.leaky_relu(x, 0.2)
        return UNetDiscriminatorOutput(
            global_logits, self.pixel_head(x), torch.sigmoid(self.u_head(x))
        )
