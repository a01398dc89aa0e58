"""The moments evaluation protocol: each moment scored against its frame."""

from __future__ import annotations

import pytest

from facedeblur.data import VideoMoments
from facedeblur.evaluate.moments_protocol import evaluate_moments
from facedeblur.metrics import psnr


def test_moments_evaluation_scores_each_moment_against_its_frame(moments_root, tiny_weights):
    root = moments_root / "val"
    result = evaluate_moments(
        root, ["blurry", f"moments:{tiny_weights}"], identity=False, progress=False
    )
    blurry_rows = [r for r in result.rows if r["method"] == "blurry (repeated)"]
    ds = VideoMoments(root)
    expected = []
    for i in range(len(ds)):
        item = ds[i]
        truth = item["frames"][item["order"]]
        expected.append(float(psnr(item["blur"][None].expand_as(truth), truth).mean()))
    assert [r["psnr"] for r in blurry_rows] == pytest.approx(expected, abs=1e-4)
    summary = result.summary["blurry (repeated)"]
    assert summary["all"]["samples"] == len(ds)
    assert sum(v["samples"] for k, v in summary.items() if k != "all") == len(ds)
    assert len(result.summary) == 2 and result.cases
