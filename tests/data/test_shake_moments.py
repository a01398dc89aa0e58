"""Camera-shake moment pairs of still faces for training, and their settings."""

from __future__ import annotations

import pytest
import torch

from facedeblur.blur.shake_moments import shake_moments
from facedeblur.data import ShakeMomentPairs
from facedeblur.errors import InputError, UsageError
from facedeblur.faces.motion_order import control_factors
from facedeblur.train import load_config


def test_shake_moment_pairs_from_lfw_faces(lfw_tree):
    ds = ShakeMomentPairs(lfw_tree, size=32, frame_counts=(5, 7), seed=2, jitter=0.1)
    ds.set_epoch(0)
    first = [ds[i] for i in range(len(ds))]
    ds.set_epoch(0)
    torch.testing.assert_close(ds[0]["blur"], first[0]["blur"])
    ds.set_epoch(1)
    assert not torch.equal(ds[0]["blur"], first[0]["blur"]), "every epoch draws a new shake"
    for item in first:
        assert item["blur"].shape == item["sharp"].shape == (3, 32, 32)
        assert item["num_frames"] in (5, 7)
        assert float(item["u"]) in control_factors(item["num_frames"]).tolist()
        assert float((item["blur"] - item["sharp"]).abs().mean()) < 0.2, (
            "the moment is the blurred face's"
        )
    with pytest.raises(InputError, match="too small"):
        ShakeMomentPairs(lfw_tree, size=512)[0]
    with pytest.raises(InputError, match="no images"):
        ShakeMomentPairs(lfw_tree / "missing")


def test_centre_draws_of_still_faces_are_the_time_middle_moment(lfw_tree, monkeypatch):
    drawn = []

    def recording(*args, **kwargs):
        drawn.append(shake_moments(*args, **kwargs))
        return drawn[-1]

    monkeypatch.setattr("facedeblur.data.shake_moments.shake_moments", recording)
    ds = ShakeMomentPairs(lfw_tree, size=32, frame_counts=(5, 7), seed=2, centre_fraction=0.5)
    kinds = set()
    for epoch in range(3):
        ds.set_epoch(epoch)
        for index in range(len(ds)):
            item, moments = ds[index], drawn[-1]
            n = item["num_frames"]
            if float(item["u"]) == 0.5 and torch.equal(item["sharp"], moments.frames[n // 2]):
                kinds.add("centre" if moments.order[(n - 1) // 2] != n // 2 else "either")
            else:
                place = round(float(item["u"]) * (n - 1))
                torch.testing.assert_close(item["sharp"], moments.frames[moments.order[place]])
                kinds.add("place")
    assert {"centre", "place"} <= kinds, "both kinds of draw occur"


def test_shake_training_data_is_checked():
    with pytest.raises(UsageError, match="unknown key 'shake_train' for data.kind onthefly"):
        load_config("face-nafnet", ["data.shake_train=faces"])
    with pytest.raises(UsageError, match="shake_fraction"):
        load_config("cfmd-cpu", ["data.shake_fraction=1.0"])
