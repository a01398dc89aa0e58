"""Evaluation reports: JSON, CSV and Markdown tables, plots and a contact sheet of cases."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from ..io import atomic_write_bytes, atomic_write_text, to_uint8, write_image
from ..io.outputs import check_output
from ..io.sheets import contact_sheet
from ..metrics.detection import iou
from .protocol import DLIB_MATCH_THRESHOLD, EvalResult
from .tables import format_value, plot_png, write_csv

CSV_FIELDS = [
    "id",
    "method",
    "psnr",
    "ssim",
    "psnr_gain",
    "identity_distance",
    "faces",
    "has_reference",
    "found",
    "score",
    "false_positives",
    "ms",
    "detect_ms",
]


def markdown(result: EvalResult, data: str) -> str:
    """The report as Markdown: a detection table and a quality table.

    The detection table is Fan & Luo style, the quality table Nah et al. style.
    """
    s = result.summary
    images = s[result.methods[0]]["images"] if result.methods else 0
    lines = [
        "# facedeblur evaluation",
        "",
        f"Data: `{data}` ({images} pairs). Detector: {result.detector}; a face is found when a "
        "detection overlaps the face detected on the sharp image at IoU >= 0.5. PSNR and SSIM on "
        "RGB in [0, 1] (SSIM: Gaussian window 11, sigma 1.5). Identity distance: dlib ResNet "
        f"descriptors of restored vs sharp, same face box; verified when < {DLIB_MATCH_THRESHOLD} "
        f"({_backend_note(result.identity_backend)}).",
        "",
        "## Face detection",
        "",
        (
            "| method | no face found | missed at IoU 0.5 | mean confidence | false positives | "
            "detector images/s |"
        ),
        "|---|---|---|---|---|---|",
    ]
    for name in ["sharp"] + result.methods:
        m = s[name]
        missed = "reference" if name == "sharp" else format_value(m["failure_rate"], percent=True)
        lines.append(
            f"| {name} | {format_value(m['no_face_rate'], percent=True)} | {missed} | "
            f"{format_value(m['mean_confidence'], 4)} | {m['false_positives']} | "
            f"{format_value(m['detector_images_per_second'], 1)} |"
        )
    lines += [
        "",
        "## Restoration quality",
        "",
        (
            "| method | PSNR (dB) | SSIM | PSNR gain (dB) | identity distance | verified | "
            "ms / image |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for name in result.methods:
        m = s[name]
        lines.append(
            f"| {name} | {format_value(m['psnr'])} | {format_value(m['ssim'], 4)} | "
            f"{format_value(m['psnr_gain'])} | {format_value(m['identity_distance'], 4)} | "
            f"{format_value(m['verification_accuracy'], 1, True)} | "
            f"{format_value(m['ms_per_image'], 1)} |"
        )
    lines += [
        "",
        "LPIPS and FID: not computed here; they need official weights that are not bundled "
        "(see `facedeblur.metrics.LPIPS` and `facedeblur.metrics.FID`). "
        "MS-SSIM needs images above 160 px.",
        "",
    ]
    if result.skipped:
        lines += ["", f"Skipped ({len(result.skipped)}):", ""] + [
            f"- {line}" for line in result.skipped[:50]
        ]
    lines += [
        "",
        "Pictures: `failure_rates.png`, `psnr_gain.png`, `cases.png` (best, median, worst).",
        "",
    ]
    return "\n".join(lines)


def _plots(result: EvalResult, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["sharp"] + result.methods
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(names), 3.6))
    no_face = [100 * result.summary[n]["no_face_rate"] for n in names]
    missed = [
        100 * (result.summary[n]["failure_rate"] or 0.0) if n != "sharp" else 0.0 for n in names
    ]
    x = np.arange(len(names))
    ax.bar(x - 0.2, no_face, 0.4, label="no face found")
    ax.bar(x + 0.2, missed, 0.4, label="missed at IoU 0.5")
    ax.set_xticks(x, names, rotation=20, ha="right")
    ax.set_ylabel("failure rate (%)")
    ax.set_title(f"Face detection ({result.detector})")
    ax.legend()
    atomic_write_bytes(out / "failure_rates.png", plot_png(fig))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.6))
    restorers = [name for name in result.methods if name != "blurry"]
    for name in restorers:
        ax.hist(
            [r["psnr_gain"] for r in result.rows if r["method"] == name],
            bins=30,
            alpha=0.6,
            label=name,
        )
    ax.axvline(0.0, color="black", linewidth=1)
    ax.set_xlabel("PSNR gain over the blurry input (dB)")
    ax.set_ylabel("images")
    if restorers:
        ax.legend()
    atomic_write_bytes(out / "psnr_gain.png", plot_png(fig))
    plt.close(fig)


def _draw(img: np.ndarray, dets, reference_box) -> np.ndarray:
    """Detections drawn green when they match the reference face (IoU >= 0.5), red otherwise."""
    canvas = to_uint8(img).copy()
    for d in dets:
        x0, y0, x1, y1 = (int(round(v)) for v in d.box)
        hit = reference_box is not None and iou(d.box, reference_box) >= 0.5
        cv2.rectangle(canvas, (x0, y0), (x1, y1), (0, 200, 0) if hit else (220, 0, 0), 1)
    return canvas.astype(np.float32) / 255.0


def _cases(result: EvalResult, out: Path) -> None:
    rows = []
    for case in result.cases:
        sharp, sharp_dets = case["sharp"]
        ref = sharp_dets[0].box if sharp_dets else None
        row = [
            _draw(*case["outputs"][m], ref) if m in case["outputs"] else case["blurry"]
            for m in result.methods
        ]
        rows.append(row + [_draw(sharp, sharp_dets, ref)])
    if rows:
        titles = [m.split(" (")[0] for m in result.methods] + ["sharp"]
        write_image(out / "cases.png", contact_sheet(rows, titles, cell=160))


def write_report(result: EvalResult, out: str | Path, data: str, overwrite: bool = False) -> Path:
    """Write report.json, report.csv, report.md and the pictures into ``out``; returns report.md.

    ``out`` must be new or empty unless ``overwrite``, and never inside the ``data`` folder
    (``io.outputs.check_output``).
    """
    out = check_output(out, [data], overwrite=overwrite, keep_option="")
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "data": data,
        "detector": result.detector,
        "methods": result.methods,
        "summary": result.summary,
        "skipped": result.skipped,
        "rows": result.rows,
    }
    atomic_write_text(out / "report.json", json.dumps(payload, indent=2))
    write_csv(out / "report.csv", result.rows, CSV_FIELDS)
    _plots(result, out)
    _cases(result, out)
    return atomic_write_text(out / "report.md", markdown(result, data))


def _backend_note(backend: str | None) -> str:
    if backend is None:
        return "not computed: --no-identity"
    if backend == "torch":
        return "network run by facedeblur's PyTorch port of dlib's model"
    return "network run by dlib"
