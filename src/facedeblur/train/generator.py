"""The generator a run config names, with its frozen base deblurrer loaded from a weights file."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from ..errors import UsageError
from ..models import build_model
from ..models.weights import deblurrer_path, load_network
from .config import NetConfig


def _weights_file(name: str) -> Path:
    return deblurrer_path(name)


def _origin(name: str, header: dict) -> dict:
    return {"weights": name, "preset": header.get("preset"), "steps": header.get("steps")}


def build_generator(net: NetConfig) -> tuple[nn.Module, dict, dict]:
    """Build ``net``'s generator; returns (generator, the arguments its weights header keeps,
    where its weights came from).

    With ``net.base_weights`` (a weights file, or ``default`` for the shipped default model) the
    file's architecture and arguments become the generator's ``base`` argument and its tensors
    the base's weights. With ``net.init_weights`` the whole generator starts from that file's
    tensors (fine-tuning), which must hold this very architecture and arguments; with both, the
    base comes from ``base_weights`` (a moments model moved onto a new base). The third
    result holds header entries ``base`` and ``init`` saying which file (as the config names it),
    preset and steps each was; it is empty without either.
    """
    args = dict(net.args)
    origin = {}
    if net.base_weights:
        deblurrer, header = load_network(_weights_file(net.base_weights), role="deblurrer")
        args["base"] = {"architecture": header["architecture"], "args": header.get("args", {})}
        origin["base"] = _origin(net.base_weights, header)
    generator = build_model(net.name, **args)
    if net.init_weights:
        path = _weights_file(net.init_weights)
        start, header = load_network(path)
        if header["architecture"] != net.name or header.get("args", {}) != args:
            raise UsageError(
                f"{path}: generator.init_weights holds {header['architecture']} "
                f"{header.get('args', {})}, not this preset's {net.name} {args}"
            )
        generator.load_state_dict(start.state_dict())
        origin["init"] = _origin(net.init_weights, header)
    if net.base_weights:
        generator.base.load_state_dict(deblurrer.state_dict())
    return generator, args, origin
