"""Moment data of CFMD-GAN: FMR in the synth manifest, moment pairs, frame orders."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from facedeblur.data import MomentPairs, VideoMoments, frame_order, read_manifest
from facedeblur.errors import InputError
from facedeblur.faces.motion_order import motion_order
from facedeblur.io import read_image


def test_synth_caches_the_fmr_order(moments_root):
    records = read_manifest(moments_root / "train" / "manifest.jsonl")
    assert records
    for record in records:
        fmr = record["fmr"]
        n = record["num_frames"]
        assert sorted(fmr["order"]) == list(range(n))
        assert len(fmr["eyes"]) == n and fmr["eye_points"] == [36, 37, 38, 39, 40, 41]
        assert fmr["order"] == motion_order(fmr["eyes"])
        x0, y0, x1, y1 = record["crop"]["face_box"]
        assert all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in fmr["eyes"]), (
            "the eye lies inside the face"
        )


def test_moment_pairs_give_the_frame_at_each_u(moments_root):
    root = moments_root / "train"
    ds = MomentPairs(root, seed=4)
    seen = set()
    for epoch in range(4):
        ds.set_epoch(epoch)
        for index in range(len(ds)):
            item = ds[index]
            record = ds.records[index]
            n = record["num_frames"]
            place = round(float(item["u"]) * (n - 1))
            assert abs(float(item["u"]) * (n - 1) - place) < 1e-5
            frame = read_image(root / record["files"]["frames"][record["fmr"]["order"][place]])
            assert np.allclose(item["sharp"].permute(1, 2, 0).numpy(), frame, atol=1e-6)
            seen.add(place)
    assert len(seen) > 2, "draws cover several places"
    whole = VideoMoments(root, order_by="fmr")[0]
    assert whole["order"].tolist() == ds.records[0]["fmr"]["order"]


def test_centre_draws_pair_u_half_with_the_time_middle_frame_and_folders_pool(moments_root):
    train, val = moments_root / "train", moments_root / "val"
    ds = MomentPairs([train, val], seed=4, centre_fraction=0.5)
    assert len(ds) == len(MomentPairs(train)) + len(MomentPairs(val))
    assert set(ds.roots) == {train, val}
    kinds = set()
    for epoch in range(4):
        ds.set_epoch(epoch)
        for index in range(len(ds)):
            item, record, folder = ds[index], ds.records[index], ds.roots[index]
            files, n = record["files"], record["num_frames"]
            middle = read_image(folder / files["sharp"])
            assert np.array_equal(middle, read_image(folder / files["frames"][n // 2])), (
                "sharp is the time-middle frame"
            )
            got = item["sharp"].permute(1, 2, 0).numpy()
            place = round(float(item["u"]) * (n - 1))
            moment = read_image(folder / files["frames"][record["fmr"]["order"][place]])
            if (
                float(item["u"]) == 0.5
                and np.allclose(got, middle, atol=1e-6)
                and not np.allclose(got, moment, atol=1e-6)
            ):
                kinds.add("centre")
            else:
                assert np.allclose(got, moment, atol=1e-6)
                kinds.add("place")
    assert kinds == {"centre", "place"}, "both kinds of draw occur"


def test_samples_without_fmr_are_left_out_of_fmr_training(moments_root, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(moments_root / "train", root)
    records = read_manifest(root / "manifest.jsonl")
    records[0]["fmr"] = None
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert len(MomentPairs(root)) == len(records) - 1
    assert len(MomentPairs(root, order_by="time")) == len(records)
    assert len(VideoMoments(root)) == len(records) - 1
    for r in records:
        r["fmr"] = None
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(InputError, match="with an FMR order"):
        MomentPairs(root)


def test_frame_order_time_and_missing_fmr():
    record = {"id": "x", "num_frames": 3, "fmr": {"order": [2, 0, 1]}}
    assert frame_order(record, "fmr") == [2, 0, 1]
    assert frame_order(record, "time") == [0, 1, 2]
    with pytest.raises(InputError, match="no FMR order"):
        frame_order({"id": "y", "num_frames": 3}, "fmr")
    with pytest.raises(ValueError, match="unknown frame order"):
        frame_order(record, "eyes")
