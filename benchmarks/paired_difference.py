"""Paired difference of two methods of one evaluation, sample by sample, with its standard error.

    facedeblur evaluate --moments --data runs/cfmd-motion/val --method moments:OLD \
        --method moments:NEW --limit 96 --out runs/report
    python benchmarks/paired_difference.py runs/report/per_sample.csv "CFMD OLD" "CFMD NEW"
    python benchmarks/paired_difference.py runs/report-lfw/report.json "model default" "model v3" \
        --metric identity_distance

Two methods scored in the same run on the same samples differ by less than their spread over the
samples; the difference per sample is what tells a real gain from noise. Reads the rows of
``facedeblur evaluate``'s report.json (single images) or ``--moments``' per_sample.csv, pairs
method B's row with method A's by sample id, and prints, for every frame count N (moments) and
for all samples: the pair count, both means, the mean of B - A with its standard error, and the
share of samples on which B is better (higher PSNR or SSIM, lower identity distance).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

LOWER_IS_BETTER = {"identity_distance"}


def read_rows(path: Path) -> list[dict]:
    """The per-sample rows of a report.json (key ``rows``) or a per_sample.csv."""
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    return json.loads(path.read_text(encoding="utf-8"))["rows"]


def paired_values(rows: list[dict], a: str, b: str, metric: str) -> dict[str, list[tuple]]:
    """{group: [(value of a, value of b), ...]} over the samples both methods scored.

    The group is ``N=<frames>`` for moment rows (a ``num_frames`` column), ``all`` otherwise;
    every pair is also in ``all``.
    """
    by_method: dict[str, dict[str, tuple[str, float]]] = defaultdict(dict)
    for row in rows:
        value = row.get(metric)
        if value in (None, ""):
            continue
        group = f"N={row['num_frames']}" if row.get("num_frames") else "all"
        by_method[row["method"]][str(row["id"])] = (group, float(value))
    for name in (a, b):
        if name not in by_method:
            known = ", ".join(sorted(by_method)) or "none"
            raise SystemExit(f"no {metric} rows for method {name!r}; methods: {known}")
    pairs: dict[str, list[tuple]] = defaultdict(list)
    for sample, (group, value_a) in by_method[a].items():
        if sample in by_method[b]:
            pair = (value_a, by_method[b][sample][1])
            if group != "all":
                pairs[group].append(pair)
            pairs["all"].append(pair)
    return pairs


def summarise(pairs: list[tuple], lower_is_better: bool) -> dict:
    """Means of a and b, mean and standard error of b - a, share of samples where b is better."""
    values = np.asarray(pairs, dtype=np.float64)
    diff = values[:, 1] - values[:, 0]
    sem = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
    better = diff < 0 if lower_is_better else diff > 0
    return {
        "pairs": len(diff),
        "mean_a": float(values[:, 0].mean()),
        "mean_b": float(values[:, 1].mean()),
        "diff": float(diff.mean()),
        "sem": sem,
        "b_better": float(better.mean()),
    }


def _group_order(name: str) -> tuple:
    return (name == "all", int(name[2:]) if name.startswith("N=") else 0)


def main() -> None:
    """Print the paired table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="report.json or per_sample.csv of an evaluation")
    parser.add_argument("a", help="method A, as the report names it (e.g. 'model default')")
    parser.add_argument("b", help="method B, compared with A")
    parser.add_argument("--metric", default="psnr", help="psnr (default), ssim, identity_distance")
    args = parser.parse_args()
    if not args.report.is_file():
        sys.exit(f"{args.report}: no such file")
    pairs = paired_values(read_rows(args.report), args.a, args.b, args.metric)
    lower = args.metric in LOWER_IS_BETTER
    print(f"| group | pairs | {args.a} | {args.b} | B - A (mean +- s.e.) | B better |")
    print("|---|---|---|---|---|---|")
    for group in sorted(pairs, key=_group_order):
        s = summarise(pairs[group], lower)
        print(
            f"| {group} | {s['pairs']} | {s['mean_a']:.4f} | {s['mean_b']:.4f} "
            f"| {s['diff']:+.4f} +- {s['sem']:.4f} | {100 * s['b_better']:.1f}% |"
        )


if __name__ == "__main__":
    main()
