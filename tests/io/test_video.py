"""Video helpers: the playback order of clips."""

from __future__ import annotations

from facedeblur.io.video import playback_order


def test_playback_order():
    assert playback_order(4, bounce=True) == [0, 1, 2, 3, 2, 1]
    assert playback_order(4, bounce=False) == [0, 1, 2, 3]
    assert playback_order(2, bounce=True) == [0, 1]
