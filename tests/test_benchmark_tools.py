"""The analysis scripts under benchmarks/ that the model card's figures come from: paired
differences, per-source gains and weight averages, run as a user runs them."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from facedeblur.models import build_model
from facedeblur.models.weights import read_weights, save_weights

REPO = Path(__file__).resolve().parents[1]


def _script(name: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / name), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )


def _table_rows(stdout: str) -> dict[str, list[str]]:
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("| ") and not line.startswith("| group") and "---" not in line:
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_paired_difference_of_moment_rows_by_frame_count(tmp_path):
    a = {"w0": (5, 20.0), "w1": (5, 22.0), "w2": (7, 24.0), "w3": (7, 26.0), "w4": (7, 30.0)}
    gain = {"w0": 1.0, "w1": 3.0, "w2": -1.0, "w3": 0.5, "w4": 0.5}
    report = tmp_path / "per_sample.csv"
    with report.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["id", "method", "num_frames", "psnr"])
        writer.writeheader()
        for sample, (frames, value) in a.items():
            writer.writerow({"id": sample, "method": "old", "num_frames": frames, "psnr": value})
            writer.writerow(
                {"id": sample, "method": "new", "num_frames": frames, "psnr": value + gain[sample]}
            )
        writer.writerow({"id": "w9", "method": "new", "num_frames": 5, "psnr": 99.0})

    result = _script("paired_difference.py", report, "old", "new")

    assert result.returncode == 0, result.stderr
    rows = _table_rows(result.stdout)
    assert list(rows) == ["N=5", "N=7", "all"]
    pairs, mean_a, mean_b, diff, better = rows["N=5"]
    assert (pairs, mean_a, mean_b, better) == ("2", "21.0000", "23.0000", "100.0%")
    assert diff == "+2.0000 +- 1.0000"
    all_gains = torch.tensor(list(gain.values()), dtype=torch.float64)
    sem = float(all_gains.std() / len(gain) ** 0.5)
    assert rows["all"][0] == "5"
    assert rows["all"][3] == f"{float(all_gains.mean()):+.4f} +- {sem:.4f}"
    assert rows["all"][4] == "80.0%"


def test_paired_difference_counts_a_lower_identity_distance_as_better(tmp_path):
    rows = [
        {"id": "p0", "method": "blurry", "identity_distance": 0.6},
        {"id": "p0", "method": "model", "identity_distance": 0.4},
        {"id": "p1", "method": "blurry", "identity_distance": 0.5},
        {"id": "p1", "method": "model", "identity_distance": 0.55},
        {"id": "p2", "method": "blurry", "identity_distance": 0.7},
        {"id": "p2", "method": "model", "identity_distance": 0.3},
    ]
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"rows": rows}), encoding="utf-8")

    result = _script(
        "paired_difference.py", report, "blurry", "model", "--metric", "identity_distance"
    )

    assert result.returncode == 0, result.stderr
    assert _table_rows(result.stdout)["all"][4] == "66.7%"


def test_paired_difference_names_the_methods_a_report_has(tmp_path):
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"rows": [{"id": "p0", "method": "blurry", "psnr": 20}]}))

    result = _script("paired_difference.py", report, "blurry", "modle")

    assert result.returncode != 0
    assert "no psnr rows for method 'modle'; methods: blurry" in result.stderr
    assert "Traceback" not in result.stderr


def test_per_source_names_the_clip_a_method_loses_on(tmp_path):
    data = tmp_path / "val"
    data.mkdir()
    sources = {"s0": "clips/radio.mp4", "s1": "clips/radio.mp4", "s2": "clips/d11.mp4"}
    (data / "manifest.jsonl").write_text(
        "".join(json.dumps({"id": k, "source": v}) + "\n" for k, v in sources.items()),
        encoding="utf-8",
    )
    psnr = {"blurry": [30.0, 32.0, 25.0], "default": [29.0, 32.0, 27.0]}
    rows = [
        {"id": sample, "method": method, "psnr": values[i]}
        for method, values in psnr.items()
        for i, sample in enumerate(sources)
    ]
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"methods": ["blurry", "default"], "rows": rows}))

    result = _script("per_source.py", report, data)

    assert result.returncode == 0, result.stderr
    table = _table_rows(result.stdout)
    assert table["radio"] == ["2", "31.00", "30.50 (-0.50)"]
    assert table["d11"] == ["1", "25.00", "27.00 (+2.00)"]
    assert "default: below the blurry input on average for ['radio'] source(s)" in result.stdout


@pytest.mark.slow
def test_weight_average_mixes_every_tensor_by_the_share(tmp_path, tiny_model):
    torch.manual_seed(1)
    args = {"n_blocks": 1, "ngf": 8}
    second = save_weights(
        tmp_path / "second.safetensors", build_model("deblurgan", **args), "deblurgan", args
    )
    out = tmp_path / "mix.safetensors"

    result = _script("weight_average.py", tiny_model, second, 0.25, out)

    assert result.returncode == 0, result.stderr
    _, first_tensors = read_weights(tiny_model)
    _, second_tensors = read_weights(second)
    header, mixed = read_weights(out)
    assert header["weight_average"] == "0.25 x tiny.safetensors + 0.75 x second.safetensors"
    moved = 0
    for name, tensor in mixed.items():
        if tensor.is_floating_point():
            expected = 0.25 * first_tensors[name] + 0.75 * second_tensors[name]
            torch.testing.assert_close(tensor, expected)
            moved += int(not torch.equal(tensor, second_tensors[name]))
    assert moved > 0


@pytest.mark.slow
def test_weight_average_refuses_two_different_networks(tmp_path, tiny_model):
    args = {"n_blocks": 2, "ngf": 8}
    other = save_weights(
        tmp_path / "other.safetensors", build_model("deblurgan", **args), "deblurgan", args
    )

    result = _script("weight_average.py", tiny_model, other, 0.5, tmp_path / "mix.safetensors")

    assert result.returncode != 0
    assert "are different networks" in result.stderr
    assert not (tmp_path / "mix.safetensors").exists()
