"""PSNR per source clip (or photo) of an evaluation: does a method ever lose to the blurry input?

    facedeblur evaluate --data runs/face-video-blur/val --method blurry --method default \
        --out runs/report-video
    python benchmarks/per_source.py runs/report-video/report.json runs/face-video-blur/val

Reads the rows of ``facedeblur evaluate``'s report.json and the ``source`` of every sample in
the synthesis' manifest.jsonl, and prints one row per source: its sample count, the mean PSNR of
each method and each method's mean gain over the blurry input; the last line names the sources
where a method is below the blurry input on average.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np


def psnr_by_source(report: dict, manifest: Path) -> dict[str, dict[str, list[float]]]:
    """{source name: {method: [PSNR of each of its samples]}} from a report and a manifest."""
    source_of = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            source_of[str(record["id"])] = Path(record.get("source", "?")).stem
    table: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in report["rows"]:
        if row.get("psnr") is not None and row["id"] in source_of:
            table[source_of[row["id"]]][row["method"]].append(float(row["psnr"]))
    return table


def main() -> None:
    """Print the per-source table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="report.json of facedeblur evaluate")
    parser.add_argument("data", type=Path, help="the evaluated synthesis folder (manifest.jsonl)")
    args = parser.parse_args()
    report = json.loads(args.report.read_text(encoding="utf-8"))
    table = psnr_by_source(report, args.data / "manifest.jsonl")
    methods = [m for m in report["methods"] if m not in ("sharp", "blurry")]
    print("| source | samples | blurry (dB) | " + " | ".join(f"{m} (dB, gain)" for m in methods))
    print("|---|---|---|" + "---|" * len(methods))
    below = defaultdict(list)
    for source in sorted(table):
        blurry = float(np.mean(table[source]["blurry"]))
        cells = []
        for m in methods:
            mean = float(np.mean(table[source][m]))
            cells.append(f"{mean:.2f} ({mean - blurry:+.2f})")
            if mean < blurry:
                below[m].append(source)
        count = len(table[source]["blurry"])
        print(f"| {source} | {count} | {blurry:.2f} | " + " | ".join(cells) + " |")
    for m in methods:
        print(f"{m}: below the blurry input on average for {below[m] or 'no'} source(s)")


if __name__ == "__main__":
    main()
