"""The generator a run config names, with its frozen base deblurrer loaded from a weights file."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from ..models import build_model
from ..models.weights import default_model_path, load_network
from .config import NetConfig


def build_generator(net: NetConfig) -> tuple[nn.Module, dict, dict | None]:
    """Build ``net``'s generator; returns (generator, the arguments its weights header keeps, base).

    With ``net.base_weights`` (a weights file, or ``default`` for the shipped default model) the
    file's architecture and arguments become the generator's ``base`` argument and its tensors
    the base's weights; ``base`` then says which file that was (as the config names it) and its
    preset and steps, for the header. Without it, ``base`` is None.
    """
    args = dict(net.args)
    if not net.base_weights:
        return build_model(net.name, **args), args, None
    path = default_model_path() if net.base_weights == "default" else Path(net.base_weights)
    deblurrer, header = load_network(path, role="deblurrer")
    args["base"] = {"architecture": header["architecture"], "args": header.get("args", {})}
    generator = build_model(net.name, **args)
    generator.base.load_state_dict(deblurrer.state_dict())
    return (
        generator,
        args,
        {"weights": net.base_weights, "preset": header.get("preset"), "steps": header.get("steps")},
    )
