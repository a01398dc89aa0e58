"""Report of the N-moment evaluation.

A Table 4-style Markdown table, CSV, JSON, a plot and a sheet.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..io import atomic_write_bytes, atomic_write_text, write_image
from ..io.outputs import check_output
from ..io.sheets import contact_sheet
from .moments_protocol import MomentsResult
from .tables import format_value, plot_png, write_csv

CSV_FIELDS = ["id", "method", "num_frames", "psnr", "ssim", "identity_distance"]


def markdown(result: MomentsResult, data: str) -> str:
    """One row per method and N (and all N).

    Each row has PSNR, SSIM and identity distance of the moments.
    """
    order = "facial motion-based order (FMR)" if result.frame_order == "fmr" else "time order"
    lines = [
        f"# N-moment evaluation on `{data}`",
        "",
        f"Every restored moment against the sharp frame at its place, frames in {order}; "
        "means over the moments of a sample, then over samples.",
        "",
        "| method | N | samples | PSNR | SSIM | identity distance |",
        "|---|---|---|---|---|---|",
    ]
    for name in result.methods:
        for key, s in result.summary.get(name, {}).items():
            label = "all" if key == "all" else key[2:]
            lines.append(
                f"| {name} | {label} | {s['samples']} | {format_value(s['psnr'])} | "
                f"{format_value(s['ssim'], 4)} | "
                f"{format_value(s['identity_distance'], 4)} |"
            )
    if result.skipped:
        lines += ["", f"Skipped ({len(result.skipped)}):", ""] + [
            f"- {line}" for line in result.skipped[:50]
        ]
    lines += [
        "",
        "Pictures: `psnr_by_n.png`, `moments_cases.png` (rows: ground truth, then each method).",
        "",
    ]
    return "\n".join(lines)


def _plot(result: MomentsResult, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name in result.methods:
        per_n = {
            int(k[2:]): v["psnr"] for k, v in result.summary.get(name, {}).items() if k != "all"
        }
        ns = sorted(per_n)
        ax.plot(ns, [per_n[n] for n in ns], marker="o", label=name)
    ax.set_xlabel("frames per blurry face (N)")
    ax.set_ylabel("PSNR of the N moments (dB)")
    ax.legend()
    atomic_write_bytes(out / "psnr_by_n.png", plot_png(fig))
    plt.close(fig)


def _sheet(result: MomentsResult, out: Path) -> None:
    rows, captions = [], []
    for case in result.cases:
        rows.append(case["truth"])
        captions.append([f"{case['id'][:18]} truth"] + [""] * (len(case["truth"]) - 1))
        for name, images in case["outputs"].items():
            rows.append(images)
            captions.append([name[:22]] + [""] * (len(images) - 1))
    if rows:
        write_image(out / "moments_cases.png", contact_sheet(rows, cell=112, captions=captions))


def write_moments_report(
    result: MomentsResult, out: str | Path, data: str, overwrite: bool = False
) -> Path:
    """Write ``report.md``, ``summary.json``, ``per_sample.csv`` and the pictures.

    Returns report.md.

    ``out`` must be new or empty unless ``overwrite``, and never inside the ``data`` folder
    (``io.outputs.check_output``).
    """
    out = check_output(out, [data], overwrite=overwrite, keep_option="")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        out / "summary.json",
        json.dumps(
            {
                "data": data,
                "frame_order": result.frame_order,
                "summary": result.summary,
                "skipped": result.skipped,
            },
            indent=2,
        ),
    )
    write_csv(out / "per_sample.csv", result.rows, CSV_FIELDS)
    _plot(result, out)
    _sheet(result, out)
    return atomic_write_text(out / "report.md", markdown(result, data))
