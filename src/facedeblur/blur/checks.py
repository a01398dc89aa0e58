"""Bounds checks for blur settings: every number finite and inside a documented range."""

from __future__ import annotations

import numbers


class SettingError(ValueError):
    """A setting outside its range; ``setting`` is the dataclass field it concerns."""

    def __init__(self, setting: str, problem: str):
        self.setting = setting
        self.problem = problem
        super().__init__(f"{setting} {problem}")


def check_range(
    setting: str, value, low: float, high: float, *, low_open: bool = False, integer: bool = False
) -> None:
    """``SettingError`` unless ``value`` is a finite number in [low, high] ((low, high] with
    ``low_open``), and an integer when ``integer``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SettingError(setting, f"must be a number, got {value!r}")
    if integer and not isinstance(value, numbers.Integral):
        raise SettingError(setting, f"must be an integer, got {value!r}")
    # NaN fails every comparison, and the bounds are finite, so NaN and inf are refused here.
    inside = low < value <= high if low_open else low <= value <= high
    if not inside:
        bounds = f"({low:g}, {high:g}]" if low_open else f"[{low:g}, {high:g}]"
        raise SettingError(setting, f"must be in {bounds}, got {value!r}")


def check_pair(setting: str, pair, low: float, high: float, **kind) -> None:
    """``SettingError`` unless ``pair`` is a (low, high) range with both ends passing
    ``check_range(setting, end, low, high, **kind)`` and low <= high."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise SettingError(setting, f"must be a (low, high) pair, got {pair!r}")
    for value in pair:
        check_range(setting, value, low, high, **kind)
    if pair[0] > pair[1]:
        raise SettingError(setting, f"must have low <= high, got {tuple(pair)!r}")
