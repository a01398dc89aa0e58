"""Checking a weights file's state dict against the network it should fit, before loading it."""

from __future__ import annotations

from collections.abc import Mapping

import torch


def _first(keys: list[str], limit: int = 3) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")


def state_dict_problems(
    state: Mapping, expected: Mapping[str, tuple], optional_suffixes: tuple[str, ...] = ()
) -> list[str]:
    """Missing keys, unexpected keys and wrong shapes of ``state`` against ``expected`` shapes.

    Returns one short phrase per kind of problem (empty when the file fits); keys ending in
    ``optional_suffixes`` may be absent.
    """
    missing = [k for k in expected if k not in state and not k.endswith(optional_suffixes)]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k} {tuple(getattr(state[k], 'shape', ()))} != {tuple(s)}"
        for k, s in expected.items()
        if k in state
        and (not isinstance(state[k], torch.Tensor) or tuple(state[k].shape) != tuple(s))
    ]
    problems = []
    if missing:
        problems.append(f"missing keys {_first(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_first(unexpected)}")
    if wrong:
        problems.append(f"wrong shapes {_first(wrong)}")
    return problems
